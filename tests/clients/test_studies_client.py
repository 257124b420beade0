"""The study methods of the client: a scripted service behind httpx.MockTransport for the
parsing (event streams, pages, errors, waiting), and the real app for one tiny sweep.

Every scripted case runs on both twins (``twin`` is "sync" or "async") against the same
expectation, and ``test_the_twins_agree`` compares their answers to each other.
"""

from __future__ import annotations

import asyncio
import csv
import io
import json
import time
from collections.abc import AsyncIterator, Callable, Iterable, Iterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from clients import AsyncClient, Client, LocalValidationError, RequestRefused, TransportError
from clients import base as client_base
from clients.base import EVENTS_READ_TIMEOUT, EventDecoder
from clients.errors import WaitTimeout
from service.api.studies import to_csv
from service.schemas.studies import (
    Progress,
    Study,
    StudyList,
    StudyRow,
    StudyRows,
    SweepRequest,
    SweepSummary,
)

STUDY_ID = "0123456789abcdef0123456789abcdef"
UNKNOWN_ID = "f" * 32
TWINS = pytest.mark.parametrize("twin", ["sync", "async"])
SPEC = {
    "kind": "sweep",
    "base": {"dataset": {"inputs": [[1.0]], "targets": [1]}, "steps": 2000},
    "grid": {"seed": {"range": [0, 3]}},
}


def a_study(status: str = "running", done: int = 0, total: int = 3, **more: Any) -> Study:
    return Study(
        id=STUDY_ID,
        kind="sweep",
        name=more.pop("name", None),
        status=status,
        progress=Progress(done=done, total=total, failed=more.pop("failed", 0)),
        created=datetime(2025, 1, 2, 3, 4, 5, tzinfo=UTC),
        started=None,
        finished=None,
        axes={"seed": list(range(total))},
        summary=SweepSummary(verdicts=more.pop("verdicts", {}), failed=0, per_axis={}),
    )


def a_row(index: int, failure: str | None = None) -> StudyRow:
    return StudyRow(
        index=index,
        params={"seed": index, "activation": "tanh"},
        verdict=None if failure else "converging",
        error=None if failure else 0.25 / (index + 1),
        accuracy=None if failure else 1.0,
        stopped_by=None if failure else "steps",
        steps=None if failure else 2000,
        log_rate_norm=None,
        apparent_convergence=None if failure else False,
        weights=None if failure else [2.5 + index, -1e-300],
        seconds=0.001 * (index + 1),
        failure=failure,
    )


def sse(event: str, data: Any) -> str:
    return f"event: {event}\ndata: {json.dumps(data, ensure_ascii=False)}\n\n"


def progress_event(done: int, total: int = 3) -> str:
    return sse("progress", {"done": done, "total": total, "failed": 0})


def end_event(study: Study) -> str:
    return sse("end", study.model_dump(mode="json"))


def not_found(request: httpx.Request) -> httpx.Response:
    study_id = request.url.path.split("/")[2]
    body = {"type": "about:blank", "title": "Not Found", "status": 404}
    return httpx.Response(
        404,
        json={**body, "detail": f"no study {study_id}"},
        headers={"content-type": "application/problem+json"},
    )


class Chunks(httpx.SyncByteStream, httpx.AsyncByteStream):
    """A body sent in the given chunks, ``pause`` seconds apart (both twins read it)."""

    def __init__(self, chunks: Iterable[bytes], pause: float = 0.0) -> None:
        self.chunks = list(chunks)
        self.pause = pause

    def __iter__(self) -> Iterator[bytes]:
        for chunk in self.chunks:
            time.sleep(self.pause)
            yield chunk

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for chunk in self.chunks:
            await asyncio.sleep(self.pause)
            yield chunk


def pieces(data: bytes, size: int) -> list[bytes]:
    return [data[k : k + size] for k in range(0, len(data), size)]


class FakeService:
    """The studies routes of the service, scripted; ``seen`` keeps every request."""

    def __init__(
        self,
        rows: list[StudyRow] | None = None,
        events: httpx.SyncByteStream | str | Callable[[httpx.Request], httpx.Response] = "",
        polls: list[Study] | None = None,
        pages: list[list[int]] | None = None,
    ) -> None:
        self.rows = rows or []
        self.events = events
        self.polls = polls or [a_study("done", 3)]
        self.pages = pages  # scripted row indices per page (a running study), else slices
        self.seen: list[httpx.Request] = []

    @property
    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self.handle)

    def of(self, suffix: str, method: str = "GET") -> list[httpx.Request]:
        path = f"/studies/{STUDY_ID}{suffix}"
        return [r for r in self.seen if r.url.path == path and r.method == method]

    def handle(self, request: httpx.Request) -> httpx.Response:
        self.seen.append(request)
        parts = request.url.path.strip("/").split("/")
        if parts == ["studies"] and request.method == "POST":
            sent = json.loads(request.content)
            study = a_study("queued", 0, name=sent.get("name"))
            return httpx.Response(202, json=study.model_dump(mode="json"))
        if parts == ["studies"]:
            q = request.url.params
            page = StudyList(
                studies=[a_study()], total=1, offset=int(q["offset"]), limit=int(q["limit"])
            )
            return httpx.Response(200, json=page.model_dump(mode="json"))
        if parts[1] != STUDY_ID:
            return not_found(request)
        if parts[2:] == [] and request.method == "DELETE":
            return httpx.Response(200, json=a_study("cancelled", 1).model_dump(mode="json"))
        if parts[2:] == []:
            study = self.polls[min(len(self.of("")), len(self.polls)) - 1]
            return httpx.Response(200, json=study.model_dump(mode="json"))
        if parts[2:] == ["results"]:
            return self.results(request)
        if callable(self.events):
            return self.events(request)
        stream = self.events
        if isinstance(stream, str):
            stream = Chunks([stream.encode()])
        return httpx.Response(200, stream=stream, headers={"content-type": "text/event-stream"})

    def results(self, request: httpx.Request) -> httpx.Response:
        q = request.url.params
        offset, limit = int(q["offset"]), int(q["limit"])
        if self.pages is not None:
            index = len(self.of("/results")) - 1
            rows = [a_row(i) for i in self.pages[index]]
            total = len(self.pages[index]) + offset + 1  # the study runs on: more to come
        else:
            rows, total = self.rows[offset : offset + limit], len(self.rows)
        page = StudyRows(rows=rows, total=total, offset=offset, limit=limit)
        if q.get("format") == "csv":
            return httpx.Response(200, text=to_csv(page), headers={"content-type": "text/csv"})
        return httpx.Response(200, json=page.model_dump(mode="json"))


def call(twin: str, transport: httpx.MockTransport, method: str, *args: Any, **kw: Any) -> Any:
    """``method`` of the twin on a fresh client; an iterator's items as a list."""
    if twin == "sync":
        with Client(transport=transport, retries=0) as client:
            out = getattr(client, method)(*args, **kw)
            return list(out) if isinstance(out, Iterator) else out

    async def run() -> Any:
        async with AsyncClient(transport=transport, retries=0) as client:
            out = getattr(client, method)(*args, **kw)
            if isinstance(out, AsyncIterator):
                return [item async for item in out]
            return await out

    return asyncio.run(run())


def decode(lines: list[str]) -> list[Progress | Study]:
    decoder = EventDecoder(STUDY_ID)
    return [e for e in (decoder.feed(line) for line in lines) if e is not None]


# -- the event stream, decoded -------------------------------------------------------------


def test_data_lines_join_with_newlines_and_comments_are_skipped() -> None:
    ended = a_study("done", 3)
    lines = [
        ": ping",
        "retry: 5000",
        "id: 7",
        "event: progress",
        'data: {"done": 1,',
        'data:  "total": 3,',  # one space dropped, the second kept
        'data:"failed": 0}',  # no space at all
        "",
        ": ping",
        "",
        "event: end",
        *(f"data: {part}" for part in ended.model_dump_json(indent=1).splitlines()),
        "",
    ]
    assert decode(lines) == [Progress(done=1, total=3, failed=0), ended]


def test_events_without_data_or_of_other_types_are_ignored() -> None:
    lines = [
        "event: progress",  # no data: no event
        "",
        "data: {}",  # no type: "message"
        "",
        "event: heartbeat",
        "data: 1",
        "",
        "data",  # a field with no colon: the empty value
        "",
        "\ufeffevent: progress",  # a BOM is only skipped first in the stream
        'data: {"done": 2, "total": 3, "failed": 1}',
        "",
        "event: progress",
        'data: {"done": 3, "total": 3, "failed": 1}',
    ]  # the last event is not ended by a blank line: dropped
    assert decode(lines) == []
    decoder = EventDecoder(STUDY_ID)
    first = ["\ufeffevent: progress", 'data: {"done": 2, "total": 3, "failed": 1}', ""]
    assert [decoder.feed(line) for line in first][-1] == Progress(done=2, total=3, failed=1)


@TWINS
def test_a_chunked_stream_with_crlf_and_multibyte_text_decodes(twin: str) -> None:
    ended = a_study("done", 3, name="réseau ½")
    text = ": ping\n\n" + progress_event(0) + progress_event(2) + ": ping\n\n" + end_event(ended)
    data = text.replace("\n", "\r\n").encode()
    assert data.count("é".encode()) == 1
    for size in (1, 2, 7, 64):  # CR and LF apart, a character split in two
        service = FakeService(events=Chunks(pieces(data, size)))
        events = call(twin, service.transport, "events", STUDY_ID)
        assert events == [
            Progress(done=0, total=3, failed=0),
            Progress(done=2, total=3, failed=0),
            ended,
        ]
        assert events[-1].name == "réseau ½"


@TWINS
def test_a_stream_that_closes_before_its_end_is_a_transport_error(twin: str) -> None:
    service = FakeService(events=progress_event(1) + "event: end\ndata: {")
    with pytest.raises(TransportError, match="closed before its end"):
        call(twin, service.transport, "events", STUDY_ID)


@TWINS
def test_nothing_is_read_after_the_end(twin: str) -> None:
    service = FakeService(events=end_event(a_study("done", 3)) + "event: end\ndata: garbage\n\n")
    assert call(twin, service.transport, "events", STUDY_ID) == [a_study("done", 3)]


def test_the_event_stream_has_its_own_read_timeout() -> None:
    service = FakeService(events=end_event(a_study("done", 3)))
    with Client(transport=service.transport, timeout=httpx.Timeout(5.0, read=300.0)) as client:
        list(client.events(STUDY_ID))
        list(client.events(STUDY_ID, read_timeout=None))
        client.study(STUDY_ID)
    timeouts = [r.extensions["timeout"] for r in service.seen]
    assert [t["read"] for t in timeouts] == [EVENTS_READ_TIMEOUT, None, 300.0]
    assert {t["connect"] for t in timeouts} == {5.0}
    assert service.seen[0].headers["accept"].startswith("text/event-stream")
    assert service.seen[0].headers["connection"] == "close"  # never reused after a stream


# -- pages ---------------------------------------------------------------------------------


@TWINS
def test_results_page_through_every_row(twin: str) -> None:
    service = FakeService(rows=[a_row(i) for i in range(7)])
    rows = call(twin, service.transport, "results", STUDY_ID, page_size=3)
    assert [r.index for r in rows] == list(range(7))
    assert rows == service.rows
    queries = [dict(r.url.params) for r in service.of("/results")]
    assert queries == [{"offset": str(k), "limit": "3"} for k in (0, 3, 6)]


@TWINS
def test_results_stop_at_the_total(twin: str) -> None:
    service = FakeService(rows=[a_row(i) for i in range(6)])
    assert len(call(twin, service.transport, "results", STUDY_ID, page_size=3)) == 6
    assert len(service.of("/results")) == 2  # the second page said: 6 of 6


@TWINS
def test_a_running_study_gives_each_row_once_in_order(twin: str) -> None:
    # page 1 sees 0, 1, 3; row 2 lands before the second page, which starts at 3 again
    service = FakeService(pages=[[0, 1, 3], [3, 4, 5], [6]])
    rows = call(twin, service.transport, "results", STUDY_ID, page_size=3)
    assert [r.index for r in rows] == [0, 1, 3, 4, 5, 6]


@TWINS
def test_results_csv_joins_the_pages_under_one_header(twin: str) -> None:
    rows = [a_row(i) for i in range(7)]
    rows[4] = a_row(4, failure='refused:\nline two, with "quotes"')
    service = FakeService(rows=rows)
    text = call(twin, service.transport, "results_csv", STUDY_ID, page_size=3)
    assert text == to_csv(StudyRows(rows=rows, total=7, offset=0, limit=7))
    records = list(csv.reader(io.StringIO(text, newline="")))
    assert records[0][:3] == ["index", "seed", "activation"] and len(records) == 8
    assert records[5][-1] == 'refused:\nline two, with "quotes"'
    assert [dict(r.url.params)["format"] for r in service.of("/results")] == ["csv"] * 3


@TWINS
def test_results_csv_of_an_exact_number_of_pages_and_of_none(twin: str) -> None:
    rows = [a_row(i) for i in range(6)]
    service = FakeService(rows=rows)
    text = call(twin, service.transport, "results_csv", STUDY_ID, page_size=3)
    assert text == to_csv(StudyRows(rows=rows, total=6, offset=0, limit=6))  # axes kept
    empty = call(twin, FakeService().transport, "results_csv", STUDY_ID)
    assert empty == to_csv(StudyRows(rows=[], total=0, offset=0, limit=1))


def test_a_page_size_out_of_range_is_refused() -> None:
    with Client(transport=FakeService().transport) as client:
        for size in (0, 1001):
            with pytest.raises(ValueError, match="page_size must be between 1 and 1000"):
                list(client.results(STUDY_ID, page_size=size))


# -- one study, the list, submit, cancel ---------------------------------------------------


@TWINS
def test_submit_sends_the_request_as_given(twin: str) -> None:
    service = FakeService()
    study = call(twin, service.transport, "submit_study", SPEC)
    assert study.status == "queued" and study.id == STUDY_ID
    assert json.loads(service.seen[0].content) == SPEC  # the unset defaults stay unset
    call(twin, service.transport, "submit_study", SweepRequest.model_validate(SPEC))
    call(twin, service.transport, "submit_study", SPEC, name="named")
    call(twin, service.transport, "submit_study", **SPEC)
    sent = [json.loads(r.content) for r in service.seen]
    assert sent == [SPEC, SPEC, {**SPEC, "name": "named"}, SPEC]


@TWINS
def test_a_spec_that_does_not_fit_is_refused_before_sending(twin: str) -> None:
    service = FakeService()
    bad = {**SPEC, "grid": {"seed": {"range": [0]}}, "colour": "red"}
    with pytest.raises(LocalValidationError) as info:
        call(twin, service.transport, "submit_study", bad)
    assert {"colour", "grid.seed.IntRange.range.1"} <= set(info.value.fields)
    assert info.value.status is None and service.seen == []


@TWINS
def test_study_list_and_cancel(twin: str) -> None:
    service = FakeService(polls=[a_study("running", 1)])
    assert call(twin, service.transport, "study", STUDY_ID) == a_study("running", 1)
    page = call(twin, service.transport, "studies", offset=5, limit=10)
    assert (page.offset, page.limit, page.total) == (5, 10, 1)
    assert call(twin, service.transport, "cancel", STUDY_ID).status == "cancelled"
    assert [r.method for r in service.seen] == ["GET", "GET", "DELETE"]


@TWINS
@pytest.mark.parametrize("method", ["study", "results", "results_csv", "events", "wait", "cancel"])
def test_an_unknown_study_is_refused_with_404(twin: str, method: str) -> None:
    with pytest.raises(RequestRefused) as info:
        call(twin, FakeService().transport, method, UNKNOWN_ID)
    assert info.value.status == 404 and info.value.detail == f"no study {UNKNOWN_ID}"


def test_a_study_id_stays_one_path_segment() -> None:
    service = FakeService()
    with Client(transport=service.transport) as client:
        with pytest.raises(RequestRefused):
            client.study("../../train")
    assert service.seen[0].url.raw_path == b"/studies/%2E%2E%2F%2E%2E%2Ftrain"


# -- waiting -------------------------------------------------------------------------------


@TWINS
def test_wait_follows_the_events_and_reports_each_progress_once(twin: str) -> None:
    ended = a_study("done", 3)
    stream = progress_event(0) + progress_event(2) + progress_event(2) + end_event(ended)
    service = FakeService(events=stream)
    seen: list[int] = []
    assert call(twin, service.transport, "wait", STUDY_ID, lambda p: seen.append(p.done)) == ended
    assert seen == [0, 2, 3]  # the end's progress too
    assert service.of("") == []  # no polling


@TWINS
def test_wait_polls_when_the_stream_drops(twin: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(client_base, "POLL_SECONDS", 0.0)
    polls = [a_study("running", 1), a_study("running", 2), a_study("done", 3)]
    service = FakeService(events=progress_event(1), polls=polls)  # then closed: no end
    seen: list[int] = []
    ended = call(twin, service.transport, "wait", STUDY_ID, progress=lambda p: seen.append(p.done))
    assert ended == polls[-1] and seen == [1, 2, 3]
    assert len(service.of("/events")) == 1 and len(service.of("")) == 3


@TWINS
def test_wait_polls_when_the_stream_cannot_be_opened(
    twin: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(client_base, "POLL_SECONDS", 0.0)

    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadError("reset by peer", request=request)

    service = FakeService(events=refuse, polls=[a_study("failed", 1)])
    assert call(twin, service.transport, "wait", STUDY_ID).status == "failed"


@TWINS
def test_wait_gives_up_at_its_timeout_while_polling(
    twin: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(client_base, "POLL_SECONDS", 0.01)
    service = FakeService(events="", polls=[a_study("running", 2)])
    started = time.monotonic()
    with pytest.raises(WaitTimeout) as info:
        call(twin, service.transport, "wait", STUDY_ID, timeout=0.2)
    assert 0.2 <= time.monotonic() - started < 2.0
    assert info.value.progress == Progress(done=2, total=3, failed=0)
    assert info.value.study_id == STUDY_ID and "had not ended after 0.2 s" in str(info.value)


@TWINS
def test_wait_gives_up_at_its_timeout_on_a_stream_of_heartbeats(twin: str) -> None:
    stream = Chunks([progress_event(1).encode()] + [b": ping\n\n"] * 400, pause=0.005)
    service = FakeService(events=stream)
    started = time.monotonic()
    with pytest.raises(WaitTimeout) as info:
        call(twin, service.transport, "wait", STUDY_ID, timeout=0.1)
    assert time.monotonic() - started < 1.5  # 400 pings would take 2 s
    assert info.value.progress == Progress(done=1, total=3, failed=0)
    assert service.of("") == []  # given up in the stream, not by polling


# -- the twins agree -----------------------------------------------------------------------


def test_the_twins_agree() -> None:
    ended = a_study("done", 3, verdicts={"converging": 3})
    calls: list[tuple[str, tuple[Any, ...], dict[str, Any]]] = [
        ("submit_study", (SPEC,), {}),
        ("study", (STUDY_ID,), {}),
        ("studies", (), {"offset": 0, "limit": 2}),
        ("results", (STUDY_ID,), {"page_size": 2}),
        ("results_csv", (STUDY_ID,), {"page_size": 2}),
        ("events", (STUDY_ID,), {}),
        ("wait", (STUDY_ID,), {}),
        ("cancel", (STUDY_ID,), {}),
    ]
    answers: dict[str, list[Any]] = {}
    for twin in ("sync", "async"):
        service = FakeService(
            rows=[a_row(i, failure="x" if i == 2 else None) for i in range(5)],
            events=progress_event(1) + end_event(ended),
        )
        answers[twin] = [call(twin, service.transport, m, *a, **k) for m, a, k in calls]
        answers[twin + " requests"] = [(r.method, str(r.url), r.content) for r in service.seen]
    assert answers["sync"] == answers["async"]
    assert answers["sync requests"] == answers["async requests"]


# -- the real app --------------------------------------------------------------------------

TINY = {
    "kind": "sweep",
    "name": "tiny",
    "base": {"dataset": {"inputs": [[1.0]], "targets": [1]}, "steps": 2000},
    "grid": {"seed": {"range": [0, 3]}},
}


def test_a_tiny_sweep_on_the_real_app(study_server: str) -> None:
    with Client(base_url=study_server) as client:
        submitted = client.submit_study(TINY)
        assert submitted.status in ("queued", "running") and submitted.progress.total == 3
        assert client.studies(limit=1).studies[0].id == submitted.id  # newest first
        seen: list[Progress] = []
        ended = client.wait(submitted.id, progress=seen.append, timeout=300)
        assert ended.status == "done" and ended.progress == Progress(done=3, total=3, failed=0)
        dones = [p.done for p in seen]
        assert dones == sorted(set(dones)) and dones[-1] == 3  # increasing, each once
        assert sum(ended.summary.verdicts.values()) == 3
        rows = list(client.results(ended.id, page_size=2))
        assert [r.index for r in rows] == [0, 1, 2]
        assert [r.params for r in rows] == [{"seed": 0}, {"seed": 1}, {"seed": 2}]
        assert all(r.steps == 2000 and r.stopped_by == "steps" for r in rows)
        text = client.results_csv(ended.id, page_size=2)
        assert text == httpx.get(f"{study_server}/studies/{ended.id}/results?format=csv").text
        records = list(csv.reader(io.StringIO(text, newline="")))
        assert records[0][:3] == ["index", "seed", "verdict"]
        assert [r[0] for r in records[1:]] == ["0", "1", "2"]
        assert list(client.events(ended.id)) == [ended.progress, client.study(ended.id)]
        assert client.cancel(ended.id).status == "done"  # an ended study stays as it is
        with pytest.raises(RequestRefused) as info:
            client.study(UNKNOWN_ID)
        assert info.value.status == 404


@pytest.mark.anyio
async def test_the_async_client_on_the_real_app(study_server: str) -> None:
    async with AsyncClient(base_url=study_server) as client:
        submitted = await client.submit_study(SweepRequest.model_validate(TINY))
        seen: list[int] = []
        ended = await client.wait(submitted.id, lambda p: seen.append(p.done), timeout=300)
        assert ended.status == "done" and seen[-1] == 3 and seen == sorted(seen)
        rows = [row async for row in client.results(ended.id, page_size=1)]
        assert [r.index for r in rows] == [0, 1, 2]
        assert (await client.results_csv(ended.id)).count("\r\n") == 4
        with pytest.raises(RequestRefused) as info:
            await client.wait(UNKNOWN_ID)
        assert info.value.status == 404
