"""A census of the minima of E: what K runs from K starts found, how often, how sure, and how
many minima were probably never seen (the paper's first question for further work).

Each run is first *identified* (:func:`identify`, from its /train report):

* a ``converging`` verdict is a **finite** endpoint, the run's final weights x_T;
* a diverging verdict (``logarithmic``, ``sub_logarithmic``, ``power_law``, ``linear``) is a
  minimum **at infinity**: b is the run's rate per unit of log t at its end, the last
  recorded ``t·(x(t+1) − x(t))`` (or ``t·ẋ``), with the entries of the weights that converge
  set to 0 (those whose share of b/‖b‖ is at most :data:`DIVERGING`: a converging weight's
  t·Δw tends to 0); the direction d = b/‖b‖, the *finite part* f = x_T − (x_T·d)·d (the
  limit of the weights across d: the weights that do not diverge, and the offset of those
  that do, converge), and E's limit, estimated as E at x_T + :data:`FAR_LOG_TIME`·b — E
  along the log rule that many
  e-folds of t later: E's limit to float64's resolution for the exponential tails (tanh,
  logistic, erf), within O(1/(100·‖b‖)) for arctan's power law;
* any other verdict (``unstable``, ``stalled``, ``undetermined``) or a failed run is
  **unresolved** and counted apart: the census says how many runs it could not identify.

Then :func:`summarize` clusters the identified endpoints into distinct minima:

* finite endpoints within :data:`FINITE_TOLERANCE`·(1 + ‖x‖) of a minimum's representative
  (Euclidean) are the same minimum; each representative is then polished by Newton's method
  on E (:func:`polish`) and must then be a critical point (‖∇E‖ ≤ :data:`GRADIENT_TOLERANCE`)
  whose Hessian is not flat (some eigenvalue above :data:`EIGEN_TOLERANCE`: a run that float64
  stopped where every unit saturated is on its way to infinity; otherwise its runs count as
  unresolved, with the saddles), and its gradient norm and Hessian eigenvalues are reported:
  all
  eigenvalues above :data:`EIGEN_TOLERANCE`·max(1, λ_max) is a minimum, none below −that a
  *degenerate* one (positive semidefinite), a negative one a saddle (counted apart: descent
  reaches a saddle only from a set of starts of measure zero);
* endpoints at infinity are the same minimum when they fit the data alike: their limit
  outputs o_i = θ(z_i) at the far point (z_i the margin of example i; o_i = 1 is fitted
  exactly, −1 as wrong as can be) agree within :data:`OUTPUT_TOLERANCE` for every example.
  A minimum at infinity is a region of directions, not one: XOR's zero-error weights on a
  2-2-1 net fill an open cone of them, and each run finds its own. What is one minimum is its
  limit of E term by term, and the regions sharing it are the same minimum. (The direction
  and finite part reported are those of the first run that found it.) A net's symmetric
  copies (below) give the same outputs, so they are merged by construction;
* for a net, the symmetric copies of a point — its hidden units permuted within each layer,
  and each hidden unit's incoming weights, bias and outgoing weights negated (every
  activation here is odd, so that leaves the net's output unchanged) — are the same minimum:
  a finite endpoint joins a minimum when one of its images is close to the representative,
  and the answer reports how many distinct copies the representative has
  (``symmetric_copies``; at infinity, the copies of its direction).

The counts that say how complete the census is: ``hits`` per minimum and its
``basin_fraction`` (hits over the K starts), ``distinct`` minima, ``singletons`` f1 (hit
once) and ``doubletons`` f2, ``estimated_total`` (Chao1: distinct + f1²/(2·f2), or
distinct + f1·(f1 − 1)/2 when f2 = 0) with Chao's (1987) log-normal 95% interval, and
``coverage`` (Good–Turing: 1 − f1/N, N the identified runs: the chance that one more start
lands in a minimum already seen).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from service.core.analysis.divergence import DivergenceReport
from service.core.engine.recorder import Trajectory
from service.core.model.activations import Array
from service.core.model.models import (
    Model,
    model_error,
    model_error_and_gradient,
    model_margins,
)
from service.core.model.network import NetworkProblem
from service.vocabulary import EndpointLocation, Verdict

FAR_LOG_TIME = 100.0
"""How many e-folds of t past a diverging run's end E's limit is read (see the docstring)."""
FINITE_TOLERANCE = 1e-3
"""Finite endpoints closer than this times (1 + ‖x‖) are one minimum."""
OUTPUT_TOLERANCE = 1e-2
"""Minima at infinity whose limit outputs differ by less than this on every example are one
(the outputs of an exponential tail are exact to rounding at the far point; arctan's
approach ±1 like 2/(π·z), within about 1e-3 of each other there)."""
DIRECTION_COPIES = 0.1
"""Two symmetric images of a direction closer than this (Euclidean, unit vectors) are one."""
EIGEN_TOLERANCE = 1e-7
"""Hessian eigenvalues within ±this times max(1, λ_max) of 0 count as 0."""
DIVERGING = 1e-3
"""A weight diverges when its part of d exceeds this (d a unit vector): the others converge."""
MAX_IMAGES = 40_320
"""At most this many symmetric images of a net's point are tried (8! — every hidden layer of
a net within the limits on weights has far fewer); beyond, symmetric copies are not merged
and the answer says so."""
GRADIENT_TOLERANCE = 1e-8
"""A finite endpoint is a critical point when ‖∇E‖₂ is at most this after the Newton polish
(a true minimum polishes to rounding, ~1e-15; a run still on its way to infinity that
float64 saw stop keeps a gradient of 1e-7 or more): otherwise it is not a minimum."""
NEWTON_STEPS = 50
"""At most this many Newton steps polish a finite minimum."""


@dataclass(frozen=True, slots=True)
class Endpoint:
    """What one run found (see the module docstring): ``weights`` x_T (finite) or the finite
    part f (infinity); ``direction`` d and the limit ``outputs`` θ(z_i) (infinity only);
    ``error`` E(x_T) or E's limit."""

    location: EndpointLocation
    weights: Array | None = None
    direction: Array | None = None
    error: float | None = None
    outputs: Array | None = None
    why: str | None = None
    """Why an unresolved run could not be identified (its verdict, or its failure)."""


@dataclass(frozen=True, slots=True)
class Minimum:
    """One distinct minimum the census found.

    Finite: ``weights`` (polished), ``gradient_norm`` ‖∇E‖₂ there and the Hessian's
    ``hessian_eigenvalues`` (ascending), ``degenerate`` when the smallest is 0 to tolerance.
    At infinity: ``direction`` d and ``finite_part`` f (see the module docstring), with
    ``diverging`` the indices of the weights that diverge, and the limit ``outputs``
    θ(z_i) per example. ``error`` is E there (its limit at
    infinity). ``hits`` runs ended in it, ``basin_fraction`` = hits/K over all K starts;
    ``symmetric_copies`` is how many distinct symmetric images the point has (1 for a
    perceptron), ``members`` the indices of the runs that found it.
    """

    location: EndpointLocation
    error: float
    hits: int
    basin_fraction: float
    members: list[int]
    weights: Array | None = None
    gradient_norm: float | None = None
    hessian_eigenvalues: Array | None = None
    degenerate: bool | None = None
    direction: Array | None = None
    finite_part: Array | None = None
    diverging: list[int] | None = None
    outputs: Array | None = None
    symmetric_copies: int = 1


@dataclass(frozen=True, slots=True)
class Census:
    """A census's answer (see the module docstring); ``minima`` sorted by error, lowest
    first, so the global minimum found is ``minima[0]``."""

    minima: list[Minimum]
    starts: int
    identified: int
    unresolved: int
    saddles: list[Minimum]
    distinct: int
    singletons: int
    doubletons: int
    estimated_total: float
    estimated_interval: tuple[float, float]
    coverage: float
    symmetries_merged: bool
    unresolved_reasons: dict[str, int] = field(default_factory=dict)


DIVERGING_VERDICTS = frozenset(
    {Verdict.LOGARITHMIC, Verdict.SUB_LOGARITHMIC, Verdict.POWER_LAW, Verdict.LINEAR}
)


def identify(
    model: Model,
    weights: Array,
    error: float,
    divergence: DivergenceReport,
    trajectory: Trajectory,
) -> Endpoint:
    """The endpoint of one run (see the module docstring), from its final ``weights`` and
    ``error``, its verdict and its recorded trajectory."""
    verdict = divergence.verdict
    if verdict is Verdict.CONVERGING:
        return Endpoint(
            EndpointLocation.FINITE, weights=np.array(weights, dtype=np.float64), error=error
        )
    if verdict not in DIVERGING_VERDICTS:
        return Endpoint(EndpointLocation.UNRESOLVED, why=f"verdict {verdict.value}")
    # the last recorded rate, not the log rule's fit over the window: a weight that converges
    # has t·Δw → 0 by the end, while over the window its transient still shows
    rate = trajectory.t_delta[-1] if len(trajectory.t_delta) else divergence.log_rate
    if rate is None or not (np.all(np.isfinite(rate)) and np.any(rate)):
        return Endpoint(
            EndpointLocation.UNRESOLVED, why=f"verdict {verdict.value} without a direction"
        )
    rate = np.array(rate, dtype=np.float64)
    d = rate / float(np.linalg.norm(rate))
    converging = np.abs(d) <= DIVERGING
    d[converging] = 0.0
    rate[converging] = 0.0
    d /= float(np.linalg.norm(d))
    x = np.asarray(weights, dtype=np.float64)
    finite_part = x - float(x @ d) * d
    far_point = x + FAR_LOG_TIME * rate
    far = model_error(model, far_point)
    if not math.isfinite(far):
        return Endpoint(EndpointLocation.UNRESOLVED, why="E's limit overflows")
    outputs = np.asarray(model.activation.theta(model_margins(model, far_point)), dtype=np.float64)
    return Endpoint(
        EndpointLocation.INFINITY, weights=finite_part, direction=d, error=far, outputs=outputs
    )


def summarize(
    model: Model, endpoints: Sequence[tuple[int, Endpoint | None]], starts: int
) -> Census:
    """Cluster the runs' endpoints into distinct minima and count them (see the module
    docstring): ``endpoints`` are (the run's index among the starts, its endpoint or None for
    a run that failed), for the runs finished so far, in any order; ``starts`` is K, the runs
    asked for. A minimum's ``members`` are those indices."""
    group = symmetry_group(model)
    merged = group is not None
    images = group or [_identity]
    finite: list[_Cluster] = []
    infinite: list[_Cluster] = []
    reasons: dict[str, int] = {}
    for index, end in sorted(endpoints, key=lambda pair: pair[0]):
        if end is None or end.location is EndpointLocation.UNRESOLVED:
            why = "failed" if end is None else (end.why or "unresolved")
            reasons[why] = reasons.get(why, 0) + 1
            continue
        clusters = finite if end.location is EndpointLocation.FINITE else infinite
        for cluster in clusters:
            if cluster.matches(end):
                cluster.members.append(index)
                break
        else:
            clusters.append(_Cluster.of(end, images))
            clusters[-1].members.append(index)
    minima: list[Minimum] = []
    saddles: list[Minimum] = []
    for cluster in finite:
        point, is_minimum = _finite_minimum(model, cluster, starts, images)
        (minima if is_minimum else saddles).append(point)
    minima.extend(_infinite_minimum(cluster, starts, images) for cluster in infinite)
    minima.sort(key=lambda m: (m.error, -m.hits))
    identified = sum(m.hits for m in minima)
    f1 = sum(1 for m in minima if m.hits == 1)
    f2 = sum(1 for m in minima if m.hits == 2)
    total, interval = chao1(len(minima), f1, f2)
    return Census(
        minima=minima,
        starts=starts,
        identified=identified,
        unresolved=sum(reasons.values()) + sum(s.hits for s in saddles),
        saddles=saddles,
        distinct=len(minima),
        singletons=f1,
        doubletons=f2,
        estimated_total=total,
        estimated_interval=interval,
        coverage=good_turing(f1, identified),
        symmetries_merged=merged,
        unresolved_reasons=reasons,
    )


def chao1(distinct: int, f1: int, f2: int) -> tuple[float, tuple[float, float]]:
    """Chao1's estimate of the number of classes and its 95% interval (Chao 1987; the
    log-normal interval, as EstimateS computes it): S = distinct + f1²/(2·f2), or
    distinct + f1·(f1 − 1)/2 when f2 = 0 (the bias-corrected form); the interval
    [distinct + T/C, distinct + T·C], T = S − distinct, C = exp(1.96·√ln(1 + var/T²)).
    With no singleton, S = distinct and the interval is [distinct, distinct]."""
    if f1 == 0:
        return float(distinct), (float(distinct), float(distinct))
    if f2 > 0:
        r = f1 / f2
        unseen = f1 * f1 / (2.0 * f2)
        var = f2 * (r**2 / 2.0 + r**3 + r**4 / 4.0)
    else:
        unseen = f1 * (f1 - 1) / 2.0
        var = f1 * (f1 - 1) / 2.0 + f1 * (2 * f1 - 1) ** 2 / 4.0 - f1**4 / (4.0 * unseen or 1.0)
        var = max(var, 0.0)
    total = distinct + unseen
    if unseen <= 0.0 or var <= 0.0:
        return total, (total, total)
    c = math.exp(1.96 * math.sqrt(math.log(1.0 + var / unseen**2)))
    return total, (distinct + unseen / c, distinct + unseen * c)


def good_turing(f1: int, n: int) -> float:
    """Good–Turing sample coverage 1 − f1/n (0 runs: 0)."""
    return 0.0 if n == 0 else 1.0 - f1 / n


# --- clusters ------------------------------------------------------------------------------


Image = Callable[[Array], Array]


def _identity(x: Array) -> Array:
    return x


@dataclass
class _Cluster:
    """The runs that found one minimum: the first one's endpoint, and (finite) the symmetric
    images of its weights as rows of ``images``."""

    first: Endpoint
    members: list[int]
    images: Array | None

    @classmethod
    def of(cls, end: Endpoint, group: Sequence[Image]) -> _Cluster:
        """A cluster of one run (``members`` its index, set by the caller)."""
        images = None
        if end.weights is not None and end.location is EndpointLocation.FINITE:
            images = np.array([g(end.weights) for g in group])
        return cls(end, [], images)

    def matches(self, end: Endpoint) -> bool:
        """Whether ``end`` is this cluster's first endpoint or a symmetric image of it (the
        symmetries are isometries forming a group: x is within r of an image of the first
        point exactly when an image of x is within r of the first point)."""
        rep = self.first
        if end.location is EndpointLocation.FINITE:
            assert end.weights is not None and rep.weights is not None and self.images is not None
            scale = FINITE_TOLERANCE * (1.0 + float(np.linalg.norm(rep.weights)))
            return float(np.min(np.linalg.norm(self.images - end.weights, axis=1))) <= scale
        assert end.outputs is not None and rep.outputs is not None
        return float(np.max(np.abs(end.outputs - rep.outputs))) <= OUTPUT_TOLERANCE


def _copies(x: Array, images: Sequence[Image], scale: float) -> int:
    """How many distinct images x has (two within ``scale`` are one)."""
    seen: list[Array] = []
    for g in images:
        y = g(x)
        if all(float(np.linalg.norm(y - s)) > scale for s in seen):
            seen.append(y)
    return len(seen)


def _finite_minimum(
    model: Model, cluster: _Cluster, starts: int, images: Sequence[Image]
) -> tuple[Minimum, bool]:
    """The cluster's polished point, and whether it is a minimum: not when it is a saddle,
    not a critical point (its gradient above :data:`GRADIENT_TOLERANCE` after the polish) or
    flat (every Hessian eigenvalue within :data:`EIGEN_TOLERANCE` of 0: the units saturated,
    float64 cannot tell the point from the limit at infinity it is on its way to)."""
    assert cluster.first.weights is not None
    x = polish(model, cluster.first.weights)
    error, gradient = model_error_and_gradient(model, x)
    eigenvalues = np.asarray(np.linalg.eigvalsh(hessian(model, x)), dtype=np.float64)
    floor = EIGEN_TOLERANCE * max(1.0, float(eigenvalues[-1]))
    gradient_norm = float(np.linalg.norm(gradient))
    is_minimum = (
        eigenvalues[0] >= -floor
        and gradient_norm <= GRADIENT_TOLERANCE
        and eigenvalues[-1] > EIGEN_TOLERANCE  # not flat to second order (saturated)
    )
    scale = FINITE_TOLERANCE * (1.0 + float(np.linalg.norm(x)))
    point = Minimum(
        location=EndpointLocation.FINITE,
        error=error,
        hits=len(cluster.members),
        basin_fraction=len(cluster.members) / starts,
        members=cluster.members,
        weights=x,
        gradient_norm=gradient_norm,
        hessian_eigenvalues=eigenvalues,
        degenerate=bool(is_minimum and eigenvalues[0] <= floor),
        symmetric_copies=_copies(x, images, scale) if is_minimum else 1,
    )
    return point, is_minimum


def _infinite_minimum(cluster: _Cluster, starts: int, images: Sequence[Image]) -> Minimum:
    rep = cluster.first
    assert rep.direction is not None and rep.weights is not None and rep.error is not None
    return Minimum(
        location=EndpointLocation.INFINITY,
        error=rep.error,
        hits=len(cluster.members),
        basin_fraction=len(cluster.members) / starts,
        members=cluster.members,
        direction=rep.direction,
        finite_part=rep.weights,
        diverging=[int(j) for j in np.flatnonzero(rep.direction)],
        outputs=rep.outputs,
        symmetric_copies=_copies(rep.direction, images, DIRECTION_COPIES),
    )


# --- local analysis of a finite minimum ----------------------------------------------------


def hessian(model: Model, x: Array) -> Array:
    """∇²E(x) by central differences of the exact gradient, symmetrised: column j is
    (∇E(x + h_j·e_j) − ∇E(x − h_j·e_j))/(2·h_j), h_j = 1e-5·max(1, |x_j|) (error
    O(h²·∇⁴E) + O(ε·|∇E|/h), about 1e-9 relative)."""
    m = x.size
    H = np.empty((m, m))
    for j in range(m):
        h = 1e-5 * max(1.0, abs(float(x[j])))
        up, down = x.copy(), x.copy()
        up[j] += h
        down[j] -= h
        H[:, j] = (
            model_error_and_gradient(model, up)[1] - model_error_and_gradient(model, down)[1]
        ) / (2 * h)
    return np.asarray(0.5 * (H + H.T), dtype=np.float64)


def polish(model: Model, x: Array) -> Array:
    """x refined by Newton's method on ∇E = 0 (at most :data:`NEWTON_STEPS` steps, each kept
    only if it lowers ‖∇E‖): a descent run's endpoint is within its step tolerance of the
    minimum; Newton's quadratic convergence takes it to rounding."""
    x = np.array(x, dtype=np.float64)
    g = model_error_and_gradient(model, x)[1]
    for _ in range(NEWTON_STEPS):
        norm = float(np.linalg.norm(g))
        if norm == 0.0:
            break
        try:
            step = np.linalg.solve(hessian(model, x), g)
        except np.linalg.LinAlgError:
            break
        trial = x - step
        g_trial = model_error_and_gradient(model, trial)[1]
        if not np.all(np.isfinite(g_trial)) or float(np.linalg.norm(g_trial)) >= norm:
            break
        x, g = trial, g_trial
    return x


# --- symmetries of a net -------------------------------------------------------------------


def symmetry_group(model: Model) -> list[Image] | None:
    """The maps x ↦ g·x of the symmetries of a net (see the module docstring), the identity
    first; ``[identity]`` for a perceptron; None when there are more than
    :data:`MAX_IMAGES` (then none are merged)."""
    if not isinstance(model, NetworkProblem):
        return [_identity]
    layout = model.layout
    hidden = layout.widths[1:-1]
    count = math.prod(math.factorial(w) * 2**w for w in hidden)
    if count > MAX_IMAGES:
        return None
    per_layer = [
        list(
            itertools.product(
                itertools.permutations(range(w)), itertools.product((1.0, -1.0), repeat=w)
            )
        )
        for w in hidden
    ]
    maps: list[Image] = []
    for choice in itertools.product(*per_layer):
        maps.append(_symmetry(layout.starts, layout.widths, layout.bias, choice))
    return maps


def _symmetry(
    starts: tuple[int, ...],
    widths: tuple[int, ...],
    bias: bool,
    choice: tuple[tuple[tuple[int, ...], tuple[float, ...]], ...],
) -> Image:
    """The map that permutes hidden layer ℓ's units by ``choice[ℓ][0]`` (unit k of the image
    is unit π(k)) and multiplies them by the signs ``choice[ℓ][1]``: rows of W_ℓ and entries
    of c_ℓ, columns of W_{ℓ+1}."""
    index = np.arange(starts[-1])
    sign = np.ones(starts[-1])
    for layer, (perm, signs) in enumerate(choice):  # hidden layer layer+1: W_{layer+1} rows
        rows, cols = widths[layer + 1], widths[layer]
        p = np.asarray(perm)
        s = np.asarray(signs)
        start = starts[layer]
        block = index[start : start + rows * cols].reshape(rows, cols)
        block_sign = sign[start : start + rows * cols].reshape(rows, cols)
        block[:] = block[p]
        block_sign[:] = block_sign[p] * s[:, None]
        if bias:
            c = index[start + rows * cols : start + rows * cols + rows]
            c_sign = sign[start + rows * cols : start + rows * cols + rows]
            c[:] = c[p]
            c_sign[:] = c_sign[p] * s
        nxt = starts[layer + 1]
        out_rows, out_cols = widths[layer + 2], widths[layer + 1]
        nblock = index[nxt : nxt + out_rows * out_cols].reshape(out_rows, out_cols)
        nsign = sign[nxt : nxt + out_rows * out_cols].reshape(out_rows, out_cols)
        nblock[:] = nblock[:, p]
        nsign[:] = nsign[:, p] * s[None, :]

    def apply(x: Array) -> Array:
        return np.asarray(x[index] * sign, dtype=np.float64)

    return apply
