"""Reject request bodies over ``max_body_bytes`` with 413, before they are parsed.

A declared ``Content-Length`` over the limit is answered at once; a body streamed without
one is counted as it arrives and refused as soon as it passes the limit. Both answers are
problem+json bodies like every other error.
"""

from __future__ import annotations

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from service.api.problems import problem_response


def _too_large(limit: int) -> str:
    return f"the request body exceeds the limit of {limit} bytes (LEARNDYN_MAX_BODY_BYTES)"


class BodyLimitMiddleware:
    """ASGI middleware: 413 for bodies over ``max_bytes``."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        for name, value in scope["headers"]:
            if name == b"content-length":
                if not value.isdigit() or int(value) > self.max_bytes:
                    status = 413 if value.isdigit() else 400
                    detail = _too_large(self.max_bytes) if status == 413 else "bad Content-Length"
                    await problem_response(status, detail)(scope, receive, send)
                    return
        received = 0

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    raise HTTPException(413, _too_large(self.max_bytes))
            return message

        await self.app(scope, limited_receive, send)
