"""Warnings that one client can multiply, logged once per interval with a count.

Out of file descriptors, asyncio's accept loop logs a traceback for every failed
``accept()`` — up to the backlog per loop iteration, again after each 1 s retry: measured,
225,279 tracebacks (91 MB) in 20 s. uvicorn logs one warning per malformed request, per
upgrade request and per request over its concurrency limit. :class:`RateLimitFilter` lets the
first record of each such kind through, drops the others of the same kind for ``interval``
seconds, and says on the next one it lets through how many it dropped. Exhaustion records lose
their traceback (the error's text is kept): the cause is the count, not the stack.

Any other record passes untouched. The filter is attached to the ``asyncio`` and
``uvicorn.error`` loggers by ``learndyn serve``'s logging configuration
(:data:`service.cli.LOG_CONFIG`).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

LOG_INTERVAL_SECONDS = 10.0
"""At most one record of each kind per this many seconds."""

ACCEPT_FAILED = "socket.accept() out of system resource"
"""asyncio's message when ``accept()`` fails with EMFILE, ENFILE, ENOBUFS or ENOMEM."""
CONNECTION_REFUSED = "refused a connection"
"""The protocol's message when the connection cap is reached."""
HEAD_TIMEOUT = "closed a connection"
"""The protocol's message when a request head did not arrive in time."""

KINDS: tuple[str, ...] = (
    ACCEPT_FAILED,
    CONNECTION_REFUSED,
    HEAD_TIMEOUT,
    "Invalid HTTP request received.",
    "Exceeded concurrency limit.",
    "Unsupported upgrade request.",
    "No supported WebSocket library detected.",
)
"""The beginnings of the messages that are rate-limited, one kind each."""

UNTRACED = (ACCEPT_FAILED,)
"""Kinds logged without their traceback."""


class RateLimitFilter(logging.Filter):
    """Pass the first record of each kind in :data:`KINDS` per ``interval`` seconds."""

    def __init__(
        self, interval: float = LOG_INTERVAL_SECONDS, clock: Callable[[], float] = time.monotonic
    ) -> None:
        super().__init__()
        self.interval = interval
        self.clock = clock
        self._lock = threading.Lock()
        self._passed: dict[str, float] = {}
        self._dropped: dict[str, int] = {}

    def filter(self, record: logging.LogRecord) -> bool:
        kind = _kind(record)
        if kind is None:
            return True
        now = self.clock()
        with self._lock:
            last = self._passed.get(kind)
            if last is not None and now - last < self.interval:
                self._dropped[kind] = self._dropped.get(kind, 0) + 1
                return False
            dropped = self._dropped.pop(kind, 0)
            self._passed[kind] = now
        if kind in UNTRACED and record.exc_info:
            error = record.exc_info[1]
            record.msg = f"{record.getMessage().splitlines()[0]}: {error}"
            record.args = None
            record.exc_info = None
            record.exc_text = None
        if dropped:
            since = "" if last is None else f" in the last {now - last:.0f} s"
            record.msg = f"{record.getMessage()} (and {dropped} more like it{since})"
            record.args = None
        return True


def _kind(record: logging.LogRecord) -> str | None:
    message = record.getMessage()
    for kind in KINDS:
        if message.startswith(kind):
            return kind
    return None
