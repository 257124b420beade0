"""Studies: many /train runs as one job (POST /studies and the routes under it): a sweep over
a grid of /train fields, or a census of minima from many starts."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, Discriminator, Field, Tag, TypeAdapter

from service import limits
from service.schemas.common import Count, Dataset, Real, StrictModel
from service.schemas.train import KIND_TAG, Network, PositiveReal, Steps, TrainRequest
from service.vocabulary import (
    ActivationName,
    EndpointLocation,
    Method,
    StopReason,
    StudyKind,
    StudyStatus,
    Verdict,
)


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


class CensusRequest(StrictModel):
    """A census of the minima of E: /train from ``starts`` points of a scrambled Sobol
    sequence over the box [−init, init]^m, each run to its verdict, its endpoint identified
    (a finite minimum, a minimum at infinity, or unresolved) and the distinct minima counted,
    with an estimate of those never reached."""

    kind: Literal[StudyKind.CENSUS] = Field(description="A census of minima.")
    name: str | None = Field(default=None, max_length=200, description="A label for people.")
    dataset: Dataset
    activation: ActivationName = Field(default=ActivationName.TANH, description="The sigmoid θ.")
    network: Network = Field(default_factory=Network)
    starts: Annotated[Count, Field(ge=1, le=limits.MAX_CENSUS_STARTS)] = Field(
        default=64, description="K, the number of starts (runs)."
    )
    method: Literal[Method.GD, Method.FLOW] = Field(
        default=Method.GD, description="How each run moves: gradient descent or the flow."
    )
    steps: Steps | None = Field(
        default=None, description="gd: the step budget of each run (default 100000)."
    )
    t_max: Annotated[Real, Field(ge=limits.MIN_T_MAX, le=limits.MAX_T_MAX)] | None = Field(
        default=None, description="flow: the time each run integrates to (required for flow)."
    )
    learning_rate: PositiveReal = Field(
        default=0.1, description="η of gd, α of the flow (as in /train)."
    )
    init: PositiveReal | None = Field(
        default=None,
        description="The half-width a of the box [−a, a]^m of the starts (default 0.5, the "
        "range /train draws initial weights from).",
    )
    seed: Annotated[Count, Field(ge=0, le=limits.MAX_SEED)] = Field(
        default=0, description="Seeds the scrambling of the Sobol sequence."
    )


def _kind_of(value: Any) -> str | None:
    """The tag of a study request's variant: its ``kind``."""
    kind = value.get("kind") if isinstance(value, dict) else getattr(value, "kind", None)
    return f"{KIND_TAG}{kind}" if isinstance(kind, str) else None


KIND_ERROR = "kind_invalid"
"""The error type of a study request whose ``kind`` is none of the kinds."""

StudyRequest = Annotated[
    Annotated[SweepRequest, Tag(f"{KIND_TAG}{StudyKind.SWEEP}")]
    | Annotated[CensusRequest, Tag(f"{KIND_TAG}{StudyKind.CENSUS}")],
    Discriminator(
        _kind_of,
        custom_error_type=KIND_ERROR,
        custom_error_message="kind must be one of " + ", ".join(f"'{k}'" for k in StudyKind),
    ),
]
"""The request of POST /studies: a sweep or a census, by its ``kind``."""

STUDY_REQUEST: TypeAdapter[StudyRequest] = TypeAdapter(StudyRequest)


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


class CensusMinimum(BaseModel):
    """A distinct minimum a census found (or a saddle some runs stopped at)."""

    location: EndpointLocation = Field(description="finite, or infinity (the weights diverge).")
    error: float = Field(description="E there; at infinity E's limit along the direction.")
    hits: int = Field(description="Runs that ended in it.")
    basin_fraction: float = Field(description="hits / K, over all K starts.")
    weights: list[float] | None = Field(
        default=None, description="finite: the minimum, polished by Newton's method."
    )
    gradient_norm: float | None = Field(default=None, description="finite: ‖∇E‖₂ there.")
    hessian_eigenvalues: list[float] | None = Field(
        default=None, description="finite: the Hessian's eigenvalues, ascending."
    )
    degenerate: bool | None = Field(
        default=None,
        description="finite: the Hessian is only positive semidefinite (smallest eigenvalue 0 "
        "to 1e-7·max(1, λ_max)).",
    )
    direction: list[float] | None = Field(
        default=None, description="infinity: the unit direction d in which the weights diverge."
    )
    finite_part: list[float] | None = Field(
        default=None,
        description="infinity: the limit of the weights across d, x − (x·d)·d: the weights "
        "that converge, and the offset of those that diverge.",
    )
    diverging: list[int] | None = Field(
        default=None, description="infinity: the indices of the weights that diverge."
    )
    outputs: list[float] | None = Field(
        default=None,
        description="infinity: the limit outputs θ(z_i) per example (z_i = y_i·output, so 1 "
        "is fitted exactly); runs with the same outputs found the same minimum.",
    )
    symmetric_copies: int = Field(
        description="How many distinct copies the point has under the net's symmetries "
        "(hidden units permuted, sign flips; 1 for a perceptron): counted once here."
    )


class CensusSummary(BaseModel):
    """What a census found so far, how sure it is, and how many minima it probably missed."""

    minima: list[CensusMinimum] = Field(description="Distinct minima, lowest error first.")
    global_error: float | None = Field(
        description="The lowest minimum found (minima[0]'s error); null before any."
    )
    starts: int = Field(description="K, the starts asked for.")
    identified: int = Field(description="Runs whose endpoint is one of the minima.")
    unresolved: int = Field(
        description="Runs whose verdict identifies no minimum (unstable, stalled, "
        "undetermined), that failed, or that stopped at a saddle."
    )
    unresolved_reasons: dict[str, int] = Field(description="Why, with how many runs each.")
    saddles: list[CensusMinimum] = Field(description="Saddles some runs stopped at.")
    distinct: int = Field(description="Distinct minima found.")
    singletons: int = Field(description="f1: minima hit by exactly one run.")
    doubletons: int = Field(description="f2: minima hit by exactly two runs.")
    estimated_total: float = Field(
        description="Chao1: distinct + f1²/(2·f2) (distinct + f1·(f1 − 1)/2 when f2 = 0)."
    )
    estimated_interval: tuple[float, float] = Field(
        description="Chao's log-normal 95% interval of estimated_total."
    )
    coverage: float = Field(
        description="Good–Turing: 1 − f1/identified, the chance that one more run finds a "
        "minimum already seen."
    )
    symmetries_merged: bool = Field(
        description="False when the net has too many symmetric images to merge copies."
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
    axes: dict[str, list[Any]] = Field(
        description="The grid, expanded: axis → its values (a census: initial_weights → its "
        "starts)."
    )
    summary: SweepSummary | CensusSummary = Field(
        description="A sweep's verdict counts, or a census's minima."
    )
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
    location: EndpointLocation | None = Field(
        default=None,
        description="A census run: where it ended (finite, infinity or unresolved); null in "
        "a sweep.",
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
