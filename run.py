#!/usr/bin/env python3
"""Bootstrap and run learndyn from nothing but Python 3.11+.

    python3 run.py serve [learndyn serve options]   # serves on 127.0.0.1:8000
    python3 run.py test [pytest options]            # the whole test suite
    python3 run.py test --slow                      # the suite plus the slow checks

Both create ./.venv on first use and install the project (with its server and test extras) into it;
they reinstall only when pyproject.toml changes.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
STAMP = VENV / ".learndyn-installed"


def _bootstrap() -> None:
    wanted = hashlib.sha256((ROOT / "pyproject.toml").read_bytes()).hexdigest()
    if STAMP.exists() and STAMP.read_text() == wanted:
        return
    if not (BIN / "python").exists():
        print("run.py: creating .venv", flush=True)
        venv.EnvBuilder(with_pip=True).create(VENV)
    print("run.py: installing learndyn[server,test] into .venv", flush=True)
    pip = [str(BIN / "python"), "-m", "pip", "install", "--disable-pip-version-check", "-q"]
    subprocess.run([*pip, "-e", f"{ROOT}[server,test]"], check=True)
    STAMP.write_text(wanted)


def _ensure_test_packages() -> None:
    """Some tests drive Debian programs: Chromium (the browser test of /docs) and PostgreSQL
    (the studies on PostgreSQL). Install the ones missing, where apt-get can."""
    missing = {}
    if not (shutil.which("chromium") or shutil.which("chromium-browser")):
        missing["chromium"] = "the browser test"
    if not list(Path("/usr/lib/postgresql").glob("*/bin/postgres")):
        missing["postgresql"] = "the PostgreSQL test"
    _apt_install(missing)


def _apt_install(packages: dict[str, str]) -> None:
    """apt-get install each package of ``packages`` (name -> the tests that need it); say
    which tests will be skipped when that cannot be done."""
    if not packages:
        return
    names, tests = " and ".join(packages), " and ".join(packages.values())
    if not (Path("/etc/debian_version").exists() and shutil.which("apt-get")):
        print(f"run.py: no {names} and no apt-get: {tests} will be SKIPPED", flush=True)
        return
    if os.geteuid() != 0:
        print(
            f"run.py: no {names}, and installing needs root: {tests} will be SKIPPED "
            f"(apt-get install {' '.join(packages)})",
            flush=True,
        )
        return
    print(f"run.py: installing {names} with apt-get (for {tests})", flush=True)
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    apt = ["apt-get", "-q", "-o", "DPkg::Lock::Timeout=600"]

    def succeeds(*step: str) -> bool:
        done = subprocess.run([*apt, *step], env=env, capture_output=True, text=True)
        if done.returncode != 0:
            print(done.stdout[-2000:], done.stderr[-2000:], sep="\n", file=sys.stderr)
        return done.returncode == 0

    if not succeeds("update"):
        print(f"run.py: apt-get update FAILED: {tests} will be SKIPPED", flush=True)
        return
    for package, needed_by in packages.items():  # one by one: a failure skips only its tests
        if not succeeds("install", "-y", "--no-install-recommends", package):
            print(f"run.py: installing {package} FAILED: {needed_by} will be SKIPPED", flush=True)


def main(argv: list[str]) -> int:
    if not argv or argv[0] not in ("serve", "test"):
        print(__doc__, file=sys.stderr)
        return 2
    _bootstrap()
    command, rest = argv[0], argv[1:]
    if command == "serve":
        return subprocess.call([str(BIN / "learndyn"), "serve", *rest], cwd=ROOT)
    _ensure_test_packages()
    if "--slow" in rest:
        rest = [a for a in rest if a != "--slow"] + ["-m", "slow or not slow"]
    return subprocess.call([str(BIN / "python"), "-m", "pytest", *rest], cwd=ROOT)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
