"""Studies: many /train runs as one job (POST /studies and the routes under it)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field

from service import limits
from service.schemas.common import Count, Real, StrictModel
from service.schemas.train import TrainRequest
from service.vocabulary import StopReason, StudyKind, StudyStatus, Verdict


class LogRange(StrictModel):
    """``count`` positive reals spread evenly in log from ``lo`` to ``hi`` (both included)."""

    log_range: tuple[
        Annotated[Real, Field(gt=0)], Annotated[Real, Field(gt=0)], Annotated[Count, Field(ge=1)]
    ] = Field(description="[lo, hi, count]: lo·(hi/lo)^(k/(count−1)), k = 0 … count−1.")


class IntRange(StrictModel):
    """The integers ``start, start + 1, …, stop − 1`` (as Python's range)."""

    range: tuple[Count, Count] = Field(description="[start, stop): stop excluded.")


Axis = list[Any] | LogRange | IntRange
"""One grid axis: the values themselves, or a range that generates them."""

GRID_AXES = (
    "learning_rate",
    "seed",
    "activation",
    "method",
    "steps",
    "initial_weights",
    "dataset",
    "order",
    "t_max",
    "network",
)
"""The /train fields a sweep may vary."""


class SweepRequest(StrictModel):
    """A sweep: the base /train request run at every point of the product of the axes."""

    kind: Literal[StudyKind.SWEEP] = Field(description="A sweep over /train requests.")
    name: str | None = Field(default=None, max_length=200, description="A label for people.")
    base: TrainRequest = Field(description="The /train request every point starts from.")
    grid: dict[str, Axis] = Field(
        min_length=1,
        description="Axis → values: a list, {'log_range': [lo, hi, count]} (positive reals), "
        "or {'range': [start, stop]} (integers). Axes: "
        + ", ".join(GRID_AXES)
        + ". The points are the product of the axes, the first axis varying slowest.",
    )


StudyRequest = SweepRequest
"""The request of POST /studies (one kind so far)."""


class Progress(BaseModel):
    """How far a study has come."""

    done: int = Field(description="Points finished (failed ones included).")
    total: int = Field(description="Points in the study.")
    failed: int = Field(description="Points whose run was refused or failed.")


class SweepSummary(BaseModel):
    """Counts over the finished points."""

    verdicts: dict[Verdict, int] = Field(description="Finished points per verdict.")
    failed: int = Field(description="Points whose run was refused or failed (no verdict).")
    per_axis: dict[str, dict[str, dict[Verdict, int]]] = Field(
        description="Axis → the value (as JSON text) → points per verdict."
    )


class Study(BaseModel):
    """A study and where it stands."""

    id: str = Field(description="The study's id (in its URL).")
    kind: StudyKind
    name: str | None
    status: StudyStatus = Field(
        description="queued, running, done, failed (the study itself broke) or cancelled."
    )
    progress: Progress
    created: datetime
    started: datetime | None
    finished: datetime | None
    axes: dict[str, list[Any]] = Field(description="The grid, expanded: axis → its values.")
    summary: SweepSummary
    detail: str | None = Field(default=None, description="Why a study failed; null otherwise.")


class StudyRow(BaseModel):
    """One point of a sweep: its parameters and what /train answered for it."""

    index: int = Field(description="The point's place in the grid (row-major, first axis slowest).")
    params: dict[str, Any] = Field(description="Axis → this point's value.")
    verdict: Verdict | None = Field(description="Null when the point failed.")
    error: float | None = Field(description="E at the final weights.")
    accuracy: float | None
    stopped_by: StopReason | None
    steps: int | None
    log_rate_norm: float | None = Field(description="‖log_rate‖ when the verdict fitted one.")
    apparent_convergence: bool | None
    weights: list[float] | None = Field(description="The final weights, to the last bit.")
    seconds: float = Field(description="Wall time of the point's run.")
    failure: str | None = Field(
        default=None, description="Why the point failed (the /train problem's detail)."
    )


class StudyRows(BaseModel):
    """A page of a study's rows, in index order."""

    rows: list[StudyRow]
    total: int = Field(description="Rows finished so far (the page is a slice of them).")
    offset: int
    limit: int


class StudyList(BaseModel):
    """A page of studies, newest first."""

    studies: list[Study]
    total: int
    offset: int
    limit: int


DEFAULT_PAGE = 100
MAX_PAGE = limits.MAX_ROWS_PER_PAGE


class PageQuery(StrictModel):
    """A page of a listing (unknown query parameters are refused)."""

    offset: Annotated[int, Field(ge=0, le=limits.MAX_OFFSET, description="Items to skip.")] = 0
    limit: Annotated[int, Field(ge=1, le=MAX_PAGE, description="Items in the page.")] = DEFAULT_PAGE


class ResultsQuery(PageQuery):
    """A page of a study's rows, as JSON or CSV."""

    format: Literal["json", "csv"] = Field(default="json", description="json or csv.")
