"""What the README's install commands give: the wheel of this checkout installs the client
alone (httpx, pydantic and rich, no server stack), and its ``learndyn`` command answers.

The wheel is built from a copy of the sources (so the build writes nothing into the checkout)
and installed into a fresh virtual environment under a temporary directory; pip fetches the
client's few dependencies from the index it is configured with.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
CLIENT_REQUIREMENTS = {"httpx", "pydantic", "rich"}
"""The base dependencies (README, "The client library"): ``pip install .`` installs these."""
PIP = (sys.executable, "-m", "pip", "--disable-pip-version-check")
SERVER_MODULES = ("numpy", "scipy", "numba", "fastapi", "uvicorn", "matplotlib", "distributed")


def run(*args: str | Path, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    """Run a command, capturing its output as text; never raises on a failure."""
    return subprocess.run([str(a) for a in args], cwd=cwd, capture_output=True, text=True)


def checked(*args: str | Path) -> str:
    """A command's standard output; fails the test, with its output, when it fails."""
    done = run(*args)
    assert done.returncode == 0, f"{args}\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    return done.stdout


def build_wheel(workdir: Path) -> Path:
    """The wheel of this checkout (``pip wheel --no-deps``), built from a copy of the sources
    that go into it."""
    source = workdir / "source"
    source.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(ROOT / name, source / name)
    for package in ("service", "clients"):
        ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
        shutil.copytree(ROOT / package, source / package, ignore=ignore)
    dist = workdir / "dist"
    checked(*PIP, "wheel", "--no-deps", "-w", dist, source)
    (wheel,) = dist.glob("learndyn-*.whl")
    return wheel


@pytest.fixture(scope="module")
def client_env(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The bin directory of a fresh virtual environment where the wheel is installed
    (``pip install <wheel>``, its dependencies from the index; the environment has no pip of
    its own, this one's installs into it)."""
    workdir = tmp_path_factory.mktemp("install")
    wheel = build_wheel(workdir)
    env = workdir / "venv"
    checked(sys.executable, "-m", "venv", "--without-pip", env)  # this pip installs into it
    bin_dir = env / "bin"
    checked(*PIP, "--python", bin_dir / "python", "install", wheel)
    return bin_dir


def test_the_wheel_requires_the_client_stack_only(client_env: Path) -> None:
    """Its requirements outside an extra (those in one read 'fastapi>=0.115; extra ==
    "server"') are the client's."""
    code = "from importlib.metadata import requires; print(*requires('learndyn'), sep='\\n')"
    lines = checked(client_env / "python", "-c", code).splitlines()
    names = {
        re.split(r"[\s<>=!~;\[]", r, maxsplit=1)[0].lower() for r in lines if "extra ==" not in r
    }
    assert names == CLIENT_REQUIREMENTS


def test_the_client_imports_without_the_server(client_env: Path) -> None:
    checked(client_env / "python", "-c", "from clients import AsyncClient, Client")
    probe = f"import importlib.util as u; print([m for m in {SERVER_MODULES} if u.find_spec(m)])"
    assert checked(client_env / "python", "-c", probe).strip() == "[]"


def test_the_client_talks_to_a_running_service(client_env: Path, live_server: str) -> None:
    code = (
        "import sys\n"
        "from clients import Client\n"
        "with Client(base_url=sys.argv[1]) as c:\n"
        "    print(c.health().status, c.train(inputs=[[1.0]], targets=[1], steps=100).steps)\n"
    )
    assert checked(client_env / "python", "-c", code, live_server).split() == ["ok", "100"]


def test_the_command_gives_its_version(client_env: Path) -> None:
    from importlib.metadata import version

    out = checked(client_env / "learndyn", "--version")
    assert out.strip() == f"learndyn {version('learndyn')}"


@pytest.mark.parametrize("command", ["serve", "openapi"])
def test_server_commands_say_the_server_is_missing(client_env: Path, command: str) -> None:
    """One line on stderr, no traceback, and a failure status."""
    done = run(client_env / "learndyn", command)
    assert done.returncode != 0
    assert done.stdout == "" and len(done.stderr.splitlines()) == 1, done.stderr
    assert "server" in done.stderr and "Traceback" not in done.stderr
