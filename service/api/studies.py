"""POST /studies and the routes of one study: look up, rows, live progress, cancel."""

from __future__ import annotations

import asyncio
import csv
import io
import json
from collections.abc import AsyncIterator, Callable
from typing import Annotated

import anyio.to_thread
from fastapi import APIRouter, Body, Depends, Path, Query, Request, Response
from fastapi.sse import EventSourceResponse, ServerSentEvent
from starlette.exceptions import HTTPException

from service.api.admission import AdmittedRoute
from service.api.examples import STUDY_EXAMPLES
from service.api.mapping import row_response, study_response
from service.api.problems import LOOKUP_RESPONSES, PROBLEM_RESPONSES, problem_responses
from service.schemas.studies import (
    PageQuery,
    Progress,
    ResultsQuery,
    Study,
    StudyList,
    StudyRequest,
    StudyRow,
    StudyRows,
)
from service.studies.jobs import Studies, StudyView
from service.vocabulary import StudyStatus

router = APIRouter(prefix="/studies", tags=["studies"], route_class=AdmittedRoute)

StudyId = Annotated[str, Path(pattern=r"^[0-9a-f]{32}$", description="The study's id.")]

POLL_SECONDS = 0.2
"""How often the event stream looks at a study's progress in the store."""


def studies_of(request: Request) -> Studies:
    """The app's studies: opened with the app when its database exists, else on first use."""
    opener: Callable[[], Studies] = request.app.state.studies
    return opener()


async def existing_study(study_id: StudyId, request: Request) -> str:
    """The study id, or 404 before any response starts (the event stream cannot answer 404
    once it has begun)."""
    record = await anyio.to_thread.run_sync(studies_of(request).record, study_id)
    if record is None:  # the record alone: a census's summary is not computed to say it exists
        raise HTTPException(404, f"no study {study_id}")
    return study_id


def _found(view: StudyView | None, study_id: str) -> StudyView:
    if view is None:
        raise HTTPException(404, f"no study {study_id}")
    return view


@router.post(
    "",
    operation_id="submit_study",
    status_code=202,
    responses={202: {"description": "Accepted: stored and queued; Location names it."},
               **PROBLEM_RESPONSES},
)  # fmt: skip
def submit_study(
    body: Annotated[StudyRequest, Body(openapi_examples=STUDY_EXAMPLES)],
    request: Request,
    response: Response,
) -> Study:
    """Submit a study: many /train runs as one job."""
    view = studies_of(request).submit(body)
    response.headers["Location"] = f"/studies/{view.record.id}"
    return study_response(view)


@router.get("", operation_id="list_studies", responses=problem_responses(422, 500))
def list_studies(request: Request, page: Annotated[PageQuery, Query()]) -> StudyList:
    """List the studies, newest first."""
    views, total = studies_of(request).page(page.offset, page.limit)
    return StudyList(
        studies=[study_response(v) for v in views],
        total=total,
        offset=page.offset,
        limit=page.limit,
    )


@router.get("/{study_id}", operation_id="get_study", responses=LOOKUP_RESPONSES)
def get_study(study_id: StudyId, request: Request) -> Study:
    """A study: its status, progress and summary."""
    return study_response(_found(studies_of(request).get(study_id), study_id))


@router.get(
    "/{study_id}/results",
    operation_id="study_results",
    response_model=StudyRows,
    responses={200: {"content": {"text/csv": {"schema": {"type": "string"}}}},
               **LOOKUP_RESPONSES},
)  # fmt: skip
def study_results(
    study_id: StudyId, request: Request, query: Annotated[ResultsQuery, Query()]
) -> StudyRows | Response:
    """A page of a study's rows, in index order (``format=csv``: the page as CSV)."""
    studies = studies_of(request)
    if studies.record(study_id) is None:  # the record alone, not the summary
        raise HTTPException(404, f"no study {study_id}")
    rows, total = studies.rows(study_id, query.offset, query.limit)
    page = StudyRows(
        rows=[row_response(r) for r in rows], total=total, offset=query.offset, limit=query.limit
    )
    if query.format == "csv":
        return Response(to_csv(page), media_type="text/csv")
    return page


def to_csv(page: StudyRows) -> str:
    """The rows as CSV: index, each axis, then the row's figures (weights as JSON; a
    census's rows end with their location, an extrapolation's with whether the log rule
    applies and its relative errors of the weights and of E at each factor c)."""
    axes = list(page.rows[0].params) if page.rows else []
    figures = ["verdict", "error", "accuracy", "stopped_by", "steps", "log_rate_norm",
               "apparent_convergence", "seconds", "weights", "failure"]  # fmt: skip
    if any(row.location is not None for row in page.rows):
        figures.append("location")
    factors = _factors(page)
    out = io.StringIO()
    writer = csv.writer(out)
    tested = [f"{name}_{c:g}" for c in factors for name in ("weight_error", "error_relative")]
    writer.writerow(["index", *axes, *figures, *(["applicable", *tested] if factors else [])])
    for row in page.rows:
        data = row.model_dump(mode="json")
        values = [json.dumps(row.params[a]) if not isinstance(row.params[a], str | int | float)
                  else row.params[a] for a in axes]  # fmt: skip
        cells = [json.dumps(data[f]) if f == "weights" or isinstance(data[f], bool) else data[f]
                 for f in figures]  # fmt: skip
        if factors:
            cells.extend(_tested_cells(row, factors))
        writer.writerow([row.index, *values, *["" if c is None else c for c in cells]])
    return out.getvalue()


def _factors(page: StudyRows) -> list[float]:
    """The factors of an extrapolation's page (every row of one study has the same), else
    none."""
    for row in page.rows:
        if row.extrapolation is not None and row.extrapolation.comparisons:
            return [c.factor for c in row.extrapolation.comparisons]
    return []


def _tested_cells(row: StudyRow, factors: list[float]) -> list[object]:
    test = row.extrapolation
    if test is None:
        return [None] * (1 + 2 * len(factors))
    errors: list[object] = [json.dumps(test.applicable)]
    by_factor = {c.factor: c for c in test.comparisons}
    for c in factors:
        found = by_factor.get(c)
        errors += [None, None] if found is None else [found.weight_error, found.error_relative]
    return errors


@router.get(
    "/{study_id}/events",
    operation_id="study_events",
    response_class=EventSourceResponse,
    responses=LOOKUP_RESPONSES,
)
async def study_events(
    study_id: Annotated[str, Depends(existing_study)], request: Request
) -> AsyncIterator[ServerSentEvent]:
    """Live progress: a ``progress`` event whenever points finish, then one ``end``."""
    studies = studies_of(request)
    last = None
    while True:  # the record alone (cheap); the summary once, for the end event
        r = await anyio.to_thread.run_sync(studies.record, study_id)
        assert r is not None
        progress = Progress(done=r.done, total=r.total, failed=r.failed)
        if progress != last:
            last = progress
            yield ServerSentEvent(event="progress", data=progress.model_dump())
        if r.status not in (StudyStatus.QUEUED, StudyStatus.RUNNING):
            view = await anyio.to_thread.run_sync(studies.get, study_id)
            assert view is not None
            yield ServerSentEvent(event="end", data=study_response(view).model_dump(mode="json"))
            return
        if await request.is_disconnected():
            return
        await asyncio.sleep(POLL_SECONDS)


@router.delete("/{study_id}", operation_id="cancel_study", responses=LOOKUP_RESPONSES)
def cancel_study(study_id: StudyId, request: Request) -> Study:
    """Cancel a study: no new points start, running ones stop at their next chunk."""
    return study_response(_found(studies_of(request).cancel(study_id), study_id))
