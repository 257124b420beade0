"""POST /train: the request and the response."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, Any, Literal

from pydantic import BaseModel, Discriminator, Field, Tag, TypeAdapter

from service import limits
from service.schemas.common import Count, Dataset, Flag, Real, StrictModel
from service.schemas.separability import Theory
from service.vocabulary import (
    ActivationName,
    Heading,
    Method,
    Order,
    RecordWeights,
    StopReason,
    UndeterminedReason,
    Verdict,
    WarningCode,
)

PositiveReal = Annotated[Real, Field(gt=0)]


class Network(StrictModel):
    """The architecture: inputs, hidden layers of the given widths, one output unit.

    The activation θ is used in every layer; with ``dataset.bias`` every unit has a bias.
    Weights are flattened layer by layer from the input side, each layer's matrix row-major
    (the incoming weights of unit 0, then of unit 1, …) followed by its biases; a 2-2-1 net
    with biases has 9 weights, the output layer's 3 last. Without ``initial_weights`` the
    weights of a net with hidden layers are drawn uniformly from [−0.5, 0.5] with ``seed``,
    or with seed 0 when none is given (all-zero weights would be a saddle point).
    """

    hidden: list[Annotated[Count, Field(ge=1, le=limits.MAX_HIDDEN_WIDTH)]] = Field(
        default_factory=list,
        max_length=limits.MAX_HIDDEN_LAYERS,
        description="Hidden layer widths (at most 8 layers of at most 256 units); empty is the "
        "single-layer perceptron of the paper.",
        examples=[[], [2]],
    )


class Stop(StrictModel):
    """Early stops; each is off unless given."""

    weight_bound: PositiveReal | None = Field(
        default=None, description="Stop when max_j |x_j| reaches this bound."
    )
    step_tolerance: PositiveReal | None = Field(
        default=None, description="Stop when the last step ‖x_t − x_{t−1}‖₂ is below this."
    )
    error_tolerance: PositiveReal | None = Field(
        default=None, description="Stop when E(x) falls to this value or below."
    )
    on_classification: Flag = Field(
        default=False, description="Stop when every example is classified correctly."
    )


class Record(StrictModel):
    """What the history keeps, and how much of each weight the answer gives.

    The answer's arrays are bounded (``LEARNDYN_MAX_ANSWER_NUMBERS``, about 15 MB of JSON):
    each recorded time adds two numbers per weight with ``weights`` "all", two per layer with
    "norms" (422 naming ``record.points`` when over, with what would fit).
    """

    points: Annotated[Count, Field(ge=1, le=limits.MAX_RECORD_POINTS)] = Field(
        default=200,
        description="Log-spaced times recorded besides t = 0 (the last step always included).",
    )
    weights: RecordWeights = Field(
        default=RecordWeights.ALL,
        description="What the answer gives of each per-weight array. 'all': every weight. "
        "'norms': the Euclidean norm of each weight layer's part, layer ℓ being its slice "
        "[start, stop) of the flat weight vector (its matrix, then its biases; the "
        "perceptron is one layer, its bias included), in layer order: history.weights[k] = "
        "[‖x⁽¹⁾(t_k)‖₂, …, ‖x⁽ᴸ⁾(t_k)‖₂], history.t_delta[k] = [‖t_k·(x⁽ℓ⁾(t_{k+1}) − "
        "x⁽ℓ⁾(t_k))‖₂]_ℓ (constant in t when the layer grows like log t), "
        "divergence.log_rate = [‖b⁽ℓ⁾‖₂]_ℓ, the extrapolation's direction and weights "
        "likewise, and in each of layers its weights [[‖W_ℓ‖_F]], bias [‖c_ℓ‖₂], t_delta "
        "and log_rate as one-element lists of their norms. The final weights are always "
        "given in full, and the verdicts are the same either way (computed from every "
        "weight). Use 'norms' for large nets: every weight at every recorded time may not "
        "fit the answer's limit.",
        examples=["norms"],
    )


class TrainFields(StrictModel):
    """The fields of a /train request every method takes (see :data:`TrainRequest`)."""

    dataset: Dataset
    activation: ActivationName = Field(default=ActivationName.TANH, description="The sigmoid θ.")
    network: Network = Field(default_factory=Network)
    learning_rate: PositiveReal = Field(
        default=0.1,
        description="The step size η > 0; for method 'flow', the rate α of ẋ = −α·∇E(x).",
    )
    initial_weights: list[Real] | None = Field(
        default=None,
        description="Starting weights, m of them (bias last). Default: zeros, or drawn "
        "uniformly from [−0.5, 0.5] when a seed is given. With hidden layers: every weight "
        "in the layout of ``network``, drawn from seed 0 by default.",
    )
    seed: Annotated[Count, Field(ge=0, le=limits.MAX_SEED)] | None = Field(
        default=None, description="Seeds the initial weights (when none are given) and shuffling."
    )
    stop: Stop = Field(default_factory=Stop)
    record: Record = Field(default_factory=Record)
    extrapolate_to: list[PositiveReal] | None = Field(
        default=None,
        min_length=1,
        max_length=limits.MAX_EXTRAPOLATION_TIMES,
        description="Times at which the log rule predicts the weights (and E) when the verdict "
        "is logarithmic, for a perceptron or a net. Default: 10 and 1000 times the last t.",
        examples=[[1e9, 1e12]],
    )


Steps = Annotated[Count, Field(ge=1, le=limits.MAX_STEPS)]

STEPS_DESCRIPTION = "The step budget (passes for online); the work limit also applies."


class GdRequest(TrainFields):
    """Batch gradient descent, x ← x − η·∇E(x); t counts steps. ``method`` may be left out."""

    method: Literal[Method.GD] = Field(default=Method.GD, description="How the weights move.")
    steps: Steps = Field(default=10_000, description=STEPS_DESCRIPTION)

    model_config = {
        "json_schema_extra": {
            "examples": [
                {
                    "dataset": {"inputs": [[1.0]], "targets": [1]},
                    "activation": "tanh",
                    "learning_rate": 0.1,
                    "steps": 10000,
                    "record": {"points": 20},
                }
            ]
        }
    }


class OnlineRequest(TrainFields):
    """Online descent: one update per example; a step is one pass over the examples."""

    method: Literal[Method.ONLINE] = Field(description="How the weights move.")
    steps: Steps = Field(default=10_000, description=STEPS_DESCRIPTION)
    order: Order = Field(default=Order.GIVEN, description="The example order in each pass.")


class FlowRequest(TrainFields):
    """The gradient flow ẋ = −α·∇E(x), integrated to ``t_max`` (α is ``learning_rate``)."""

    method: Literal[Method.FLOW] = Field(description="How the weights move.")
    t_max: Annotated[Real, Field(ge=limits.MIN_T_MAX, le=limits.MAX_T_MAX)] = Field(
        description="The time to integrate ẋ = −α·∇E(x) to. Gradient descent with step η for "
        "k steps approximates the flow with α = 1 to t = η·k. t_max·α·‖B‖₂² (natural time "
        "units) must lie in [1e-9, 1e30].",
        examples=[1e12],
    )
    rtol: Annotated[Real, Field(ge=limits.MIN_FLOW_RTOL, lt=1)] | None = Field(
        default=None,
        description="The integrator's relative tolerance, in [100·ε, 1) (default 1e-8).",
    )
    atol: Annotated[Real, Field(ge=limits.MIN_FLOW_ATOL)] | None = Field(
        default=None, description="The integrator's absolute tolerance, ≥ 1e-150 (default 1e-12)."
    )


class AnnealRequest(TrainFields):
    """Langevin relaxation: x ← x − η·∇E(x) + √(2η·T_t)·ξ_t, ξ_t standard normal from ``seed``
    (0 when not given), cooled as T_t = T₀/ln(e + t/τ); t counts steps. T₀ = 0 is ``gd``."""

    method: Literal[Method.ANNEAL] = Field(description="How the weights move.")
    steps: Steps = Field(default=10_000, description=STEPS_DESCRIPTION)
    temperature: Annotated[Real, Field(ge=0, le=limits.MAX_TEMPERATURE)] = Field(
        description="T₀ ≥ 0, the starting temperature (in units of E); 0 is gd exactly.",
        examples=[0.5],
    )
    cooling_time: Annotated[Real, Field(gt=0, le=limits.MAX_COOLING_TIME)] = Field(
        default=1.0,
        description="τ > 0 of the schedule T_t = T₀/ln(e + t/τ): the steps over which the "
        "temperature starts to fall (a huge τ keeps it at T₀).",
    )


METHOD_TAG = "method="
"""Prefix of a variant's tag in :data:`TrainRequest`; pydantic puts the tag in an error's
location (``("method=flow", "t_max")``), which :func:`without_method_tag` takes out."""


def _method_of(value: Any) -> str | None:
    """The tag of a request's variant: its ``method``, ``gd`` when left out."""
    if isinstance(value, dict):
        method = value.get("method", Method.GD.value)
    else:  # a model, or not an object at all (which gd's validator then refuses as such)
        method = getattr(value, "method", Method.GD.value)
    return f"{METHOD_TAG}{method}" if isinstance(method, str) else None


METHOD_ERROR = "method_invalid"
"""The error type of a request whose ``method`` is none of the methods."""

METHOD_DISCRIMINATOR = Discriminator(
    _method_of,
    custom_error_type=METHOD_ERROR,
    custom_error_message="method must be one of " + ", ".join(f"'{m}'" for m in Method),
)
"""Tells the variants of a /train request apart by ``method`` (``gd`` when left out)."""
GD_TAG, ONLINE_TAG, FLOW_TAG, ANNEAL_TAG = (Tag(f"{METHOD_TAG}{m}") for m in Method)

TrainRequest = Annotated[
    Annotated[GdRequest, GD_TAG]
    | Annotated[OnlineRequest, ONLINE_TAG]
    | Annotated[FlowRequest, FLOW_TAG]
    | Annotated[AnnealRequest, ANNEAL_TAG],
    METHOD_DISCRIMINATOR,
]
"""A /train request: :class:`GdRequest`, :class:`OnlineRequest`, :class:`FlowRequest` or
:class:`AnnealRequest` by its ``method`` (``gd`` when left out). Each variant holds exactly the
fields its method takes, so the schema states what the service accepts: ``order`` is
online's, ``t_max``, ``rtol`` and ``atol`` are the flow's, ``temperature`` and
``cooling_time`` anneal's, and the flow has no ``steps``."""

TRAIN_REQUEST: TypeAdapter[TrainRequest] = TypeAdapter(TrainRequest)
"""Validates a /train request given as JSON or Python data."""


def method_fields() -> dict[str, list[str]]:
    """Each field that only some methods take → those methods."""
    variants: dict[Method, type[TrainFields]] = {
        Method.GD: GdRequest,
        Method.ONLINE: OnlineRequest,
        Method.FLOW: FlowRequest,
        Method.ANNEAL: AnnealRequest,
    }
    common = set(TrainFields.model_fields) | {"method"}
    out: dict[str, list[str]] = {}
    for method, variant in variants.items():
        for name in variant.model_fields:
            if name not in common:
                out.setdefault(name, []).append(method.value)
    return out


KIND_TAG = "kind="
"""Prefix of a variant's tag in a study request (``kind=census``; see
:data:`service.schemas.studies.StudyRequest`)."""


def without_method_tag(loc: Sequence[str | int]) -> list[str | int]:
    """An error location without the unions' variant tags (see :data:`METHOD_TAG` and
    :data:`KIND_TAG`)."""
    return [p for p in loc if not (isinstance(p, str) and p.startswith((METHOD_TAG, KIND_TAG)))]


class History(BaseModel):
    """Samples at t = 0 and log-spaced times up to the last step; arrays align with ``t``."""

    t: list[float] = Field(
        description="Step counts (gd, online) or times (flow) at which samples were taken."
    )
    error: list[float] = Field(description="E(x_t).")
    weights: list[list[float]] = Field(
        description="x_t; with record.weights 'norms', [‖x⁽¹⁾_t‖₂, …, ‖x⁽ᴸ⁾_t‖₂], the norm of "
        "each layer's weights (see record.weights)."
    )
    t_delta: list[list[float] | None] = Field(
        description="t·(x_{t+1} − x_t), the paper's Figure 5 statistic (flow: t·dx/dt, its "
        "continuous form); with record.weights 'norms', the norm of each layer's part of it; "
        "null where the next iterate was not finite. anneal: the drift t·(−η·∇E(x_t)), the "
        "noise left out."
    )
    temperature: list[float] | None = Field(
        default=None,
        description="anneal: the temperature T_t = T₀/ln(e + t/τ) at each t; null otherwise.",
    )


class Undetermined(BaseModel):
    """Why the verdict is ``undetermined``."""

    reason: UndeterminedReason = Field(
        description="too_short: fewer than 3 decades of t/τ; too_few_points: fewer than 6 "
        "recorded times in the fit window; regime_change: the rate has not settled (two "
        "regimes in the window, or a transient)."
    )
    heading: Heading | None = Field(
        default=None,
        description="regime_change: which way the rate t·Δw heads over the window's last half "
        "(the sign of late_rate_exponent); null otherwise.",
    )
    steps_to_decide: float | None = Field(
        default=None,
        description="regime_change: about how many more steps (flow: units of time) would put "
        "the whole fit window after the change, so that a longer run likely decides; null "
        "otherwise.",
    )


class Stall(BaseModel):
    """Where the weights stalled: the exact gradient, decided in log space."""

    gradient_log10: float | None = Field(
        description="log10 ‖∇E‖ at the final weights, computed from the stable complements in "
        "log space (the float gradient underflows there); null when even that is beyond "
        "float64."
    )
    lemma_applies: bool = Field(
        description="Sontag's Lemma holds for the data: E has no critical point anywhere, and "
        "the exact weights diverge."
    )


class Divergence(BaseModel):
    """The verdict on the weights' fate."""

    verdict: Verdict
    log_rate: list[float] | None = Field(
        default=None,
        description="b_j in x_j ≈ a_j + b_j·log t, per weight; with record.weights 'norms', "
        "‖b⁽ℓ⁾‖₂ per layer (‖x⁽ℓ⁾‖ ≈ ‖b⁽ℓ⁾‖·log t as t grows).",
    )
    power: float | None = Field(default=None, description="p in ‖x‖ ~ t^p.")
    apparent_convergence: bool = Field(
        description="The last step is below the step tolerance while the verdict is a "
        "divergence: a practitioner's stopping rule would be fooled (the paper's §3)."
    )
    window: list[float] | None = Field(default=None, description="[t_start, t_end] of the fit.")
    explanation: str
    goodness: float | None = Field(
        default=None,
        description="R² of the model the verdict rests on: w ≈ a + b·log t (logarithmic), "
        "log ‖w‖ ≈ c + p·log t (power_law, linear), log(t·Δw) against log log t "
        "(sub_logarithmic); null otherwise.",
    )
    rate_exponent: float | None = Field(
        default=None,
        description="γ in ‖t·Δw‖ ~ (log t)^γ fitted over the whole window: about 0 for "
        "logarithmic growth, between −1 and 0 for sub-logarithmic, below −1 for convergence; "
        "null when the rate was not fitted (weights that stopped, verdicts given before a fit).",
    )
    late_rate_exponent: float | None = Field(
        default=None,
        description="The same γ over the last half of the window (in log t), which decides "
        "between logarithmic and sub-logarithmic; null when the rate was not fitted.",
    )
    undetermined: Undetermined | None = Field(
        default=None, description="Why, when the verdict is undetermined; null otherwise."
    )
    stall: Stall | None = Field(
        default=None,
        description="The exact gradient where the weights stalled, when the verdict is "
        "stalled; null otherwise.",
    )


class Extrapolation(BaseModel):
    """The log rule (paper §3): w(T) = w(t_end) + b·log(T/t_end) at later times T."""

    direction: list[float] = Field(
        description="b/‖b‖, the direction the weights grow in; with record.weights 'norms', "
        "the norm of each layer's part of it (their squares sum to 1)."
    )
    t: list[float] = Field(description="The times T of the predictions.")
    weights: list[list[float]] = Field(
        description="The predicted weights at each T; with record.weights 'norms', each "
        "layer's norm."
    )
    error: list[float] = Field(description="E at the predicted weights.")


class Layer(BaseModel):
    """One weight layer of a net with hidden layers, and its share of the run."""

    index: int = Field(description="0 for the layer fed by the inputs; the last is the output.")
    inputs: int = Field(description="Units feeding the layer (m_{ℓ−1}).")
    units: int = Field(description="Units of the layer (m_ℓ; 1 for the output layer).")
    start: int = Field(description="Offset of the layer's first weight in the flat vector.")
    stop: int = Field(description="One past the offset of its last weight.")
    weights: list[list[float]] = Field(
        description="The final matrix W_ℓ, one row per unit; with record.weights 'norms', "
        "[[‖W_ℓ‖_F]] (every weight is in the answer's weights, at [start, stop))."
    )
    bias: list[float] | None = Field(
        description="The final biases, when dataset.bias; with record.weights 'norms', [‖c_ℓ‖₂]."
    )
    t_delta: list[float] | None = Field(
        description="The layer's final t·(w(t+1) − w(t)) (flat, the layer's order); with "
        "record.weights 'norms', [t_delta_norm]; null when the next iterate was not finite."
    )
    t_delta_norm: float | None = Field(description="‖t_delta‖₂.")
    t_delta_drift: float | None = Field(
        description="max over recorded t in [t_end/10, t_end] of ‖t·Δw(t) − t·Δw(t_end)‖₂ / "
        "‖t·Δw(t_end)‖₂: how far the paper's Figure 5 statistic moved over the last decade "
        "(small: the layer grows like log t; lower layers drift while the output settles)."
    )
    log_rate: list[float] | None = Field(
        default=None,
        description="The divergence analysis' log_rate for this layer's weights; with "
        "record.weights 'norms', [‖log_rate‖₂].",
    )
    verdict: Verdict | None = Field(
        default=None,
        description="The divergence verdict on this layer's weights alone; null while the "
        "divergence analysis is not available.",
    )


class RunWarning(BaseModel):
    """Something wrong with the run that the verdict alone does not say."""

    code: WarningCode = Field(
        description="error_rose: E rose between recorded times (gd, flow): the learning rate "
        "is too large for the curvature. saturated: most examples end at θ ≈ −1 where +1 is "
        "wanted, with gradients that have all but vanished."
    )
    message: str = Field(description="What happened, with the figures, and what to do.")


class TrainResponse(BaseModel):
    """The end of the run, its history and the verdict."""

    weights: list[float] = Field(description="Final weights x_t (bias last).")
    error: float = Field(description="E(x_t), without a factor 1/2.")
    steps: int = Field(
        description="The final t (steps, or passes for online); for flow, the integrator's "
        "right-hand side evaluations (the time reached is t_final)."
    )
    stopped_by: StopReason
    stop_explanation: str = Field(description="One sentence on why the run ended.")
    accuracy: float = Field(description="Fraction of examples classified correctly.")
    last_step: float | None = Field(
        description="‖x_t − x_{t−1}‖₂ (flow: ‖dx/dt‖₂ at the end, the step of gd with η = α); "
        "null if no step was taken (or its length exceeds float64)."
    )
    gradient_norm: float = Field(description="‖∇E(x_t)‖₂ at the final weights.")
    history: History
    divergence: Divergence
    t_final: float = Field(
        description="The final t: equal to steps for gd and online, the time reached for "
        "flow (where steps counts the integrator's right-hand side evaluations)."
    )
    extrapolation: Extrapolation | None = Field(
        default=None,
        description="The log rule's predictions; null unless the verdict is logarithmic (for a "
        "net: every weight along its fitted log_rate, E the net's own).",
    )
    theory: Theory | None = Field(
        default=None,
        description="The data's separability, Sontag's Lemma, and the log_rate predicted by "
        "the implicit bias of gradient descent (ŵ/k), compared with the measured one.",
    )
    warnings: list[RunWarning] = Field(
        default_factory=list,
        description="What is wrong with the run beyond its verdict; empty when nothing is.",
    )
    layers: list[Layer] | None = Field(
        default=None,
        description="Per weight layer, for nets with hidden layers (null for the perceptron).",
    )
    initial_seed: int | None = Field(
        default=None,
        description="The seed the initial weights were drawn from, for nets with hidden "
        "layers when initial_weights were not given.",
    )
