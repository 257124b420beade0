"""deploy/nginx.conf in front of a real service, both on loopback: a /train through it, and
limits that nginx enforces before the service sees the request.

nginx runs in the foreground (``daemon off``) with a prefix, pid file, logs and temporary
paths of the test's own, and is stopped by its PID. Slow: it starts a server and nginx."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http import HTTPStatus
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import free_port, serve, strict_json
from tests.server.raw import address

CONFIG = Path(__file__).resolve().parents[2] / "deploy" / "nginx.conf"
LISTEN = "    listen 8080;"
UPSTREAM = "    server 127.0.0.1:8000;"

pytestmark = pytest.mark.slow


def nginx_binary() -> str:
    found = shutil.which("nginx") or next(
        (p for p in ("/usr/sbin/nginx", "/usr/local/sbin/nginx") if os.access(p, os.X_OK)), None
    )
    if found is None:
        pytest.skip(
            "!!! NGINX IS NOT INSTALLED: the test of deploy/nginx.conf DID NOT RUN. "
            "`python3 run.py test --slow` installs it with apt-get when run as root on Debian; "
            "elsewhere install Debian's `nginx` package by hand. !!!"
        )
    return found


def configured(prefix: Path, listen: int, upstream: str) -> Path:
    """The main config of a private nginx that includes deploy/nginx.conf, whose two TEST
    lines are pointed at ``listen`` and ``upstream``."""
    text = CONFIG.read_text()
    for line in (LISTEN, UPSTREAM):
        assert text.count(line) == 1, f"deploy/nginx.conf no longer has {line!r}"
    text = text.replace(LISTEN, f"    listen 127.0.0.1:{listen};")
    text = text.replace(UPSTREAM, f"    server {upstream};")
    (prefix / "learndyn.conf").write_text(text)
    temp = "\n".join(
        f"    {kind}_temp_path {prefix / kind};"
        for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )
    main = prefix / "nginx.conf"
    main.write_text(
        "worker_processes 1;\n"
        + ("user root root;\n" if os.geteuid() == 0 else "")  # workers write the temp paths
        + f"error_log {prefix / 'error.log'} info;\n"
        f"pid {prefix / 'nginx.pid'};\n"
        "events { worker_connections 256; }\n"
        "http {\n"
        f"    access_log {prefix / 'access.log'};\n"
        f"{temp}\n"
        f"    include {prefix / 'learndyn.conf'};\n"
        "}\n"
    )
    return main


@contextmanager
def nginx(prefix: Path, upstream: str) -> Iterator[str]:
    """nginx with deploy/nginx.conf on a free loopback port; yields its URL, stops it by PID."""
    binary = nginx_binary()
    port = free_port()
    main = configured(prefix, port, upstream)
    process = subprocess.Popen(
        [binary, "-p", str(prefix), "-c", str(main), "-g", "daemon off;"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                httpx.get(f"{url}/healthz", timeout=1)
                break
            except httpx.TransportError:
                if process.poll() is not None or time.monotonic() > deadline:
                    _, err = process.communicate(timeout=5)
                    raise RuntimeError(f"nginx did not start: {err.decode()[-2000:]}") from None
                time.sleep(0.1)
        yield url
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGQUIT)  # graceful: workers finish, master exits
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        if process.stderr is not None:
            process.stderr.close()


def upstream(url: str) -> str:
    """host:port of a service's URL."""
    return url.removeprefix("http://")


def logged(log: Path, *, after: int, path: str) -> list[dict[str, Any]]:
    """The service's access-log entries from the ``after``-th on, once one for ``path`` is
    among them (each is written just after its answer: wait up to 5 s for it)."""
    deadline = time.monotonic() + 5
    while True:
        lines = [line for line in log.read_text().splitlines() if line.startswith("{")]
        entries = [json.loads(line) for line in lines][after:]
        if any(e["path"] == path for e in entries) or time.monotonic() > deadline:
            return entries
        time.sleep(0.05)


def test_train_through_nginx_and_nginx_enforces_its_limits(tmp_path: Path) -> None:
    log = tmp_path / "service.log"
    env = {"LEARNDYN_DATA_DIR": str(tmp_path / "data")}
    with (
        serve(env, log=log) as (service, _),
        nginx(tmp_path, upstream(service)) as url,
    ):
        # a computation, through the proxy
        body = {"dataset": {"inputs": [[1.0], [-1.0]], "targets": [1, -1]}, "steps": 1000}
        r = httpx.post(f"{url}/train", json=body, headers={"x-request-id": "via-nginx"}, timeout=60)
        assert r.status_code == 200, r.text
        assert r.json()["steps"] == 1000
        assert r.headers["x-request-id"] == "via-nginx"  # passed on, echoed by the service
        assert r.headers.get("server") == "nginx"  # no version (server_tokens off)

        # a body over client_max_body_size: 413 from nginx before a byte is sent upstream
        served = len(logged(log, after=0, path="/train"))
        big = b'{"dataset": ' + b" " * (8 * 1024 * 1024) + b"}"
        started = time.monotonic()
        r = httpx.post(f"{url}/train", content=big, headers={"content-type": "application/json"})
        elapsed = time.monotonic() - started
        assert r.status_code == 413
        assert r.headers["content-type"] == "application/problem+json"
        problem = strict_json(r.text)
        assert (problem["status"], problem["title"]) == (413, HTTPStatus(413).phrase)
        assert "nginx client_max_body_size" in problem["detail"]
        assert elapsed < 5.0

        # a request line over 8 KiB: nginx's 414, problem+json too
        r = httpx.get(f"{url}/healthz?" + "a" * 9000)
        assert r.status_code == 414
        assert strict_json(r.text)["title"] == HTTPStatus(414).phrase

        # the service's own problems pass through untouched
        r = httpx.post(f"{url}/train", json={"dataset": {}})
        assert r.status_code == 422
        assert strict_json(r.text)["type"] == "urn:learndyn:invalid-request"
        # and it is all the service saw: the refusals never reached it
        assert [(a["path"], a["status"]) for a in logged(log, after=served, path="/train")] == [
            ("/train", 422)
        ]


def test_nginx_limits_connections_per_client_and_holds_slow_bodies_itself(
    tmp_path: Path,
) -> None:
    """20 requests whose bodies do not come hold nginx's 20 connections per address (nginx
    reads a body whole before it opens a request upstream: the service sees none of them);
    the 21st gets 429 problem+json; once they are gone, requests pass again."""
    log = tmp_path / "service.log"
    env = {"LEARNDYN_DATA_DIR": str(tmp_path / "data")}
    with (
        serve(env, log=log) as (service, _),
        nginx(tmp_path, upstream(service)) as url,
    ):
        time.sleep(1.0)  # the start-up probe's share of the request rate has drained
        served = len(logged(log, after=0, path="/healthz"))  # the start-up probes'
        head = (
            b"POST /train HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\n"
            b"Content-Length: 100\r\n\r\n{"
        )
        holders = [socket.create_connection(address(url)) for _ in range(20)]
        try:
            for sock in holders:
                sock.sendall(head)
            time.sleep(0.5)  # nginx has read every head and waits for the bodies
            r = httpx.get(f"{url}/healthz")
            assert r.status_code == 429, r.text
            assert r.headers["content-type"] == "application/problem+json"
            assert r.headers["retry-after"] == "1"
            assert strict_json(r.text)["title"] == HTTPStatus(429).phrase
        finally:
            for sock in holders:
                sock.close()
        time.sleep(0.5)
        assert httpx.get(f"{url}/healthz").status_code == 200
        paths = [a["path"] for a in logged(log, after=served, path="/healthz")]
        assert paths == ["/healthz"]  # only the last one reached the service
