"""``run.py``, the README's two commands: which extras each installs (from the stamp in .venv),
what ``serve`` runs before it becomes the server, and (slow) ``python3 run.py serve`` in a
fresh copy of this checkout: installed, ready, answering, and stopped by a signal to its PID.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from types import ModuleType

import httpx
import pytest

from tests.conftest import free_port

ROOT = Path(__file__).resolve().parents[1]


def load_run_py() -> ModuleType:
    """run.py as a module (it is a script, not a package module)."""
    spec = importlib.util.spec_from_file_location("run_py", ROOT / "run.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


run_py = load_run_py()
SERVER, BOTH = frozenset({"server"}), frozenset({"server", "test"})


def test_each_command_asks_for_its_extras() -> None:
    assert run_py.EXTRAS == {"serve": SERVER, "test": BOTH}


def test_a_venv_without_a_stamp_gets_what_the_command_needs() -> None:
    assert run_py.extras_to_install(None, "h", SERVER) == SERVER
    assert run_py.extras_to_install(None, "h", BOTH) == BOTH


def test_serve_after_test_installs_nothing() -> None:
    assert run_py.extras_to_install(("h", BOTH), "h", SERVER) is None
    assert run_py.extras_to_install(("h", BOTH), "h", BOTH) is None
    assert run_py.extras_to_install(("h", SERVER), "h", SERVER) is None


def test_test_after_serve_adds_the_test_extra() -> None:
    assert run_py.extras_to_install(("h", SERVER), "h", BOTH) == BOTH


def test_a_changed_pyproject_installs_what_the_command_needs_only() -> None:
    assert run_py.extras_to_install(("old", BOTH), "new", SERVER) == SERVER
    assert run_py.extras_to_install(("old", SERVER), "new", BOTH) == BOTH


def test_the_stamp_records_the_pyproject_hash_and_the_extras() -> None:
    text = run_py.write_stamp("abc", BOTH)
    assert json.loads(text) == {"pyproject": "abc", "extras": ["server", "test"]}
    assert run_py.read_stamp(text) == ("abc", BOTH)
    assert run_py.pyproject_hash(ROOT) == run_py.pyproject_hash()
    assert len(run_py.pyproject_hash()) == 64


@pytest.mark.parametrize("text", [None, "", "e3b0c44298fc1c14", "12345", "[]", '{"extras": []}'])
def test_a_missing_or_foreign_stamp_means_install(text: str | None) -> None:
    assert run_py.read_stamp(text) is None


def test_the_warm_up_uses_the_cache_directory_the_server_configures(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """The server's lifespan calls ``kernel.configure_cache(settings.numba_cache_dir)``, then
    ``warm_up``; ``learndyn warmup``, which run.py runs in the same working directory, does the
    same."""
    from types import SimpleNamespace

    from service import cli
    from service.core.engine import kernel, warmup

    calls: list[tuple[str, object]] = []

    def configure_cache(directory: str | None) -> None:
        calls.append(("configure_cache", directory))

    def warm_up() -> None:
        calls.append(("warm_up", None))

    monkeypatch.setattr(kernel, "configure_cache", configure_cache)
    monkeypatch.setattr(kernel, "kernels", lambda: SimpleNamespace(cache_dir="/somewhere/numba/k"))
    monkeypatch.setattr(warmup, "warm_up", warm_up)
    monkeypatch.setenv("LEARNDYN_NUMBA_CACHE_DIR", "/somewhere/numba")
    assert cli.main(["warmup"]) == 0
    assert calls == [("configure_cache", "/somewhere/numba"), ("warm_up", None)]
    assert "cached in /somewhere/numba/k" in capsys.readouterr().out


class Exec(Exception):
    """Raised in place of os.execv: the argv it was given."""


@pytest.mark.parametrize("installed", [True, False])
def test_serve_warms_up_after_an_install_then_becomes_the_server(
    monkeypatch: pytest.MonkeyPatch, installed: bool
) -> None:
    steps: list[object] = []

    def bootstrap(wanted: frozenset[str]) -> bool:
        steps.append(wanted)
        return installed

    def warm_up() -> int:
        steps.append("warm up")
        return 0

    def execv(path: str, argv: list[str]) -> None:
        raise Exec(path, argv)

    monkeypatch.setattr(run_py, "_bootstrap", bootstrap)
    monkeypatch.setattr(run_py, "_warm_up", warm_up)
    monkeypatch.setattr(run_py.os, "chdir", lambda path: steps.append(("chdir", path)))
    monkeypatch.setattr(run_py.os, "execv", execv)
    with pytest.raises(Exec) as became:
        run_py.main(["serve", "--port", "9000"])
    learndyn = str(run_py.BIN / "learndyn")
    assert became.value.args == (learndyn, [learndyn, "serve", "--port", "9000"])
    warmed = ["warm up"] if installed else []
    assert steps == [SERVER, *warmed, ("chdir", run_py.ROOT)]


def test_serve_stops_when_the_warm_up_fails(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(run_py, "_bootstrap", lambda wanted: True)
    monkeypatch.setattr(run_py, "_warm_up", lambda: 3)
    monkeypatch.setattr(run_py.os, "execv", lambda *a: pytest.fail("served after a failure"))
    assert run_py.main(["serve"]) == 3


def test_an_unknown_command_prints_the_usage(capsys: pytest.CaptureFixture[str]) -> None:
    assert run_py.main(["deploy"]) == 2
    assert "python3 run.py serve" in capsys.readouterr().err


# --- slow: the whole of `python3 run.py serve` in a fresh checkout ----------------------------


def fresh_checkout(target: Path) -> Path:
    """What a clone of this checkout gives, with its uncommitted changes: every file git
    tracks or would track (not ignored), copied with its mode."""
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT,
        capture_output=True,
        check=True,
    ).stdout
    for name in filter(None, listed.decode().split("\0")):
        source = ROOT / name
        if source.is_file():  # listed but deleted in the work tree: not in the clone either
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target / name)
    return target


def size_mb(path: Path) -> int:
    """The disk space under ``path`` in MB, as ``du -sm`` counts it (the README's figure)."""
    return int(subprocess.check_output(["du", "-sm", str(path)], text=True).split()[0])


def wait_for(url: str, process: subprocess.Popen[bytes], deadline: float) -> float:
    """Poll ``url`` until it answers 200; the time it did. Fails when the process exits or
    the deadline passes."""
    while True:
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return time.monotonic()
        except httpx.TransportError:
            pass
        assert process.poll() is None, f"run.py exited with {process.returncode}"
        assert time.monotonic() < deadline, f"no 200 from {url} in time"
        time.sleep(0.1)


@pytest.mark.slow
def test_run_py_serve_from_a_fresh_checkout(tmp_path: Path) -> None:
    """From nothing but Python: creates .venv with learndyn[server] (no test tools), compiles
    the kernel, serves; ready soon after it answers, the first /train fast; a SIGTERM to
    run.py's PID stops the server."""
    checkout = fresh_checkout(tmp_path / "learndyn")
    python3 = Path(sys.base_prefix) / "bin" / "python3"
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    log = tmp_path / "serve.log"
    started = time.monotonic()
    with log.open("wb") as out:
        process = subprocess.Popen(
            [str(python3), "run.py", "serve", "--port", str(port)],
            cwd=checkout,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group, to clean up after a failure
        )
    try:
        answered = wait_for(f"{url}/healthz", process, started + 900) - started
        ready = wait_for(f"{url}/readyz", process, time.monotonic() + 60) - started
        began = time.monotonic()
        body = {"dataset": {"inputs": [[1.0]], "targets": [1]}, "steps": 10000}
        assert httpx.post(f"{url}/train", json=body, timeout=60).status_code == 200
        first_train = time.monotonic() - began
        venv = checkout / ".venv"
        print(
            f"\nrun.py serve from a fresh checkout: .venv {size_mb(venv)} MB, /healthz "
            f"after {answered:.1f} s, /readyz after {ready:.1f} s, first /train {first_train:.3f} s"
        )
        stamp = json.loads((venv / ".learndyn-installed").read_text())
        assert stamp["extras"] == ["server"]
        tools = ("pytest", "playwright", "mypy", "ruff", "schemathesis")
        probe = f"import importlib.util as u; print([m for m in {tools} if u.find_spec(m)])"
        python = venv / "bin" / "python"
        assert subprocess.check_output([python, "-c", probe], text=True).strip() == "[]"
        # the kernel was compiled at setup: the server only loads it
        assert ready - answered < 10, "the server compiled the kernel again"
        assert first_train < 0.5
        cmdline = Path(f"/proc/{process.pid}/cmdline")
        if cmdline.exists():  # run.py became the server: its PID runs `learndyn serve`
            assert b"learndyn\0serve" in cmdline.read_bytes()

        os.kill(process.pid, signal.SIGTERM)
        assert process.wait(timeout=30) == 0  # uvicorn's graceful shutdown
        with pytest.raises(httpx.TransportError):
            httpx.get(f"{url}/healthz", timeout=2)
    except BaseException:
        print(log.read_text(errors="replace")[-5000:])
        raise
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
        shutil.rmtree(checkout, ignore_errors=True)  # its .venv is hundreds of MB
