"""The oracle of the descent tests: a plain numpy loop that the compiled kernel must reproduce.

Written apart from the service (its own stop rules, its own online pass, numpy's E and ∇E)
so that it is an independent check of :func:`service.core.engine.descent.run_descent`: to
rounding (1e-12 relative in the tests), with every stop rule firing at the same step.

Conventions are the engine's (see :mod:`service.core.engine.run`): stop rules after every
step in the order non_finite, error_tolerance, classified, weight_bound, step_tolerance,
steps; the state rules also at t = 0; at each scheduled t the recorder stores
(t, E(x_t), x_t, t·(x_{t+1} − x_t)), and the final t with a tentative extra step. A shuffled
online run draws one ``rng.permutation(n)`` per pass from ``np.random.default_rng([seed, 1])``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import numpy as np
from numpy.typing import NDArray

from service.core.engine.recorder import Trajectory, record_schedule
from service.core.engine.run import RunResult, StopRules
from service.core.model.activations import Array
from service.core.model.norms import vector_norm
from service.core.model.problem import (
    PerceptronProblem,
    error_and_gradient,
    initial_weights,
)
from service.vocabulary import Method, Order, StopReason


def state_stop(
    stop: StopRules, x: Array, error: float, margins: Callable[[Array], Array]
) -> StopReason | None:
    """The stop rules that depend on the state alone, in order of precedence.

    ``margins(x)`` gives each example's margin (B·x for the perceptron, y_i·out_i for a
    net); it is called only when ``on_classification`` asks for it.
    """
    if stop.error_tolerance is not None and error <= stop.error_tolerance:
        return StopReason.ERROR_TOLERANCE
    if stop.on_classification and bool(np.all(margins(x) > 0.0)):
        return StopReason.CLASSIFIED
    if stop.weight_bound is not None and float(np.max(np.abs(x))) >= stop.weight_bound:
        return StopReason.WEIGHT_BOUND
    return None


def _online_pass(
    problem: PerceptronProblem, x: Array, learning_rate: float, order: NDArray[np.int64] | None
) -> Array:
    """One pass of per-example updates; returns a new array."""
    x = x.copy()
    act = problem.activation
    for i in range(problem.n) if order is None else order:
        b = problem.B[i]
        z = float(b @ x)
        x += (2.0 * learning_rate * float(act.complement(z) * act.derivative(z))) * b
    return x


def _descend_reference(
    problem: PerceptronProblem,
    method: Method,
    learning_rate: float,
    stop: StopRules,
    schedule: NDArray[np.int64],
    x0: Array,
    next_order: Callable[[], NDArray[np.int64]] | None,
) -> RunResult:
    """The plain numpy loop: the reference every faster kernel must reproduce (overflow is
    reported by non-finite values, not warnings)."""

    def advance(x: Array, g: Array) -> Array:
        if method is Method.GD:
            return x - learning_rate * g
        return _online_pass(problem, x, learning_rate, None if next_order is None else next_order())

    rows: list[tuple[float, float, Array, Array]] = []  # (t, E, x, t·Δx) per recorded t
    x = x0
    err, g = error_and_gradient(problem, x)
    t = 0
    k = 0  # index of the next scheduled time
    last_step = math.nan
    reason = state_stop(stop, x, err, problem.margins)
    while reason is None:
        if t >= stop.steps:
            reason = StopReason.STEPS
            break
        x_new = advance(x, g)
        finite = bool(np.isfinite(x_new).all())
        if finite:
            err_new, g_new = error_and_gradient(problem, x_new)
            finite = math.isfinite(err_new) and bool(np.isfinite(g_new).all())
        if not finite:
            reason = StopReason.NON_FINITE
            break
        if k < len(schedule) and schedule[k] == t:
            rows.append((t, err, x, t * (x_new - x)))
            k += 1
        last_step = vector_norm(x_new - x)
        x, err, g = x_new, err_new, g_new
        t += 1
        reason = state_stop(stop, x, err, problem.margins)
        if reason is None and stop.step_tolerance is not None and last_step < stop.step_tolerance:
            reason = StopReason.STEP_TOLERANCE
    final_delta = np.full(problem.m, np.nan)  # NaN when the next iterate is not finite
    if reason is not StopReason.NON_FINITE:
        x_next = advance(x, g)
        if np.all(np.isfinite(x_next)):
            final_delta = t * (x_next - x)
    rows.append((t, err, x, final_delta))
    return RunResult(
        weights=x,
        error=err,
        steps=t,
        stopped_by=reason,
        accuracy=float(np.mean(problem.B @ x > 0.0)),
        last_step=last_step,
        gradient_norm=vector_norm(g),
        trajectory=Trajectory(
            t=np.array([row[0] for row in rows], dtype=np.float64),
            error=np.array([row[1] for row in rows]),
            weights=np.array([row[2] for row in rows]),
            t_delta=np.array([row[3] for row in rows]),
        ),
    )


def reference_descent(
    problem: PerceptronProblem,
    *,
    method: Method,
    learning_rate: float,
    stop: StopRules,
    record_points: int,
    initial: Sequence[float] | None = None,
    seed: int | None = None,
    order: Order = Order.GIVEN,
) -> RunResult:
    """:func:`run_descent` of a perceptron through the plain numpy loop (slow)."""
    x0 = initial_weights(problem, initial, seed)
    rng = np.random.default_rng([0 if seed is None else seed, 1])
    orders: Callable[[], NDArray[np.int64]] | None = None
    if order is Order.SHUFFLED:
        orders = lambda: rng.permutation(problem.n)  # noqa: E731
    schedule = record_schedule(stop.steps, record_points)
    with np.errstate(over="ignore", invalid="ignore"):
        return _descend_reference(problem, method, learning_rate, stop, schedule, x0, orders)
