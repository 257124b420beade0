"""File descriptors and the connections they allow, per server process.

Every client connection holds one descriptor. A process that runs out of them cannot accept,
open its database or answer ``/healthz``; asyncio then logs one traceback per accept attempt.
So the server raises its soft ``RLIMIT_NOFILE`` to the hard limit at start, and caps its
connections below it::

    backlog         = min(MAX_BACKLOG, (descriptors − FD_RESERVE) // 2)
    max_connections = min(LEARNDYN_MAX_CONNECTIONS, descriptors − FD_RESERVE − backlog)

``FD_RESERVE`` is kept for everything else (database, Dask, the kernel cache, logs), and
``backlog`` for the connections asyncio accepts in one go before the protocol can refuse one
(it accepts up to the backlog per loop iteration). A connection over the cap is refused at
once (:mod:`service.server.protocol`), so descriptors stay within the limit however many
clients connect. Each worker process has its own limit and cap (``--workers N``: N × cap).
"""

from __future__ import annotations

import resource
from dataclasses import dataclass

from service import limits


@dataclass(frozen=True, slots=True)
class ConnectionBudget:
    """What one server process may hold open."""

    file_descriptors: int
    """The process's soft limit on open files (``RLIMIT_NOFILE``)."""
    max_connections: int
    """Client connections open at once; the next one is refused with 503."""
    backlog: int
    """The listen backlog: connections the kernel queues before the server accepts them."""


def connection_budget(max_connections: int, file_descriptors: int) -> ConnectionBudget:
    """The cap and backlog for ``file_descriptors`` open files, the cap at most
    ``max_connections`` (``LEARNDYN_MAX_CONNECTIONS``); both at least 1."""
    spare = file_descriptors - limits.FD_RESERVE
    backlog = max(1, min(limits.MAX_BACKLOG, spare // 2))
    cap = max(1, min(max_connections, spare - backlog))
    return ConnectionBudget(file_descriptors=file_descriptors, max_connections=cap, backlog=backlog)


def file_descriptor_limit() -> int:
    """This process's soft limit on open files."""
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def raise_file_descriptor_limit() -> tuple[int, int]:
    """Raise the soft ``RLIMIT_NOFILE`` to the hard limit (children inherit it: uvicorn's
    worker processes); return (before, after). Where the hard limit is unlimited or the raise
    is refused, the soft limit stays as it was."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY or hard <= soft:
        return soft, soft
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    except (ValueError, OSError):
        return soft, soft
    return soft, hard
