"""``Client`` (sync) and ``AsyncClient``: the I/O halves over :class:`~clients.base.BaseClient`.

Example::

    from clients import Client

    with Client(base_url="http://127.0.0.1:8000") as client:
        answer = client.train(inputs=[[1.0]], targets=[1], steps=10_000)
        print(answer.stopped_by, answer.weights)
"""

from __future__ import annotations

import asyncio
import time
from types import TracebackType
from typing import Any, Self

import httpx
from pydantic import BaseModel

from clients.base import (
    DEFAULT_BASE_URL,
    DEFAULT_TIMEOUT,
    FIGURE_MINIMA,
    FIGURE_TRAIN,
    HEALTH,
    MINIMA,
    SEPARABILITY,
    TRAIN,
    VERSION,
    BaseClient,
    Endpoint,
    ResponseT,
    build_request,
    figure_request,
)
from clients.errors import LearndynError, translate_transport_errors
from service.schemas import Health, TrainRequest, TrainResponse, Version
from service.schemas.figures import FigureMinimaRequest, FigureTrainRequest
from service.schemas.minima import MinimaRequest, MinimaResponse
from service.schemas.separability import SeparabilityRequest, SeparabilityResponse


class Client(BaseClient):
    """A synchronous client of the learndyn service (a context manager).

    Parameters
    ----------
    base_url
        Where the service runs.
    timeout
        Seconds, or an ``httpx.Timeout``; by default 10 s to connect and 10 minutes to read.
    api_key
        Sent as ``Authorization: Bearer <key>``; default ``$LEARNDYN_API_KEY``.
    retries
        Retries after a connection failure, a 429 or a 503 (safe: every endpoint is a pure
        computation), with exponential backoff from ``backoff`` seconds, honouring
        Retry-After, capped at ``max_backoff``. Never after a 504: the same request would be
        stopped at the same time limit.
    transport
        An ``httpx.BaseTransport`` (tests inject one; default: the network).

    Raises
    ------
    LocalValidationError
        Arguments that do not fit the request model, refused before anything was sent
        (``status`` None; ``errors`` names each field and the reason).
    RequestRefused
        A 4xx: the service refused the request. Both this and the above are
        :class:`~clients.errors.InvalidRequest`.
    Overloaded
        A 429 or 503 still answered after ``retries`` retries.
    ComputationTimeout
        A 504: the computation was stopped at the service's wall-time limit; ask for less.
    ServerError
        Any other 5xx.
    TransportError
        No answer: the service could not be reached, or did not answer within ``timeout``.
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
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        super().__init__(
            base_url=base_url,
            timeout=timeout,
            api_key=api_key,
            retries=retries,
            backoff=backoff,
            max_backoff=max_backoff,
        )
        self._http = httpx.Client(base_url=base_url, timeout=timeout, transport=transport)

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        """Close the connection pool."""
        self._http.close()

    def _call(self, endpoint: Endpoint[ResponseT], body: BaseModel | None = None) -> ResponseT:
        request = self._request(endpoint, body)
        attempt = 0
        while True:
            outcome: httpx.Response | LearndynError
            try:
                with translate_transport_errors():
                    outcome = self._http.send(request)
                    outcome.read()
            except LearndynError as error:
                outcome = error
            delay = self._delay(attempt, outcome)
            if delay is None:
                if isinstance(outcome, LearndynError):
                    raise outcome
                return self._parse(endpoint, outcome)
            time.sleep(delay)
            attempt += 1

    def train(self, request: TrainRequest | None = None, /, **fields: Any) -> TrainResponse:
        """POST /train: run gradient descent and judge the weights' fate."""
        return self._call(TRAIN, build_request(TrainRequest, request, fields))

    def minima(self, request: MinimaRequest | None = None, /, **fields: Any) -> MinimaResponse:
        """POST /minima: every local minimum of a one-weight error, at infinity included."""
        return self._call(MINIMA, build_request(MinimaRequest, request, fields))

    def separability(
        self, request: SeparabilityRequest | None = None, /, **fields: Any
    ) -> SeparabilityResponse:
        """POST /separability: linear separability with checkable certificates."""
        return self._call(SEPARABILITY, build_request(SeparabilityRequest, request, fields))

    def figure_train(
        self, request: TrainRequest | None = None, /, *, format: str = "svg", **fields: Any
    ) -> bytes:
        """POST /figures/train: the run drawn against log t, as SVG (default) or PNG bytes."""
        body = figure_request(FigureTrainRequest, request, format, fields)
        return self._call(FIGURE_TRAIN, body).content

    def figure_minima(
        self, request: MinimaRequest | None = None, /, *, format: str = "svg", **fields: Any
    ) -> bytes:
        """POST /figures/minima: E(x) with its extrema (and TV for n = 2) as SVG or PNG bytes."""
        body = figure_request(FigureMinimaRequest, request, format, fields)
        return self._call(FIGURE_MINIMA, body).content

    def health(self) -> Health:
        """GET /healthz."""
        return self._call(HEALTH)

    def version(self) -> Version:
        """GET /version."""
        return self._call(VERSION)


class AsyncClient(BaseClient):
    """The asynchronous twin of :class:`Client` (``async with``; same options and methods)."""

    def __init__(
        self,
        *,
        base_url: str = DEFAULT_BASE_URL,
        timeout: float | httpx.Timeout = DEFAULT_TIMEOUT,
        api_key: str | None = None,
        retries: int = 3,
        backoff: float = 0.5,
        max_backoff: float = 30.0,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        super().__init__(
            base_url=base_url,
            timeout=timeout,
            api_key=api_key,
            retries=retries,
            backoff=backoff,
            max_backoff=max_backoff,
        )
        self._http = httpx.AsyncClient(base_url=base_url, timeout=timeout, transport=transport)

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the connection pool."""
        await self._http.aclose()

    async def _call(
        self, endpoint: Endpoint[ResponseT], body: BaseModel | None = None
    ) -> ResponseT:
        request = self._request(endpoint, body)
        attempt = 0
        while True:
            outcome: httpx.Response | LearndynError
            try:
                with translate_transport_errors():
                    outcome = await self._http.send(request)
                    await outcome.aread()
            except LearndynError as error:
                outcome = error
            delay = self._delay(attempt, outcome)
            if delay is None:
                if isinstance(outcome, LearndynError):
                    raise outcome
                return self._parse(endpoint, outcome)
            await asyncio.sleep(delay)
            attempt += 1

    async def train(self, request: TrainRequest | None = None, /, **fields: Any) -> TrainResponse:
        """POST /train: run gradient descent and judge the weights' fate."""
        return await self._call(TRAIN, build_request(TrainRequest, request, fields))

    async def minima(
        self, request: MinimaRequest | None = None, /, **fields: Any
    ) -> MinimaResponse:
        """POST /minima: every local minimum of a one-weight error, at infinity included."""
        return await self._call(MINIMA, build_request(MinimaRequest, request, fields))

    async def separability(
        self, request: SeparabilityRequest | None = None, /, **fields: Any
    ) -> SeparabilityResponse:
        """POST /separability: linear separability with checkable certificates."""
        return await self._call(SEPARABILITY, build_request(SeparabilityRequest, request, fields))

    async def figure_train(
        self, request: TrainRequest | None = None, /, *, format: str = "svg", **fields: Any
    ) -> bytes:
        """POST /figures/train: the run drawn against log t, as SVG (default) or PNG bytes."""
        body = figure_request(FigureTrainRequest, request, format, fields)
        return (await self._call(FIGURE_TRAIN, body)).content

    async def figure_minima(
        self, request: MinimaRequest | None = None, /, *, format: str = "svg", **fields: Any
    ) -> bytes:
        """POST /figures/minima: E(x) with its extrema (and TV for n = 2) as SVG or PNG bytes."""
        body = figure_request(FigureMinimaRequest, request, format, fields)
        return (await self._call(FIGURE_MINIMA, body)).content

    async def health(self) -> Health:
        """GET /healthz."""
        return await self._call(HEALTH)

    async def version(self) -> Version:
        """GET /version."""
        return await self._call(VERSION)
