"""The one error model: every error is an RFC 9457 problem+json body.

* ``RequestValidationError`` (a body that does not fit the schema, malformed JSON) → 422
  with ``errors``, one entry per bad field.
* ``InvalidProblem`` (a rule of the mathematics: ragged rows, targets not ±1, …) and
  ``LimitExceeded`` (a figure over the limits table) → 422 with the field named.
* ``TimeLimitExceeded`` (a computation past ``LEARNDYN_COMPUTE_SECONDS``) → 504: the same
  request would time out again, so it is not 503 (which clients retry).
* ``SolverFailed`` (a numerical solver of the core, e.g. HiGHS, failed on a well-posed
  problem) → 500 whose detail names the solver and the problem it failed on (logged with its
  trace): a fault of the service, not of the request, but one the caller can report.
* Starlette's ``HTTPException`` (404, 405, 413 from the body limit, …) → its status.
* Anything else → 500 with no trace, no path, no internals.
"""

from __future__ import annotations

import logging
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from service.core.errors import InvalidProblem, LimitExceeded, SolverFailed, TimeLimitExceeded
from service.schemas import FieldError, Problem

PROBLEM_JSON = "application/problem+json"
logger = logging.getLogger("learndyn")


def problem_response(
    status: int, detail: str, *, type_: str = "about:blank", errors: list[FieldError] | None = None
) -> JSONResponse:
    """A problem+json response with ``title`` taken from the status code."""
    body = Problem(
        type=type_, title=HTTPStatus(status).phrase, status=status, detail=detail, errors=errors
    )
    return JSONResponse(
        body.model_dump(exclude_none=True), status_code=status, media_type=PROBLEM_JSON
    )


def _field_error(loc: tuple[Any, ...] | list[Any], message: str, type_: str) -> FieldError:
    parts = [p if isinstance(p, int) else str(p) for p in loc]
    dotted = ".".join(str(p) for p in (parts[1:] if parts[:1] == ["body"] else parts))
    return FieldError(loc=parts, field=dotted, message=message, type=type_)


def _validation_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = []
    for e in exc.errors():
        if e["type"] == "json_invalid":  # loc is ("body", character position)
            position = e["loc"][-1]
            errors.append(
                _field_error(["body"], f"malformed JSON at character {position}", "json_invalid")
            )
        else:
            errors.append(_field_error(e["loc"], e["msg"], e["type"]))
    fields = ", ".join(e.field or "body" for e in errors)
    return problem_response(
        422,
        f"the request does not fit the schema ({fields})",
        type_="urn:learndyn:invalid-request",
        errors=errors,
    )


def _rule_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, InvalidProblem | LimitExceeded)
    kind = "limit-exceeded" if isinstance(exc, LimitExceeded) else "invalid-problem"
    error = _field_error(["body", *exc.field.split(".")], exc.message, kind.replace("-", "_"))
    return problem_response(422, str(exc), type_=f"urn:learndyn:{kind}", errors=[error])


def _time_limit(_: Request, exc: Exception) -> JSONResponse:
    # 504, not 503: retrying the same request would hit the same limit
    return problem_response(504, str(exc), type_="urn:learndyn:time-limit")


def _solver_failed(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, SolverFailed)
    logger.error("solver failure on %s %s", request.method, request.url.path, exc_info=exc)
    return problem_response(
        500,
        f"the computation could not be completed: {exc}",
        type_="urn:learndyn:solver-failed",
    )


def _http_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, HTTPException)
    response = problem_response(exc.status_code, str(exc.detail))
    if exc.headers:
        response.headers.update(exc.headers)
    return response


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
    app.add_exception_handler(SolverFailed, _solver_failed)
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


PROBLEM_RESPONSES = problem_responses(400, 413, 422, 500, 503, 504)
"""The error responses every compute route declares in OpenAPI (401 is added by the app
when an API key is set)."""
