"""``learndyn`` run as a command (a subprocess) where things go wrong: a missing or malformed
request file, a bad setting, a reader that closes the pipe, a client-only install. Each is
one line on stderr that says what is wrong, never a traceback (``service/cli.py`` documents
the exit statuses)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from importlib.metadata import requires
from pathlib import Path

import pytest

REQUEST = {"dataset": {"inputs": [[1.0]], "targets": [1]}, "steps": 300}


def learndyn(
    *args: str, code: str | None = None, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """``python -m service.cli args`` (or ``python -c code args``), its output as text."""
    start = ["-c", code] if code is not None else ["-m", "service.cli"]
    return subprocess.run(
        [sys.executable, *start, *args],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, **(env or {})},
    )


def assert_one_line(done: subprocess.CompletedProcess[str], status: int, *words: str) -> None:
    assert done.returncode == status, done.stderr
    assert "Traceback" not in done.stderr
    assert len(done.stderr.splitlines()) == 1, done.stderr
    assert all(word in done.stderr for word in words), done.stderr


# -- the request file ------------------------------------------------------------------------


@pytest.mark.parametrize("command", ["train", "study"])
def test_a_missing_file(command: str, tmp_path: Path) -> None:
    missing = tmp_path / "missing.json"
    done = learndyn(command, str(missing))
    assert_one_line(done, 2, f"learndyn: {missing}: No such file or directory")


@pytest.mark.parametrize("command", ["train", "study"])
def test_bad_json_is_placed_by_line_and_column(command: str, tmp_path: Path) -> None:
    path = tmp_path / "request.json"
    path.write_text('{"dataset": {"inputs": [[1.0]],\n  "targets": [1],, }}\n')
    done = learndyn(command, str(path))
    assert_one_line(done, 2, f"learndyn: {path}: not JSON: ", "line 2 column 18")


def test_a_request_is_an_object(tmp_path: Path) -> None:
    path = tmp_path / "request.json"
    path.write_text("[1, 2]")
    assert_one_line(learndyn("train", str(path)), 2, "a /train request is a JSON object, not an")


def test_an_invalid_request_names_the_fields_in_one_line(tmp_path: Path) -> None:
    path = tmp_path / "request.json"
    path.write_text(json.dumps({**REQUEST, "steps": 0, "colour": "red"}))
    done = learndyn("train", str(path))
    assert_one_line(done, 2, "invalid request, not sent: ", "steps: ", "colour: ")


def test_a_bad_setting_is_named(tmp_path: Path) -> None:
    done = learndyn("train", str(tmp_path / "request.json"), env={"LEARNDYN_PORT": "eighty"})
    assert_one_line(done, 2, "learndyn: LEARNDYN_PORT")


@pytest.mark.parametrize("command", ["train", "study"])
def test_url_is_documented_with_its_default_and_where_it_comes_from(command: str) -> None:
    done = learndyn(command, "--help", env={"LEARNDYN_HOST": "10.1.2.3", "LEARNDYN_PORT": "9123"})
    assert done.returncode == 0, done.stderr
    url_help = " ".join(done.stdout.rsplit("--url URL", 1)[1].split("--", 1)[0].split())
    assert "default http://10.1.2.3:9123" in url_help
    assert "LEARNDYN_HOST" in url_help and "LEARNDYN_PORT" in url_help


# -- a closed pipe ---------------------------------------------------------------------------


def closed_early(*args: str) -> tuple[int, bytes]:
    """Run ``learndyn args`` with its standard output a pipe closed before anything is read
    (``learndyn … | head -c 10`` once head has gone); the exit status and stderr."""
    command = [sys.executable, "-m", "service.cli", *args]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert process.stdout is not None
    process.stdout.close()
    _, err = process.communicate(timeout=300)
    return process.returncode, err


def test_train_into_a_closed_pipe_is_quiet(live_server: str, tmp_path: Path) -> None:
    path = tmp_path / "request.json"
    path.write_text(json.dumps(REQUEST))
    for raw in ([], ["--json"]):
        status, err = closed_early("train", str(path), "--url", live_server, *raw)
        assert status == 1
        assert b"Traceback" not in err and b"Exception ignored" not in err and b"Error" not in err


def test_openapi_into_a_closed_pipe_is_quiet() -> None:
    status, err = closed_early("openapi")
    assert status == 1 and err == b""


def test_train_into_head_prints_what_head_takes(live_server: str, tmp_path: Path) -> None:
    path = tmp_path / "request.json"
    path.write_text(json.dumps(REQUEST))
    cli = f"{sys.executable} -m service.cli train {path} --url {live_server} --json"
    done = subprocess.run(
        ["bash", "-o", "pipefail", "-c", f"{cli} | head -c 10"], capture_output=True, timeout=300
    )
    assert len(done.stdout) == 10 and done.stdout.startswith(b"{")  # the answer's start
    assert done.returncode in (0, 1) and done.stderr == b""


# -- a client-only install -------------------------------------------------------------------


def server_packages() -> list[str]:
    """The top-level modules of the ``server`` extra (pyproject.toml), and starlette (which
    fastapi brings): what ``pip install learndyn`` leaves out."""
    extra = [r for r in requires("learndyn") or [] if re.search(r"extra\s*==\s*.server.", r)]
    names = [
        re.split(r"[^A-Za-z0-9_.-]", r, maxsplit=1)[0].lower().replace("-", "_") for r in extra
    ]
    return sorted({*names, "starlette"})


CLIENT_ONLY = """
import sys
from importlib.abc import MetaPathFinder

MISSING = set({missing!r})


class NotInstalled(MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.partition(".")[0] in MISSING:
            raise ModuleNotFoundError(f"No module named {{name!r}}", name=name)
        return None


sys.meta_path.insert(0, NotInstalled())
from service.cli import main

sys.exit(main(sys.argv[1:]))
"""
"""Runs ``learndyn`` as if the server packages were not installed: importing any of them
raises ModuleNotFoundError, as it would after ``pip install learndyn``."""


def client_only() -> str:
    return CLIENT_ONLY.format(missing=server_packages())


def test_the_server_packages_are_the_extras() -> None:
    assert {"fastapi", "numpy", "numba", "uvicorn", "psycopg"} <= set(server_packages())


@pytest.mark.parametrize("command", ["openapi", "serve", "warmup"])
def test_server_commands_on_a_client_only_install_say_what_to_install(command: str) -> None:
    done = learndyn(command, code=client_only())
    assert_one_line(
        done, 1, f"learndyn {command} needs the server packages", "pip install '.[server]'"
    )
    assert done.stdout == ""


def test_the_client_commands_work_on_a_client_only_install(
    live_server: str, tmp_path: Path
) -> None:
    path = tmp_path / "request.json"
    path.write_text(json.dumps(REQUEST))
    done = learndyn("train", str(path), "--url", live_server, code=client_only())
    assert done.returncode == 0, done.stderr
    assert "steps at t = 300" in done.stdout
    assert_one_line(learndyn("study", str(tmp_path / "no.json"), code=client_only()), 2, "no.json")
