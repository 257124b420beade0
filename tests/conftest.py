"""Shared fixtures: an in-process client of a fresh app."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from service.app import create_app
from service.settings import Settings


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    data = tmp_path_factory.mktemp("data")  # the studies' database, apart from the checkout's
    with TestClient(create_app(Settings(data_dir=str(data)))) as c:
        wait_until_ready(c)
        yield c


def wait_until_ready(client: TestClient, timeout: float = 300.0) -> None:
    """Poll /readyz until the start-up warm-up (kernel compilation) has finished."""
    deadline = time.monotonic() + timeout
    while client.get("/readyz").status_code != 200:
        assert time.monotonic() < deadline, "not ready after the warm-up timeout"
        time.sleep(0.02)


def strict_json(text: str) -> Any:
    """Parse JSON, failing on NaN, Infinity and -Infinity (which real JSON cannot carry)."""

    def reject(token: str) -> Any:
        raise AssertionError(f"non-finite number {token} in JSON body")

    return json.loads(text, parse_constant=reject)


def free_port() -> int:
    """A free TCP port on 127.0.0.1."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def serve(
    env: dict[str, str] | None = None, *, log: Path | None = None
) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """Run ``python -m service serve`` on a free loopback port with extra environment
    variables, wait until /readyz says ready, yield (base URL, process); stop it after. With
    ``log``, the server's stdout (access log) and stderr (everything else) go to that file."""
    import httpx

    port = free_port()
    output = None if log is None else log.open("ab")
    process = subprocess.Popen(
        [sys.executable, "-m", "service", "serve", "--host", "127.0.0.1", "--port", str(port)],
        stdout=output or subprocess.DEVNULL,
        stderr=output or subprocess.DEVNULL,
        # a logged server writes each line as it comes (stdout to a file is block-buffered)
        env={**os.environ, **({"PYTHONUNBUFFERED": "1"} if log else {}), **(env or {})},
    )
    if output is not None:
        output.close()  # the server holds its own copy
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 300  # a first start compiles the kernel
        while True:
            try:
                if httpx.get(f"{url}/readyz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("the test server did not start")
            time.sleep(0.1)
        yield url, process
    finally:
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


@pytest.fixture(scope="module")
def live_server() -> Iterator[str]:
    """A real uvicorn serving the app on a free loopback port; yields its base URL."""
    with serve({"LEARNDYN_COMPUTE_SECONDS": "10"}) as (url, _):
        yield url
