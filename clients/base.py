"""What the sync and async clients share: endpoints, request building, parsing, retries.

Nothing here does I/O; :class:`~clients.Client` and :class:`~clients.AsyncClient` add only
the sending and the sleeping.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

import httpx
from pydantic import BaseModel, ValidationError

from clients.errors import (
    LearndynError,
    TransportError,
    error_from_response,
    local_validation_error,
    retry_after_seconds,
)
from service.schemas import Health, TrainResponse, Version
from service.schemas.minima import MinimaResponse
from service.schemas.separability import SeparabilityResponse


class FigureImage(BaseModel):
    """The bytes of a figure (SVG or PNG) with their content type; the figure methods return
    ``content``."""

    content: bytes
    media_type: str


RequestT = TypeVar("RequestT", bound=BaseModel)
ResponseT = TypeVar("ResponseT", bound=BaseModel)

DEFAULT_BASE_URL = "http://127.0.0.1:8000"
DEFAULT_TIMEOUT = httpx.Timeout(10.0, read=600.0)
"""Connect, write and pool within 10 s; a long computation may take up to 10 minutes."""

DATASET_FIELDS = ("inputs", "targets", "bias")


@dataclass(frozen=True, slots=True)
class Endpoint(Generic[ResponseT]):
    """One operation of the service: method, path and response model."""

    method: str
    path: str
    response: type[ResponseT]


TRAIN = Endpoint("POST", "/train", TrainResponse)
MINIMA = Endpoint("POST", "/minima", MinimaResponse)
SEPARABILITY = Endpoint("POST", "/separability", SeparabilityResponse)
FIGURE_TRAIN = Endpoint("POST", "/figures/train", FigureImage)
FIGURE_MINIMA = Endpoint("POST", "/figures/minima", FigureImage)
HEALTH = Endpoint("GET", "/healthz", Health)
VERSION = Endpoint("GET", "/version", Version)


def build_request(
    model: type[RequestT], given: RequestT | None, fields: dict[str, Any]
) -> RequestT:
    """The request model: ``given`` as is, or built from keyword arguments.

    ``inputs``, ``targets`` and ``bias`` may be given at the top level; they go into
    ``dataset``. Arguments that do not fit ``model`` raise
    :class:`~clients.errors.LocalValidationError` (no status: nothing has been sent), naming
    each field as the service would, with pydantic's reason.
    """
    if given is not None:
        if fields:
            raise TypeError("pass either a request model or keyword arguments, not both")
        return given
    data = dict(fields)
    dataset = {k: data.pop(k) for k in DATASET_FIELDS if k in data}
    if dataset:
        data["dataset"] = {**data.get("dataset", {}), **dataset}
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise local_validation_error(exc) from exc


class BaseClient:
    """Configuration and the I/O-free half of a client.

    Retrying is safe for every endpoint: each is a pure computation with no side effects,
    so a POST repeated after a dropped connection, a 429 or a 503 computes the same answer.
    It is useless after a 504: the same computation would be stopped at the same limit.
    """

    def __init__(
        self,
        *,
        base_url: str = DEFAULT_BASE_URL,
        timeout: float | httpx.Timeout = DEFAULT_TIMEOUT,
        api_key: str | None = None,
        retries: int = 3,
        backoff: float = 0.5,
        max_backoff: float = 30.0,
    ) -> None:
        if retries < 0:
            raise ValueError("retries must be >= 0")
        self.base_url = base_url
        self.timeout = timeout
        self.api_key = api_key if api_key is not None else os.environ.get("LEARNDYN_API_KEY")
        self.retries = retries
        self.backoff = backoff
        self.max_backoff = max_backoff

    def _headers(self) -> dict[str, str]:
        headers = {"accept": "application/json"}
        if self.api_key:
            headers["authorization"] = f"Bearer {self.api_key}"
        return headers

    def _request(self, endpoint: Endpoint[Any], body: BaseModel | None) -> httpx.Request:
        content = None if body is None else body.model_dump_json(exclude_unset=True)
        headers = self._headers()
        if endpoint.response is FigureImage:
            headers["accept"] = "image/svg+xml, image/png, application/problem+json"
        if content is not None:
            headers["content-type"] = "application/json"
        url = self.base_url.rstrip("/") + endpoint.path
        return httpx.Request(endpoint.method, url, content=content, headers=headers)

    @staticmethod
    def _parse(endpoint: Endpoint[ResponseT], response: httpx.Response) -> ResponseT:
        if response.is_success:
            if endpoint.response is FigureImage:
                media_type = response.headers.get("content-type", "")
                return endpoint.response(content=response.content, media_type=media_type)
            return endpoint.response.model_validate_json(response.content)
        raise error_from_response(response)

    def _delay(self, attempt: int, outcome: httpx.Response | LearndynError) -> float | None:
        """Seconds to wait before retrying after ``attempt`` (0-based), or None to stop.

        Retried: connection failures, 429 and 503. The wait is the service's Retry-After
        when it gives one, else ``backoff·2^attempt``; both are capped at ``max_backoff``.
        Never retried: a 504 (:class:`~clients.errors.ComputationTimeout`: the same request
        would hit the same time limit), other errors, and a read timeout (the request may
        still be computing).
        """
        if attempt >= self.retries:
            return None
        if isinstance(outcome, httpx.Response):
            if outcome.status_code not in (429, 503):
                return None
            hinted = retry_after_seconds(outcome)
            if hinted is not None:
                return min(hinted, self.max_backoff)
        elif not (isinstance(outcome, TransportError) and _is_connect_error(outcome)):
            return None
        return min(self.backoff * 2.0**attempt, self.max_backoff)


def _is_connect_error(error: TransportError) -> bool:
    return isinstance(error.__cause__, httpx.ConnectError | httpx.ConnectTimeout)


def figure_request(
    model: type[RequestT], given: BaseModel | None, image_format: str, fields: dict[str, Any]
) -> RequestT:
    """A /figures request: ``given`` (a plain /train or /minima request, or a figure request)
    with ``format`` set to ``image_format``, or one built from keyword arguments."""
    if given is None:
        return build_request(model, None, {**fields, "format": image_format})
    if fields:
        raise TypeError("pass either a request model or keyword arguments, not both")
    data = given.model_dump(mode="json", exclude_unset=True)
    return build_request(model, None, {**data, "format": image_format})
