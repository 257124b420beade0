"""Request ids and JSON-lines access logs.

Every response carries ``X-Request-ID``: the client's own (when it is 1–128 printable
characters) or a fresh one. One JSON object per request goes to the ``learndyn.access``
logger: time, request id, method, path, status, duration in ms and the client address.
An unhandled exception becomes the error model's 500 here, so it too carries the id.
"""

from __future__ import annotations

import json
import logging
import time
import uuid

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from service.api.problems import server_error

access_logger = logging.getLogger("learndyn.access")


def _request_id(scope: Scope) -> str:
    for name, value in scope["headers"]:
        if name == b"x-request-id":
            text: str = value.decode("latin-1")
            if 0 < len(text) <= 128 and text.isprintable():
                return text
    return uuid.uuid4().hex


class AccessLogMiddleware:
    """ASGI middleware: set ``X-Request-ID`` and log one JSON line per request."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = _request_id(scope)
        started = time.perf_counter()
        status = 0

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [
                    *message.get("headers", []),
                    (b"x-request-id", request_id.encode("latin-1")),
                ]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        except Exception as exc:
            if status:  # the answer has begun: nothing to do but let the server close it
                raise
            await server_error(scope["method"], scope["path"], exc)(scope, receive, send_with_id)
        finally:
            client = scope.get("client")
            access_logger.info(
                json.dumps(
                    {
                        "time": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
                        "request_id": request_id,
                        "method": scope["method"],
                        "path": scope["path"],
                        "status": status,
                        "duration_ms": round((time.perf_counter() - started) * 1000, 3),
                        "client": f"{client[0]}:{client[1]}" if client else None,
                    }
                )
            )
