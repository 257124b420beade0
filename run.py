#!/usr/bin/env python3
"""Bootstrap and run learndyn from nothing but Python 3.11+.

    python3 run.py serve [learndyn serve options]   # serves on 127.0.0.1:8000
    python3 run.py test [pytest options]            # the whole test suite
    python3 run.py test --slow                      # the suite plus the slow checks

Both create ./.venv on first use and install the project into it, editable: ``serve`` the
server alone (``learndyn[server]``), ``test`` the server and the test tools
(``learndyn[server,test]``). A stamp in .venv records the hash of pyproject.toml and the extras
installed; pip runs again only when pyproject.toml changed or an extra is missing (``serve``
after ``test`` installs nothing, ``test`` after ``serve`` adds the test tools). After an
install, ``serve`` compiles the descent kernel into the cache the server reads, then becomes
the server (same process: a signal to this PID reaches uvicorn).
"""

from __future__ import annotations

import hashlib
import json
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

EXTRAS = {"serve": frozenset({"server"}), "test": frozenset({"server", "test"})}
"""The extras each command needs."""


def pyproject_hash(root: Path = ROOT) -> str:
    """The sha256 of ``root``'s pyproject.toml, hex."""
    return hashlib.sha256((root / "pyproject.toml").read_bytes()).hexdigest()


def read_stamp(text: str | None) -> tuple[str, frozenset[str]] | None:
    """(pyproject hash, extras installed) from a stamp's text; None when there is no stamp or
    it is not one this script wrote (then everything is installed again)."""
    if text is None:
        return None
    try:
        stamp = json.loads(text)
        return str(stamp["pyproject"]), frozenset(map(str, stamp["extras"]))
    except (ValueError, TypeError, KeyError):
        return None


def write_stamp(pyproject: str, extras: frozenset[str]) -> str:
    """A stamp's text: the pyproject hash and the extras, sorted (one JSON line)."""
    return json.dumps({"pyproject": pyproject, "extras": sorted(extras)}) + "\n"


def extras_to_install(
    stamp: tuple[str, frozenset[str]] | None, pyproject: str, wanted: frozenset[str]
) -> frozenset[str] | None:
    """The extras to install for a command that needs ``wanted``, or None when the stamp says
    they are installed for this pyproject.

    With the same pyproject, the extras installed are kept (``test`` after ``serve`` installs
    server and test); after a change of pyproject only ``wanted`` is installed, and the stamp
    then claims no more (a later ``test`` installs the test tools anew).
    """
    if stamp is None or stamp[0] != pyproject:
        return wanted
    if wanted <= stamp[1]:
        return None
    return stamp[1] | wanted


def _bootstrap(wanted: frozenset[str]) -> bool:
    """Make .venv hold the project with the ``wanted`` extras; True when pip ran."""
    pyproject = pyproject_hash()
    stamp = read_stamp(STAMP.read_text() if STAMP.exists() else None)
    extras = extras_to_install(stamp, pyproject, wanted)
    if extras is None:
        return False
    if not (BIN / "python").exists():
        print("run.py: creating .venv", flush=True)
        venv.EnvBuilder(with_pip=True).create(VENV)
    listed = ",".join(sorted(extras))
    print(f"run.py: installing learndyn[{listed}] into .venv", flush=True)
    STAMP.unlink(missing_ok=True)  # an interrupted install leaves no stamp
    pip = [str(BIN / "python"), "-m", "pip", "install", "--disable-pip-version-check"]
    subprocess.run([*pip, "-e", f"{ROOT}[{listed}]"], check=True)
    STAMP.write_text(write_stamp(pyproject, extras))
    return True


def _warm_up() -> int:
    """Compile the descent kernel (or load it from the cache) as the server would; its exit
    status."""
    print("run.py: compiling the numba kernel (once; the server then loads it)", flush=True)
    code = subprocess.call([str(BIN / "learndyn"), "warmup"], cwd=ROOT)
    if code != 0:
        print("run.py: compiling the kernel FAILED", file=sys.stderr, flush=True)
    return code


def _ensure_test_packages() -> None:
    """Some tests drive Debian programs: Chromium (the browser test of /docs), PostgreSQL
    (the studies on PostgreSQL) and nginx (deploy/nginx.conf in front of the service). Install
    the ones missing, where apt-get can."""
    missing = {}
    if not (shutil.which("chromium") or shutil.which("chromium-browser")):
        missing["chromium"] = "the browser test"
    if not list(Path("/usr/lib/postgresql").glob("*/bin/postgres")):
        missing["postgresql"] = "the PostgreSQL test"
    if not (shutil.which("nginx") or Path("/usr/sbin/nginx").exists()):
        missing["nginx"] = "the reverse-proxy test"
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
    """Run ``serve`` or ``test`` (see the module docstring); ``serve`` does not return."""
    if not argv or argv[0] not in EXTRAS:
        print(__doc__, file=sys.stderr)
        return 2
    command, rest = argv[0], argv[1:]
    installed = _bootstrap(EXTRAS[command])
    if command == "serve":
        if installed and (code := _warm_up()) != 0:
            return code
        server = [str(BIN / "learndyn"), "serve", *rest]
        os.chdir(ROOT)
        os.execv(server[0], server)  # become the server: its PID is this one
    _ensure_test_packages()
    if "--slow" in rest:
        rest = [a for a in rest if a != "--slow"] + ["-m", "slow or not slow"]
    return subprocess.call([str(BIN / "python"), "-m", "pytest", *rest], cwd=ROOT)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
