"""The one error model: every error is an RFC 9457 problem+json body.

* ``RequestValidationError``: a body sent without ``Content-Type: application/json`` → 415;
  malformed JSON → 400 with the character where parsing failed; a body that does not fit the
  schema → 422 with ``errors``, one entry per bad field (an unknown field with "did you mean"
  the nearest known one).
* ``InvalidProblem`` (a rule of the mathematics: ragged rows, targets not ±1, …) and
  ``LimitExceeded`` (a figure over the limits table) → 422 with the field named.
* ``TimeLimitExceeded`` (a computation past ``LEARNDYN_COMPUTE_SECONDS``) → 504: the same
  request would time out again, so it is not 503 (which clients retry).
* ``SolverFailed`` (a numerical solver of the core, e.g. HiGHS, failed on a well-posed
  problem) → 500 whose detail names the solver and the problem it failed on (logged with its
  trace): a fault of the service, not of the request, but one the caller can report.
* ``Cancelled`` (the client disconnected and its computation stopped between two chunks) and
  Starlette's ``ClientDisconnect`` → 499, nginx's "client closed request": nobody receives
  it, but the access log records it (:mod:`service.api.admission`).
* ``DuplicateKey`` (a JSON object of the body names a key twice, :mod:`service.api.json_body`)
  → 422 like a body that does not fit the schema, the key named by its path.
* Starlette's ``HTTPException`` (404, 405, 413 from the body limit, …) → its status.
* Anything else → 500 with no trace, no path, no internals.
"""

from __future__ import annotations

import difflib
import logging
import re
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import Tag
from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect

from service.api.json_body import DuplicateKey
from service.core.errors import (
    Cancelled,
    InvalidProblem,
    LimitExceeded,
    SolverFailed,
    TimeLimitExceeded,
)
from service.schemas import FieldError, Problem
from service.schemas.field_errors import METHOD_FIELDS, field_error
from service.schemas.train import METHOD_TAG

PROBLEM_JSON = "application/problem+json"
logger = logging.getLogger("learndyn")


def problem_document(
    status: int, detail: str, *, type_: str = "about:blank", errors: list[FieldError] | None = None
) -> Problem:
    """The problem details of an answer ``status``, with ``title`` taken from the status code
    (also written by :mod:`service.server.protocol`, below the application)."""
    return Problem(
        type=type_, title=status_title(status), status=status, detail=detail, errors=errors
    )


CLIENT_CLOSED_REQUEST = 499
"""nginx's status for a request whose client closed the connection before the answer: not in
the IANA registry (so not in :class:`http.HTTPStatus`), but what logs and proxies expect."""


def status_title(status: int) -> str:
    """The reason phrase of ``status`` (499 included)."""
    if status == CLIENT_CLOSED_REQUEST:
        return "Client Closed Request"
    return HTTPStatus(status).phrase


def problem_response(
    status: int, detail: str, *, type_: str = "about:blank", errors: list[FieldError] | None = None
) -> JSONResponse:
    """A problem+json response with ``title`` taken from the status code."""
    body = problem_document(status, detail, type_=type_, errors=errors)
    return JSONResponse(
        body.model_dump(exclude_none=True), status_code=status, media_type=PROBLEM_JSON
    )


def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    if _sends_a_body(request) and not _is_json(request.headers.get("content-type")):
        return problem_response(
            415,
            "send the request body as JSON, with the header Content-Type: application/json "
            f"(got {request.headers.get('content-type') or 'no Content-Type'})",
            type_="urn:learndyn:unsupported-media-type",
        )
    errors = []
    for e in exc.errors():
        if e["type"] == "json_invalid":  # loc is ("body", character position)
            position = e["loc"][-1]
            return problem_response(
                400,
                f"malformed JSON at character {position}: the body is not a JSON document",
                type_="urn:learndyn:malformed-json",
                errors=[
                    field_error(["body"], f"malformed JSON at character {position}", "json_invalid")
                ],
            )
        message = e["msg"]
        if e["type"] == "extra_forbidden":
            message = _extra_field_message(request, list(e["loc"]), message)
        errors.append(field_error(e["loc"], message, e["type"]))
    fields = ", ".join(e.field or "body" for e in errors)
    return problem_response(
        422,
        f"the request does not fit the schema ({fields})",
        type_="urn:learndyn:invalid-request",
        errors=errors,
    )


def _sends_a_body(request: Request) -> bool:
    return request.method in ("POST", "PUT", "PATCH")


def _is_json(content_type: str | None) -> bool:
    """application/json, or a +json type, whatever its parameters (charset)."""
    media = (content_type or "").split(";")[0].strip().lower()
    return media == "application/json" or media.endswith("+json")


def _extra_field_message(request: Request, loc: list[Any], message: str) -> str:
    """An unknown field's message with the nearest known name suggested, unless it is
    another method's field (:func:`~service.schemas.field_errors.field_error` says whose)."""
    if METHOD_FIELDS.get(str(loc[-1])) is not None and any(
        isinstance(p, str) and p.startswith(METHOD_TAG) for p in loc
    ):
        return message
    guess = _closest_field(request, loc)
    return message if guess is None else f"{message}; did you mean `{guess}`?"


def _closest_field(request: Request, loc: list[Any]) -> str | None:
    """The field of the request's model nearest in spelling to the unknown one at ``loc``
    (``("body", …, name)``), or None when none is close."""
    route = request.scope.get("route")
    body = getattr(route, "body_field", None)
    model: Any = _model_of(getattr(getattr(body, "field_info", None), "annotation", None))
    for part in loc[1:-1]:
        if isinstance(part, int):
            continue
        if part.startswith(METHOD_TAG):  # the /train variant the request was read as
            model = _model_of(model, part)
            continue
        field = getattr(_model_of(model), "model_fields", {}).get(part)
        if field is None:
            return None
        model = field.annotation
    names = list(getattr(_model_of(model), "model_fields", {}))
    close = difflib.get_close_matches(str(loc[-1]), names, n=1, cutoff=0.6)
    return close[0] if close else None


def _model_of(annotation: Any, tag: str | None = None) -> Any:
    """The pydantic model inside an annotation (``Stop``, ``Stop | None``, ``list[Stop]``); in
    a tagged union, the variant of ``tag`` (the first one when no tag is given)."""
    if hasattr(annotation, "model_fields"):
        return annotation
    tags = [m.tag for m in getattr(annotation, "__metadata__", ()) if isinstance(m, Tag)]
    if tag is not None and tags and tag not in tags:
        return None
    for argument in getattr(annotation, "__args__", ()):
        found = _model_of(argument, tag)
        if found is not None:
            return found
    return None


def _rule_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, InvalidProblem | LimitExceeded)
    kind = "limit-exceeded" if isinstance(exc, LimitExceeded) else "invalid-problem"
    error = field_error(["body", *exc.field.split(".")], exc.message, kind.replace("-", "_"))
    return problem_response(422, str(exc), type_=f"urn:learndyn:{kind}", errors=[error])


def _time_limit(_: Request, exc: Exception) -> JSONResponse:
    # 504, not 503: retrying the same request would hit the same limit
    return problem_response(504, str(exc), type_="urn:learndyn:time-limit")


def _duplicate_key(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, DuplicateKey)
    message = (
        f"the key `{exc.loc[-1]}` appears {exc.times} times in this object: name each key "
        "once (which value would count is not defined)"
    )
    error = field_error(["body", *exc.loc], message, "duplicate_key")
    return problem_response(
        422,
        f"the request does not fit the schema ({error.field})",
        type_="urn:learndyn:invalid-request",
        errors=[error],
    )


def _client_gone(_: Request, exc: Exception) -> JSONResponse:
    # nobody reads this answer: it is for the access log (and a proxy's)
    return problem_response(
        CLIENT_CLOSED_REQUEST,
        "the client closed the connection before the answer (a computation stops at once)",
        type_="urn:learndyn:client-closed-request",
    )


def _solver_failed(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, SolverFailed)
    logger.error("solver failure on %s %s", request.method, request.url.path, exc_info=exc)
    return problem_response(
        500,
        f"the computation could not be completed: {exc}",
        type_="urn:learndyn:solver-failed",
    )


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    # async: Starlette runs a plain handler in a worker thread, and under load the hop cost
    # a 401 or 503 sent before the body 17-130 ms of waiting for the loop (0.2-13 ms now)
    assert isinstance(exc, HTTPException)
    response = problem_response(exc.status_code, str(exc.detail))
    if exc.headers:
        response.headers.update(exc.headers)
    if exc.status_code == 405:  # every method of every route at this path, not the first's
        response.headers["Allow"] = ", ".join(_allowed_methods(request))
    return response


def _allowed_methods(request: Request) -> list[str]:
    """The methods the app's OpenAPI schema documents at the request's path (Starlette's 405
    names only the first route that matched the path)."""
    path = request.url.path
    methods: set[str] = set()
    for template, operations in request.app.openapi().get("paths", {}).items():
        if re.fullmatch(re.sub(r"\\\{[^/]+?\\\}", "[^/]+", re.escape(template)), path):
            methods |= {method.upper() for method in operations}
    return sorted(methods)


def server_error(method: str, path: str, exc: BaseException) -> JSONResponse:
    """Log ``exc`` with its trace on the server, and answer a 500 that carries none of it."""
    logger.error("unhandled error on %s %s", method, path, exc_info=exc)
    return problem_response(500, "internal error; the request was not completed")


def _server_error(request: Request, exc: Exception) -> JSONResponse:
    return server_error(request.method, request.url.path, exc)


def install_problem_handlers(app: FastAPI) -> None:
    """Register the handlers above on ``app``."""
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(InvalidProblem, _rule_error)
    app.add_exception_handler(LimitExceeded, _rule_error)
    app.add_exception_handler(TimeLimitExceeded, _time_limit)
    app.add_exception_handler(Cancelled, _client_gone)
    app.add_exception_handler(ClientDisconnect, _client_gone)
    app.add_exception_handler(SolverFailed, _solver_failed)
    app.add_exception_handler(DuplicateKey, _duplicate_key)
    app.add_exception_handler(HTTPException, _http_error)
    app.add_exception_handler(Exception, _server_error)


def problem_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses`` entries declaring problem+json bodies for ``statuses``."""
    return {
        status: {
            "model": Problem,
            "description": HTTPStatus(status).phrase,
            "content": {PROBLEM_JSON: {}},
        }
        for status in statuses
    }


PROBLEM_RESPONSES = problem_responses(400, 413, 415, 422, 500, 503, 504)
"""The error responses every route with a JSON body declares in OpenAPI (401 is added by the
app when an API key is set)."""

LOOKUP_RESPONSES = problem_responses(404, 422, 500)
"""The error responses of the routes that look a study up by its id (no body)."""
