"""``Client`` (sync) and ``AsyncClient``: the I/O halves over :class:`~clients.base.BaseClient`.

Example::

    from clients import Client

    with Client(base_url="http://127.0.0.1:8000") as client:
        answer = client.train(inputs=[[1.0]], targets=[1], steps=10_000)
        print(answer.stopped_by, answer.weights)

The study methods' decisions (paging, the event stream's decoding, when :meth:`Client.wait`
reports, polls or gives up) are :class:`~clients.base.RowPages`,
:class:`~clients.base.CsvPages`, :class:`~clients.base.EventDecoder` and
:class:`~clients.base.Waiter`; the twins below only send, stream and sleep.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncGenerator, AsyncIterator, Iterator, Mapping
from contextlib import aclosing
from types import TracebackType
from typing import Any, Self

import httpx
from pydantic import BaseModel

from clients.base import (
    CANCEL_STUDY,
    DEFAULT_BASE_URL,
    DEFAULT_TIMEOUT,
    EVENTS_READ_TIMEOUT,
    FIGURE_MINIMA,
    FIGURE_TRAIN,
    HEALTH,
    MINIMA,
    SEPARABILITY,
    STUDIES,
    STUDY,
    STUDY_CSV,
    STUDY_EVENTS,
    STUDY_ROWS,
    SUBMIT_STUDY,
    TRAIN,
    VERSION,
    BaseClient,
    CsvPages,
    Endpoint,
    EventDecoder,
    ProgressCallback,
    ResponseT,
    RowPages,
    StudyEvent,
    Waiter,
    build_request,
    figure_request,
    study_request,
)
from clients.errors import LearndynError, TransportError, translate_transport_errors
from service.schemas import TRAIN_REQUEST, Health, TrainRequest, TrainResponse, Version
from service.schemas.figures import FIGURE_TRAIN_REQUEST, FigureMinimaRequest
from service.schemas.minima import MinimaRequest, MinimaResponse
from service.schemas.separability import SeparabilityRequest, SeparabilityResponse
from service.schemas.studies import MAX_PAGE, Study, StudyList, StudyRequest, StudyRow


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
    WaitTimeout
        :meth:`wait` gave up at its ``timeout``; the study runs on.

    An unknown study id is a :class:`~clients.errors.RequestRefused` with ``status`` 404
    (a malformed one, 422).
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

    def _call(
        self, endpoint: Endpoint[ResponseT], body: BaseModel | None = None, **where: Any
    ) -> ResponseT:
        request = self._request(endpoint, body, **where)
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
        return self._call(TRAIN, build_request(TRAIN_REQUEST.validate_python, request, fields))

    def minima(self, request: MinimaRequest | None = None, /, **fields: Any) -> MinimaResponse:
        """POST /minima: every local minimum of a one-weight error, at infinity included."""
        return self._call(MINIMA, build_request(MinimaRequest.model_validate, request, fields))

    def separability(
        self, request: SeparabilityRequest | None = None, /, **fields: Any
    ) -> SeparabilityResponse:
        """POST /separability: linear separability with checkable certificates."""
        return self._call(
            SEPARABILITY, build_request(SeparabilityRequest.model_validate, request, fields)
        )

    def figure_train(
        self, request: TrainRequest | None = None, /, *, format: str = "svg", **fields: Any
    ) -> bytes:
        """POST /figures/train: the run drawn against log t, as SVG (default) or PNG bytes."""
        body = figure_request(FIGURE_TRAIN_REQUEST.validate_python, request, format, fields)
        return self._call(FIGURE_TRAIN, body).content

    def figure_minima(
        self, request: MinimaRequest | None = None, /, *, format: str = "svg", **fields: Any
    ) -> bytes:
        """POST /figures/minima: E(x) with its extrema (and TV for n = 2) as SVG or PNG bytes."""
        body = figure_request(FigureMinimaRequest.model_validate, request, format, fields)
        return self._call(FIGURE_MINIMA, body).content

    def health(self) -> Health:
        """GET /healthz."""
        return self._call(HEALTH)

    def version(self) -> Version:
        """GET /version."""
        return self._call(VERSION)

    def submit_study(
        self, request: StudyRequest | Mapping[str, Any] | None = None, /, **fields: Any
    ) -> Study:
        """POST /studies: store and queue a study (a sweep); the study as stored (queued)."""
        return self._call(SUBMIT_STUDY, study_request(request, fields))

    def study(self, study_id: str) -> Study:
        """GET /studies/{id}: the study's status, progress and summary."""
        return self._call(STUDY, study_id=study_id)

    def studies(self, offset: int = 0, limit: int = 100) -> StudyList:
        """GET /studies: a page of the studies, newest first."""
        return self._call(STUDIES, query={"offset": offset, "limit": limit})

    def results(self, study_id: str, *, page_size: int = MAX_PAGE) -> Iterator[StudyRow]:
        """Every finished row of the study, in index order, fetched ``page_size`` at a time
        (GET /studies/{id}/results; see :class:`~clients.base.RowPages` for a running one)."""
        pages = RowPages(page_size)
        while pages.more:
            yield from pages.rows(self._call(STUDY_ROWS, study_id=study_id, query=pages.query()))

    def results_csv(self, study_id: str, *, page_size: int = MAX_PAGE) -> str:
        """Every finished row as CSV: the service's CSV pages (``format=csv``) joined under
        one header, as one page holding them all would be."""
        pages = CsvPages(page_size)
        while pages.more:
            pages.add(self._call(STUDY_CSV, study_id=study_id, query=pages.query()))
        return pages.text()

    def events(
        self, study_id: str, *, read_timeout: float | None = EVENTS_READ_TIMEOUT
    ) -> Iterator[StudyEvent]:
        """GET /studies/{id}/events: a :class:`Progress` whenever points finish, then the
        :class:`Study` as it ended. A stream silent for ``read_timeout`` seconds (heartbeats
        come every 15 s), or closed before its end, raises
        :class:`~clients.errors.TransportError`."""
        return (event for event in self._stream(study_id, read_timeout) if event is not None)

    def _stream(self, study_id: str, read_timeout: float | None) -> Iterator[StudyEvent | None]:
        decoder = EventDecoder(study_id)
        request = self._request(STUDY_EVENTS, study_id=study_id, read_timeout=read_timeout)
        with translate_transport_errors():
            response = self._http.send(request, stream=True)
            try:
                if not response.is_success:
                    response.read()
                decoder.open(response)
                for line in response.iter_lines():
                    yield decoder.feed(line)
                    if decoder.ended:
                        return
            finally:
                response.close()
        decoder.close()

    def wait(
        self, study_id: str, progress: ProgressCallback | None = None, timeout: float | None = None
    ) -> Study:
        """The study once it has ended (done, failed or cancelled), following its events;
        ``progress`` is called with each new :class:`Progress`. If the stream drops, polls
        GET /studies/{id} every :data:`~clients.base.POLL_SECONDS`. Past ``timeout`` s raises
        :class:`~clients.errors.WaitTimeout` (checked at every event and heartbeat)."""
        waiter = Waiter(study_id, progress, timeout)
        try:
            for event in self._stream(study_id, waiter.read_timeout()):
                if (study := waiter.seen(event)) is not None:
                    return study
        except TransportError:
            pass  # the stream dropped: poll
        while (study := waiter.polled(self.study(study_id))) is None:
            time.sleep(waiter.delay())
        return study

    def cancel(self, study_id: str) -> Study:
        """DELETE /studies/{id}: no new points start, running ones stop at their next chunk;
        the finished rows stay."""
        return self._call(CANCEL_STUDY, study_id=study_id)


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
        self, endpoint: Endpoint[ResponseT], body: BaseModel | None = None, **where: Any
    ) -> ResponseT:
        request = self._request(endpoint, body, **where)
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
        return await self._call(
            TRAIN, build_request(TRAIN_REQUEST.validate_python, request, fields)
        )

    async def minima(
        self, request: MinimaRequest | None = None, /, **fields: Any
    ) -> MinimaResponse:
        """POST /minima: every local minimum of a one-weight error, at infinity included."""
        return await self._call(
            MINIMA, build_request(MinimaRequest.model_validate, request, fields)
        )

    async def separability(
        self, request: SeparabilityRequest | None = None, /, **fields: Any
    ) -> SeparabilityResponse:
        """POST /separability: linear separability with checkable certificates."""
        return await self._call(
            SEPARABILITY, build_request(SeparabilityRequest.model_validate, request, fields)
        )

    async def figure_train(
        self, request: TrainRequest | None = None, /, *, format: str = "svg", **fields: Any
    ) -> bytes:
        """POST /figures/train: the run drawn against log t, as SVG (default) or PNG bytes."""
        body = figure_request(FIGURE_TRAIN_REQUEST.validate_python, request, format, fields)
        return (await self._call(FIGURE_TRAIN, body)).content

    async def figure_minima(
        self, request: MinimaRequest | None = None, /, *, format: str = "svg", **fields: Any
    ) -> bytes:
        """POST /figures/minima: E(x) with its extrema (and TV for n = 2) as SVG or PNG bytes."""
        body = figure_request(FigureMinimaRequest.model_validate, request, format, fields)
        return (await self._call(FIGURE_MINIMA, body)).content

    async def health(self) -> Health:
        """GET /healthz."""
        return await self._call(HEALTH)

    async def version(self) -> Version:
        """GET /version."""
        return await self._call(VERSION)

    async def submit_study(
        self, request: StudyRequest | Mapping[str, Any] | None = None, /, **fields: Any
    ) -> Study:
        """POST /studies: store and queue a study (a sweep); the study as stored (queued)."""
        return await self._call(SUBMIT_STUDY, study_request(request, fields))

    async def study(self, study_id: str) -> Study:
        """GET /studies/{id}: the study's status, progress and summary."""
        return await self._call(STUDY, study_id=study_id)

    async def studies(self, offset: int = 0, limit: int = 100) -> StudyList:
        """GET /studies: a page of the studies, newest first."""
        return await self._call(STUDIES, query={"offset": offset, "limit": limit})

    async def results(self, study_id: str, *, page_size: int = MAX_PAGE) -> AsyncIterator[StudyRow]:
        """Every finished row of the study, in index order (see :meth:`Client.results`)."""
        pages = RowPages(page_size)
        while pages.more:
            query = pages.query()
            for row in pages.rows(await self._call(STUDY_ROWS, study_id=study_id, query=query)):
                yield row

    async def results_csv(self, study_id: str, *, page_size: int = MAX_PAGE) -> str:
        """Every finished row as CSV, the pages joined (see :meth:`Client.results_csv`)."""
        pages = CsvPages(page_size)
        while pages.more:
            pages.add(await self._call(STUDY_CSV, study_id=study_id, query=pages.query()))
        return pages.text()

    async def events(
        self, study_id: str, *, read_timeout: float | None = EVENTS_READ_TIMEOUT
    ) -> AsyncIterator[StudyEvent]:
        """The study's events (see :meth:`Client.events`). Leaving early: iterate it in
        ``contextlib.aclosing`` to close the stream at once."""
        async with aclosing(self._stream(study_id, read_timeout)) as stream:
            async for event in stream:
                if event is not None:
                    yield event

    async def _stream(
        self, study_id: str, read_timeout: float | None
    ) -> AsyncGenerator[StudyEvent | None, None]:
        decoder = EventDecoder(study_id)
        request = self._request(STUDY_EVENTS, study_id=study_id, read_timeout=read_timeout)
        with translate_transport_errors():
            response = await self._http.send(request, stream=True)
            try:
                if not response.is_success:
                    await response.aread()
                decoder.open(response)
                async for line in response.aiter_lines():
                    yield decoder.feed(line)
                    if decoder.ended:
                        return
            finally:
                await response.aclose()
        decoder.close()

    async def wait(
        self, study_id: str, progress: ProgressCallback | None = None, timeout: float | None = None
    ) -> Study:
        """The study once it has ended (see :meth:`Client.wait`)."""
        waiter = Waiter(study_id, progress, timeout)
        try:
            async with aclosing(self._stream(study_id, waiter.read_timeout())) as stream:
                async for event in stream:
                    if (study := waiter.seen(event)) is not None:
                        return study
        except TransportError:
            pass  # the stream dropped: poll
        while (study := waiter.polled(await self.study(study_id))) is None:
            await asyncio.sleep(waiter.delay())
        return study

    async def cancel(self, study_id: str) -> Study:
        """DELETE /studies/{id}: cancel the study (see :meth:`Client.cancel`)."""
        return await self._call(CANCEL_STUDY, study_id=study_id)
