"""The named choices shared by the core, the schemas and the client: plain string enums.

This module imports nothing but the standard library, so that ``service.core`` (numpy, no
pydantic) and ``service.schemas`` (pydantic, no numpy) can share one definition of each.
"""

from __future__ import annotations

from enum import StrEnum


class ActivationName(StrEnum):
    """The sigmoid θ. Tails of 1 − θ(z) as z → ∞: tanh 2e^(−2z), logistic 2e^(−z),
    arctan (2/π)/z, erf e^(−z²)/(z√π)."""

    TANH = "tanh"
    LOGISTIC = "logistic"
    ARCTAN = "arctan"
    ERF = "erf"


class Method(StrEnum):
    """``gd``: batch gradient descent, t counts steps. ``online``: per-example updates, one
    step is one pass over the examples. ``flow``: the gradient flow ẋ = −α·∇E(x) with α the
    learning rate, t continuous time. ``anneal``: Langevin relaxation, gd plus noise of a
    temperature cooled logarithmically, t counts steps."""

    GD = "gd"
    ONLINE = "online"
    FLOW = "flow"
    ANNEAL = "anneal"


class Order(StrEnum):
    """The order of examples within an online pass."""

    GIVEN = "given"
    SHUFFLED = "shuffled"


class StopReason(StrEnum):
    """Why a run ended. ``t_max``: the flow reached its horizon (descent's ``steps``)."""

    STEPS = "steps"
    T_MAX = "t_max"
    WEIGHT_BOUND = "weight_bound"
    STEP_TOLERANCE = "step_tolerance"
    ERROR_TOLERANCE = "error_tolerance"
    CLASSIFIED = "classified"
    NON_FINITE = "non_finite"


class Verdict(StrEnum):
    """The weights' fate, judged from the tail of the recorded history."""

    CONVERGING = "converging"
    LOGARITHMIC = "logarithmic"
    SUB_LOGARITHMIC = "sub_logarithmic"
    POWER_LAW = "power_law"
    LINEAR = "linear"
    UNSTABLE = "unstable"
    STALLED = "stalled"
    UNDETERMINED = "undetermined"


class RecordWeights(StrEnum):
    """What a /train answer gives of each per-weight array (``record.weights``).

    ``all``: every weight. ``norms``: the Euclidean norm of each weight layer's part, in
    layer order from the input side — layer ℓ is its slice ``[start, stop)`` of the flat
    weight vector (its matrix, then its biases; the perceptron is one layer, bias included).
    So ``history.weights[k] = [‖x⁽¹⁾(t_k)‖₂, …, ‖x⁽ᴸ⁾(t_k)‖₂]``, ``history.t_delta[k]`` the
    norms of the layers' parts of ``t_k·(x(t_{k+1}) − x(t_k))``, ``divergence.log_rate`` the
    norms ``‖b⁽ℓ⁾‖₂`` of the fitted rates (``‖x⁽ℓ⁾(t)‖ ≈ ‖b⁽ℓ⁾‖·log t`` as t grows), the
    extrapolation's direction and predicted weights likewise, and each array of a layer in
    ``layers`` its one norm. The final ``weights`` are always given in full. The verdicts
    are the same either way: they are computed from every weight.
    """

    ALL = "all"
    NORMS = "norms"


class UndeterminedReason(StrEnum):
    """Why the verdict is ``undetermined``: ``too_short`` (fewer than three decades of t/τ),
    ``too_few_points`` (fewer than six recorded times in the fit window), ``regime_change``
    (the rate has not settled: the window holds two regimes, or a transient)."""

    TOO_SHORT = "too_short"
    TOO_FEW_POINTS = "too_few_points"
    REGIME_CHANGE = "regime_change"


class Heading(StrEnum):
    """Which way the rate t·Δw is heading over the last half of the window."""

    RISING = "rising"
    FALLING = "falling"


class WarningCode(StrEnum):
    """Something wrong with a run that its verdict alone does not say: ``error_rose`` (gd or
    flow raised E between recorded times: the learning rate is too large for the curvature),
    ``saturated`` (most examples sit where θ ≈ ∓1 with the wrong sign, so their gradient has
    all but vanished)."""

    ERROR_ROSE = "error_rose"
    SATURATED = "saturated"


class CriticalKind(StrEnum):
    """A finite critical point of a one-weight error E(x): E' changes sign from − to +
    (``min``), from + to − (``max``), or vanishes without changing sign (``degenerate``)."""

    MIN = "min"
    MAX = "max"
    DEGENERATE = "degenerate"


class Location(StrEnum):
    """Where a local minimum of E lies: at a finite x, or as x → +∞ / −∞."""

    FINITE = "finite"
    PLUS_INF = "+inf"
    MINUS_INF = "-inf"


class CertificateKind(StrEnum):
    """The theorem of the alternative a separability certificate comes from (with
    B = diag(y)·A): ``gordan`` λ ≥ 0, Σλ = 1, Bᵀλ = 0 (no v has B·v > 0); ``stiemke`` the same
    with every λ_i > 0 (no v has B·v ≥ 0 with B·v ≠ 0)."""

    GORDAN = "gordan"
    STIEMKE = "stiemke"


class ImageFormat(StrEnum):
    """The encoding of a figure: ``svg`` (image/svg+xml, text as paths, no fonts needed to
    view it) or ``png`` (image/png)."""

    SVG = "svg"
    PNG = "png"


class StudyKind(StrEnum):
    """What a study runs: ``sweep``, /train at every point of a grid of its fields;
    ``census``, /train from K starts spread over a box, each run's endpoint identified and
    the distinct minima counted; ``extrapolation``, the log rule's prediction at c·T against
    the run to c·T at every point of a grid; ``relaxation``, gd and annealing at one or more
    temperatures from the same K starts with the same budget, compared."""

    SWEEP = "sweep"
    CENSUS = "census"
    EXTRAPOLATION = "extrapolation"
    RELAXATION = "relaxation"


class EndpointLocation(StrEnum):
    """Where a census run ended: at a ``finite`` point, at ``infinity`` (the weights
    diverge), or ``unresolved`` (its verdict says neither)."""

    FINITE = "finite"
    INFINITY = "infinity"
    UNRESOLVED = "unresolved"


class StudyStatus(StrEnum):
    """Where a study stands: ``queued`` (stored, not started), ``running``, ``done`` (every
    point finished), ``failed`` (the study itself broke; its detail says why) or
    ``cancelled`` (stopped by DELETE; the rows finished before stay)."""

    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"
    CANCELLED = "cancelled"
