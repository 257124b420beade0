"""The options ``learndyn serve`` passes to ``uvicorn.run``, from the settings.

Pinned rather than left to uvicorn's "auto": the HTTP protocol (h11, through
:class:`~service.server.protocol.LearndynProtocol`; httptools would be picked if it were
installed, and skips every bound here), the event loop (asyncio) and no WebSocket protocol (the
API has none; an upgrade request is then answered as plain HTTP). uvicorn's own ``server``
header is off (it names the server software to every client); its ``date`` header stays.
"""

from __future__ import annotations

from typing import Any

from service.server.budget import ConnectionBudget
from service.server.protocol import MAX_INCOMPLETE_HEAD_BYTES, LearndynProtocol
from service.settings import Settings


def uvicorn_options(settings: Settings, budget: ConnectionBudget) -> dict[str, Any]:
    """Keyword arguments of ``uvicorn.run`` for ``settings`` and this process's ``budget``
    (besides the app, host, port, workers and logging)."""
    return {
        "http": LearndynProtocol,
        "loop": "asyncio",
        "ws": "none",
        "server_header": False,
        # the protocol refuses connections over the cap itself (503 problem+json); uvicorn's
        # check, one above, answers only requests that outlive their connection
        "limit_concurrency": budget.max_connections + 1,
        "backlog": budget.backlog,
        "timeout_keep_alive": settings.keepalive_seconds,
        "timeout_graceful_shutdown": settings.shutdown_seconds,
        "h11_max_incomplete_event_size": MAX_INCOMPLETE_HEAD_BYTES,
    }


def describe(settings: Settings, budget: ConnectionBudget, raised_from: int) -> str:
    """The start-up log line of these limits."""
    raised = f" (raised from {raised_from})" if raised_from != budget.file_descriptors else ""
    return (
        f"connections: file descriptors {budget.file_descriptors}{raised}; per worker at most "
        f"{budget.max_connections} connections, backlog {budget.backlog}; request head within "
        f"{settings.header_seconds:g} s, body within {settings.body_seconds:g} s, keep-alive "
        f"{settings.keepalive_seconds} s; graceful shutdown {settings.shutdown_seconds} s"
    )
