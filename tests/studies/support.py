"""What the study tests share: a point's /train request, row checks, waiting, paging, SSE,
and the processes a test starts (a service, a Dask cluster, PostgreSQL).

The oracle of a study row is POST /train on the same request: the design says a row *is* the
/train answer for the base with the point's values in place. The weights are compared bit
for bit (``float.hex``, so even the sign of a zero counts): the same kernel runs on the same
inputs, only in another process, so any difference is a bug, not rounding.

Processes are started in sessions of their own (``start_new_session``), so a test can stop a
process *and everything it started* — the Dask worker processes of a LocalCluster, a
nanny's worker — by its process group, and then check in ``/proc`` that nothing is left.
"""

from __future__ import annotations

import math
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import free_port, strict_json

ACTIVE = ("queued", "running")
"""The statuses of a study that has not ended."""

PAGE = 1000
"""The largest page GET /studies/{id}/results serves (service.limits.MAX_ROWS_PER_PAGE)."""


# --- studies through the API (a TestClient or an httpx.Client: the same verbs)


def point_request(base: Mapping[str, Any], params: Mapping[str, Any]) -> dict[str, Any]:
    """The /train request of a sweep's point: the base with the point's values in place."""
    return {**base, **params}


def submit(client: Any, body: Mapping[str, Any]) -> str:
    """POST /studies; assert 202 with a Location naming the new, not yet ended study."""
    r = client.post("/studies", json=body)
    assert r.status_code == 202, r.text
    study = strict_json(r.text)
    assert r.headers["location"] == f"/studies/{study['id']}", (r.headers, study)
    assert study["status"] in ACTIVE and study["progress"]["done"] == 0, study
    return str(r.headers["location"])


def study(client: Any, location: str) -> dict[str, Any]:
    r = client.get(location)
    assert r.status_code == 200, r.text
    found: dict[str, Any] = strict_json(r.text)
    return found


def wait_until_ended(client: Any, location: str, timeout: float) -> dict[str, Any]:
    """Poll the study until it is no longer queued or running; return it."""
    deadline = time.monotonic() + timeout
    while True:
        found = study(client, location)
        if found["status"] not in ACTIVE:
            return found
        assert time.monotonic() < deadline, f"still {found['status']} after {timeout} s: {found}"
        time.sleep(0.05)


def all_rows(client: Any, location: str) -> list[dict[str, Any]]:
    """Every stored row of the study, page by page, in index order."""
    rows: list[dict[str, Any]] = []
    while True:
        r = client.get(f"{location}/results", params={"offset": len(rows), "limit": PAGE})
        assert r.status_code == 200, r.text
        page = strict_json(r.text)
        rows.extend(page["rows"])
        if not page["rows"] or len(rows) >= page["total"]:
            return rows


def bits(weights: Iterable[float]) -> list[str]:
    """Weights as exact hexadecimal floats: equal lists mean equal to the last bit."""
    return [float(w).hex() for w in weights]


def assert_row_is_train(row: Mapping[str, Any], answer: Mapping[str, Any]) -> None:
    """A study row says what POST /train answered for the point's request: the weights to
    the last bit, the verdict, the stop, the steps and the error exactly."""
    where = f"row {row['index']} {row['params']}"
    divergence = answer["divergence"]
    assert row["failure"] is None, (where, row["failure"])
    assert bits(row["weights"]) == bits(answer["weights"]), where
    assert row["verdict"] == divergence["verdict"], where
    assert row["stopped_by"] == answer["stopped_by"], where
    assert row["steps"] == answer["steps"], where
    assert row["error"] == answer["error"], where
    assert row["accuracy"] == answer["accuracy"], where
    assert row["apparent_convergence"] == divergence["apparent_convergence"], where
    if divergence["log_rate"] is None:
        assert row["log_rate_norm"] is None, where
    else:
        # ‖b‖ summed in another order than the service's dot product: a few ulps apart
        norm = math.sqrt(math.fsum(b * b for b in divergence["log_rate"]))
        assert row["log_rate_norm"] == pytest.approx(norm, rel=8 * 2.0**-52), where
    assert row["seconds"] > 0, where


def assert_same_rows(rows: list[dict[str, Any]], reference: list[dict[str, Any]]) -> None:
    """Two runs of one sweep stored the same rows: everything but the wall time, the
    weights to the last bit."""

    def figures(row: Mapping[str, Any]) -> dict[str, Any]:
        kept = {k: v for k, v in row.items() if k != "seconds"}
        kept["weights"] = None if row["weights"] is None else bits(row["weights"])
        return kept

    assert [r["index"] for r in rows] == [r["index"] for r in reference]
    for row, expected in zip(rows, reference, strict=True):
        assert figures(row) == figures(expected), row["index"]


def events(lines: Iterable[str]) -> Iterator[tuple[str, Any]]:
    """(event name, JSON data) of a Server-Sent Events stream, as its lines arrive;
    comments (``: ping``) skipped."""
    name, data = "message", list[str]()
    for line in lines:
        if line == "":
            if data:
                yield name, strict_json("\n".join(data))
            name, data = "message", []
        elif not line.startswith(":"):
            key, _, value = line.partition(":")
            value = value.removeprefix(" ")
            if key == "event":
                name = value
            elif key == "data":
                data.append(value)


def assert_progress_then_end(stream: list[tuple[str, Any]], total: int) -> list[int]:
    """``progress`` events with strictly increasing ``done`` up to ``total``, then exactly
    one ``end`` carrying the ended study; return the ``done`` values."""
    names = [name for name, _ in stream]
    assert names.count("end") == 1 and names[-1] == "end", names
    assert set(names[:-1]) == {"progress"}, names
    progress = [data for _, data in stream[:-1]]
    done = [p["done"] for p in progress]
    assert all(b > a for a, b in zip(done, done[1:], strict=False)), done
    assert all(p["total"] == total and 0 <= p["failed"] <= p["done"] for p in progress)
    end = stream[-1][1]
    assert end["status"] not in ACTIVE, end
    assert end["progress"] == progress[-1], (end["progress"], progress[-1])
    return done


# --- processes


def _stat(pid: int) -> tuple[str, int, int] | None:
    """(state, parent pid, process group) of a process from /proc, None if it is gone."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return None
    fields = text[text.rindex(")") + 2 :].split()  # the name may hold spaces and ')'
    return fields[0], int(fields[1]), int(fields[2])


def _pids() -> list[int]:
    return [int(p) for p in os.listdir("/proc") if p.isdigit()]


def alive(pid: int) -> bool:
    """Whether the process runs (a zombie waiting to be reaped does not)."""
    stat = _stat(pid)
    return stat is not None and stat[0] not in ("Z", "X")


def cmdline(pid: int) -> str:
    """The command line of a process ("" when it is gone)."""
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except (FileNotFoundError, ProcessLookupError):
        return ""


def children(pid: int) -> set[int]:
    """The live processes whose parent is ``pid``."""
    return {p for p in _pids() if (s := _stat(p)) is not None and s[1] == pid and alive(p)}


def descendants(pid: int) -> set[int]:
    """The live processes started, directly or not, by ``pid``."""
    children: dict[int, list[int]] = {}
    for p in _pids():
        stat = _stat(p)
        if stat is not None:
            children.setdefault(stat[1], []).append(p)
    found: set[int] = set()
    todo = [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            if child not in found and alive(child):
                found.add(child)
                todo.append(child)
    return found


def group(pgid: int) -> set[int]:
    """The live processes of process group ``pgid``."""
    return {p for p in _pids() if (s := _stat(p)) is not None and s[2] == pgid and alive(p)}


def start(
    argv: list[str], env: Mapping[str, str], log: Path, **options: Any
) -> subprocess.Popen[bytes]:
    """Start ``argv`` in a session of its own (its pid is its process group), output to
    ``log``."""
    with open(log, "ab") as out:
        return subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            env={**os.environ, **env},
            start_new_session=True,
            **options,
        )


def kill(process: subprocess.Popen[bytes], timeout: float = 10.0) -> None:
    """SIGKILL the process, its process group and every process it started, then check
    that none is left (a SIGKILL cannot be caught: nothing gets to clean up)."""
    targets = descendants(process.pid) | group(process.pid)
    if process.poll() is None:
        targets.add(process.pid)
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    for pid in targets:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    process.wait(timeout=timeout)
    deadline = time.monotonic() + timeout
    while left := {p for p in targets | group(process.pid) if alive(p)}:
        assert time.monotonic() < deadline, f"still alive after SIGKILL: {sorted(left)}"
        time.sleep(0.05)


def stop(
    process: subprocess.Popen[bytes], sig: int = signal.SIGTERM, timeout: float = 30.0
) -> None:
    """Ask the process to stop (``sig``), wait, then :func:`kill` it and whatever it left."""
    if process.poll() is None:
        process.send_signal(sig)
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            pass
    kill(process)


def start_service(env: Mapping[str, str], log: Path) -> tuple[str, subprocess.Popen[bytes]]:
    """``python -m service serve`` on a free loopback port, in a session of its own; wait
    until /readyz answers 200 and return (base URL, process). The caller stops it."""
    port = free_port()
    argv = [sys.executable, "-m", "service", "serve", "--host", "127.0.0.1", "--port", str(port)]
    process = start(argv, env, log)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 300  # a first start may compile the kernel
        while True:
            try:
                if httpx.get(f"{url}/readyz", timeout=1).status_code == 200:
                    return url, process
            except httpx.TransportError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the service did not start; see {log}:\n{log.read_text()}")
            time.sleep(0.1)
    except BaseException:
        kill(process)
        raise
