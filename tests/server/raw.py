"""Raw HTTP/1.1 over a socket, for what httpx will not send: broken heads, slow bodies, idle
connections. Every read is bounded by a deadline."""

from __future__ import annotations

import json
import socket
import time
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any
from urllib.parse import urlsplit


def address(url: str) -> tuple[str, int]:
    parts = urlsplit(url)
    assert parts.hostname is not None and parts.port is not None
    return parts.hostname, parts.port


@dataclass
class Answer:
    """What the server sent before it closed the connection, and when."""

    raw: bytes
    closed_after: float
    """Seconds from the start of the exchange to the server's end of stream (inf: it never
    closed within the deadline)."""
    status: int = 0
    reason: str = ""
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""

    def json(self) -> Any:
        return json.loads(self.body)

    def assert_problem(self, status: int, *words: str) -> dict[str, Any]:
        """A whole problem+json answer ``status`` that closes the connection, whose detail
        holds every one of ``words``."""
        assert self.status == status, self.raw[:400]
        assert self.reason == HTTPStatus(status).phrase, self.raw[:200]
        assert self.headers["content-type"] == "application/problem+json", self.headers
        assert self.headers["connection"] == "close", self.headers
        assert "server" not in self.headers, self.headers
        assert int(self.headers["content-length"]) == len(self.body)
        problem: dict[str, Any] = self.json()
        assert problem["status"] == status and problem["title"] == HTTPStatus(status).phrase
        for word in words:
            assert word in problem["detail"], (word, problem["detail"])
        return problem


def parse(raw: bytes, closed_after: float) -> Answer:
    """The first response in ``raw`` (Content-Length framed), if any."""
    answer = Answer(raw=raw, closed_after=closed_after)
    head, sep, rest = raw.partition(b"\r\n\r\n")
    if not sep:
        return answer
    status_line, *lines = head.decode("latin-1").split("\r\n")
    _, code, answer.reason = (status_line.split(" ", 2) + [""])[:3]
    answer.status = int(code)
    answer.headers = {
        name.strip().lower(): value.strip()
        for name, _, value in (line.partition(":") for line in lines)
    }
    length = int(answer.headers.get("content-length", len(rest)))
    answer.body = rest[:length]
    return answer


def exchange(
    url: str,
    data: bytes = b"",
    *,
    deadline: float = 10.0,
    trickle: bytes = b"",
    every: float = 1.0,
    after_answer: bool = False,
) -> Answer:
    """Connect, send ``data``, then ``trickle`` one byte each ``every`` seconds (stopping when
    the server answers, unless ``after_answer``, or closes), and read until the server closes
    or ``deadline`` seconds have passed."""
    with socket.create_connection(address(url), timeout=deadline) as sock:
        started = time.monotonic()
        if data:
            sock.sendall(data)
        received = bytearray()
        pending = list(trickle)
        while True:
            left = started + deadline - time.monotonic()
            if left <= 0:
                return parse(bytes(received), float("inf"))
            wait = min(left, every) if pending else left
            sock.settimeout(wait)
            try:
                chunk = sock.recv(65536)
            except TimeoutError:
                if pending:
                    try:
                        sock.sendall(bytes([pending.pop(0)]))
                    except OSError:  # the server has closed: read what it said
                        pending.clear()
                continue
            except ConnectionResetError:
                chunk = b""
            if not chunk:
                return parse(bytes(received), time.monotonic() - started)
            received += chunk
            if not after_answer:
                pending.clear()  # it has answered: send no more
