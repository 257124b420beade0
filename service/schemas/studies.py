"""Studies: many /train runs as one job (POST /studies and the routes under it): a sweep over
a grid of /train fields, a census of minima from many starts, or a test of the log rule's
extrapolation over a grid."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, Discriminator, Field, Tag, TypeAdapter

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


MAX_EXTRAPOLATION_FACTORS = 6
"""At most this many factors in an extrapolation study."""

DEFAULT_FACTORS = (10.0, 100.0, 1000.0)
"""An extrapolation's factors when the request names none."""


def _increasing(factors: list[float]) -> list[float]:
    """The factors sorted, each once."""
    return sorted(set(factors))


class ExtrapolationRequest(StrictModel):
    """A test of the log rule (the paper's §3: "can it be usefully employed to extrapolate
    from limited learning?"): at each point of the grid, /train to T (``base.steps``, or
    ``base.t_max`` for the flow), the log rule's prediction of the weights and of E at c·T
    for each factor c, and the same run taken to c·T (round(c·T) steps; c·t_max for the
    flow) to compare with. A point whose verdict at T is not logarithmic has no prediction,
    and its runs to c·T are not run. Methods gd, online and flow."""

    kind: Literal[StudyKind.EXTRAPOLATION] = Field(description="A test of the log rule.")
    name: str | None = Field(default=None, max_length=200, description="A label for people.")
    base: TrainRequest = Field(
        description="The /train request every point starts from; its steps (t_max for the "
        "flow) are T, the time the log rule extrapolates from."
    )
    grid: dict[str, Axis] = Field(
        default_factory=dict,
        description="As a sweep's grid (axes: " + ", ".join(GRID_AXES) + "); empty or left "
        "out: the base alone.",
    )
    factors: Annotated[
        list[Annotated[Real, Field(gt=1)]],
        Field(min_length=1, max_length=MAX_EXTRAPOLATION_FACTORS),
        AfterValidator(_increasing),
    ] = Field(
        default=list(DEFAULT_FACTORS),
        description="The factors c > 1: the log rule predicts at c·T and each point also runs "
        "to c·T (sorted, each once). The study's work counts the run to T and every run to "
        "c·T; the longest must fit the limits of one /train run.",
        examples=[[10, 100]],
    )


class RelaxationRequest(StrictModel):
    """Is relaxation worth it? gd and ``anneal`` at each of ``temperatures`` from the same K
    starts (a census's: scrambled Sobol over [−init, init]^m), each run with the same
    ``steps``; the answer counts, per method, the runs that end in the global minimum."""

    kind: Literal[StudyKind.RELAXATION] = Field(description="gd against annealing.")
    name: str | None = Field(default=None, max_length=200, description="A label for people.")
    dataset: Dataset
    activation: ActivationName = Field(default=ActivationName.TANH, description="The sigmoid θ.")
    network: Network = Field(default_factory=Network)
    starts: Annotated[Count, Field(ge=1, le=limits.MAX_CENSUS_STARTS)] = Field(
        default=32, description="K, the starts each method runs from."
    )
    steps: Steps = Field(default=100_000, description="The step budget of every run.")
    learning_rate: PositiveReal = Field(default=0.1, description="η, for every method.")
    temperatures: Annotated[
        list[Annotated[Real, Field(gt=0, le=limits.MAX_TEMPERATURE)]],
        Field(min_length=1, max_length=limits.MAX_RELAXATION_TEMPERATURES),
    ] = Field(
        description="The starting temperatures T₀ > 0 of the annealing runs (gd, T₀ = 0, is "
        "always run too).",
        examples=[[0.5, 1.0, 2.0]],
    )
    cooling_time: Annotated[Real, Field(gt=0, le=limits.MAX_COOLING_TIME)] = Field(
        default=1.0, description="τ of the schedule T_t = T₀/ln(e + t/τ), for every T₀."
    )
    init: PositiveReal | None = Field(
        default=None, description="The half-width a of the box [−a, a]^m of the starts (0.5)."
    )
    seed: Annotated[Count, Field(ge=0, le=limits.MAX_SEED)] = Field(
        default=0,
        description="Seeds the starts; start k's annealing noise is seeded seed·K + k, the "
        "same for every temperature.",
    )
    global_error: Annotated[Real, Field(ge=0)] | None = Field(
        default=None,
        description="E at the global minimum, when known (e.g. from a census); default: the "
        "lowest minimum the study's runs find.",
    )


def _kind_of(value: Any) -> str | None:
    """The tag of a study request's variant: its ``kind``."""
    kind = value.get("kind") if isinstance(value, dict) else getattr(value, "kind", None)
    return f"{KIND_TAG}{kind}" if isinstance(kind, str) else None


KIND_ERROR = "kind_invalid"
"""The error type of a study request whose ``kind`` is none of the kinds."""

StudyRequest = Annotated[
    Annotated[SweepRequest, Tag(f"{KIND_TAG}{StudyKind.SWEEP}")]
    | Annotated[CensusRequest, Tag(f"{KIND_TAG}{StudyKind.CENSUS}")]
    | Annotated[ExtrapolationRequest, Tag(f"{KIND_TAG}{StudyKind.EXTRAPOLATION}")]
    | Annotated[RelaxationRequest, Tag(f"{KIND_TAG}{StudyKind.RELAXATION}")],
    Discriminator(
        _kind_of,
        custom_error_type=KIND_ERROR,
        custom_error_message="kind must be one of " + ", ".join(f"'{k}'" for k in StudyKind),
    ),
]
"""The request of POST /studies: a sweep, a census, an extrapolation or a relaxation, by its
``kind``."""

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
    saddles: list[CensusMinimum] = Field(
        description="Finite points some runs stopped at that are not minima: saddles, and "
        "points whose gradient stays above 1e-8 after Newton's polish (runs float64 stopped "
        "on their way to infinity)."
    )
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


LogRuleFit = Literal["predicts_well", "drifts", "not_applicable"]
"""How the log rule did on a group of points (the core's
:class:`~service.core.analysis.extrapolation.LogRuleFit`; a test holds the two equal)."""


class ExtrapolationFactor(BaseModel):
    """The log rule's errors at one factor c, over the points logarithmic at T."""

    factor: float = Field(description="c: the prediction at c·T against the run to c·T.")
    compared: int = Field(description="Points whose run to c·T could be compared.")
    weight_error_median: float | None = Field(
        description="The median of ‖ŵ − w(c·T)‖₂/‖w(c·T)‖₂ (ŵ the log rule's weights)."
    )
    weight_error_max: float | None = Field(description="The largest relative weight error.")
    error_relative_median: float | None = Field(
        description="The median of |Ê − E(c·T)|/E(c·T) (Ê: E at ŵ; E → 0 on separable data, "
        "so the relative error is the one that says something)."
    )
    error_relative_max: float | None = Field(description="The largest relative error of E.")
    error_difference_max: float | None = Field(description="The largest |Ê − E(c·T)|.")


class ExtrapolationGroup(BaseModel):
    """How the log rule did on a group of points: one activation, or all of them."""

    points: int = Field(description="Points finished.")
    failed: int = Field(description="Points whose run to T was refused or failed.")
    applicable: int = Field(description="Points whose verdict at T is logarithmic.")
    verdicts: dict[Verdict, int] = Field(description="The verdicts at T, with their counts.")
    factors: list[ExtrapolationFactor] = Field(description="The errors at each factor, in order.")
    log_rule: LogRuleFit = Field(
        description="predicts_well: the median relative weight error is below 1% at every "
        "factor; drifts: it is not; not_applicable: no point was logarithmic at T (the "
        "verdicts say what the weights did instead)."
    )
    explanation: str = Field(description="Why, in one sentence, with the figures.")


class ExtrapolationSummary(BaseModel):
    """Where the log rule predicts the weights well, per activation and overall."""

    factors: list[float] = Field(description="The factors c, as the study runs them.")
    good_weight_error: float = Field(
        description="The median relative weight error under which the log rule predicts well."
    )
    activations: dict[ActivationName, ExtrapolationGroup] = Field(
        description="Per activation (the points' own, with the grid's values in place)."
    )
    overall: ExtrapolationGroup = Field(description="Every point together.")


class MethodOutcome(BaseModel):
    """How one method (gd, or anneal at one T₀) did over its K runs."""

    method: str = Field(description="'gd' or 'anneal T0=…'.")
    temperature: float = Field(description="T₀ (0 for gd).")
    runs: int
    successes: int = Field(description="Runs whose final E is within the success threshold.")
    success_rate: float
    interval: tuple[float, float] = Field(description="Wilson's 95% interval of the rate.")
    error_quantiles: list[float] = Field(description="The final E's 10%, 50% and 90% quantiles.")
    mean_steps_to_global: float | None = Field(
        description="Over successful runs, the mean first recorded t within the threshold."
    )
    verdicts: dict[str, int] = Field(description="The runs' verdicts, counted.")
    mean_seconds: float = Field(
        description="Mean wall time of a run, as measured (for information: the winner is "
        "decided on the runs alone)."
    )


class RelaxationSummary(BaseModel):
    """gd against annealing: which reaches the global minimum more often, per compute."""

    global_error: float | None = Field(
        description="E*: given, else the lowest of the gd runs' minima and every run's final "
        "E; null before any run."
    )
    threshold: float | None = Field(
        description="A run succeeds when its final E ≤ E* + ½·(E₂ − E*), E₂ the least minimum "
        "above E* (E* + 0.05·(1 + E*) when none is known)."
    )
    methods: list[MethodOutcome] = Field(description="gd first, then each T₀ ascending.")
    winner: str | None = Field(
        description="The best annealing temperature when its success rate's interval lies "
        "above gd's, gd when its interval lies above every temperature's (every method runs "
        "the same steps); null otherwise."
    )
    explanation: str


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
    summary: SweepSummary | CensusSummary | ExtrapolationSummary | RelaxationSummary = Field(
        description="A sweep's verdict counts, a census's minima, an extrapolation's errors of "
        "the log rule, or a relaxation's success rates."
    )
    detail: str | None = Field(default=None, description="Why a study failed; null otherwise.")


class ExtrapolationComparison(BaseModel):
    """The log rule's prediction at c·T against the run to c·T."""

    factor: float = Field(description="c.")
    t: float = Field(description="c·T as run (whole steps for gd and online).")
    predicted_weights: list[float] | None = Field(
        description="ŵ = w(T) + b·ln(t/T), b the fitted log_rate (null if not finite)."
    )
    predicted_error: float | None = Field(description="Ê, E at ŵ.")
    weights: list[float] | None = Field(
        description="The run's final weights, w(c·T) (null when the run is missing)."
    )
    error: float | None = Field(description="E(c·T).")
    weight_error: float | None = Field(description="‖ŵ − w(c·T)‖₂/‖w(c·T)‖₂.")
    error_difference: float | None = Field(description="|Ê − E(c·T)|.")
    error_relative: float | None = Field(
        description="|Ê − E(c·T)|/E(c·T); null when E(c·T) is 0 (underflowed) and Ê is not."
    )
    verdict: Verdict | None = Field(description="The run to c·T's own verdict.")
    stopped_by: StopReason | None
    failure: str | None = Field(
        default=None,
        description="Why the run to c·T is missing or could not be compared (then the "
        "errors are null).",
    )


class RowExtrapolation(BaseModel):
    """An extrapolation point's test of the log rule."""

    t: float = Field(description="T, the time the log rule extrapolates from.")
    applicable: bool = Field(description="The verdict at T is logarithmic.")
    reason: str | None = Field(description="Why the log rule does not apply; null when it does.")
    comparisons: list[ExtrapolationComparison] = Field(
        description="One per factor when the log rule applies; empty otherwise (the runs to "
        "c·T were not run)."
    )


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
    extrapolation: RowExtrapolation | None = Field(
        default=None,
        description="An extrapolation point: the log rule's predictions at c·T against the "
        "runs to c·T (the row's other figures are the run to T's); null in other studies.",
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
