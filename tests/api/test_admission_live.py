"""Admission and abandoned work on a real server (issue 21's acceptance, items 3, 4 and 5a).

The tests start ``learndyn serve`` on a free loopback port (``tests.conftest.serve``) and stop
it by its PID; counts and times are bounded (at most 30 connections and 240 MB on loopback).
The first two share one keyed server with 2 compute slots; the third, which starts two
worker processes (25-40 s on 2 busy cores, most of it their start), is marked slow.
"""

from __future__ import annotations

import http.client
import json
import math
import multiprocessing
import os
import socket
import statistics
import threading
import time
from collections.abc import Iterator
from multiprocessing.queues import Queue
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import urlsplit

import httpx
import numpy as np
import pytest

from tests.conftest import serve

LONG = {
    "dataset": {"inputs": [[1.0]], "targets": [1]},
    "steps": 4 * 10**8,
    "record": {"points": 10},
}
"""92 bytes that ask for 4·10⁸ steps: about 25 s of one core."""
SHORT = {"dataset": {"inputs": [[1.0]], "targets": [1]}, "steps": 10}
SHORT_LANDSCAPE = {"dataset": {"inputs": [[1.0], [3.0]], "targets": [1, -1]}}


def open_request(
    url: str, path: str, body: bytes, headers: dict[str, str] | None = None
) -> socket.socket:
    """A socket that has sent a whole POST of ``body`` (as JSON) and not read the answer."""
    parts = urlsplit(url)
    sock = socket.create_connection((parts.hostname, parts.port))
    head = {"host": "test", "content-type": "application/json", **(headers or {})}
    head["content-length"] = str(len(body))
    lines = "".join(f"{k}: {v}\r\n" for k, v in head.items())
    sock.sendall(f"POST {path} HTTP/1.1\r\n{lines}\r\n".encode() + body)
    return sock


KEY = "k3y"


@pytest.fixture(scope="module")
def keyed_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    """A server with an API key and 2 compute slots; yields its URL and its log file."""
    directory = tmp_path_factory.mktemp("keyed")
    env = {
        "LEARNDYN_API_KEY": KEY,
        "LEARNDYN_COMPUTE_SLOTS": "2",
        "LEARNDYN_QUEUE_SECONDS": "10",
        "LEARNDYN_COMPUTE_SECONDS": "60",
        "LEARNDYN_DATA_DIR": str(directory / "data"),
    }
    log = directory / "server.log"
    with serve(env, log=log) as (url, _):
        yield url, log


def access_log(log: Path, after: int = 0) -> list[dict[str, Any]]:
    """The JSON lines of the server's access log (its stderr lines left out) from the
    ``after``-th on."""
    lines = [json.loads(x) for x in log.read_text().splitlines() if x.startswith("{")]
    return lines[after:]


def long_landscape() -> dict[str, Any]:
    """300,000 one-weight examples with distinct |b_i| over six decades (4.7 MB of JSON): the
    scan of E' for roots takes 15 s, checking the deadline (and the client) every ~15 ms."""
    rng = np.random.default_rng(1)
    magnitudes = np.exp(rng.uniform(math.log(1e-3), math.log(1e3), 300_000))
    inputs = [[float(f"{v:.6g}")] for v in magnitudes]
    targets = np.where(rng.random(magnitudes.size) < 0.5, 1, -1).tolist()
    return {"dataset": {"inputs": inputs, "targets": targets}}


@pytest.mark.parametrize(
    ("path", "settle"),
    [("/train", 0.3), ("/minima", 2.5)],
    ids=["train", "minima"],
)
def test_abandoned_runs_free_their_slots_at_once_and_are_logged_499(
    keyed_server: tuple[str, Path], path: str, settle: float
) -> None:
    """Two long requests take both slots and are abandoned (the client closes the socket)
    once computing — 92-byte /train of 4·10⁸ steps after 0.5 s, /minima of 300,000 examples
    after 2.7 s (their bodies parsed) —; a third, queued behind them, gets a slot within 1 s
    of the disconnects, and the access log says 499 for both."""
    url, log = keyed_server
    long, short = (LONG, SHORT) if path == "/train" else (long_landscape(), SHORT_LANDSCAPE)
    content = json.dumps(long).encode()
    before = len(access_log(log))
    key = {"authorization": f"Bearer {KEY}"}
    abandoned = [open_request(url, path, content, key) for _ in range(2)]
    third: list[tuple[int, float]] = []

    def queue_a_third() -> None:
        r = httpx.post(f"{url}{path}", json=short, headers=key, timeout=30)
        third.append((r.status_code, time.monotonic()))

    waiter = threading.Thread(target=queue_a_third)
    time.sleep(settle)  # both have their slots and compute
    waiter.start()
    time.sleep(0.2)  # the third waits in the queue
    for sock in abandoned:
        sock.close()
    closed = time.monotonic()
    waiter.join(timeout=15)
    time.sleep(0.3)  # the access log is written after the answer
    assert third, "the third request got no answer"
    status, answered = third[0]
    assert status == 200
    print(f"{path}: third request answered {answered - closed:.3f} s after the disconnects")
    assert 0 < answered - closed < 1.0
    logged = [(x["status"], x["duration_ms"]) for x in access_log(log, before)]
    assert sorted(s for s, _ in logged) == [200, 499, 499], logged
    # the abandoned ones ran until their client went, not to their end (15 s, 25 s)
    assert all(ms < 1000 * (settle + 1.5) for s, ms in logged if s == 499), logged
    print(f"{path} in the access log (status, ms): {logged}")


def test_unauthenticated_large_bodies_get_401_at_once_and_health_stays_fast(
    keyed_server: tuple[str, Path],
) -> None:
    """30 concurrent 8 MB bodies without a key, on loopback: every 401 within 100 ms, as the
    client sees it (from its head sent to the answer's first line, read while the body is
    still being sent), and within 100 ms of the request reaching the application (the access
    log's duration; before admission came first, the body was read and parsed first: 6.6 s);
    /healthz polled by another process meanwhile, p99 under 100 ms.

    The measuring clients must not be what is measured: each flood connection sends its body
    from a thread of its own (``sendall`` lets go of the GIL) while another waits for the
    answer, and the /healthz poller is a process of its own. (One asyncio loop doing all of
    it saw the 401s 41-152 ms and a /healthz p99 of 35-145 ms late, every 401 at the same
    instant: the loop busy copying 240 MB, while the server had answered each in < 5 ms.)
    Measured here: 401s seen after 23-45 ms at most, /healthz p99 22-33 ms.
    """
    count, size = 30, 8_000_000
    body = b'{"dataset": {"inputs": [' + b"[0.5, -0.25], " * ((size - 40) // 14)
    body = body[: size - 3] + b"]}}"
    url, log = keyed_server
    before = len(access_log(log))
    parts = urlsplit(url)
    address = (str(parts.hostname), int(parts.port or 80))
    context = multiprocessing.get_context("spawn")
    polling, latencies = context.Event(), context.Queue()
    poller = context.Process(target=poll_health, args=(address, polling, latencies))
    poller.start()
    try:
        answers, elapsed = flood(address, body, count, started=polling)
    finally:
        polling.clear()
        health = sorted(latencies.get(timeout=30))
        poller.join(timeout=10)
    time.sleep(0.3)  # the access log is written after the answer
    statuses = [status for status, _ in answers]
    waits = sorted(seconds for _, seconds in answers)
    logged = [x for x in access_log(log, before) if x["path"] == "/train"]
    assert {x["status"] for x in logged} == {401}
    admitted = sorted(x["duration_ms"] for x in logged)
    p99 = health[min(len(health) - 1, int(0.99 * len(health)))]
    print(
        f"{count} × {size / 1e6:.0f} MB without a key, sent in {elapsed:.2f} s: 401 sent "
        f"after median {statistics.median(admitted):.1f} ms, max {admitted[-1]:.1f} ms in the "
        f"server; seen after median {statistics.median(waits) * 1e3:.1f} ms, max "
        f"{waits[-1] * 1e3:.1f} ms by the client; /healthz n={len(health)} median "
        f"{statistics.median(health) * 1e3:.1f} ms, p99 {p99 * 1e3:.1f} ms"
    )
    assert statuses == [b"401"] * count
    assert len(admitted) == count and admitted[-1] < 100
    assert waits[-1] < 0.1
    assert len(health) >= 5 and p99 < 0.1


def flood(
    address: tuple[str, int], body: bytes, count: int, *, started: EventLike
) -> tuple[list[tuple[bytes, float]], float]:
    """Send ``count`` POST /train of ``body`` at once, without a key, once ``started`` is set
    (the /healthz poller is polling); return each request's status and seconds from its
    head to the first line of its answer, and the seconds the whole flood took."""
    head = (
        "POST /train HTTP/1.1\r\nhost: test\r\ncontent-type: application/json\r\n"
        f"content-length: {len(body)}\r\n\r\n"
    ).encode()
    answers: list[tuple[bytes, float]] = [(b"none", math.inf)] * count
    go = threading.Event()

    def unauthenticated(i: int) -> None:
        with socket.create_connection(address) as sock:
            go.wait()
            began = time.perf_counter()
            sock.sendall(head)
            sender = threading.Thread(target=send_body, args=(sock,))
            sender.start()
            line = sock.makefile("rb").readline()
            answers[i] = (line.split(b" ")[1] if line else b"none"), time.perf_counter() - began
            sender.join()

    def send_body(sock: socket.socket) -> None:
        try:  # the server may close the connection once it has answered
            sock.sendall(body)
        except OSError:
            pass

    threads = [threading.Thread(target=unauthenticated, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    if not started.wait(timeout=60):
        raise RuntimeError("the /healthz poller did not start")
    time.sleep(0.1)  # a few polls before the flood
    began = time.perf_counter()
    go.set()
    for thread in threads:
        thread.join(timeout=60)
    return answers, time.perf_counter() - began


class EventLike(Protocol):
    def wait(self, timeout: float | None = None) -> bool: ...
    def is_set(self) -> bool: ...
    def set(self) -> None: ...
    def clear(self) -> None: ...


def poll_health(
    address: tuple[str, int], polling: EventLike, latencies: Queue[list[float]]
) -> None:
    """Poll /healthz on one keep-alive connection every 5 ms from ``polling`` set (here) to
    cleared (by the test); put the latencies in ``latencies``. Runs in a process of its own."""
    seconds: list[float] = []
    with socket.create_connection(address) as sock:
        answers = sock.makefile("rb")
        polling.set()
        while polling.is_set():
            began = time.perf_counter()
            sock.sendall(b"GET /healthz HTTP/1.1\r\nhost: test\r\n\r\n")
            status = answers.readline()
            length = 0
            while (line := answers.readline()) != b"\r\n":
                if line.lower().startswith(b"content-length:"):
                    length = int(line.split(b":")[1])
            answers.read(length)
            seconds.append(time.perf_counter() - began)
            if status.split(b" ")[1] != b"200":
                seconds.append(math.inf)  # a failed poll counts as never answered
            time.sleep(0.005)
    latencies.put(seconds)


@pytest.mark.slow
def test_two_workers_share_one_budget_of_compute_slots(tmp_path: Path) -> None:
    """``--workers 2`` with 2 slots: 8 concurrent long runs, 4 sent to each worker (on
    connections /proc says each accepted), are 2 computations (504 at the wall-time limit)
    and 6 refusals (503 after the queue's 0.5 s), never more at once; /proc also says which
    worker holds each slot's lock. (With a budget per worker, 4 would compute.)"""
    slots = tmp_path / "slots"
    env = {
        "LEARNDYN_WORKERS": "2",
        "LEARNDYN_COMPUTE_SLOTS": "2",
        "LEARNDYN_QUEUE_SECONDS": "0.5",
        "LEARNDYN_COMPUTE_SECONDS": "2.5",
        "LEARNDYN_SLOTS_DIR": str(slots),
        "LEARNDYN_DATA_DIR": str(tmp_path / "data"),
    }
    with serve(env) as (url, server):
        workers = worker_pids(server.pid)
        assert len(workers) == 2
        pools = connections_per_worker(url, workers, 4)
        statuses: dict[int, list[int]] = {pid: [] for pid in workers}

        def run(pid: int, connection: http.client.HTTPConnection) -> None:
            headers = {"content-type": "application/json"}
            connection.request("POST", "/train", json.dumps(LONG), headers)
            statuses[pid].append(connection.getresponse().status)
            connection.close()

        senders = [
            threading.Thread(target=run, args=(pid, connection))
            for pid, pool in pools.items()
            for connection in pool
        ]
        for sender in senders:
            sender.start()
        time.sleep(1.0)  # the refused have been answered; the admitted compute
        holders = flock_holders(slots)
        for sender in senders:
            sender.join(timeout=30)
    print(f"statuses per worker {statuses}; slot holders {holders}")
    assert sorted(s for answers in statuses.values() for s in answers) == [503] * 6 + [504] * 2
    assert len(holders) == 2 and set(holders.values()) <= workers


def connections_per_worker(
    url: str, workers: set[int], count: int
) -> dict[int, list[http.client.HTTPConnection]]:
    """``count`` kept-alive connections accepted by each worker, each having had /readyz
    answer 200 (the kernel hands a new connection to whichever worker accepts first: open
    connections one by one until each worker has its share; at most 100)."""
    parts = urlsplit(url)
    pools: dict[int, list[http.client.HTTPConnection]] = {pid: [] for pid in workers}
    for _ in range(100):
        if all(len(pool) >= count for pool in pools.values()):
            return pools
        connection = http.client.HTTPConnection(str(parts.hostname), parts.port, timeout=30)
        connection.request("GET", "/readyz")
        response = connection.getresponse()
        response.read()
        assert connection.sock is not None
        owner = connection_owner(int(parts.port or 80), connection.sock.getsockname()[1])
        if response.status == 200 and owner in pools and len(pools[owner]) < count:
            pools[owner].append(connection)
        else:
            connection.close()
        time.sleep(0.02)
    raise AssertionError(
        f"connections per worker after 100: { {p: len(c) for p, c in pools.items()} }"
    )


def connection_owner(server_port: int, client_port: int) -> int | None:
    """The PID of the process holding the server's end of the loopback connection from
    ``client_port`` (from /proc/net/tcp and the processes' descriptors)."""
    inode = None
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        local, remote = (int(a.rsplit(":", 1)[1], 16) for a in fields[1:3])
        if local == server_port and remote == client_port:
            inode = fields[9]
    if inode is None:
        return None
    for fd in Path("/proc").glob("[0-9]*/fd/*"):
        try:
            if os.readlink(fd) == f"socket:[{inode}]":
                return int(fd.parent.parent.name)
        except OSError:
            continue
    return None


def flock_holders(directory: Path) -> dict[str, int]:
    """The slot files of ``directory`` that some process holds a flock on: name → PID
    (from /proc/locks)."""
    inodes = {os.stat(path).st_ino: path.name for path in directory.glob("slot-*")}
    holders = {}
    for line in Path("/proc/locks").read_text().splitlines():
        fields = line.split()
        if "->" in fields or fields[1] != "FLOCK":
            continue
        inode = int(fields[5].rsplit(":", 1)[1])
        if inode in inodes:
            holders[inodes[inode]] = int(fields[4])
    return holders


def worker_pids(parent: int) -> set[int]:
    """The PIDs of ``parent``'s uvicorn worker processes (its children running Python, not
    the multiprocessing resource tracker)."""
    children = set()
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
            cmdline = (stat.parent / "cmdline").read_bytes()
        except OSError:
            continue
        if int(fields[1]) == parent and b"resource_tracker" not in cmdline:
            children.add(int(stat.parent.name))
    return children
