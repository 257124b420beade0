"""The verdict on the weights' fate, read from the tail of a run's log-spaced trajectory.

Sontag (1988, §3): weights that look converged may be diverging like log t, and then the
statistic ``t·(w(t+1) − w(t))`` (Figure 5) tends to a nonzero constant. This module reads a
recorded trajectory (descent or flow; any number of weights) and says which of these it is.
It looks only at the shape of the data, never at the activation or the architecture.

Conventions
-----------
* t is the trajectory's time (steps, passes or continuous time); ``τ``
  (:func:`service.core.model.problem.time_unit`) is the time over which the weights can first
  move by O(1) (one step for descent at a moderate rate; ``1/(α·‖B‖₂²)`` for flow). Only
  ``t/τ`` matters; ``L = ln(t/τ)``.
* The run covers ``D = log10(t_end/τ)`` decades. The fit *window* is the last
  ``min(3, D/2)`` decades, ``[t_end·10^(−min(3, D/2)), t_end]``. Fewer than 3 decades
  (``MIN_DECADES``) or fewer than ``MIN_POINTS`` recorded times in the window give
  ``undetermined``.
* The *rate* at a recorded time is ``v(t) = ‖t_delta(t)‖₂``, with ``t_delta = t·(w(t+1) − w(t))``
  (descent) or ``t·ẇ(t)`` (flow): the speed of the weights per unit of log t.

The shape of v over the window decides:

==================  ==========================================  =============================
verdict             rate v(t) in the window                     weights
==================  ==========================================  =============================
converging          no motion beyond rounding over the last     tend to a finite limit
                    half of the window, or v falls faster
                    than 1/log t (γ < −1)
sub_logarithmic     v ~ (log t)^γ with −1 ≤ γ < −0.25           ‖w‖ ~ (log t)^(1+γ)
logarithmic         v ≈ constant, |γ| ≤ 0.25                    w ≈ a + b·log t
power_law           v grows like a power of t                   ‖w‖ ~ t^p, 0 < p < 0.9
linear              the same with p ≥ 0.9                       ‖w‖ ~ t
unstable            overflow, a rise of the error in the        (no fate: the rate is too
                    window, or steps that jump back and forth   large)
undetermined        the run is too short to tell                —
==================  ==========================================  =============================

γ is the least-squares slope of ``ln v`` against ``ln L`` over the window (scale free: it
does not depend on the constants of the dynamics). ``γ < −1`` is the exact line between a
finite total motion ``∫ v dL`` (convergence) and an infinite one (divergence, however slow).

Fits reported (least squares over the window):

* ``log_rate`` b: ``w_j ≈ a_j + b_j·ln t`` per weight (the paper's log rule);
* ``power`` p: ``ln ‖w‖ ≈ c + p·ln t``;
* ``goodness``: R² (1 − residual/total sum of squares) of the model the verdict rests on —
  the log model (logarithmic), the power model (power_law, linear), or ``ln v`` against
  ``ln L`` (sub_logarithmic); None for the other verdicts.

``apparent_convergence`` is the paper's warning made explicit: the last step is below the
step tolerance a practitioner would stop at (the run's own, or ``DEFAULT_STEP_TOLERANCE``)
while the verdict is a divergence.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from service.core.engine.recorder import Trajectory
from service.core.model.activations import Array
from service.vocabulary import StopReason, Verdict

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
factor 2 of p at the end (as for w = c·t^p); otherwise the run is still in a transient."""
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

DIVERGENT = frozenset(
    {Verdict.LOGARITHMIC, Verdict.SUB_LOGARITHMIC, Verdict.POWER_LAW, Verdict.LINEAR}
)
"""The verdicts that say the weights go to infinity."""


@dataclass(frozen=True, slots=True)
class DivergenceReport:
    """The verdict and the fits behind it (see the module docstring).

    ``log_rate`` (b per weight), ``power`` (p), ``rate_exponent`` (γ) and ``goodness`` are
    None when the verdict is ``undetermined`` or ``unstable``; ``window`` is
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


def _r_squared(y: Array, fitted: Array) -> float:
    total = float(np.sum((y - y.mean(axis=0)) ** 2))
    resid = float(np.sum((y - fitted) ** 2))
    if total == 0.0:
        return 1.0 if resid == 0.0 else 0.0
    return max(0.0, 1.0 - resid / total)


def _line(x: Array, y: NDArray[np.float64]) -> tuple[NDArray[np.float64], float]:
    """Least-squares slopes of the columns of y against x, and the joint R²."""
    X = np.column_stack([np.ones_like(x), x])
    coef, *_ = np.linalg.lstsq(X, y, rcond=None)
    return coef[1], _r_squared(y, X @ coef)


def _verdict_only(
    verdict: Verdict, explanation: str, window: tuple[float, float] | None = None
) -> DivergenceReport:
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
    )


def judge_divergence(
    trajectory: Trajectory,
    *,
    last_step: float,
    stopped_by: StopReason,
    step_tolerance: float | None = None,
    time_unit: float = 1.0,
    monotone: bool = True,
) -> DivergenceReport:
    """Judge the weights' fate from the tail of ``trajectory``.

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
    """
    if not (time_unit > 0 and math.isfinite(time_unit)):
        raise ValueError("judge_divergence: time_unit must be a finite number > 0")
    t = trajectory.t
    if stopped_by is StopReason.NON_FINITE:
        return _verdict_only(
            Verdict.UNSTABLE,
            f"the iterates overflowed after t = {t[-1]:.4g}: the learning rate is too large "
            "for these data",
        )
    t_end = float(t[-1])
    if t_end <= 0.0:
        return _verdict_only(Verdict.UNDETERMINED, "the run took no step")
    decades = math.log10(t_end / time_unit)
    span = min(MAX_WINDOW_DECADES, max(decades, 0.0) / 2.0)
    t_start = t_end / 10.0**span
    rows = np.flatnonzero((t >= t_start * (1 - 1e-12)) & (t > 0))
    window = (float(t[rows[0]]), t_end)
    w = trajectory.weights[rows]
    td = trajectory.t_delta[rows]
    err = trajectory.error[rows]

    if not (np.isfinite(td).all() and np.isfinite(err).all()):
        return _verdict_only(
            Verdict.UNSTABLE, "the next iterate was not a finite number inside the window", window
        )
    rise: tuple[int, int] | None = None
    if monotone:
        rises = np.flatnonzero(np.diff(err) > ERROR_RISE * err[:-1] + 1e-300)
        if len(rises):
            rise = (int(rises[0]), int(rises[0]) + 1)
    else:
        best = int(np.argmin(err))
        if err[-1] > ONLINE_RISE * err[best] + 1e-300:
            rise = (best, len(err) - 1)
    if rise is not None:
        k0, k1 = rise
        return _verdict_only(
            Verdict.UNSTABLE,
            f"the error rose from {err[k0]:.4g} to {err[k1]:.4g} between t = "
            f"{t[rows[k0]]:.4g} and t = {t[rows[k1]]:.4g}: the descent is overshooting (the "
            "learning rate is too large)",
            window,
        )
    if decades < MIN_DECADES - 1e-9:
        return _verdict_only(
            Verdict.UNDETERMINED,
            f"the run covers {max(decades, 0.0):.2g} decades of t/τ (τ = {time_unit:.3g}); "
            f"at least {MIN_DECADES:g} are needed to tell logarithmic divergence from "
            "convergence: run longer",
        )
    if len(rows) < MIN_POINTS:
        return _verdict_only(
            Verdict.UNDETERMINED,
            f"only {len(rows)} recorded times fall in the last {span:.2g} decades; at least "
            f"{MIN_POINTS} are needed: record more points",
        )

    w_end = w[-1]
    norm_end = float(np.linalg.norm(w_end))
    v = np.linalg.norm(td, axis=1)
    step_end = float(v[-1]) / t_end
    spread = float(np.max(np.linalg.norm(w - w_end, axis=1)))
    if step_end * time_unit > 0.5 * spread and step_end > ROUNDING_STEP * (1.0 + norm_end):
        return _verdict_only(
            Verdict.UNSTABLE,
            f"the last step ({step_end:.3g}) is as large as the whole motion of the weights "
            f"over the window ({spread:.3g}): the iterates jump back and forth (the learning "
            "rate is too large)",
            window,
        )

    tw = t[rows]
    lnt = np.log(tw)
    b, r2_log = _line(lnt, w)
    norms = np.linalg.norm(w, axis=1)
    power: float | None = None
    r2_pow: float | None = None
    if (norms > 0).all():
        p_arr, r2_pow = _line(lnt, np.log(norms))
        power = float(p_arr)

    def report(
        verdict: Verdict,
        explanation: str,
        gamma: float | None = None,
        change: float | None = None,
        goodness: float | None = None,
    ) -> DivergenceReport:
        tolerance = DEFAULT_STEP_TOLERANCE if step_tolerance is None else step_tolerance
        apparent = verdict in DIVERGENT and math.isfinite(last_step) and last_step < tolerance
        if apparent:
            explanation += (
                f"; the last step ({last_step:.3e}) is below the step tolerance {tolerance:g}, "
                "so a step-size stopping rule would wrongly call this convergence"
            )
        judged = verdict is not Verdict.UNDETERMINED
        return DivergenceReport(
            verdict=verdict,
            log_rate=b if judged else None,
            power=power if judged else None,
            rate_exponent=gamma,
            rate_change=change,
            window=window,
            goodness=goodness,
            explanation=explanation,
            apparent_convergence=apparent,
        )

    where = f"over t in [{window[0]:.3g}, {t_end:.3g}]"
    if spread <= STILL * (1.0 + norm_end):
        return report(
            Verdict.CONVERGING,
            f"the weights have stopped: {where} they moved by {spread:.3g} in all, the "
            f"rounding level of weights of size {norm_end:.3g}",
        )
    ln_big_l = np.log(np.log(tw / time_unit))
    floor = max(float(v.max()) * 1e-300, float(np.finfo(np.float64).tiny))
    lnv = np.log(np.maximum(v, floor))
    gamma_arr, r2_gamma = _line(ln_big_l, lnv)
    gamma = float(gamma_arr)
    change = float(v[-1] / v[0] - 1.0) if v[0] > 0 else None
    # The last half of the window (in log t) must tell the same story: a transient (a plateau
    # left, an overshoot absorbed) inside the window is not the weights' fate.
    late = lnt >= 0.5 * (lnt[0] + lnt[-1])
    late_spread = float(np.max(np.linalg.norm(w[late] - w_end, axis=1)))
    late_still = late_spread <= STILL * (1.0 + norm_end)
    if late_still:
        # Stopped: what t·Δw still shows is rounding noise (t times an ulp grows like t).
        return report(
            Verdict.CONVERGING,
            f"the weights have stopped: over the last half of the window (t ≥ "
            f"{float(tw[late][0]):.3g}) they moved by {late_spread:.3g} in all, the rounding "
            f"level of weights of size {norm_end:.3g}",
        )
    late_gamma = float(_line(ln_big_l[late], lnv[late])[0]) if late.sum() >= 3 else gamma
    kind, late_kind = _rate_class(gamma), _rate_class(late_gamma)

    if kind is Verdict.CONVERGING:
        if late_kind is Verdict.CONVERGING:
            return report(
                Verdict.CONVERGING,
                f"the weights converge: {where} their rate t·Δw falls faster than 1/log t "
                f"(like (log t)^{gamma:.3g}), so their remaining motion is finite",
                gamma,
                change,
            )
        return report(
            Verdict.UNDETERMINED,
            f"the rate t·Δw fell {where} (like (log t)^{gamma:.3g}) but rose again in the "
            f"last half (like (log t)^{late_gamma:.3g}): the weights are changing regime; "
            "run longer",
            gamma,
            change,
        )
    slow = {Verdict.LOGARITHMIC, Verdict.SUB_LOGARITHMIC}
    if kind is not late_kind and not (kind in slow and late_kind in slow):
        return report(
            Verdict.UNDETERMINED,
            f"the weights change regime inside the window: {where} the rate t·Δw goes like "
            f"(log t)^{gamma:.3g}, over its last half like (log t)^{late_gamma:.3g}; "
            "run longer",
            gamma,
            change,
        )
    kind = late_kind  # between the two slow regimes the later data decide
    fell = f" (by {-change:.0%} over the window)" if change is not None and change < 0 else ""
    if kind is Verdict.SUB_LOGARITHMIC:
        return report(
            kind,
            f"the weights diverge more slowly than log t: {where} the rate t·Δw falls like "
            f"(log t)^{late_gamma:.3g}{fell}, so ‖w‖ grows like (log t)^{1 + late_gamma:.3g} "
            "and the steps shrink faster than 1/t",
            late_gamma,
            change,
            r2_gamma,
        )
    if kind is Verdict.LOGARITHMIC:
        explanation = (
            f"the weights diverge logarithmically, w ≈ a + b·log t with "
            f"‖b‖ = {float(np.linalg.norm(b)):.4g} {where}: t·Δw tends to a nonzero constant, "
            "so the steps shrink like 1/t and only look converged"
        )
        if change is not None and change < -FALLING_NOTE:
            explanation += (
                f"; the rate t·Δw fell{fell}, so the growth may be slower than logarithmic"
            )
        return report(kind, explanation, late_gamma, change, r2_log)
    # The rate grows: a power law, if ‖w‖ grows like t^p with t·Δw ≈ p·w at the end.
    ratio = float(v[-1]) / norm_end if norm_end > 0 else math.inf
    if power is None or power < MIN_POWER or not (power / 2 <= ratio <= 2 * power):
        shown = "undefined" if power is None else f"{power:.3g}"
        return report(
            Verdict.UNDETERMINED,
            f"the rate t·Δw still rises {where} while ‖w‖ grows like t^{shown} and "
            f"t·Δw/‖w‖ = {ratio:.3g}: the weights have not reached their asymptotic regime "
            "(a plateau or a transient); run longer",
            gamma,
            change,
        )
    verdict = Verdict.LINEAR if power >= LINEAR_POWER else Verdict.POWER_LAW
    return report(
        verdict,
        f"the weights diverge like a power of t, ‖w‖ ~ t^{power:.3g} {where}: the rate "
        "t·Δw keeps growing",
        gamma,
        change,
        r2_pow,
    )


def _rate_class(gamma: float) -> Verdict:
    """The regime of a rate v ~ (log t)^γ: converging, sub-logarithmic, logarithmic, or
    faster (reported as POWER_LAW here, refined by the caller)."""
    if gamma < -1.0:
        return Verdict.CONVERGING
    if gamma < -LOG_BAND:
        return Verdict.SUB_LOGARITHMIC
    if gamma <= LOG_BAND:
        return Verdict.LOGARITHMIC
    return Verdict.POWER_LAW
