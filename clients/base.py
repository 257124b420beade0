"""What the sync and async clients share: endpoints, request building, parsing, retries,
and the studies' paging, event decoding and waiting.

Nothing here does I/O; :class:`~clients.Client` and :class:`~clients.AsyncClient` add only
the sending, the streaming and the sleeping.
"""

from __future__ import annotations

import csv
import io
import os
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar
from urllib.parse import quote

import httpx
from pydantic import BaseModel, ValidationError

from clients.errors import (
    LearndynError,
    TransportError,
    WaitTimeout,
    error_from_response,
    local_validation_error,
    retry_after_seconds,
)
from service.schemas import Health, TrainResponse, Version
from service.schemas.minima import MinimaResponse
from service.schemas.separability import SeparabilityResponse
from service.schemas.studies import (
    MAX_PAGE,
    STUDY_REQUEST,
    CensusRequest,
    ExtrapolationRequest,
    Progress,
    RelaxationRequest,
    Study,
    StudyList,
    StudyRequest,
    StudyRow,
    StudyRows,
    SweepRequest,
)
from service.vocabulary import StudyStatus


class RawBody(BaseModel):
    """A body that is not JSON (a figure's SVG or PNG, a page of CSV) with its content type;
    the figure methods return ``content``."""

    content: bytes
    media_type: str


RequestT = TypeVar("RequestT", bound=BaseModel)
ResponseT = TypeVar("ResponseT", bound=BaseModel)
ItemT = TypeVar("ItemT")

StudyEvent = Progress | Study
"""What a study's event stream carries: its progress, then the study as it ended."""
ProgressCallback = Callable[[Progress], None]

DEFAULT_BASE_URL = "http://127.0.0.1:8000"
DEFAULT_TIMEOUT = httpx.Timeout(10.0, read=600.0)
"""Connect, write and pool within 10 s; a long computation may take up to 10 minutes."""

EVENTS_READ_TIMEOUT = 60.0
"""Seconds an event stream may stay silent before it counts as dropped. However slow a
study, the service sends an event or a ``: ping`` comment at least every 15 s (FastAPI's
keep-alive), so a minute of silence is four missed heartbeats: the connection is gone."""
POLL_SECONDS = 1.0
"""How often :meth:`~clients.Client.wait` looks at a study once its event stream dropped."""

DATASET_FIELDS = ("inputs", "targets", "bias")


@dataclass(frozen=True, slots=True)
class Endpoint(Generic[ResponseT]):
    """One operation of the service: method, path (``{study_id}`` filled in per call),
    response model and the media types it accepts."""

    method: str
    path: str
    response: type[ResponseT]
    accept: str = "application/json"


FIGURE = "image/svg+xml, image/png, application/problem+json"
TRAIN = Endpoint("POST", "/train", TrainResponse)
MINIMA = Endpoint("POST", "/minima", MinimaResponse)
SEPARABILITY = Endpoint("POST", "/separability", SeparabilityResponse)
FIGURE_TRAIN = Endpoint("POST", "/figures/train", RawBody, FIGURE)
FIGURE_MINIMA = Endpoint("POST", "/figures/minima", RawBody, FIGURE)
HEALTH = Endpoint("GET", "/healthz", Health)
VERSION = Endpoint("GET", "/version", Version)
SUBMIT_STUDY = Endpoint("POST", "/studies", Study)
STUDIES = Endpoint("GET", "/studies", StudyList)
STUDY = Endpoint("GET", "/studies/{study_id}", Study)
STUDY_ROWS = Endpoint("GET", "/studies/{study_id}/results", StudyRows)
STUDY_CSV = Endpoint(
    "GET", "/studies/{study_id}/results", RawBody, "text/csv, application/problem+json"
)
STUDY_EVENTS = Endpoint(
    "GET", "/studies/{study_id}/events", Study, "text/event-stream, application/problem+json"
)
CANCEL_STUDY = Endpoint("DELETE", "/studies/{study_id}", Study)


def build_request(
    validate: Callable[[Any], RequestT], given: RequestT | None, fields: dict[str, Any]
) -> RequestT:
    """The request model: ``given`` as is, or built from keyword arguments by ``validate`` (a
    model's ``model_validate``, or a ``TypeAdapter``'s ``validate_python`` for a union).

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
        return validate(data)
    except ValidationError as exc:
        raise local_validation_error(exc) from exc


def study_request(
    given: StudyRequest | Mapping[str, Any] | None, fields: dict[str, Any]
) -> StudyRequest:
    """The POST /studies body: ``given`` as is (a model), validated (a mapping, e.g. a parsed
    JSON file, updated by ``fields``), or built from keyword arguments; what does not fit
    raises :class:`~clients.errors.LocalValidationError`, nothing sent."""
    if isinstance(given, SweepRequest | CensusRequest | ExtrapolationRequest | RelaxationRequest):
        if fields:
            raise TypeError("pass either a request model or keyword arguments, not both")
        return given
    try:
        return STUDY_REQUEST.validate_python({**(given or {}), **fields})
    except ValidationError as exc:
        raise local_validation_error(exc) from exc


class BaseClient:
    """Configuration and the I/O-free half of a client.

    Retrying is safe for every endpoint. The computations are pure, so a POST repeated after
    a dropped connection, a 429 or a 503 computes the same answer; it is useless after a 504:
    the same computation would be stopped at the same limit. POST /studies stores a study,
    but only outcomes in which the service stored nothing are retried: a connection that was
    never made, and a 429 or 503 (a refusal); a read timeout, after which the study may
    exist, is not.
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

    def _request(
        self,
        endpoint: Endpoint[Any],
        body: BaseModel | None = None,
        *,
        study_id: str | None = None,
        query: Mapping[str, str | int] | None = None,
        read_timeout: float | None = None,
    ) -> httpx.Request:
        """The request of ``endpoint``; ``read_timeout`` (streams only) replaces the read
        part of the client's ``timeout``."""
        content = None if body is None else body.model_dump_json(exclude_unset=True)
        headers = {"accept": endpoint.accept}
        if self.api_key:
            headers["authorization"] = f"Bearer {self.api_key}"
        if content is not None:
            headers["content-type"] = "application/json"
        path = endpoint.path
        if study_id is not None:  # one path segment whatever it holds: "../x" stays inside
            path = path.format(study_id=quote(study_id, safe="").replace(".", "%2E"))
        request = httpx.Request(
            endpoint.method,
            self.base_url.rstrip("/") + path,
            params=query,
            content=content,
            headers=headers,
        )
        if endpoint is STUDY_EVENTS:
            # a connection of its own, closed after: a stream may end broken (cut by a proxy,
            # or by the service), and the next request must not reuse what it leaves
            request.headers["connection"] = "close"
            timeout = httpx.Timeout(self.timeout)
            request.extensions["timeout"] = httpx.Timeout(
                connect=timeout.connect, read=read_timeout, write=timeout.write, pool=timeout.pool
            ).as_dict()
        return request

    @staticmethod
    def _parse(endpoint: Endpoint[ResponseT], response: httpx.Response) -> ResponseT:
        if response.is_success:
            if endpoint.response is RawBody:
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


class RowPages:
    """Offset/limit paging through a study's rows, each index once and in order.

    Rows come in index order, but a running study finishes them out of order: a row landing
    before the cursor between two pages shifts the next page by one. Rows whose index is not
    past the last one taken are dropped, so nothing is taken twice; a row that lands behind
    the cursor is missed (it is there on the next read). A finished study pages exactly.
    """

    def __init__(self, page_size: int, query: Mapping[str, str] | None = None) -> None:
        if not 1 <= page_size <= MAX_PAGE:
            raise ValueError(f"page_size must be between 1 and {MAX_PAGE}; got {page_size}")
        self.limit = page_size
        self.offset = 0
        self.last = -1
        self.more = True
        self._query = dict(query or {})

    def query(self) -> dict[str, str | int]:
        """The query of the next page."""
        return {**self._query, "offset": self.offset, "limit": self.limit}

    def take(
        self, items: Sequence[ItemT], index: Callable[[ItemT], int], total: int | None = None
    ) -> list[ItemT]:
        """The new items of a page (``total``: the rows the page said exist, if it said)."""
        self.offset += len(items)
        self.more = len(items) == self.limit and (total is None or self.offset < total)
        fresh = [item for item in items if index(item) > self.last]
        if fresh:
            self.last = index(fresh[-1])
        return fresh

    def rows(self, page: StudyRows) -> list[StudyRow]:
        """The new rows of a JSON page."""
        return self.take(page.rows, _row_index, page.total)


def _row_index(row: StudyRow) -> int:
    return row.index


class CsvPages(RowPages):
    """The CSV pages of a study joined under one header, as one GET with no limit would
    answer (the service's dialect: Python's ``excel``, CRLF). Each page is parsed, not split
    on newlines: a ``failure`` may hold one, quoted."""

    def __init__(self, page_size: int) -> None:
        super().__init__(page_size, {"format": "csv"})
        self.header: list[str] | None = None
        self.records: list[list[str]] = []

    def add(self, page: RawBody) -> None:
        header, *records = csv.reader(io.StringIO(page.content.decode("utf-8"), newline=""))
        if records or self.header is None:  # an empty page's header lacks the axes
            self.header = header
        self.records += self.take(records, _csv_index)

    def text(self) -> str:
        out = io.StringIO(newline="")
        csv.writer(out).writerows([self.header or [], *self.records])
        return out.getvalue()


def _csv_index(record: list[str]) -> int:
    return int(record[0])


class EventDecoder:
    """The event stream of a study, decoded line by line as the WHATWG HTML standard says
    (§9.2.6, "Interpreting an event stream").

    A blank line ends an event; ``data`` lines join with newlines; a line starting with
    ``:`` is a comment (the service's ``: ping`` heartbeats); one space after the colon is
    dropped; ``id``, ``retry`` and unknown fields and event types are ignored, and an event
    the stream ends in the middle of is dropped. ``progress`` gives a :class:`Progress`,
    ``end`` the :class:`Study` as it ended, after which nothing more is read.
    """

    def __init__(self, study_id: str) -> None:
        self.study_id = study_id
        self.ended = False
        self._event = ""
        self._data: list[str] = []
        self._first = True

    def open(self, response: httpx.Response) -> None:
        """Raise the error an error status maps to (its body read already)."""
        if not response.is_success:
            raise error_from_response(response)

    def feed(self, line: str) -> StudyEvent | None:
        """The event ``line`` completes, if any (a line, terminator stripped)."""
        if self._first:
            line, self._first = line.removeprefix("\ufeff"), False
        if not line:
            return self._dispatch()
        name, _, value = line.partition(":")
        value = value.removeprefix(" ")
        if name == "event":
            self._event = value
        elif name == "data":
            self._data.append(value)
        return None  # a comment (name ""), id, retry or an unknown field

    def _dispatch(self) -> StudyEvent | None:
        event, data = self._event, "\n".join(self._data)
        self._event, self._data, lines = "", [], self._data
        if not lines:
            return None
        if event == "progress":
            return Progress.model_validate_json(data)
        if event == "end":
            self.ended = True
            return Study.model_validate_json(data)
        return None

    def close(self) -> None:
        """Raise if the stream closed before its ``end`` event."""
        if not self.ended:
            raise TransportError(f"the event stream of study {self.study_id} closed before its end")


class Waiter:
    """What :meth:`~clients.Client.wait` decides: follow the events, report each new
    progress once, poll when the stream drops, and give up at the deadline."""

    def __init__(
        self, study_id: str, progress: ProgressCallback | None, timeout: float | None
    ) -> None:
        self.study_id = study_id
        self.timeout = timeout
        self._callback = progress
        self._last: Progress | None = None
        self._deadline = None if timeout is None else time.monotonic() + timeout

    def _within(self, seconds: float) -> float:
        """``seconds``, or what is left before the deadline if less."""
        if self._deadline is None:
            return seconds
        return max(0.0, min(seconds, self._deadline - time.monotonic()))

    def read_timeout(self) -> float:
        """The stream's read timeout: a dropped stream, or the deadline, whichever is first."""
        return self._within(EVENTS_READ_TIMEOUT)

    def delay(self) -> float:
        """Seconds to sleep before the next poll."""
        return self._within(POLL_SECONDS)

    def seen(self, event: StudyEvent | None) -> Study | None:
        """The study if ``event`` ended it; None to read on (``None``: a line, no event)."""
        if isinstance(event, Study):
            return self.polled(event)
        if event is not None:
            self._report(event)
        self._check()
        return None

    def polled(self, study: Study) -> Study | None:
        """The study if it has ended; None to poll again."""
        self._report(study.progress)
        if study.status not in (StudyStatus.QUEUED, StudyStatus.RUNNING):
            return study
        self._check()
        return None

    def _report(self, progress: Progress) -> None:
        if progress != self._last:
            self._last = progress
            if self._callback is not None:
                self._callback(progress)

    def _check(self) -> None:
        if self._deadline is not None and time.monotonic() >= self._deadline:
            assert self.timeout is not None
            raise WaitTimeout(self.study_id, self.timeout, self._last)


def figure_request(
    validate: Callable[[Any], RequestT],
    given: BaseModel | None,
    image_format: str,
    fields: dict[str, Any],
) -> RequestT:
    """A /figures request: ``given`` (a plain /train or /minima request, or a figure request)
    with ``format`` set to ``image_format``, or one built from keyword arguments."""
    if given is None:
        return build_request(validate, None, {**fields, "format": image_format})
    if fields:
        raise TypeError("pass either a request model or keyword arguments, not both")
    data = given.model_dump(mode="json", exclude_unset=True)
    return build_request(validate, None, {**data, "format": image_format})
