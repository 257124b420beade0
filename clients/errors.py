"""The client's one exception tree.

::

    LearndynError                   anything this library raises
    ├── TransportError              no HTTP answer: connection refused, the client's own
    │                               timeout, a protocol error
    ├── InvalidRequest              the request is wrong: fix it, do not retry; ``errors``
    │   │                           names each field and the reason
    │   ├── LocalValidationError    refused by the client's own check (the service's request
    │   │                           models), raised before anything was sent; status None
    │   └── RequestRefused ◆        4xx: refused by the service; ``status`` is its status
    ├── APIError                    the service answered with an error (RFC 9457 problem body)
    │   ├── RequestRefused ◆        (the same class as above: an InvalidRequest and an APIError)
    │   ├── Overloaded              429 or 503: try again later; ``retry_after`` in seconds
    │   ├── ComputationTimeout      504: stopped at the service's wall-time limit; the same
    │   │                           request would time out again: ask for less
    │   └── ServerError             5xx other than 503 and 504: the service failed
    └── WaitTimeout                 ``wait(…, timeout=…)`` gave up; the study runs on

``except InvalidRequest`` catches a bad request whoever noticed it, the client or the
service, and ``status`` tells which (None: nothing was sent); an unknown study is a
:class:`RequestRefused` with ``status`` 404. ``except APIError`` catches only
answers of the service. The clients retry connection failures and :class:`Overloaded`, and
nothing else: in particular never a :class:`ComputationTimeout`.

Foreign errors become these in one place each, re-raised ``from`` the original: httpx's
exceptions in :func:`translate_transport_errors`, pydantic's validation of a request in
:func:`local_validation_error`, problem bodies in :func:`error_from_response`.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
from pydantic import ValidationError

from service.schemas import FieldError
from service.schemas.field_errors import field_error
from service.schemas.studies import Progress


class LearndynError(Exception):
    """Base of every exception raised by the learndyn client."""


class TransportError(LearndynError):
    """The service could not be reached, or did not answer within the client's ``timeout``."""


class InvalidRequest(LearndynError):
    """The request is wrong, and sending it again unchanged would be refused again.

    ``errors`` names each refused field with the reason (may be empty, e.g. for a 401 or
    a 413). ``status`` is the HTTP status when the service refused the request
    (:class:`RequestRefused`), and None when the client refused it before sending
    (:class:`LocalValidationError`).
    """

    status: int | None
    errors: list[FieldError]

    @property
    def fields(self) -> list[str]:
        """The dotted names of the refused fields (empty if none)."""
        return [e.field for e in self.errors]


class LocalValidationError(InvalidRequest):
    """The client refused the request before anything was sent: its arguments do not fit
    the service's request model.

    The check is the one the service makes first (the same pydantic models), so the field
    names and reasons are the ones the service's 422 would give. There is no HTTP status:
    ``status`` is None. The rules the service checks after parsing (e.g. targets ±1, the
    limits) can only be refused by the service, as :class:`RequestRefused`.
    """

    status: None

    def __init__(self, errors: list[FieldError]) -> None:
        reasons = "; ".join(f"{e.field or 'body'}: {e.message}" for e in errors)
        super().__init__(f"invalid request, not sent: {reasons}")
        self.status = None
        self.errors = errors


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


class RequestRefused(APIError, InvalidRequest):
    """4xx: the service refused the request (invalid field, a rule such as targets ±1, over
    a limit, not authorised, …)."""

    status: int  # always the service's status: narrows InvalidRequest's ``int | None``


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


class ComputationTimeout(APIError):
    """504: the service stopped the computation at its wall-time limit
    (``LEARNDYN_COMPUTE_SECONDS``); ``detail`` says how far it got.

    Not a failure of the service and not a busy one: the same request would time out again,
    so it is never retried. Ask for less (fewer steps, a smaller dataset), or run a service
    with a larger limit. A 504 from a gateway in front of the service means the same: the
    answer took longer than the gateway's limit.
    """


class ServerError(APIError):
    """5xx (other than 503 and 504): the service failed."""


class WaitTimeout(LearndynError):
    """The study had not ended ``timeout`` seconds into :meth:`~clients.Client.wait`.

    Nothing failed, and the study runs on: wait again, or cancel it. ``progress`` is the
    last progress seen (None if none came).
    """

    def __init__(self, study_id: str, timeout: float, progress: Progress | None) -> None:
        where = "" if progress is None else f" at {progress.done} of {progress.total} points"
        super().__init__(f"study {study_id} had not ended after {timeout:g} s{where}")
        self.study_id = study_id
        self.timeout = timeout
        self.progress = progress


def retry_after_seconds(response: httpx.Response) -> float | None:
    """The ``Retry-After`` header in seconds, if it is a number of seconds."""
    value = response.headers.get("retry-after")
    try:
        return max(0.0, float(value)) if value is not None else None
    except ValueError:
        return None


def local_validation_error(exc: ValidationError) -> LocalValidationError:
    """Map pydantic's refusal of a request model to the exception tree, with the field
    names the service would use (``loc`` under ``body``, ``field`` dotted without it)."""
    errors = [field_error(["body", *e["loc"]], e["msg"], e["type"]) for e in exc.errors()]
    return LocalValidationError(errors)


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
    if status == 504:
        return ComputationTimeout(status, title, detail, errors)
    if 400 <= status < 500:
        return RequestRefused(status, title, detail, errors)
    return ServerError(status, title, detail, errors)


@contextmanager
def translate_transport_errors() -> Iterator[None]:
    """The one boundary where httpx's exceptions become :class:`TransportError`."""
    try:
        yield
    except httpx.TransportError as exc:
        raise TransportError(f"{type(exc).__name__}: {exc}") from exc
