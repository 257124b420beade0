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


def _ensure_chromium() -> None:
    """The browser test of /docs drives Debian's Chromium: install it where it is missing."""
    if shutil.which("chromium") or shutil.which("chromium-browser"):
        return
    if not (Path("/etc/debian_version").exists() and shutil.which("apt-get")):
        print("run.py: no chromium and no apt-get: the browser test will be SKIPPED", flush=True)
        return
    if os.geteuid() != 0:
        print(
            "run.py: no chromium, and installing it needs root: the browser test will be "
            "SKIPPED (apt-get install chromium)",
            flush=True,
        )
        return
    print("run.py: installing chromium with apt-get (for the browser test)", flush=True)
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    apt = ["apt-get", "-q", "-o", "DPkg::Lock::Timeout=600"]
    for step in (["update"], ["install", "-y", "--no-install-recommends", "chromium"]):
        done = subprocess.run([*apt, *step], env=env, capture_output=True, text=True)
        if done.returncode != 0:
            print(done.stdout[-2000:], done.stderr[-2000:], sep="\n", file=sys.stderr)
            print(
                "run.py: installing chromium FAILED: the browser test will be SKIPPED", flush=True
            )
            return


def main(argv: list[str]) -> int:
    if not argv or argv[0] not in ("serve", "test"):
        print(__doc__, file=sys.stderr)
        return 2
    _bootstrap()
    command, rest = argv[0], argv[1:]
    if command == "serve":
        return subprocess.call([str(BIN / "learndyn"), "serve", *rest], cwd=ROOT)
    _ensure_chromium()
    if "--slow" in rest:
        rest = [a for a in rest if a != "--slow"] + ["-m", "slow or not slow"]
    return subprocess.call([str(BIN / "python"), "-m", "pytest", *rest], cwd=ROOT)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
