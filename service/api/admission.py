"""Admission before work, and work set free when its client goes: the routes' two classes.

FastAPI reads, parses and validates a request's body before it resolves any dependency, so
a guard written as a dependency comes after the work it should spare (8 MB parsed on the
event loop before a 401 or a 503). The routers of the service therefore declare one of two
route classes, whose handler runs after routing and before FastAPI's:

* :class:`AdmittedRoute` (the studies): 401 unless the API key is right (when one is set,
  :func:`~service.api.guards.check_api_key`), from the headers alone; then the body.
* :class:`ComputeRoute` (every route that computes): the key, then a compute slot
  (:class:`~service.api.guards.SlotQueue`; 503 with ``Retry-After`` when none is free within
  ``LEARNDYN_QUEUE_SECONDS``), then the body. From the moment the body has arrived, a task
  listens for the client's disconnect; the route hands :data:`ClientGone` to the core as its
  ``should_stop``, which the kernel asks between chunks, so an abandoned computation raises
  :class:`~service.core.errors.Cancelled` within one chunk and frees its slot. A request
  whose client has gone is answered 499 (nobody reads it; the access log records it), even
  when its computation had finished.

A body of :data:`OFF_LOOP_BYTES` or more sent as JSON is parsed and validated in a worker
thread, and FastAPI receives the validated model (which it accepts as is, in microseconds);
a smaller one is parsed on the loop and validated by FastAPI. Either is parsed by
:func:`service.api.json_body.loads` (a key repeated in an object is a 422).

Threads share the GIL, so what keeps the event loop responsive is the parse yielding it:
``json`` numbers go through Python-level :func:`_float` and :func:`_int` (the C scanner
calls a Python function per number, where the interpreter may switch threads; the builtin
``float`` it would inline). Measured on an 8.9 MB body (190,000 rows of 4 numbers; 2 shared
cores), the loop's longest stall: a plain ``json.loads`` in a thread 0.3–0.9 s (the whole
parse), with these hooks 24–37 ms once the start-up objects are frozen out of the collector
(:mod:`service.app`; 180–260 ms without), 50–60 ms at a load average of 6. The validation
that follows cannot yield: pydantic-core holds the GIL over a list of floats, 40–70 ms on
idle cores but up to 360 ms on busy ones (still less than the parse and validation on the
loop, 0.5–1.4 s, that it replaces).
"""

from __future__ import annotations

import asyncio
import email.message
import json
import threading
from collections.abc import AsyncIterator, Callable, Coroutine
from contextlib import asynccontextmanager
from typing import Annotated, Any

import anyio.to_thread
from fastapi import Depends, Request, Response, params
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from starlette.requests import ClientDisconnect
from starlette.types import Receive

from service.api import json_body
from service.api.guards import SlotQueue, bearer_token, check_api_key
from service.settings import Settings

OFF_LOOP_BYTES = 64 * 1024
"""Bodies of this size or more are parsed and validated in a worker thread (a 64 KiB body
parses in about a millisecond: below that, the hop to a thread costs more than it saves)."""

CLIENT_GONE = "learndyn.client_gone"
"""The scope key of a compute request's :class:`threading.Event`, set when its client has
disconnected."""

Handler = Callable[[Request], Coroutine[Any, Any, Response]]


class AdmittedRoute(APIRoute):
    """A route that checks the API key before its body is read."""

    def get_route_handler(self) -> Handler:
        handle = super().get_route_handler()
        field = _whole_body_field(self)

        async def admitted(request: Request) -> Response:
            check_api_key(_settings(request), bearer_token(request.headers.get("authorization")))
            if self.body_field is None:
                return await handle(request)
            body = await request.body()
            return await handle(await _parsed(request, body, field))

        return admitted


class ComputeRoute(APIRoute):
    """A route that checks the API key, then holds a compute slot before its body is read,
    and tells its computation when the client has gone (:data:`ClientGone`)."""

    def get_route_handler(self) -> Handler:
        handle = super().get_route_handler()
        field = _whole_body_field(self)

        async def computed(request: Request) -> Response:
            settings = _settings(request)
            check_api_key(settings, bearer_token(request.headers.get("authorization")))
            queue: SlotQueue = request.app.state.slot_queue
            async with queue.hold(settings):
                body = await request.body() if self.body_field is not None else b""
                async with _watching(request) as gone:
                    if self.body_field is not None:
                        request = await _parsed(request, body, field)
                    response = await handle(request)
                if gone.is_set():  # finished, but nobody is there to read it
                    raise ClientDisconnect()
                return response

        return computed


def client_gone(request: Request) -> Callable[[], bool]:
    """The core's ``should_stop`` for a :class:`ComputeRoute`'s request: True once its client
    has disconnected."""
    gone = request.scope.get(CLIENT_GONE)
    if not isinstance(gone, threading.Event):
        raise RuntimeError(f"{request.url.path}: client_gone needs a ComputeRoute")
    return gone.is_set


ClientGone = Annotated[Callable[[], bool], Depends(client_gone)]
"""A compute route's parameter: pass it to the core as ``should_stop``."""


def _settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


@asynccontextmanager
async def _watching(request: Request) -> AsyncIterator[threading.Event]:
    """Listen for the client's disconnect during the block (the body must have been read:
    what the listener receives is gone for everyone else)."""
    gone = threading.Event()
    request.scope[CLIENT_GONE] = gone
    # a bare task, not a task group: a group would wrap the route's exceptions in an
    # ExceptionGroup that the error handlers do not recognise
    listener = asyncio.create_task(_listen(request.receive, gone))
    try:
        yield gone
    finally:
        listener.cancel()


async def _listen(receive: Receive, gone: threading.Event) -> None:
    """Set ``gone`` when the server says the client has disconnected."""
    try:
        while (await receive())["type"] != "http.disconnect":
            pass
    except Exception:  # a receive that fails has nothing more to say
        return
    gone.set()


class _ReadRequest(Request):
    """A request whose body the route has read, and parsed and validated off the loop:
    ``parsed`` is the value FastAPI's ``json()`` gets (a validated model), or the
    ``JSONDecodeError`` it raises."""

    def __init__(self, request: Request, body: bytes, parsed: Any) -> None:
        super().__init__(request.scope, request.receive)
        self._read = body
        self._parsed = parsed

    async def body(self) -> bytes:
        return self._read

    async def json(self) -> Any:
        if isinstance(self._parsed, json.JSONDecodeError):
            raise self._parsed
        return self._parsed


async def _parsed(request: Request, body: bytes, field: Any) -> Request:
    """``request`` with its JSON ``body`` parsed: a large one also validated against
    ``field`` (the route's whole-body field; None: parsed only), in a worker thread; a body
    FastAPI would not read as JSON is left to FastAPI. Raises the ``RequestValidationError``
    FastAPI would, and :class:`~service.api.json_body.DuplicateKey`."""
    if not _is_json(request.headers.get("content-type")):
        return request
    if len(body) < OFF_LOOP_BYTES:  # parsed here, for repeated keys (json_body); FastAPI validates
        try:
            return _ReadRequest(request, body, json_body.loads(body))
        except json_body.DuplicateKey:
            raise
        except Exception:  # not JSON, or too deep: FastAPI reads it again and says so
            return request
    outcome = await anyio.to_thread.run_sync(_parse, body, field)
    if isinstance(outcome, RequestValidationError):
        raise outcome
    return _ReadRequest(request, body, outcome)


def _parse(body: bytes, field: Any) -> Any:
    """The body as FastAPI would have it: the validated value, or the ``JSONDecodeError``
    (returned, so FastAPI reports it as it reports its own), or the
    ``RequestValidationError`` of the value. One body at a time per process (see
    :data:`_PARSING`)."""
    with _PARSING:
        try:
            value = json_body.loads(body, parse_float=_float, parse_int=_int)
        except json.JSONDecodeError as error:
            return error
        if field is None:
            return value
        model, errors = field.validate(value, {}, loc=("body",))
        return RequestValidationError(errors, body=value) if errors else model


_PARSING = threading.Lock()
"""Large bodies are parsed one at a time: two parsing threads hand the GIL to each other and
the event loop waits longer for it (measured: stalls of 50–400 ms with two at once, 40–180 ms
with one, on 2 busy cores), and two at once finish no sooner."""


def _float(text: str) -> float:
    return float(text)


def _int(text: str) -> int:
    return int(text)


def _is_json(content_type: str | None) -> bool:
    """Whether FastAPI parses a body of this Content-Type as JSON (its own test)."""
    if not content_type:
        return False
    message = email.message.Message()
    message["content-type"] = content_type
    subtype = message.get_content_subtype()
    return message.get_content_maintype() == "application" and (
        subtype == "json" or subtype.endswith("+json")
    )


def _whole_body_field(route: APIRoute) -> Any:
    """The route's body field when it is the whole body (one body parameter, not embedded,
    not a form), else None."""
    fields = route.dependant.body_params
    if len({f.name for f in fields}) != 1:
        return None
    info = fields[0].field_info
    if getattr(info, "embed", None) or isinstance(info, params.Form):
        return None
    return route.body_field
