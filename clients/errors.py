"""The client's one exception tree.

::

    LearndynError                 anything this library raises
    ├── TransportError            no HTTP answer: connection refused, timeout, protocol error
    └── APIError                  the service answered with an error (RFC 9457 problem body)
        ├── InvalidRequest        4xx: the request was refused; ``errors`` names the fields
        ├── Overloaded            429 or 503: try again later; ``retry_after`` in seconds
        └── ServerError           5xx other than 503

httpx's exceptions are translated in one place (:func:`translate_transport_errors`) and
re-raised ``from`` the original; problem bodies are mapped in one function
(:func:`error_from_response`).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
from pydantic import ValidationError

from service.schemas import FieldError


class LearndynError(Exception):
    """Base of every exception raised by the learndyn client."""


class TransportError(LearndynError):
    """The service could not be reached, or did not answer in time."""


class APIError(LearndynError):
    """The service answered with an error status and a problem+json body."""

    def __init__(
        self, status: int, title: str, detail: str, errors: list[FieldError] | None = None
    ) -> None:
        super().__init__(f"{status} {title}: {detail}")
        self.status = status
        self.title = title
        self.detail = detail
        self.errors: list[FieldError] = errors or []

    @property
    def fields(self) -> list[str]:
        """The dotted names of the fields the service refused (empty if none)."""
        return [e.field for e in self.errors]


class InvalidRequest(APIError):
    """4xx: the request was refused (invalid field, over a limit, not authorised, …)."""


class Overloaded(APIError):
    """429 or 503: the service is busy; ``retry_after`` is its hint in seconds, if any."""

    def __init__(
        self,
        status: int,
        title: str,
        detail: str,
        errors: list[FieldError] | None = None,
        *,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(status, title, detail, errors)
        self.retry_after = retry_after


class ServerError(APIError):
    """5xx (other than 503): the service failed."""


def retry_after_seconds(response: httpx.Response) -> float | None:
    """The ``Retry-After`` header in seconds, if it is a number of seconds."""
    value = response.headers.get("retry-after")
    try:
        return max(0.0, float(value)) if value is not None else None
    except ValueError:
        return None


def error_from_response(response: httpx.Response) -> APIError:
    """Map an error response (problem+json, or anything else) to the exception tree."""
    status = response.status_code
    body: Any
    try:
        body = response.json()
    except ValueError:
        body = None
    if not isinstance(body, dict):
        body = {}
    title = str(body.get("title") or response.reason_phrase or "error")
    detail = str(body.get("detail") or response.text[:500] or title)
    errors: list[FieldError] = []
    for raw in body.get("errors") or []:
        try:
            errors.append(FieldError.model_validate(raw))
        except ValidationError:  # a foreign error shape: keep the status, title and detail
            continue
    if status in (429, 503):
        return Overloaded(status, title, detail, errors, retry_after=retry_after_seconds(response))
    if 400 <= status < 500:
        return InvalidRequest(status, title, detail, errors)
    return ServerError(status, title, detail, errors)


@contextmanager
def translate_transport_errors() -> Iterator[None]:
    """The one boundary where httpx's exceptions become :class:`TransportError`."""
    try:
        yield
    except httpx.TransportError as exc:
        raise TransportError(f"{type(exc).__name__}: {exc}") from exc
