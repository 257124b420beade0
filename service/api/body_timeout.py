"""A request body must arrive within ``LEARNDYN_BODY_SECONDS`` of its first read: else 408.

The clock starts when the application first asks for the body (after the compute-slot
queue, so queueing is not charged to the client) and runs until its last byte, however it is
framed: a client that trickles a byte a second, or sends an endless chunked body slowly, gets
408 problem+json with ``Connection: close`` at the deadline instead of holding a connection
and a task. A body read in full (or a disconnect) stops the clock: later reads, which only
wait for the client to go away, are not timed.

The timeout is raised inside ``receive`` as :class:`BodyTimeout`, a Starlette
``HTTPException``, so FastAPI's body reader passes it on to the error model
(:mod:`service.api.problems`); if it escapes elsewhere before an answer has begun, this
middleware answers the 408 itself. A body still arriving when the server's graceful shutdown
ends (``LEARNDYN_SHUTDOWN_SECONDS``) is answered 503 problem+json as uvicorn cancels it.
"""

from __future__ import annotations

import asyncio

import anyio
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from service.api.problems import problem_response

SHUTTING_DOWN = "urn:learndyn:shutting-down"
"""The problem type of a request cancelled by the end of the server's graceful shutdown."""


class BodyTimeout(HTTPException):
    """The request body did not arrive within the limit."""

    def __init__(self, seconds: float) -> None:
        super().__init__(
            408,
            f"the request body did not arrive within {seconds:g} s (LEARNDYN_BODY_SECONDS)",
            headers={"Connection": "close"},
        )


class BodyTimeoutMiddleware:
    """ASGI middleware: 408 for a body not read in full ``seconds`` after its first read."""

    def __init__(self, app: ASGIApp, seconds: float) -> None:
        self.app = app
        self.seconds = seconds

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        deadline: float | None = None
        complete = False
        started = False

        async def timed_receive() -> Message:
            nonlocal deadline, complete
            if complete:
                return await receive()
            if deadline is None:
                deadline = anyio.current_time() + self.seconds
            with anyio.move_on_after(deadline - anyio.current_time()) as timer:
                message = await receive()
            if timer.cancelled_caught:
                raise BodyTimeout(self.seconds)
            if message["type"] != "http.request" or not message.get("more_body", False):
                complete = True
            return message

        async def tracked_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, timed_receive, tracked_send)
        except BodyTimeout as timeout:
            if started:
                raise
            response = problem_response(408, str(timeout.detail))
            response.headers.update(timeout.headers or {})
            await response(scope, receive, send)
        except asyncio.CancelledError:
            # the server cancels what is still running when its graceful shutdown is over: a
            # body still arriving then gets 503 problem+json, not uvicorn's text/plain 500
            if not started and not complete:
                response = problem_response(
                    503, "the server is shutting down; retry the request", type_=SHUTTING_DOWN
                )
                response.headers["Connection"] = "close"
                await response(scope, receive, send)
            raise
