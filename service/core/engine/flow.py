"""Gradient flow ``ẋ = −α·∇E(x)`` integrated to huge times, with the same stop rules as descent.

Conventions
-----------
* ``E(x) = Σ_i (1 − θ(B_i·x))²`` (no factor ½), ``∇E(x) = −2·Bᵀ·((1 − θ(z))·θ'(z))`` with
  ``z = B·x``; α > 0 is the request's ``learning_rate``. Gradient descent with step η for k
  steps approximates the flow with α = 1 up to t = η·k (or α = η up to t = k).
* t is continuous time. The trajectory records t = 0 and ``record_points`` times spread evenly in
  log t over ``[min(τ, t_max), t_max]``, where ``τ = 1/(α·‖B‖₂²)`` is the flow's natural time
  unit (:func:`service.core.model.problem.time_unit`): the time over which the weights can
  first move by O(1).
* The trajectory's ``t_delta`` is ``t·ẋ(t) = −α·t·∇E(x(t))``, the continuous form of the paper's
  statistic ``t·(x(t+1) − x(t))`` (Figure 5): it tends to a constant b exactly when
  ``x ≈ a + b·log t``.
* ``last_step`` is ‖ẋ‖₂ at the final time: the displacement per unit time, i.e. the step a
  gradient-descent run with η = α would take from the final weights.
* ``steps`` in the result counts the integrator's right-hand side evaluations (the work done;
  LSODA reports no count of accepted steps); the final time is the last entry of
  ``trajectory.t``.

Integrator
----------
``scipy.integrate.solve_ivp`` with LSODA. The problem changes character along the way: while
the weights diverge like log t the flow is slow and non-stiff (the Jacobian −α·∇²E decays like
1/t, so steps can grow like t and a decade of time costs a fixed number of steps), but near a
finite minimum with curvature λ the Jacobian stays of size α·λ while the steps would like to
grow without bound, which is stiff. LSODA switches automatically between Adams (non-stiff)
and BDF (stiff) methods, so both a run to t = 10^12 along a logarithmic divergence and a run
that settles in a finite minimum take a few hundred steps. The Jacobian is the exact Hessian
``∇²E = 2·Bᵀ·diag(θ'(z)² − (1 − θ(z))·θ''(z))·B`` (times −α), evaluated with the stable
complement. Default tolerances: ``rtol = 1e-8``, ``atol = 1e-12``.

The model is a :class:`FlowModel` (E, ∇E, the margins, optionally ∇²E): the perceptron's by
default, or a net with hidden layers (its backprop gradient, no analytic Hessian: LSODA
estimates the Jacobian by differences when it switches to BDF; the time unit τ is then that
of the same inputs as a perceptron).

Stop rules are solver events, located by root finding on the dense output:
``error_tolerance`` (E − tol crosses 0), ``classified`` (min_i B_i·x crosses 0 upwards),
``weight_bound`` (bound − max_j |x_j| crosses 0), ``step_tolerance`` (‖ẋ‖ − tol crosses 0
downwards); the state rules are also checked at t = 0, as in descent. ``stop.steps`` is not
used: the horizon is ``t_max``. A failure of the integrator (a non-finite right-hand side)
ends the run with ``non_finite`` at the last good state.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from scipy.integrate import solve_ivp

from service.core.deadline import NO_DEADLINE, Deadline
from service.core.engine.descent import CompiledModel
from service.core.engine.recorder import Trajectory
from service.core.engine.run import PRECEDENCE, RunResult, StopRules, state_stop
from service.core.errors import Cancelled, InvalidProblem
from service.core.model.activations import Array
from service.core.model.models import Model, initial_point, inputs_as_perceptron
from service.core.model.network import NetworkProblem
from service.core.model.problem import PerceptronProblem, error_and_gradient, time_unit
from service.core.numbers import power_of_ten
from service.limits import (
    MAX_T_MAX,
    MAX_TIME_UNITS,
    MIN_FLOW_ATOL,
    MIN_FLOW_RTOL,
    MIN_T_MAX,
    MIN_TIME_UNITS,
)
from service.vocabulary import Method, StopReason

DEFAULT_RTOL = 1e-8
"""Relative tolerance of the integrator unless the request names one."""
DEFAULT_ATOL = 1e-12
"""Absolute tolerance of the integrator unless the request names one."""


@dataclass(frozen=True, slots=True)
class FlowModel:
    """What the integrator needs of a model: E and ∇E, the margins, optionally ∇²E.

    The perceptron's is :func:`perceptron_model`; a net with hidden layers supplies its
    backprop gradient through the compiled kernel
    (:class:`service.core.engine.descent.CompiledModel`) and no Hessian (LSODA then estimates
    the Jacobian by differences when it switches to BDF).
    """

    m: int
    """Number of weights."""
    error_and_gradient: Callable[[Array], tuple[float, Array]]
    """x ↦ (E(x), ∇E(x)); E is NaN when not finite."""
    margins: Callable[[Array], Array]
    """x ↦ the margins z_i (example i is classified correctly when z_i > 0)."""
    hessian: Callable[[Array], NDArray[np.float64]] | None = None
    """x ↦ ∇²E(x), or None."""


def perceptron_model(problem: PerceptronProblem) -> FlowModel:
    """The perceptron E(x) = Σ_i (1 − θ(B_i·x))² as a :class:`FlowModel`."""
    return FlowModel(
        m=problem.m,
        error_and_gradient=lambda x: error_and_gradient(problem, x),
        margins=lambda x: problem.B @ x,
        hessian=lambda x: hessian(problem, x),
    )


def hessian(problem: PerceptronProblem, x: Array) -> NDArray[np.float64]:
    """``∇²E(x) = 2·Bᵀ·diag(θ'(z)² − (1 − θ(z))·θ''(z))·B`` with ``z = B·x``.

    From ``∇E = −2·Bᵀ·((1 − θ(z))·θ'(z))`` and ``d/dz[(1 − θ)·θ'] = −θ'² + (1 − θ)·θ''``;
    ``1 − θ`` is the stable complement.
    """
    act = problem.activation
    z = problem.B @ x
    d1 = act.derivative(z)
    h = d1 * d1 - act.complement(z) * act.second_derivative(z)
    return np.asarray(2.0 * (problem.B.T * h) @ problem.B, dtype=np.float64)


def run_flow(
    model: Model,
    *,
    alpha: float,
    t_max: float,
    stop: StopRules,
    record_points: int,
    initial: Sequence[float] | None = None,
    seed: int | None = None,
    rtol: float = DEFAULT_RTOL,
    atol: float = DEFAULT_ATOL,
    deadline: Deadline = NO_DEADLINE,
    should_stop: Callable[[], bool] | None = None,
) -> RunResult:
    """Integrate ``ẋ = −α·∇E(x)`` from ``initial`` over ``[0, t_max]``.

    Parameters
    ----------
    model
        The perceptron (B, θ) or a net with hidden layers; a net's time unit τ is that of its
        inputs as a perceptron.
    alpha
        α > 0, the rate of the flow (the request's ``learning_rate``).
    t_max
        The horizon, 1e-100 ≤ t_max ≤ 1e15, and 1e-9 ≤ t_max/τ ≤ 1e30 with
        ``τ = 1/(α·‖B‖₂²)``.
    stop
        Early stops (``steps`` is ignored); see the module docstring.
    record_points
        How many log-spaced times to record besides t = 0.
    initial, seed
        Initial weights, as for descent (:func:`service.core.model.models.initial_point`).
    rtol, atol
        The integrator's tolerances (0 < rtol < 1, atol > 0).
    deadline
        The computation's wall-time deadline (:mod:`service.core.deadline`), checked at every
        right-hand side evaluation; past it :class:`~service.core.errors.TimeLimitExceeded`.
    should_stop
        Asked at every right-hand side evaluation too; True ends the run with
        :class:`~service.core.errors.Cancelled`.

    Returns
    -------
    RunResult
        As for descent, with the conventions of the module docstring (``steps`` counts
        integrator steps, ``last_step`` is ‖ẋ‖₂, ``t_delta`` is t·ẋ).
    """
    norm, tau = check_flow(model, alpha, t_max, rtol, atol, record_points)
    x0 = initial_point(model, initial, seed)
    with np.errstate(over="ignore", invalid="ignore", under="ignore"):
        return _integrate(
            flow_model(model), norm or 1.0, alpha, tau, t_max, stop, record_points, x0, rtol,
            atol, deadline, should_stop,
        )  # fmt: skip


def check_flow(
    model: Model, alpha: float, t_max: float, rtol: float, atol: float, record_points: int
) -> tuple[float, float]:
    """Check the flow's arguments (see :func:`run_flow`) without integrating; return
    ``‖B‖₂`` of the inputs as a perceptron and the time unit τ."""
    if not (alpha > 0 and math.isfinite(alpha)):
        raise InvalidProblem("learning_rate", "must be a finite number > 0 (α of the flow)")
    if not (MIN_T_MAX <= t_max <= MAX_T_MAX):
        raise InvalidProblem("t_max", f"must be a number in [{MIN_T_MAX:g}, {MAX_T_MAX:g}]")
    perceptron = inputs_as_perceptron(model)
    norm = float(np.linalg.norm(perceptron.B, 2))
    # t_max/τ = t_max·α·‖B‖₂², in logs: it may lie far outside float64, and τ itself is kept
    # within 1e∓250 (time_unit), which any accepted horizon stays well inside (|log10 α·‖B‖₂²|
    # ≤ 130 when t_max ∈ [1e-100, 1e15] and t_max/τ ∈ [1e-9, 1e30])
    log_units = math.log10(t_max) + (math.log10(alpha) + 2.0 * math.log10(norm) if norm else 0.0)
    if not (math.log10(MIN_TIME_UNITS) <= log_units <= math.log10(MAX_TIME_UNITS)):
        raise InvalidProblem(
            "t_max",
            f"t_max·α·‖B‖₂² = {power_of_ten(log_units)} natural time units is outside "
            f"[{MIN_TIME_UNITS:g}, {MAX_TIME_UNITS:g}]: ask for a t_max (or learning_rate) that "
            f"makes it {'smaller' if log_units > 0 else 'larger'}",
        )
    if not (MIN_FLOW_RTOL <= rtol < 1):
        raise InvalidProblem("rtol", f"must be a number in [{MIN_FLOW_RTOL:.6g}, 1) (100·ε)")
    if not (MIN_FLOW_ATOL <= atol and math.isfinite(atol)):
        raise InvalidProblem("atol", f"must be a finite number ≥ {MIN_FLOW_ATOL:g}")
    if record_points < 1:
        raise InvalidProblem("record.points", "must be at least 1")
    return norm, time_unit(perceptron, alpha, Method.FLOW)


def _record_times(units: float, points: int) -> Array:
    """s = t/τ: 0, then ``points`` values spread evenly in log s over [min(1, s_max), s_max]."""
    start = min(1.0, units)
    if points == 1 or start == units:
        return np.array([0.0, units])
    times = np.geomspace(start, units, points)
    times[-1] = units
    return np.concatenate([[0.0], np.unique(times)])


Event = Callable[[float, Array], float]


def flow_model(model: Model) -> FlowModel:
    """The perceptron's :class:`FlowModel` (with its Hessian), or a net's through the kernel."""
    if isinstance(model, NetworkProblem):
        compiled = CompiledModel(model)
        return FlowModel(
            m=model.m, error_and_gradient=compiled.error_and_gradient, margins=compiled.margins
        )
    return perceptron_model(model)


def _events(model: FlowModel, stop: StopRules, alpha: float) -> list[tuple[StopReason, Event]]:
    """Terminal solver events for the stop rules, in the order of :data:`PRECEDENCE` (the
    integrator breaks ties between events at the same time by their order)."""
    events: list[tuple[StopReason, Event]] = []

    def add(reason: StopReason, fn: Event, direction: float) -> None:
        setattr(fn, "terminal", True)  # noqa: B010 - solve_ivp reads these attributes
        setattr(fn, "direction", direction)  # noqa: B010
        events.append((reason, fn))

    if stop.error_tolerance is not None:
        tol = stop.error_tolerance
        add(StopReason.ERROR_TOLERANCE, lambda t, x: model.error_and_gradient(x)[0] - tol, -1)
    if stop.on_classification:
        add(StopReason.CLASSIFIED, lambda t, x: float(np.min(model.margins(x))), 1)
    if stop.weight_bound is not None:
        bound = stop.weight_bound
        add(StopReason.WEIGHT_BOUND, lambda t, x: bound - float(np.max(np.abs(x))), -1)
    if stop.step_tolerance is not None:
        step_tol = stop.step_tolerance

        def speed(t: float, x: Array) -> float:
            g = model.error_and_gradient(x)[1]
            return alpha * float(np.linalg.norm(g)) - step_tol

        add(StopReason.STEP_TOLERANCE, speed, -1)
    return sorted(events, key=lambda event: PRECEDENCE.index(event[0]))


def _integrate(
    model: FlowModel,
    norm: float,
    alpha: float,
    tau: float,
    t_max: float,
    stop: StopRules,
    record_points: int,
    x0: Array,
    rtol: float,
    atol: float,
    deadline: Deadline,
    should_stop: Callable[[], bool] | None = None,
) -> RunResult:
    # Integrate in natural time s = t/τ: dx/ds = −τα·∇E = −∇E/‖B‖₂², of order 1 whatever
    # the scales of α and B (the divisions by ‖B‖ one at a time cannot overflow).
    units = t_max / tau

    def rhs(s: float, x: Array) -> Array:
        deadline.check(lambda: f"at t = {s * tau:.6g} of t_max = {t_max:.6g}")
        if should_stop is not None and should_stop():
            raise Cancelled(f"cancelled at t = {s * tau:.6g} of t_max = {t_max:.6g}")
        return -(model.error_and_gradient(x)[1] / norm) / norm

    exact = model.hessian

    def jacobian(s: float, x: Array) -> NDArray[np.float64]:
        assert exact is not None
        return -(exact(x) / norm) / norm

    times = _record_times(units, record_points)
    err0, g0 = model.error_and_gradient(x0)
    reason = state_stop(stop, x0, err0, model.margins(x0))
    xs: NDArray[np.float64] = x0[None, :]
    ts: Array = np.zeros(1)
    steps = 0
    if reason is None and stop.step_tolerance is not None:
        if alpha * float(np.linalg.norm(g0)) < stop.step_tolerance:
            reason = StopReason.STEP_TOLERANCE
    if reason is None:
        events = _events(model, stop, alpha)
        left_float64 = [False]  # whether a state or its derivative was ever not finite

        def watched(s: float, x: Array) -> Array:
            dx = rhs(s, x)
            if not (np.isfinite(x).all() and np.isfinite(dx).all()):
                left_float64[0] = True
            return dx

        with warnings.catch_warnings(record=True) as said:
            warnings.simplefilter("always")  # LSODA says why it failed only as a warning
            sol = solve_ivp(
                watched,
                (0.0, units),
                x0,
                method="LSODA",
                t_eval=times,
                events=[fn for _, fn in events] or None,
                rtol=rtol,
                atol=atol,
                jac=None if exact is None else jacobian,
            )
        steps = int(sol.nfev)
        ts = np.asarray(sol.t, dtype=np.float64)
        xs = np.asarray(sol.y, dtype=np.float64).reshape(len(x0), -1).T
        if sol.status == -1 and not left_float64[0]:
            # the integrator gave up on a finite state: not a verdict on the weights
            why = "; ".join(str(w.message) for w in said) or str(sol.message)
            raise InvalidProblem(
                "atol",
                f"the integrator (LSODA) could not meet rtol = {rtol:g}, atol = {atol:g} on "
                f"this problem ({why.strip()}): loosen them (defaults {DEFAULT_RTOL:g}, "
                f"{DEFAULT_ATOL:g})",
            )
        if sol.status == 1:
            hit = [k for k, te in enumerate(sol.t_events) if len(te)]
            first = min(hit, key=lambda k: (float(sol.t_events[k][0]), k))
            reason = events[first][0]
            s_end = float(sol.t_events[first][0])
            x_end = np.asarray(sol.y_events[first][0], dtype=np.float64)
            ts = np.append(ts[ts < s_end], s_end)
            xs = np.vstack([xs[: len(ts) - 1], x_end[None, :]])
        elif sol.status == 0 and len(ts) and np.isfinite(xs).all():
            reason = StopReason.T_MAX
        else:
            reason = StopReason.NON_FINITE
            good = np.isfinite(xs).all(axis=1)
            ts, xs = ts[good], xs[good]
            if len(ts) == 0:
                ts, xs = np.zeros(1), x0[None, :]
    t = ts * tau
    if reason is StopReason.T_MAX:
        t[-1] = t_max
    return _result(model, alpha, norm, t, ts, xs, reason, steps)


def _result(
    model: FlowModel,
    alpha: float,
    norm: float,
    ts: Array,
    units: Array,
    xs: NDArray[np.float64],
    reason: StopReason,
    steps: int,
) -> RunResult:
    """The result at times ``ts`` (= ``units``·τ); t·ẋ = s·dx/ds = −s·∇E/‖B‖₂²."""
    k = len(ts)
    errors = np.empty(k)
    t_delta = np.empty_like(xs)
    g = np.zeros(model.m)
    for i in range(k):
        errors[i], g = model.error_and_gradient(xs[i])
        t_delta[i] = -units[i] * ((g / norm) / norm)
    x = xs[-1].copy()
    velocity = -alpha * g
    return RunResult(
        weights=x,
        error=float(errors[-1]),
        steps=steps,
        stopped_by=reason,
        accuracy=float(np.mean(model.margins(x) > 0.0)),
        last_step=float(np.linalg.norm(velocity)) if ts[-1] > 0 else math.nan,
        gradient_norm=float(np.linalg.norm(g)),
        trajectory=Trajectory(t=ts.copy(), error=errors, weights=xs.copy(), t_delta=t_delta),
    )
