"""A study outlives a SIGKILL of the service and of its Dask workers, on SQLite and PostgreSQL.

The service runs as a process (``python -m service serve``) in a session of its own; mid-way
through a sweep the test SIGKILLs that session — the server and the LocalCluster's worker
processes, nothing gets to clean up — and checks in ``/proc`` that none is left. A new
service on the same database resumes the study once its heartbeat is older than
``STALE_AFTER`` (not before: the runner might be alive elsewhere), runs only the missing
points, and ends with every index stored exactly once and every row equal, to the last bit,
to an uninterrupted run of the same sweep by a service on a fresh data directory.

PostgreSQL is Debian's (``/usr/lib/postgresql/<version>/bin``, installed by ``run.py``),
initialised in a temporary directory and run on a free loopback port, as the ``postgres``
user when the test runs as root (postgres refuses to run as root).
"""

from __future__ import annotations

import os
import pwd
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

from service.studies.runner import HEARTBEAT_SECONDS
from service.studies.store import STALE_AFTER
from tests.conftest import free_port
from tests.studies.support import (
    alive,
    all_rows,
    assert_progress_then_end,
    assert_same_rows,
    bits,
    cmdline,
    descendants,
    events,
    kill,
    start,
    start_service,
    stop,
    study,
    submit,
    wait_until_ended,
)

SWEEP = {
    "kind": "sweep",
    "name": "resumed",
    "base": {"dataset": {"inputs": [[1.0]], "targets": [1]}, "steps": 10**7, "record": {
        "points": 20}},
    "grid": {"learning_rate": {"log_range": [0.05, 0.4, 4]}, "seed": {"range": [0, 4]}},
}  # fmt: skip
"""16 points of ~1 s each on a worker (measured), in 4 batches of 4: two workers need about
8 s, so after the first batches are stored the study is still mid-way."""
TOTAL = 16

STARTED = 120.0
"""Seconds for the first rows to be stored (the cluster starts on the first study)."""


def test_a_sweep_resumes_after_sigkill_on_sqlite(tmp_path: Path) -> None:
    check_resume_after_sigkill(tmp_path, {})


@pytest.mark.slow  # 40 s (PostgreSQL from Debian's binaries); the SQLite twin runs by default
def test_a_sweep_resumes_after_sigkill_on_postgresql(tmp_path: Path) -> None:
    with postgres(tmp_path) as url:
        check_resume_after_sigkill(tmp_path, {"LEARNDYN_DATABASE_URL": url})


def check_resume_after_sigkill(tmp_path: Path, database: dict[str, str]) -> None:
    env = {
        "LEARNDYN_DATA_DIR": str(tmp_path / "data"),
        "LEARNDYN_STUDY_WORKERS": "2",
        **database,
    }
    url, first = start_service(env, tmp_path / "first.log")
    try:
        with httpx.Client(base_url=url, timeout=30) as client:
            location = submit(client, SWEEP)
            deadline = time.monotonic() + STARTED
            while not 0 < (mid := study(client, location))["progress"]["done"] < TOTAL:
                assert mid["status"] in ("queued", "running"), mid
                assert time.monotonic() < deadline, mid
                time.sleep(0.05)
        workers = {pid for pid in descendants(first.pid) if "spawn_main" in cmdline(pid)}
        assert len(workers) == 2, workers  # the LocalCluster's worker processes
        kill(first)
        killed = time.monotonic()
    finally:
        kill(first)
    assert not any(alive(pid) for pid in workers), "a Dask worker outlived the SIGKILL"

    url, second = start_service(env, tmp_path / "second.log")
    try:
        with httpx.Client(base_url=url, timeout=30) as client:
            # what the killed service had stored, before anyone can have resumed it
            at_kill = study(client, location)
            rows_at_kill = all_rows(client, location)
            assert time.monotonic() - killed < STALE_AFTER.total_seconds() - HEARTBEAT_SECONDS
            assert at_kill["status"] == "running", at_kill
            assert 0 < at_kill["progress"]["done"] == len(rows_at_kill) < TOTAL, at_kill

            reference = uninterrupted_rows(tmp_path)  # meanwhile: the service waits out STALE_AFTER

            follow = httpx.Timeout(30, read=STALE_AFTER.total_seconds() + 60)
            stream: list[tuple[str, Any]] = []
            resumed = None
            with client.stream("GET", f"{location}/events", timeout=follow) as r:
                assert r.status_code == 200
                for name, data in events(r.iter_lines()):
                    stream.append((name, data))
                    if name == "progress" and data["done"] > len(rows_at_kill) and not resumed:
                        resumed = time.monotonic() - killed
            ended = study(client, location)
            rows = all_rows(client, location)
    finally:
        stop(second)

    done = assert_progress_then_end(stream, TOTAL)
    assert done[0] >= len(rows_at_kill) and done[-1] == TOTAL, done
    assert resumed is not None
    # the killed runner's last heartbeat was at most HEARTBEAT_SECONDS before the kill
    earliest = STALE_AFTER.total_seconds() - HEARTBEAT_SECONDS
    assert resumed >= earliest, (
        f"resumed {resumed:.1f} s after the kill, before the claim was stale"
    )
    print(f"{len(rows_at_kill)}/{TOTAL} rows at the kill; resumed rows {resumed:.1f} s after it")

    assert ended["status"] == "done" and ended["detail"] is None, ended
    assert ended["progress"] == {"done": TOTAL, "total": TOTAL, "failed": 0}, ended
    assert [row["index"] for row in rows] == list(range(TOTAL))  # each index exactly once
    stored = {row["index"]: row for row in rows}
    for row in rows_at_kill:  # kept as stored, not run again (its wall time too)
        assert stored[row["index"]] == row, row["index"]
    assert len({tuple(bits(row["weights"])) for row in rows}) == TOTAL  # no two alike
    assert_same_rows(rows, reference)


def uninterrupted_rows(tmp_path: Path) -> list[dict[str, Any]]:
    """The sweep's rows from a service on a fresh data directory that nobody interrupts."""
    fresh = {"LEARNDYN_DATA_DIR": str(tmp_path / "fresh"), "LEARNDYN_STUDY_WORKERS": "2"}
    url, process = start_service(fresh, tmp_path / "reference.log")
    try:
        with httpx.Client(base_url=url, timeout=30) as client:
            location = submit(client, SWEEP)
            ended = wait_until_ended(client, location, STARTED)
            assert ended["status"] == "done", ended
            return all_rows(client, location)
    finally:
        stop(process)


# --- a PostgreSQL server of the test's own


def postgres_bin() -> Path | None:
    """The newest ``/usr/lib/postgresql/<version>/bin`` holding initdb and postgres."""
    found = [
        d
        for d in Path("/usr/lib/postgresql").glob("*/bin")
        if (d / "initdb").exists() and (d / "postgres").exists()
    ]
    return max(found, key=lambda d: int(d.parent.name)) if found else None


def run_as() -> dict[str, Any]:
    """Popen options to drop root (postgres refuses to run as root): the ``postgres`` user,
    else ``nobody``; nothing to change for an unprivileged test."""
    if os.geteuid() != 0:
        return {}
    for name in ("postgres", "nobody"):
        try:
            user = pwd.getpwnam(name)
        except KeyError:
            continue
        return {"user": user.pw_uid, "group": user.pw_gid, "extra_groups": []}
    pytest.skip("running as root with neither a 'postgres' nor a 'nobody' user to run postgres")


@contextmanager
def postgres(tmp_path: Path) -> Iterator[str]:
    """A fresh PostgreSQL cluster on a free loopback port with a database ``learndyn``;
    yields its SQLAlchemy URL and stops the server by its PID after. Skips the test (saying
    why) when the binaries are absent."""
    import psycopg

    bindir = postgres_bin()
    if bindir is None:
        pytest.skip(
            "PostgreSQL binaries not found under /usr/lib/postgresql/*/bin: install Debian's "
            "'postgresql' package (python3 run.py test does, where apt-get is)"
        )
    who = run_as()
    # not under pytest's tmp_path: its parents are 0700 root, and the postgres user must enter
    root = tempfile.mkdtemp(prefix="learndyn-pg-")
    server = None
    try:
        if who:
            os.chown(root, who["user"], who["group"])
        data = os.path.join(root, "data")
        subprocess.run(
            [str(bindir / "initdb"), "-D", data, "-U", "learndyn", "--auth=trust",
             "--encoding=UTF8", "--no-locale", "--no-sync"],
            cwd=root, capture_output=True, check=True, timeout=120, **who,
        )  # fmt: skip
        port = free_port()
        log = tmp_path / "postgres.log"
        server = start(
            [str(bindir / "postgres"), "-D", data, "-p", str(port), "-k", root,
             "-c", "listen_addresses=127.0.0.1", "-c", "fsync=off"],
            {}, log, cwd=root, **who,
        )  # fmt: skip
        conninfo = f"host=127.0.0.1 port={port} user=learndyn dbname=postgres connect_timeout=2"
        deadline = time.monotonic() + 60
        while True:
            try:
                with psycopg.connect(conninfo, autocommit=True) as connection:
                    connection.execute("CREATE DATABASE learndyn")
                break
            except psycopg.OperationalError:
                if server.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"postgres did not start:\n{log.read_text()}") from None
                time.sleep(0.2)
        yield f"postgresql+psycopg://learndyn@127.0.0.1:{port}/learndyn"
    finally:
        try:
            if server is not None:
                stop(server, signal.SIGINT)  # SIGINT: postgres's fast shutdown
        finally:
            shutil.rmtree(root, ignore_errors=True)
