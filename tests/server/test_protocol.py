"""The HTTP/1.1 protocol on a real server, over raw sockets: head and body timeouts, head
bounds, framing, problem+json for every protocol error, no ``server`` header.

Timeouts are set short (head 1 s, body 2 s, keep-alive 1 s); an answer that must wait for one
is accepted up to 1.5 s late (2 shared cores: measured lateness under 0.1 s when idle)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from service import limits
from service.server.protocol import ECHOED, MAX_INCOMPLETE_HEAD_BYTES
from tests.conftest import serve
from tests.server.raw import exchange

HEAD, BODY, KEEPALIVE = 1.0, 2.0, 1
LATE = 1.5
"""How late past a timeout an answer may come."""


@dataclass(frozen=True)
class Live:
    url: str
    log: Path
    """The server's stdout and stderr."""


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    env = {
        "LEARNDYN_HEADER_SECONDS": str(HEAD),
        "LEARNDYN_BODY_SECONDS": str(BODY),
        "LEARNDYN_KEEPALIVE_SECONDS": str(KEEPALIVE),
        "LEARNDYN_MAX_BODY_BYTES": "1000",
        "LEARNDYN_DATA_DIR": str(tmp_path_factory.mktemp("data")),
    }
    log = tmp_path_factory.mktemp("log") / "server.log"
    with serve(env, log=log) as (base, _):
        yield Live(base, log)


@pytest.fixture
def url(live: Live) -> str:
    return live.url


def request(target: bytes = b"/healthz", *headers: bytes, method: bytes = b"GET") -> bytes:
    return b"%s %s HTTP/1.1\r\nHost: test\r\n%s\r\n" % (
        method,
        target,
        b"".join(h + b"\r\n" for h in headers),
    )


def header_bytes(headers: list[tuple[bytes, bytes]]) -> int:
    """The size the limit counts: name, value, ': ' and the line end of each field."""
    return sum(len(name) + len(value) + 4 for name, value in headers)


TARGET_AT_LIMIT = b"/healthz?" + b"a" * (limits.MAX_REQUEST_TARGET_BYTES - len(b"/healthz?"))
WIDE = [(b"x-%02d" % i, b"v" * 1700) for i in range(20)]
WIDE_SIZE = header_bytes([(b"host", b"test"), *WIDE])


@pytest.mark.parametrize(
    ("data", "status", "words"),
    [
        pytest.param(
            request(b"/train", b"Content-Length: 5", b"Transfer-Encoding: chunked", method=b"POST")
            + b"0\r\n\r\n",
            400,
            ("both Content-Length and Transfer-Encoding",),
            id="content-length-with-transfer-encoding",
        ),
        pytest.param(
            request(TARGET_AT_LIMIT + b"a"),
            414,
            (f"{limits.MAX_REQUEST_TARGET_BYTES + 1} bytes",),
            id="target-one-byte-over",
        ),
        pytest.param(
            request(b"/healthz", *(b"x-%03d: 1" % i for i in range(limits.MAX_HEADERS))),
            431,
            (f"{limits.MAX_HEADERS + 1} header fields",),  # Host and MAX_HEADERS more
            id="one-header-field-too-many",
        ),
        pytest.param(
            request(b"/healthz", *(name + b": " + value for name, value in WIDE)),
            431,
            (f"{WIDE_SIZE} bytes", f"at most {limits.MAX_HEADER_BYTES}"),
            id="header-fields-too-large",
        ),
        pytest.param(  # never finished: h11's bound on an incomplete head
            b"GET /healthz HTTP/1.1\r\nHost: test\r\nx-big: " + b"v" * MAX_INCOMPLETE_HEAD_BYTES,
            431,
            (f"over {MAX_INCOMPLETE_HEAD_BYTES} bytes",),
            id="incomplete-head-too-large",
        ),
        pytest.param(b"HELLO\r\n\r\n", 400, ("invalid HTTP request",), id="not-http"),
        pytest.param(
            request(b"/train", b"Transfer-Encoding: gzip", method=b"POST"),
            501,
            ("Transfer-Encoding: chunked",),
            id="unknown-transfer-coding",
        ),
        pytest.param(
            request(b"/train", b"Content-Length: 2", b"Content-Length: 3", method=b"POST"),
            400,
            ("conflicting Content-Length",),
            id="conflicting-content-lengths",
        ),
    ],
)
def test_protocol_errors_are_problem_json_and_close(
    url: str, data: bytes, status: int, words: tuple[str, ...]
) -> None:
    answer = exchange(url, data, deadline=5)
    answer.assert_problem(status, *words)
    assert answer.closed_after < 1.0  # at once, not at a timeout


def test_a_400_quotes_little_of_the_request(url: str) -> None:
    answer = exchange(url, b"GET /" + b"\xff" * 5000 + b" HTTP/1.1\r\nHost: test\r\n\r\n")
    problem = answer.assert_problem(400, "invalid HTTP request: illegal request line")
    assert len(problem["detail"]) == len("invalid HTTP request: ") + ECHOED + len("…")


@pytest.mark.parametrize(
    "data",
    [
        pytest.param(request(TARGET_AT_LIMIT), id="target-at-the-limit"),
        pytest.param(
            request(b"/healthz", *(b"x-%03d: 1" % i for i in range(limits.MAX_HEADERS - 1))),
            id="header-fields-at-the-limit",
        ),
        pytest.param(
            request(
                b"/healthz",
                b"x-fill: "
                + b"v" * (limits.MAX_HEADER_BYTES - header_bytes([(b"host", b"test")]) - 10),
            ),
            id="header-bytes-at-the-limit",
        ),
    ],
)
def test_heads_at_the_limits_are_served(url: str, data: bytes) -> None:
    answer = exchange(url, data, deadline=KEEPALIVE + 5)
    assert answer.status == 200, answer.raw[:300]
    assert answer.json() == {"status": "ok"}


def test_no_server_header(url: str) -> None:
    r = httpx.get(f"{url}/healthz")
    assert r.status_code == 200
    assert "server" not in r.headers
    assert "date" in r.headers


def test_a_connection_that_sends_nothing_is_closed_after_the_head_timeout(url: str) -> None:
    answer = exchange(url, deadline=HEAD + 5)
    assert answer.raw == b""
    assert HEAD - 0.05 <= answer.closed_after <= HEAD + LATE


def test_a_partial_head_gets_408_at_the_head_timeout(url: str) -> None:
    answer = exchange(url, b"GET /healthz HTTP/1.1\r\nHo", deadline=HEAD + 5)
    answer.assert_problem(408, f"request head did not arrive within {HEAD:g} s")
    assert HEAD - 0.05 <= answer.closed_after <= HEAD + LATE


def test_a_head_trickled_a_byte_at_a_time_gets_408(url: str) -> None:
    head = request()
    answer = exchange(url, head[:1], trickle=head[1:], every=0.25, deadline=HEAD + 5)
    answer.assert_problem(408, "request head did not arrive")
    assert HEAD - 0.05 <= answer.closed_after <= HEAD + LATE


def test_an_idle_kept_alive_connection_is_closed_after_the_keep_alive(url: str) -> None:
    answer = exchange(url, request(), deadline=KEEPALIVE + 5)
    assert answer.status == 200
    assert KEEPALIVE - 0.05 <= answer.closed_after <= KEEPALIVE + LATE


def test_the_next_head_on_a_kept_alive_connection_is_timed_from_its_first_byte(
    url: str,
) -> None:
    """Keep-alive is reset by every byte; a second head that never ends must still end."""
    answer = exchange(
        url, request(), trickle=b"GET /healthz HTTP/1.1\r\n", every=0.25, after_answer=True,
        deadline=KEEPALIVE + HEAD + 5,
    )  # fmt: skip
    assert answer.status == 200  # the first request's answer
    second = answer.raw[answer.raw.index(b"}") + 1 :]
    assert second.startswith(b"HTTP/1.1 408 Request Timeout"), second[:100]
    # the first trickled byte comes 0.25 s after the answer: the head clock starts there
    assert 0.25 + HEAD - 0.05 <= answer.closed_after <= 0.25 + HEAD + LATE


@pytest.mark.parametrize(
    ("headers", "trickle"),
    [
        pytest.param((b"Content-Length: 100",), b"{" * 20, id="content-length"),
        pytest.param((b"Transfer-Encoding: chunked",), b"1\r\n{\r\n" * 5, id="chunked"),
    ],
)
def test_a_body_trickled_at_one_byte_a_second_gets_408_at_the_body_timeout(
    url: str, headers: tuple[bytes, ...], trickle: bytes
) -> None:
    head = request(b"/train", b"Content-Type: application/json", *headers, method=b"POST")
    answer = exchange(url, head, trickle=trickle, every=1.0, deadline=BODY + 5)
    problem = answer.assert_problem(408, f"body did not arrive within {BODY:g} s")
    assert problem["type"] == "about:blank"
    assert "x-request-id" in answer.headers  # answered by the application: logged
    assert BODY - 0.05 <= answer.closed_after <= BODY + LATE


def test_an_answer_sent_before_the_body_stops_the_reading(url: str) -> None:
    """413 at once for a declared 5000 bytes; the body still trickling is read and dropped
    for at most min(5 s, the body timeout), then the connection is closed."""
    head = request(
        b"/train", b"Content-Type: application/json", b"Content-Length: 5000", method=b"POST"
    )
    answer = exchange(
        url, head, trickle=b"{" * 40, every=0.25, after_answer=True, deadline=BODY + 5
    )
    assert answer.status == 413, answer.raw[:300]
    assert BODY - 0.05 <= answer.closed_after <= BODY + LATE


def test_a_large_body_sent_whole_after_an_early_answer_is_read_out(url: str) -> None:
    """The client that sends its body anyway still reads the 413, not a reset."""
    head = request(
        b"/train", b"Content-Type: application/json", b"Content-Length: 200000", method=b"POST"
    )
    answer = exchange(url, head + b" " * 200_000, deadline=KEEPALIVE + BODY + 5)
    assert answer.status == 413, answer.raw[:300]


def test_malformed_requests_are_logged_once_per_interval(live: Live) -> None:
    """30 malformed requests in well under the 10 s interval: uvicorn's warning at most once
    (none when an earlier test of the module opened the interval), not 30 times."""
    before = live.log.stat().st_size
    started = time.monotonic()
    for _ in range(30):
        exchange(live.url, b"HELLO\r\n\r\n", deadline=5).assert_problem(400)
    assert time.monotonic() - started < 5.0
    with live.log.open("rb") as log:
        log.seek(before)
        lines = log.read().decode().splitlines()
    assert sum("Invalid HTTP request received." in line for line in lines) <= 1, lines
    assert not any("Traceback" in line for line in lines), lines
