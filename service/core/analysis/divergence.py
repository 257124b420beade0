"""The verdict on the weights' fate, read from the tail of a run's log-spaced trajectory.

Sontag (1988, §3): weights that look converged may be diverging like log t, and then the
statistic ``t·(w(t+1) − w(t))`` (Figure 5) tends to a nonzero constant. This module reads a
recorded trajectory (descent or flow; any number of weights) and says which of these it is.
It looks at the shape of the data, never at the activation or the architecture — except
where the weights stopped: whether that is a limit or a float64 artefact is a property of E
at that point, which the caller assesses (:mod:`service.core.analysis.stationarity`) and
passes in.

Conventions
-----------
* t is the trajectory's time (steps, passes or continuous time); ``τ``
  (:func:`service.core.model.problem.time_unit`) is the time over which the weights can first
  move by O(1) (one step for descent at a moderate rate; ``1/(α·‖B‖₂²)`` for flow). Only
  ``t/τ`` matters; ``L = ln(t/τ)``.
* The run covers ``D = log10(t_end/τ)`` decades. The fit *window* is the last
  ``min(3, D/2)`` decades, ``[t_end·10^(−min(3, D/2)), t_end]``. Fewer than 3 decades
  (``MIN_DECADES``) give ``undetermined`` with reason ``too_short``, fewer than
  ``MIN_POINTS`` recorded times in the window reason ``too_few_points``.
* The *rate* at a recorded time is ``v(t) = ‖t_delta(t)‖₂``, with ``t_delta = t·(w(t+1) − w(t))``
  (descent) or ``t·ẇ(t)`` (flow): the speed of the weights per unit of log t.

The shape of v over the window decides:

==================  ==========================================  =============================
verdict             rate v(t) in the window                     weights
==================  ==========================================  =============================
converging          no motion beyond rounding over the last     tend to a finite limit
                    half of the window at a critical point of
                    E, or v falls faster than 1/log t (γ < −1)
sub_logarithmic     v ~ (log t)^γ with −1 ≤ γ < −0.25           ‖w‖ ~ (log t)^(1+γ)
logarithmic         v ≈ constant, |γ| ≤ 0.25                    w ≈ a + b·log t
power_law           v grows like a power of t                   ‖w‖ ~ t^p, 0 < p < 0.9
linear              the same with p ≥ 0.9                       ‖w‖ ~ t
unstable            overflow, a rise of the error in the        (no fate: the rate is too
                    window, or steps that jump back and forth   large)
stalled             no motion beyond rounding, where E has no   float64 stopped them: the
                    critical point (the exact ∇E ≠ 0, decided   exact dynamics move on,
                    in log space) and no step can move them     too slowly to show
undetermined        the run is too short, or the rate has not   —
                    settled (``reason`` says which)
==================  ==========================================  =============================

γ is the least-squares slope of ``ln v`` against ``ln L`` over the window (scale free: it
does not depend on the constants of the dynamics); the late γ is the same over the window's
last half in log t. ``γ < −1`` is the exact line between a finite total motion ``∫ v dL``
(convergence) and an infinite one (divergence, however slow). The two slow verdicts are
decided by the late γ; every other verdict needs both to agree. A rate that falls faster than
1/log t on data where Sontag's Lemma applies (no critical point, no bounded trajectory) is a
transient, ``undetermined``.

An ``undetermined`` verdict says why (``reason``); for ``regime_change``, which way the rate
heads over the last half (``heading``: the sign of the late γ) and about how many more steps
would put the whole window after the change (``steps_to_decide``: the window's last half
began at t_m; a run to the smallest T whose window starts at t_m, T = t_m²/τ while that is
within 6 decades of τ, else T = 10³·t_m).

Fits reported (least squares over the window):

* ``log_rate`` b: ``w_j ≈ a_j + b_j·ln t`` per weight (the paper's log rule);
* ``power`` p: ``ln ‖w‖ ≈ c + p·ln t``;
* ``goodness``: R² (1 − residual/total sum of squares) of the model the verdict rests on —
  the log model (logarithmic), the power model (power_law, linear), or ``ln v`` against
  ``ln L`` (sub_logarithmic); None for the other verdicts.

``apparent_convergence`` is the paper's warning made explicit: the last step is below the
step tolerance a practitioner would stop at (the run's own, or ``DEFAULT_STEP_TOLERANCE``)
while the verdict is a divergence.

Pipeline
--------
:func:`judge_divergence` is five steps, each a function below:

1. **window** (:func:`_window`): D, the span and the recorded rows in the window;
2. **instability** (:func:`_screen`): the verdicts given before any fit, in this order — a
   non-finite rate or a rise of E (:func:`_instability`), a run too short or too sparse
   (:func:`_shortness`), iterates jumping back and forth (:func:`_jumps`);
3. **fits** (:func:`_fits`): b, p and, unless the weights stopped, γ over the window and its
   last half (:func:`_rate_fit`);
4. **classification** (:func:`_classify`): one of the :class:`_Case` rows, each a verdict;
5. **explanation** (:func:`_explain`, :func:`_assemble`): the sentence, the reported fits and
   ``apparent_convergence``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import StrEnum
from typing import assert_never

import numpy as np
from numpy.typing import NDArray

from service.core.analysis.stationarity import Stationarity
from service.core.engine.recorder import Trajectory
from service.core.errors import InvalidProblem
from service.core.model.activations import Array
from service.core.numbers import power_of_ten
from service.vocabulary import Heading, StopReason, UndeterminedReason, Verdict

MIN_DECADES = 3.0
"""A run must cover this many decades of t/τ to be judged."""
MAX_WINDOW_DECADES = 3.0
"""The fit window is at most this many decades (and at most half of the run)."""
MIN_POINTS = 6
"""Fewest recorded times in the window."""
LOG_BAND = 0.25
"""|γ| at most this: logarithmic. Midway between the log rule (γ = 0: exponential tails such
as tanh) and a Gaussian tail (γ = −1/2: erf, where x ~ (log t)^(1/2)); finite windows see the
log rule's rate approach its limit like 1/log t, which reads as a small negative γ."""
MIN_POWER = 0.05
"""A rising rate is a power law only if ‖w‖ ~ t^p with p at least this, and t·Δw/‖w‖ within a
factor ``POWER_BAND`` of p at the end (as for w = c·t^p); otherwise the run is still in a
transient."""
LINEAR_POWER = 0.9
"""A power law with p at least this is called linear."""
ERROR_RISE = 1e-3
"""A relative rise of the error between recorded times in the window beyond this is unstable."""
ONLINE_RISE = 2.0
"""Online: an error that ends above this multiple of its best in the window is unstable."""
ROUNDING_STEP = 1e-13
"""A last step below ROUNDING_STEP·(1 + ‖w‖) is motion at the rounding level."""
STILL = 1e-12
"""Weights that moved less than STILL·(1 + ‖w‖) over the whole window have stopped."""
DEFAULT_STEP_TOLERANCE = 1e-6
"""The practitioner's step tolerance when the run named none."""
FALLING_NOTE = 0.1
"""A logarithmic verdict mentions a falling rate when v fell by more than this fraction."""

WINDOW_EDGE = 1e-12
"""Relative slack at the window's left end: ``t_end/10^span`` carries a few ulps of rounding,
and a recorded time equal to it in exact arithmetic must stay in (1e-12 is far above those
ulps and far below the ratio of two neighbouring log-spaced records)."""
DECADES_SLACK = 1e-9
"""A run of exactly ``MIN_DECADES`` decades passes although ``log10(t_end/τ)`` may round a
few ulps below it (1e-9 decades is a relative change of t of 2e-9: no run is that close by
design)."""
ERROR_FLOOR = 1e-300
"""Absolute rise of E ignored on top of the relative ones: an error that has underflowed to 0
and comes back at the bottom of float64 is rounding, not overshooting."""
JUMP_FRACTION = 0.5
"""Unstable when the last step (in units of τ) exceeds this fraction of the weights' whole
motion over the window: a period-2 cycle gives 1, any smooth drift over the ≥ 1.5 decades of a
window gives at most τ/(t_end·ln 10^1.5) ≤ 3e-4 (for w = a + b·ln t), so 0.5 sits between."""
POWER_BAND = 2.0
"""For w = c·t^p the ratio t·ẇ/‖w‖ is exactly p; a power law is accepted when the ratio at
t_end is within this factor of the fitted p, which a transient offset (w = a + c·t^p with
a ≫ c·t^p) fails."""
MIN_LATE_POINTS = 3
"""γ over the last half of the window is fitted only from at least this many records (two
always fit a line exactly); with fewer, the whole window's γ stands for it."""
RATE_FLOOR = 1e-300
"""ln v is taken of max(v, RATE_FLOOR·max v): a rate that is exactly 0 at some record (a
weight that did not move between two recorded steps) gets a finite log far below every
rate that moved, instead of −inf, which would make the slope γ undefined."""
CONVERGENCE_EXPONENT = -1.0
"""γ below this converges: ∫ (ln t)^γ d(ln t) is finite exactly when γ < −1 (see above)."""

DIVERGENT = frozenset(
    {Verdict.LOGARITHMIC, Verdict.SUB_LOGARITHMIC, Verdict.POWER_LAW, Verdict.LINEAR}
)
"""The verdicts that say the weights go to infinity."""


@dataclass(frozen=True, slots=True)
class DivergenceReport:
    """The verdict and the fits behind it (see the module docstring).

    ``log_rate`` (b per weight), ``power`` (p) and ``goodness`` are None when the verdict is
    ``undetermined`` or ``unstable``; ``rate_exponent`` (γ over the window) and
    ``late_rate_exponent`` (γ over its last half) whenever the rate was fitted; ``window`` is
    ``(t_start, t_end)`` of the fit, None when no window was judged. ``rate_change`` is
    v(t_end)/v(t_start) − 1 over the window.
    """

    verdict: Verdict
    log_rate: Array | None
    power: float | None
    rate_exponent: float | None
    rate_change: float | None
    window: tuple[float, float] | None
    goodness: float | None
    explanation: str
    apparent_convergence: bool
    late_rate_exponent: float | None = None
    undetermined: Undetermined | None = None
    stall: Stationarity | None = None
    """The exact gradient where the weights stalled (``stalled`` only)."""


@dataclass(frozen=True, slots=True)
class Undetermined:
    """Why a verdict is ``undetermined``: ``heading`` and ``steps_to_decide`` (more steps, or
    more time for the flow) for a ``regime_change``, else None (see the module docstring)."""

    reason: UndeterminedReason
    heading: Heading | None = None
    steps_to_decide: float | None = None


def judge_divergence(
    trajectory: Trajectory,
    *,
    last_step: float,
    stopped_by: StopReason,
    step_tolerance: float | None = None,
    time_unit: float = 1.0,
    monotone: bool = True,
    stationarity: Stationarity | None = None,
) -> DivergenceReport:
    """Judge the weights' fate from the tail of ``trajectory``.

    The pipeline of the module docstring: window → instability → fits → classification →
    explanation.

    Parameters
    ----------
    trajectory
        The recorded run (t ascending, t = 0 first).
    last_step
        ‖w(t_end) − w(t_end − 1)‖₂ (flow: ‖ẇ(t_end)‖₂); NaN if no step was taken.
    stopped_by
        Why the run ended (``non_finite`` is ``unstable``).
    step_tolerance
        The run's step tolerance, for ``apparent_convergence``
        (``DEFAULT_STEP_TOLERANCE`` when None).
    time_unit
        τ > 0 (see :func:`service.core.model.problem.time_unit`).
    monotone
        Whether the method decreases E at every step when it works (gd with a small enough
        step, flow): then any rise of E between recorded times (beyond ``ERROR_RISE``
        relative) is ``unstable``. Online backprop follows one example at a time and E may
        wobble; then only an error that ends above ``ONLINE_RISE`` times its best in the
        window is.
    stationarity
        The exact gradient at the final weights (and whether the Lemma applies): weights that
        stopped where E has no critical point are ``stalled``, and a rate falling faster than
        1/log t where the Lemma applies is a transient. None: no such knowledge (weights that
        stopped are ``converging``).

    Raises
    ------
    InvalidProblem
        ``time_unit`` is not a finite number > 0 (field ``time_unit``). The service's τ comes
        from :func:`service.core.model.problem.time_unit`, which is always finite and within
        [1e-250, 1e250], so no request reaches this; a direct caller with a bad τ gets the
        core's rule error (a 422 if it ever crossed the service), never a bare ValueError.
    """
    if not (time_unit > 0 and math.isfinite(time_unit)):
        raise InvalidProblem(
            "time_unit", f"must be a finite number > 0 (τ of judge_divergence), got {time_unit!r}"
        )
    if stopped_by is StopReason.NON_FINITE:
        return _verdict_only(
            Verdict.UNSTABLE,
            f"the iterates overflowed after t = {trajectory.t[-1]:.4g}: the learning rate is "
            "too large for these data",
        )
    window = _window(trajectory, time_unit)
    if window is None:
        return _verdict_only(
            Verdict.UNDETERMINED,
            "the run took no step",
            undetermined=Undetermined(UndeterminedReason.TOO_SHORT),
        )
    early = _screen(window, time_unit=time_unit, monotone=monotone)
    if early is not None:
        return early
    fits = _fits(window, time_unit)
    case = _classify(fits, stationarity)
    return _assemble(
        case,
        fits,
        window.bounds,
        time_unit=time_unit,
        stationarity=stationarity,
        last_step=last_step,
        step_tolerance=step_tolerance,
    )


# ----------------------------------------------------------------------------------------
# Step 1: the window


@dataclass(frozen=True, slots=True)
class _Window:
    """The judged tail of a run: the records with t in ``[t_end·10^(−span), t_end]``.

    ``decades`` is ``D = log10(t_end/τ)`` (−inf when t_end/τ underflows), ``span`` is
    ``min(MAX_WINDOW_DECADES, max(D, 0)/2)``; the arrays are the trajectory's rows in the
    window (t > 0, ascending, the last record always included).
    """

    decades: float
    span: float
    t: Array
    weights: Array
    t_delta: Array
    error: Array

    @property
    def bounds(self) -> tuple[float, float]:
        """``(t_start, t_end)``: the first and last recorded times in the window."""
        return float(self.t[0]), float(self.t[-1])


def _window(trajectory: Trajectory, time_unit: float) -> _Window | None:
    """The fit window of ``trajectory`` by the decades rule; None if the run took no step.

    With ``D = log10(t_end/τ)`` decades, the window is the last ``s = min(3, max(D, 0)/2)``
    decades: the records with ``t ≥ t_end·10^(−s)·(1 − WINDOW_EDGE)`` and t > 0.
    """
    t = trajectory.t
    t_end = float(t[-1])
    if t_end <= 0.0:
        return None
    ratio = t_end / time_unit
    # t_end/τ may underflow to 0 (a tiny t_max with a huge τ): then no decade is covered,
    # where log10 would raise a math domain error.
    decades = -math.inf if ratio == 0.0 else math.log10(ratio)
    span = min(MAX_WINDOW_DECADES, max(decades, 0.0) / 2.0)
    t_start = t_end / 10.0**span
    rows = np.flatnonzero((t >= t_start * (1 - WINDOW_EDGE)) & (t > 0))
    return _Window(
        decades=decades,
        span=span,
        t=t[rows],
        weights=trajectory.weights[rows],
        t_delta=trajectory.t_delta[rows],
        error=trajectory.error[rows],
    )


# ----------------------------------------------------------------------------------------
# Step 2: instability, and the runs too short to judge


def _screen(window: _Window, *, time_unit: float, monotone: bool) -> DivergenceReport | None:
    """The verdicts given before any fit, or None when the window is to be fitted.

    In this order (an earlier one wins): ``unstable`` for a non-finite rate or a rise of E
    (:func:`_instability`); ``undetermined`` for a run too short or too sparse
    (:func:`_shortness`); ``unstable`` for iterates jumping back and forth (:func:`_jumps`,
    judged only on a window long enough to have a motion to compare the step with).
    """
    unstable = _instability(window, monotone=monotone)
    if unstable is not None:
        return _verdict_only(Verdict.UNSTABLE, unstable, window.bounds)
    short = _shortness(window, time_unit)
    if short is not None:
        reason, explanation = short
        return _verdict_only(Verdict.UNDETERMINED, explanation, undetermined=Undetermined(reason))
    jump = _jumps(_motion(window), window.bounds[1], time_unit)
    if jump is not None:
        return _verdict_only(Verdict.UNSTABLE, jump, window.bounds)
    return None


def _error_rise(error: Array, *, monotone: bool) -> tuple[int, int] | None:
    """The first rise of E that makes a run unstable, as indices ``(k0, k1)`` into ``error``.

    Monotone methods: the first k with ``E_{k+1} − E_k > ERROR_RISE·E_k + ERROR_FLOOR``,
    as ``(k, k + 1)``. Online: ``(k*, last)`` when ``E_last > ONLINE_RISE·E_{k*} +
    ERROR_FLOOR`` with ``E_{k*}`` the least error in the window. None when E does not rise.
    """
    if monotone:
        rises = np.flatnonzero(np.diff(error) > ERROR_RISE * error[:-1] + ERROR_FLOOR)
        if len(rises):
            return int(rises[0]), int(rises[0]) + 1
        return None
    best = int(np.argmin(error))
    if error[-1] > ONLINE_RISE * error[best] + ERROR_FLOOR:
        return best, len(error) - 1
    return None


def _instability(window: _Window, *, monotone: bool) -> str | None:
    """Why the error shows the run unstable (a non-finite rate or E, or a rise of E, see
    :func:`_error_rise`), or None."""
    if not (np.isfinite(window.t_delta).all() and np.isfinite(window.error).all()):
        return "the next iterate was not a finite number inside the window"
    rise = _error_rise(window.error, monotone=monotone)
    if rise is None:
        return None
    k0, k1 = rise
    err, t = window.error, window.t
    return (
        f"the error rose from {err[k0]:.4g} to {err[k1]:.4g} between t = "
        f"{t[k0]:.4g} and t = {t[k1]:.4g}: the descent is overshooting (the "
        "learning rate is too large)"
    )


def _shortness(window: _Window, time_unit: float) -> tuple[UndeterminedReason, str] | None:
    """Why the run is too short to judge, with the reason's code, or None.

    Too short: ``D < MIN_DECADES − DECADES_SLACK`` decades of t/τ (``too_short``), or fewer
    than ``MIN_POINTS`` records in the window (``too_few_points``).
    """
    if window.decades < MIN_DECADES - DECADES_SLACK:
        return UndeterminedReason.TOO_SHORT, (
            f"the run covers {max(window.decades, 0.0):.2g} decades of t/τ "
            f"(τ = {time_unit:.3g}); at least {MIN_DECADES:g} are needed to tell logarithmic "
            "divergence from convergence: run longer"
        )
    if len(window.t) < MIN_POINTS:
        return UndeterminedReason.TOO_FEW_POINTS, (
            f"only {len(window.t)} recorded times fall in the last {window.span:.2g} decades; "
            f"at least {MIN_POINTS} are needed: record more points"
        )
    return None


@dataclass(frozen=True, slots=True)
class _Motion:
    """How the weights moved over the window: ``rates`` v(t) = ‖t_delta(t)‖₂ per record,
    ``size`` = ‖w(t_end)‖₂, ``spread`` = max_t ‖w(t) − w(t_end)‖₂."""

    rates: Array
    size: float
    spread: float


def _motion(window: _Window) -> _Motion:
    """The rates, size and spread of the weights over ``window`` (see :class:`_Motion`)."""
    w_end = window.weights[-1]
    return _Motion(
        rates=np.linalg.norm(window.t_delta, axis=1),
        size=float(np.linalg.norm(w_end)),
        spread=float(np.max(np.linalg.norm(window.weights - w_end, axis=1))),
    )


def _jumps(motion: _Motion, t_end: float, time_unit: float) -> str | None:
    """Why the iterates jump back and forth, or None.

    The last step ``s = v(t_end)/t_end`` jumps when ``s·τ > JUMP_FRACTION·spread`` (a step as
    large as the whole motion over the window) and ``s > ROUNDING_STEP·(1 + ‖w‖)`` (it is not
    rounding noise on weights that have stopped).
    """
    step_end = float(motion.rates[-1]) / t_end
    if step_end * time_unit > JUMP_FRACTION * motion.spread and step_end > ROUNDING_STEP * (
        1.0 + motion.size
    ):
        return (
            f"the last step ({step_end:.3g}) is as large as the whole motion of the weights "
            f"over the window ({motion.spread:.3g}): the iterates jump back and forth (the "
            "learning rate is too large)"
        )
    return None


# ----------------------------------------------------------------------------------------
# Step 3: the fits


@dataclass(frozen=True, slots=True)
class _RateFit:
    """The shape of the rate v over the window (present only when the weights moved).

    ``gamma`` (γ) and ``goodness`` (R²): ``ln v`` against ``ln L`` over the window;
    ``late_gamma``: the same over its last half (see :func:`_late_half`); ``late_start``,
    ``late_spread``: the first time of that half and the weights' motion over it, with
    ``late_still`` when that motion is at the rounding level; ``change`` = v(t_end)/v(t_start)
    − 1 (None when v(t_start) = 0); ``ratio`` = v(t_end)/‖w(t_end)‖ (inf when w(t_end) = 0).
    """

    gamma: float
    goodness: float
    late_gamma: float
    late_start: float
    late_spread: float
    late_still: bool
    change: float | None
    ratio: float


@dataclass(frozen=True, slots=True)
class _Fits:
    """The least-squares fits over the window.

    ``log_rate`` b and ``log_goodness``: ``w ≈ a + b·ln t``; ``power`` p and
    ``power_goodness``: ``ln ‖w‖ ≈ c + p·ln t`` (None when some ‖w‖ = 0); ``size``,
    ``spread``: see :class:`_Motion`; ``rate``: the rate's shape, None when the weights have
    stopped over the whole window (:func:`_stopped`).
    """

    log_rate: Array
    log_goodness: float
    power: float | None
    power_goodness: float | None
    size: float
    spread: float
    rate: _RateFit | None


def _fits(window: _Window, time_unit: float) -> _Fits:
    """Every fit of the window (see :class:`_Fits`)."""
    motion = _motion(window)
    lnt = np.log(window.t)
    log_rate, log_goodness = _line(lnt, window.weights)
    power, power_goodness = _power_fit(lnt, window.weights)
    rate = None
    if not _stopped(motion.spread, motion.size):
        rate = _rate_fit(window, motion, lnt, time_unit)
    return _Fits(
        log_rate=log_rate,
        log_goodness=log_goodness,
        power=power,
        power_goodness=power_goodness,
        size=motion.size,
        spread=motion.spread,
        rate=rate,
    )


def _r_squared(y: Array, fitted: Array) -> float:
    """R² = 1 − Σ(y − fitted)²/Σ(y − ȳ)² over all columns, clipped at 0; for constant y,
    1 if the fit is exact and 0 otherwise."""
    total = float(np.sum((y - y.mean(axis=0)) ** 2))
    resid = float(np.sum((y - fitted) ** 2))
    if total == 0.0:
        return 1.0 if resid == 0.0 else 0.0
    return max(0.0, 1.0 - resid / total)


def _line(x: Array, y: NDArray[np.float64]) -> tuple[NDArray[np.float64], float]:
    """Least-squares slopes of the columns of y against x, and the joint R².

    The log rule is ``_line(ln t, w)``: for ``w = a + b·ln t`` the slopes are b exactly.
    """
    X = np.column_stack([np.ones_like(x), x])
    coef, *_ = np.linalg.lstsq(X, y, rcond=None)
    return coef[1], _r_squared(y, X @ coef)


def _power_fit(lnt: Array, weights: Array) -> tuple[float | None, float | None]:
    """p and R² of ``ln ‖w‖ ≈ c + p·ln t`` (p = exactly the exponent for w = c·t^p); (None,
    None) when some ‖w‖ is 0, where ln ‖w‖ is undefined."""
    norms = np.linalg.norm(weights, axis=1)
    if not (norms > 0).all():
        return None, None
    p, goodness = _line(lnt, np.log(norms))
    return float(p), goodness


def _stopped(spread: float, size: float) -> bool:
    """Weights that moved by at most ``STILL·(1 + ‖w‖)`` have stopped (rounding level)."""
    return spread <= STILL * (1.0 + size)


def _late_half(lnt: Array) -> NDArray[np.bool_]:
    """The records in the last half of the window in log t: ``ln t ≥ (ln t_0 + ln t_end)/2``,
    i.e. t at or after the geometric midpoint ``√(t_0·t_end)``."""
    late: NDArray[np.bool_] = lnt >= 0.5 * (lnt[0] + lnt[-1])
    return late


def _floored_log(rates: Array) -> Array:
    """``ln max(v, f)`` with ``f = max(RATE_FLOOR·max v, tiny)``: finite for v = 0."""
    floor = max(float(rates.max()) * RATE_FLOOR, float(np.finfo(np.float64).tiny))
    out: Array = np.log(np.maximum(rates, floor))
    return out


def _rate_exponent(
    ln_big_l: Array, ln_rates: Array, late: NDArray[np.bool_]
) -> tuple[float, float, float]:
    """γ and R² of ``ln v ≈ c + γ·ln L`` over the window, and γ over its ``late`` records.

    For ``v = k·L^γ`` both slopes are γ exactly. The late slope needs ``MIN_LATE_POINTS``
    records, else it is the window's γ.
    """
    gamma_arr, goodness = _line(ln_big_l, ln_rates)
    gamma = float(gamma_arr)
    if late.sum() >= MIN_LATE_POINTS:
        late_gamma = float(_line(ln_big_l[late], ln_rates[late])[0])
    else:
        late_gamma = gamma
    return gamma, goodness, late_gamma


def _rate_fit(window: _Window, motion: _Motion, lnt: Array, time_unit: float) -> _RateFit:
    """The rate's shape over ``window`` (see :class:`_RateFit`), with ``L = ln(t/τ)``."""
    v = motion.rates
    ln_big_l = np.log(np.log(window.t / time_unit))
    late = _late_half(lnt)
    gamma, goodness, late_gamma = _rate_exponent(ln_big_l, _floored_log(v), late)
    late_spread = float(np.max(np.linalg.norm(window.weights[late] - window.weights[-1], axis=1)))
    return _RateFit(
        gamma=gamma,
        goodness=goodness,
        late_gamma=late_gamma,
        late_start=float(window.t[late][0]),
        late_spread=late_spread,
        late_still=_stopped(late_spread, motion.size),
        change=float(v[-1] / v[0] - 1.0) if v[0] > 0 else None,
        ratio=float(v[-1]) / motion.size if motion.size > 0 else math.inf,
    )


# ----------------------------------------------------------------------------------------
# Step 4: the classification


class _Case(StrEnum):
    """The findings of the classification; each is one verdict (``_VERDICTS``) and one
    sentence (:func:`_explain`)."""

    STOPPED = "stopped"  # no motion beyond rounding over the window
    STOPPED_LATE = "stopped_late"  # no motion beyond rounding over its last half
    STALLED = "stalled"  # STOPPED or STOPPED_LATE where E has no critical point
    FALLING = "falling"  # γ < −1 over the window and its last half
    NO_LIMIT = "no_limit"  # FALLING where the Lemma rules out any limit
    FELL_THEN_ROSE = "fell_then_rose"  # γ < −1 over the window, not over its last half
    REGIME_CHANGE = "regime_change"  # the two halves disagree (beyond the two slow regimes)
    SUB_LOGARITHMIC = "sub_logarithmic"  # late γ in [−1, −LOG_BAND)
    LOGARITHMIC = "logarithmic"  # late |γ| ≤ LOG_BAND
    TRANSIENT = "transient"  # v rises but ‖w‖ is not (yet) a power of t
    POWER_LAW = "power_law"  # v rises, ‖w‖ ~ t^p with MIN_POWER ≤ p < LINEAR_POWER
    LINEAR = "linear"  # the same with p ≥ LINEAR_POWER


_VERDICTS = {
    _Case.STOPPED: Verdict.CONVERGING,
    _Case.STOPPED_LATE: Verdict.CONVERGING,
    _Case.STALLED: Verdict.STALLED,
    _Case.FALLING: Verdict.CONVERGING,
    _Case.NO_LIMIT: Verdict.UNDETERMINED,
    _Case.FELL_THEN_ROSE: Verdict.UNDETERMINED,
    _Case.REGIME_CHANGE: Verdict.UNDETERMINED,
    _Case.SUB_LOGARITHMIC: Verdict.SUB_LOGARITHMIC,
    _Case.LOGARITHMIC: Verdict.LOGARITHMIC,
    _Case.TRANSIENT: Verdict.UNDETERMINED,
    _Case.POWER_LAW: Verdict.POWER_LAW,
    _Case.LINEAR: Verdict.LINEAR,
}
"""The verdict of each case."""

_SLOW = frozenset({Verdict.LOGARITHMIC, Verdict.SUB_LOGARITHMIC})


_REGIME_CHANGES = frozenset(
    {_Case.FELL_THEN_ROSE, _Case.REGIME_CHANGE, _Case.TRANSIENT, _Case.NO_LIMIT}
)
"""The undetermined cases whose reason is ``regime_change``."""


def _classify(fits: _Fits, stationarity: Stationarity | None = None) -> _Case:
    """The case of the fits: stopped if the weights did not move, else by the rate's shape;
    then what the exact gradient says of a stop or a falling rate (see :func:`_stalls`)."""
    case = _Case.STOPPED if fits.rate is None else _classify_rate(fits.rate, fits.power)
    if case in (_Case.STOPPED, _Case.STOPPED_LATE) and _stalls(stationarity):
        return _Case.STALLED
    if case is _Case.FALLING and stationarity is not None and stationarity.lemma_applies:
        return _Case.NO_LIMIT
    return case


def _stalls(stationarity: Stationarity | None) -> bool:
    """Weights that stopped have stalled when E has no critical point there (decided in log
    space) and either no step can move them in float64 or the Lemma rules out any critical
    point at all."""
    if stationarity is None or stationarity.critical is not False:
        return False
    return stationarity.frozen or stationarity.lemma_applies


def _classify_rate(rate: _RateFit, power: float | None) -> _Case:
    """The case of a moving window from γ (window), γ (last half) and p.

    Stopped over the last half first (what t·Δw still shows is rounding noise: t times an
    ulp grows like t). Then the regimes of :func:`_rate_class` of the two γ must agree —
    a transient inside the window (a plateau left, an overshoot absorbed) is not the
    weights' fate — except that between the two slow regimes the later data decide. A
    rising rate is a power law only if :func:`_power_law_holds`.
    """
    if rate.late_still:
        return _Case.STOPPED_LATE
    kind, late_kind = _rate_class(rate.gamma), _rate_class(rate.late_gamma)
    if kind is Verdict.CONVERGING:
        return _Case.FALLING if late_kind is Verdict.CONVERGING else _Case.FELL_THEN_ROSE
    if kind is not late_kind and not (kind in _SLOW and late_kind in _SLOW):
        return _Case.REGIME_CHANGE
    if late_kind is Verdict.SUB_LOGARITHMIC:
        return _Case.SUB_LOGARITHMIC
    if late_kind is Verdict.LOGARITHMIC:
        return _Case.LOGARITHMIC
    if power is None or not _power_law_holds(power, rate.ratio):
        return _Case.TRANSIENT
    return _Case.LINEAR if power >= LINEAR_POWER else _Case.POWER_LAW


def _rate_class(gamma: float) -> Verdict:
    """The regime of a rate v ~ (log t)^γ: converging (γ < −1), sub-logarithmic
    (−1 ≤ γ < −LOG_BAND), logarithmic (|γ| ≤ LOG_BAND), or faster (reported as POWER_LAW
    here, refined by the caller)."""
    if gamma < CONVERGENCE_EXPONENT:
        return Verdict.CONVERGING
    if gamma < -LOG_BAND:
        return Verdict.SUB_LOGARITHMIC
    if gamma <= LOG_BAND:
        return Verdict.LOGARITHMIC
    return Verdict.POWER_LAW


def _power_law_holds(power: float, ratio: float) -> bool:
    """‖w‖ ~ t^p with ``p ≥ MIN_POWER`` and ``p/POWER_BAND ≤ v(t_end)/‖w(t_end)‖ ≤
    POWER_BAND·p`` (for w = c·t^p, t·ẇ/‖w‖ = p exactly)."""
    return power >= MIN_POWER and power / POWER_BAND <= ratio <= POWER_BAND * power


# ----------------------------------------------------------------------------------------
# Step 5: the explanation and the report


def _explain(
    case: _Case,
    fits: _Fits,
    bounds: tuple[float, float],
    stationarity: Stationarity | None = None,
) -> str:
    """The sentence of ``case``, with the figures of ``fits`` over the window ``bounds``."""
    where = f"over t in [{bounds[0]:.3g}, {bounds[1]:.3g}]"
    if case is _Case.STOPPED:
        return (
            f"the weights have stopped: {where} they moved by {fits.spread:.3g} in all, the "
            f"rounding level of weights of size {fits.size:.3g}"
        )
    if case is _Case.STALLED:
        assert stationarity is not None  # a stall is decided from it
        return _stall_sentence(fits, where, stationarity)
    rate = fits.rate
    assert rate is not None  # every other case comes from a moving window
    gamma, late_gamma, change = rate.gamma, rate.late_gamma, rate.change
    fell = f" (by {-change:.0%} over the window)" if change is not None and change < 0 else ""
    match case:
        case _Case.STOPPED_LATE:
            return (
                f"the weights have stopped: over the last half of the window (t ≥ "
                f"{rate.late_start:.3g}) they moved by {rate.late_spread:.3g} in all, the "
                f"rounding level of weights of size {fits.size:.3g}"
            )
        case _Case.FALLING:
            return (
                f"the weights converge: {where} their rate t·Δw falls faster than 1/log t "
                f"(like (log t)^{gamma:.3g}), so their remaining motion is finite"
            )
        case _Case.NO_LIMIT:
            return (
                f"the rate t·Δw falls faster than 1/log t {where} (like (log t)^{gamma:.3g}), "
                "yet Sontag's Lemma rules out a finite limit (E has no critical point and no "
                "trajectory stays bounded): the weights are still in a transient; run longer"
            )
        case _Case.FELL_THEN_ROSE:
            return (
                f"the rate t·Δw fell {where} (like (log t)^{gamma:.3g}) but rose again in the "
                f"last half (like (log t)^{late_gamma:.3g}): the weights are changing regime; "
                "run longer"
            )
        case _Case.REGIME_CHANGE:
            return (
                f"the weights change regime inside the window: {where} the rate t·Δw goes "
                f"like (log t)^{gamma:.3g}, over its last half like (log t)^{late_gamma:.3g}; "
                "run longer"
            )
        case _Case.SUB_LOGARITHMIC:
            return (
                f"the weights diverge more slowly than log t: {where} the rate t·Δw falls "
                f"like (log t)^{late_gamma:.3g}{fell}, so ‖w‖ grows like "
                f"(log t)^{1 + late_gamma:.3g} and the steps shrink faster than 1/t"
            )
        case _Case.LOGARITHMIC:
            explanation = (
                f"the weights diverge logarithmically, w ≈ a + b·log t with "
                f"‖b‖ = {float(np.linalg.norm(fits.log_rate)):.4g} {where}: t·Δw tends to a "
                "nonzero constant, so the steps shrink like 1/t and only look converged"
            )
            if change is not None and change < -FALLING_NOTE:
                explanation += (
                    f"; the rate t·Δw fell{fell}, so the growth may be slower than logarithmic"
                )
            return explanation
        case _Case.TRANSIENT:
            shown = "undefined" if fits.power is None else f"{fits.power:.3g}"
            return (
                f"the rate t·Δw still rises {where} while ‖w‖ grows like t^{shown} and "
                f"t·Δw/‖w‖ = {rate.ratio:.3g}: the weights have not reached their asymptotic "
                "regime (a plateau or a transient); run longer"
            )
        case _Case.POWER_LAW | _Case.LINEAR:
            return (
                f"the weights diverge like a power of t, ‖w‖ ~ t^{fits.power:.3g} {where}: "
                "the rate t·Δw keeps growing"
            )
        case _Case.STOPPED | _Case.STALLED:  # answered above
            raise AssertionError(case)
    assert_never(case)


def _stall_sentence(fits: _Fits, where: str, stationarity: Stationarity) -> str:
    """What a stall is: where the weights stopped, how large ∇E is there, what the exact
    dynamics do."""
    moved = fits.spread if fits.rate is None else fits.rate.late_spread
    gradient = (
        "too small for float64 even in log space"
        if stationarity.gradient_log10 is None
        else f"‖∇E‖ ≈ {power_of_ten(stationarity.gradient_log10)} (computed in log space)"
    )
    sentence = (
        f"the weights have stalled: {where} they moved by {moved:.3g} in all, the rounding "
        f"level of weights of size {fits.size:.3g}, yet this is not a critical point of E: "
        f"{gradient}, a step far below the rounding of the weights"
    )
    if stationarity.lemma_applies:
        return sentence + (
            "; Sontag's Lemma applies (E has no critical point and no trajectory stays "
            "bounded), so the exact weights keep diverging, too slowly for float64 to show"
        )
    return sentence + (
        "; the exact dynamics move on from here at a speed float64 cannot represent (the "
        "examples' gradients have all but vanished: a saturated start, or a learning rate that "
        "threw the weights there)"
    )


def _steps_to_decide(rate: _RateFit, t_end: float, time_unit: float) -> float:
    """About how much longer a run must go for its whole window to follow the last half's
    regime (see the module docstring): to T = t_m²/τ while within 6 decades of τ, else
    10³·t_m, with t_m the start of the last half; at least 10× longer when T ≤ t_end."""
    t_m = rate.late_start
    short_run = t_m * (t_m / time_unit)
    target = short_run if short_run <= time_unit * 10.0 ** (2 * MAX_WINDOW_DECADES) else 0.0
    target = target or t_m * 10.0**MAX_WINDOW_DECADES
    if target <= t_end:
        target = 10.0 * t_end
    return math.ceil(target - t_end)


def _apparent_convergence(verdict: Verdict, last_step: float, tolerance: float) -> bool:
    """The paper's warning: a divergence whose last step is below the step ``tolerance``."""
    return verdict in DIVERGENT and math.isfinite(last_step) and last_step < tolerance


def _assemble(
    case: _Case,
    fits: _Fits,
    bounds: tuple[float, float],
    *,
    last_step: float,
    step_tolerance: float | None,
    time_unit: float = 1.0,
    stationarity: Stationarity | None = None,
) -> DivergenceReport:
    """The report of ``case``: its verdict and sentence, and the fits it rests on.

    b and p are reported for every verdict but ``undetermined``; γ over the window and over
    its last half, and the rate change, whenever the rate was fitted; the goodness of the
    model of the verdict (log model, ``ln v`` against ``ln L``, power model) for the
    divergent verdicts; why, for ``undetermined``; the exact gradient, for ``stalled``.
    """
    verdict = _VERDICTS[case]
    tolerance = DEFAULT_STEP_TOLERANCE if step_tolerance is None else step_tolerance
    explanation = _explain(case, fits, bounds, stationarity)
    apparent = _apparent_convergence(verdict, last_step, tolerance)
    if apparent:
        explanation += (
            f"; the last step ({last_step:.3e}) is below the step tolerance {tolerance:g}, "
            "so a step-size stopping rule would wrongly call this convergence"
        )
    rate = fits.rate
    undetermined = None
    if rate is not None and case in _REGIME_CHANGES:
        heading = Heading.RISING if rate.late_gamma > 0 else Heading.FALLING
        steps = _steps_to_decide(rate, bounds[1], time_unit)
        undetermined = Undetermined(UndeterminedReason.REGIME_CHANGE, heading, steps)
        explanation += (
            f"; the rate is {heading.value} over the last half (γ = {rate.late_gamma:.3g}), and "
            f"about {steps:.3g} more units of t (to t ≈ {bounds[1] + steps:.3g}) would put the "
            "whole window after the change"
        )
    goodness: float | None = None
    if case is _Case.SUB_LOGARITHMIC and rate is not None:
        goodness = rate.goodness  # ln v against ln L
    elif case is _Case.LOGARITHMIC:
        goodness = fits.log_goodness
    elif case in (_Case.POWER_LAW, _Case.LINEAR):
        goodness = fits.power_goodness
    judged = verdict is not Verdict.UNDETERMINED
    return DivergenceReport(
        verdict=verdict,
        log_rate=fits.log_rate if judged else None,
        power=fits.power if judged else None,
        rate_exponent=None if rate is None else rate.gamma,
        rate_change=None if rate is None else rate.change,
        window=bounds,
        goodness=goodness,
        explanation=explanation,
        apparent_convergence=apparent,
        late_rate_exponent=None if rate is None else rate.late_gamma,
        undetermined=undetermined,
        stall=stationarity if case is _Case.STALLED else None,
    )


def _verdict_only(
    verdict: Verdict,
    explanation: str,
    window: tuple[float, float] | None = None,
    *,
    undetermined: Undetermined | None = None,
) -> DivergenceReport:
    """A verdict given before any fit (unstable, undetermined): no fits reported."""
    return DivergenceReport(
        verdict=verdict,
        log_rate=None,
        power=None,
        rate_exponent=None,
        rate_change=None,
        window=window,
        goodness=None,
        explanation=explanation,
        apparent_convergence=False,
        undetermined=undetermined,
    )
