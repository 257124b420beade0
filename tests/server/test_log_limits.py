"""Exhaustion and protocol warnings are logged once per interval, with a count."""

from __future__ import annotations

import errno
import logging
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator

import httpx
import pytest

from service.server.log_limits import ACCEPT_FAILED, HEAD_TIMEOUT, RateLimitFilter
from tests.conftest import free_port

ACCEPT_MESSAGE = (
    f"{ACCEPT_FAILED}\nsocket: <asyncio.TransportSocket fd=11, family=2, type=1, proto=6, "
    "laddr=('127.0.0.1', 8000)>"
)
"""What asyncio's default exception handler logs when accept() fails (3.11)."""


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class Kept(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@pytest.fixture
def logged() -> Iterator[tuple[logging.Logger, Kept, Clock]]:
    clock = Clock()
    logger = logging.getLogger("tests.log_limits")
    logger.setLevel(logging.INFO)
    logger.propagate = False
    kept = Kept()
    logger.addHandler(kept)
    limit = RateLimitFilter(interval=10.0, clock=clock)
    logger.addFilter(limit)
    yield logger, kept, clock
    logger.removeHandler(kept)
    logger.removeFilter(limit)


def accept_failed(logger: logging.Logger) -> None:
    error = OSError(errno.EMFILE, os.strerror(errno.EMFILE))
    logger.error(ACCEPT_MESSAGE, exc_info=(OSError, error, None))


def test_one_accept_failure_per_interval_without_its_traceback(
    logged: tuple[logging.Logger, Kept, Clock],
) -> None:
    logger, kept, clock = logged
    for _ in range(10_000):  # within one interval
        accept_failed(logger)
        clock.now += 0.0009
    assert len(kept.records) == 1
    first = kept.records[0]
    assert first.getMessage() == f"{ACCEPT_FAILED}: [Errno 24] Too many open files"
    assert first.exc_info is None
    clock.now = 1000.0 + 12.0
    accept_failed(logger)
    assert len(kept.records) == 2
    assert kept.records[1].getMessage() == (
        f"{ACCEPT_FAILED}: [Errno 24] Too many open files (and 9999 more like it in the last 12 s)"
    )


def test_kinds_are_limited_apart_and_other_records_pass(
    logged: tuple[logging.Logger, Kept, Clock],
) -> None:
    logger, kept, clock = logged
    for _ in range(100):
        logger.info("%s: no request head within %g s", HEAD_TIMEOUT, 2.0)
        accept_failed(logger)
        logger.warning("Invalid HTTP request received.")
        logger.error("Exception in ASGI application", exc_info=(ValueError, ValueError(), None))
    messages = [r.getMessage() for r in kept.records]
    assert messages[:3] == [
        f"{HEAD_TIMEOUT}: no request head within 2 s",
        f"{ACCEPT_FAILED}: [Errno 24] Too many open files",
        "Invalid HTTP request received.",
    ]
    # an application error is not a kind: every one is logged, with its traceback
    errors = [r for r in kept.records if r.getMessage() == "Exception in ASGI application"]
    assert len(errors) == 100 and all(r.exc_info for r in errors)
    assert len(kept.records) == 103


SERVER = """
import resource, sys
import uvicorn
from service.cli import LOG_CONFIG
from service.server.protocol import LearndynProtocol, protocol_limits

protocol_limits()  # the cap, from the real limit: far above the one set below
_, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
resource.setrlimit(resource.RLIMIT_NOFILE, (int(sys.argv[2]), hard))

async def app(scope, receive, send):
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"ok"})

uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[1]), http=LearndynProtocol,
            log_config=LOG_CONFIG, backlog=64, lifespan="off", access_log=False)
"""
"""A server that runs out of file descriptors: the protocol's cap computed before the limit
is lowered to 64 (as if the reserve were too small), so that accept() fails with EMFILE."""


@pytest.mark.slow  # one traceback appeared once in a full CI-like run (not reproduced alone)
def test_running_out_of_file_descriptors_logs_one_line_not_a_flood() -> None:
    """Without the filter, the same run logged 163 accept failures with their tracebacks
    (3,832 lines) in 3 s (measured). Slow-marked: in one full-suite run on a loaded machine a
    traceback appeared among the lines; alone it passed 9 of 9 times. The assertion prints
    every line around a traceback, so the next failure says which."""
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-c", SERVER, str(port), "64"],
        stderr=subprocess.PIPE,
        env={**os.environ, "LEARNDYN_HEADER_SECONDS": "1"},
    )
    clients: list[socket.socket] = []
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                assert server.poll() is None and time.monotonic() < deadline
                time.sleep(0.1)
        for _ in range(300):  # more than the 64 descriptors: accept() fails
            sock = socket.socket()
            sock.setblocking(False)
            sock.connect_ex(("127.0.0.1", port))
            clients.append(sock)
        time.sleep(3.0)  # exhausted, the idle ones closed after 1 s, accepted again…
        for sock in clients:
            sock.close()
        recovered = httpx.get(f"http://127.0.0.1:{port}/", timeout=10).status_code
    finally:
        for sock in clients:
            sock.close()
        server.terminate()
        _, err = server.communicate(timeout=30)
    lines = err.decode().splitlines()
    exhausted = [line for line in lines if ACCEPT_FAILED in line]
    assert len(exhausted) == 1, lines[:20]
    assert "Too many open files" in exhausted[0]
    assert not any("Traceback" in line for line in lines), "\n".join(lines)
    assert len(lines) < 15, lines
    assert recovered == 200
