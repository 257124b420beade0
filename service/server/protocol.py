"""The HTTP/1.1 protocol learndyn serves with: uvicorn's h11 protocol, with bounds.

uvicorn's h11 protocol (pinned: ``learndyn serve`` passes this class, so neither httptools nor
another parser is picked by what happens to be installed) accepts every connection, waits for
a request head as long as a client takes, bounds a head only while it is incomplete after a
read (a 100 KB URL that arrives in one read passes), takes ``Content-Length`` together with
``Transfer-Encoding``, and answers a malformed request with ``text/plain``. This subclass:

* **caps connections**: the connection after ``max_connections`` (:mod:`service.server.budget`)
  is answered 503 problem+json at once and closed, before it holds a descriptor for long;
* **times the head**: a request head must be complete ``LEARNDYN_HEADER_SECONDS`` after the
  connection opened (for a later request on a kept-alive connection: after its first byte;
  the idle time between requests is uvicorn's ``timeout_keep_alive``); past that the
  connection is closed, with 408 problem+json when part of a head had come;
* **bounds the head** once it is complete: a request target over ``MAX_REQUEST_TARGET_BYTES``
  → 414, over ``MAX_HEADERS`` fields or ``MAX_HEADER_BYTES`` of them → 431
  (:mod:`service.limits`); h11's own bound on an incomplete head (its
  ``max_incomplete_event_size``, set just above their sum by ``learndyn serve``) → 431;
* **refuses ambiguous framing**: ``Content-Length`` with ``Transfer-Encoding`` → 400 (RFC 9112
  §6.1: "a server MAY reject a request that contains both"; it is how requests are smuggled
  past a proxy that frames them the other way);
* **answers every protocol error as problem+json**, with h11's status (400; 431; 501 for a
  transfer coding other than chunked), and ``Connection: close``;
* **stops reading an answered request**: once the answer is complete while the request body
  is not (a 401, 413 or 408 sent before the body was read), the rest of the body is read and
  dropped for at most ``LINGER_SECONDS`` (so a client that sends it in full still reads the
  answer), then the connection is closed: a trickle cannot hold it through keep-alive.

Left to uvicorn: its own 503 (``text/plain``) when in-flight requests reach its
``limit_concurrency`` — set one above the cap, so it only acts on requests that outlive their
connection —, and its 500 (``text/plain``) for an application that fails before it answers
(:mod:`service.api.access_log` answers problem+json first).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from functools import cache
from http import HTTPStatus
from typing import Any

import h11
from uvicorn.config import Config
from uvicorn.protocols.http.h11_impl import H11Protocol
from uvicorn.server import ServerState

from service import limits
from service.api.problems import PROBLEM_JSON, problem_document
from service.server.budget import ConnectionBudget, connection_budget, file_descriptor_limit
from service.server.log_limits import CONNECTION_REFUSED, HEAD_TIMEOUT
from service.settings import Settings

LINGER_SECONDS = 5.0
"""After an answer sent before its request body was read, how long the rest is read and
dropped before the connection is closed (at most ``LEARNDYN_BODY_SECONDS``)."""

ECHOED = 200
"""At most this many characters of h11's reason (which may quote the request) in a 400."""

MAX_INCOMPLETE_HEAD_BYTES = limits.MAX_REQUEST_TARGET_BYTES + limits.MAX_HEADER_BYTES + 1024
"""h11's bound on a head still incomplete after a read: the two bounds of a complete head plus
the method, the version, the line ends and the blanks around each header's colon."""


@dataclass(frozen=True, slots=True)
class ProtocolLimits:
    """The bounds of one server process's connections, from the settings and its descriptors."""

    budget: ConnectionBudget
    header_seconds: float
    linger_seconds: float


@cache
def protocol_limits() -> ProtocolLimits:
    """This process's limits: ``LEARNDYN_*`` and its file-descriptor limit, read once (every
    uvicorn worker reads its own, as it reads its app)."""
    settings = Settings.from_env()
    return ProtocolLimits(
        budget=connection_budget(settings.max_connections, file_descriptor_limit()),
        header_seconds=settings.header_seconds,
        linger_seconds=min(LINGER_SECONDS, settings.body_seconds),
    )


class HeadRejected(h11.RemoteProtocolError):
    """A complete request head over a bound, or with ambiguous framing."""


def check_head(request: h11.Request) -> None:
    """Raise :class:`HeadRejected` (with its status as h11's hint) if ``request``'s head is
    over a bound of :mod:`service.limits` or frames its body both ways."""
    if len(request.target) > limits.MAX_REQUEST_TARGET_BYTES:
        raise HeadRejected(
            f"the request target is {len(request.target)} bytes; at most "
            f"{limits.MAX_REQUEST_TARGET_BYTES} are accepted",
            error_status_hint=414,
        )
    headers = list(request.headers)
    if len(headers) > limits.MAX_HEADERS:
        raise HeadRejected(
            f"the request has {len(headers)} header fields; at most {limits.MAX_HEADERS} are "
            "accepted",
            error_status_hint=431,
        )
    size = sum(len(name) + len(value) + 4 for name, value in headers)
    if size > limits.MAX_HEADER_BYTES:
        raise HeadRejected(
            f"the request's header fields are {size} bytes; at most {limits.MAX_HEADER_BYTES} "
            "are accepted",
            error_status_hint=431,
        )
    names = {name for name, _ in headers}
    if b"content-length" in names and b"transfer-encoding" in names:
        raise HeadRejected(
            "the request has both Content-Length and Transfer-Encoding: its body's length is "
            "ambiguous (send one of them)",
            error_status_hint=400,
        )


class BoundedConnection(h11.Connection):
    """h11's server connection that checks each complete request head and keeps the last
    protocol error, so that the answer can say what it was."""

    error: h11.RemoteProtocolError | None = None

    def next_event(self) -> Any:
        try:
            event = super().next_event()
            if isinstance(event, h11.Request):
                check_head(event)
        except h11.RemoteProtocolError as error:
            self.error = error
            raise
        return event


def problem_bytes(connection: h11.Connection, status: int, detail: str) -> bytes:
    """A whole problem+json answer with ``Connection: close``, framed by ``connection``."""
    body = problem_document(status, detail).model_dump_json(exclude_none=True).encode()
    headers = [
        (b"content-type", PROBLEM_JSON.encode()),
        (b"content-length", str(len(body)).encode()),
        (b"connection", b"close"),
    ]
    return b"".join(
        connection.send(event) or b""
        for event in (
            h11.Response(status_code=status, headers=headers, reason=HTTPStatus(status).phrase),
            h11.Data(data=body),
            h11.EndOfMessage(),
        )
    )


class LearndynProtocol(H11Protocol):
    """uvicorn's h11 protocol with the bounds of the module docstring."""

    def __init__(
        self,
        config: Config,
        server_state: ServerState,
        app_state: dict[str, Any],
        _loop: asyncio.AbstractEventLoop | None = None,
    ) -> None:
        super().__init__(config, server_state, app_state, _loop)
        self.conn = BoundedConnection(
            h11.SERVER,
            config.h11_max_incomplete_event_size or MAX_INCOMPLETE_HEAD_BYTES,
        )
        self.limits = protocol_limits()
        self.refused = False
        self.head_timer: asyncio.TimerHandle | None = None
        self.linger_timer: asyncio.TimerHandle | None = None

    def connection_made(  # type: ignore[override]
        self, transport: asyncio.Transport
    ) -> None:
        cap = self.limits.budget.max_connections
        if len(self.connections) >= cap:
            self.refused = True
            detail = f"the server holds {cap} connections, its limit; retry later"
            transport.write(problem_bytes(h11.Connection(h11.SERVER), 503, detail))
            transport.close()
            self.logger.warning(
                "%s: %d connections open, the limit (LEARNDYN_MAX_CONNECTIONS and the "
                "file-descriptor limit %d)",
                CONNECTION_REFUSED,
                cap,
                self.limits.budget.file_descriptors,
            )
            return
        super().connection_made(transport)
        self._time_head()

    def connection_lost(self, exc: Exception | None) -> None:
        if self.refused:
            return
        self._cancel_timers()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        state = self.conn.their_state
        if state is h11.IDLE:
            self._time_head()  # a head has begun (or is awaited) on a kept-alive connection
        elif self.head_timer is not None:
            self.head_timer.cancel()
            self.head_timer = None
        if state is not h11.SEND_BODY and self.linger_timer is not None:
            self.linger_timer.cancel()
            self.linger_timer = None

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if not self.transport.is_closing() and self.conn.their_state is h11.SEND_BODY:
            self.linger_timer = self.loop.call_later(self.limits.linger_seconds, self._close)

    def send_400_response(self, msg: str) -> None:
        error = getattr(self.conn, "error", None)
        status = error.error_status_hint if error is not None else 400
        if isinstance(error, HeadRejected):
            detail = str(error)
        elif status == 431:  # h11: the head is still incomplete past its bound
            detail = f"the request head is over {MAX_INCOMPLETE_HEAD_BYTES} bytes"
        else:  # h11's words, which may quote the request: not all of it
            said = str(error) if error is not None else msg
            detail = f"invalid HTTP request: {said[:ECHOED] + '…' if len(said) > ECHOED else said}"
        self._answer_and_close(status, detail)

    def _time_head(self) -> None:
        if self.head_timer is None:
            self.head_timer = self.loop.call_later(self.limits.header_seconds, self._head_late)

    def _head_late(self) -> None:
        self.head_timer = None
        if self.transport.is_closing() or self.conn.their_state is not h11.IDLE:
            return
        seconds = self.limits.header_seconds
        if self.conn.trailing_data[0]:  # part of a head came: say why the connection closes
            detail = f"the request head did not arrive within {seconds:g} s"
            self._answer_and_close(408, detail)
        else:
            self._close()
        self.logger.info("%s: no request head within %g s", HEAD_TIMEOUT, seconds)

    def _answer_and_close(self, status: int, detail: str) -> None:
        try:
            self.transport.write(problem_bytes(self.conn, status, detail))
        except h11.LocalProtocolError:  # h11 cannot answer in this state: just close
            pass
        self._close()

    def _close(self) -> None:
        self._cancel_timers()
        if not self.transport.is_closing():
            self.transport.close()

    def _cancel_timers(self) -> None:
        for timer in (self.head_timer, self.linger_timer):
            if timer is not None:
                timer.cancel()
        self.head_timer = self.linger_timer = None
