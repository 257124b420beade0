"""Gradient descent on ``E(x) = Σ_i (1 − θ(B_i·x))²``: batch (gd) and online, with stop rules.

Conventions
-----------
* ``gd``: ``x_{t+1} = x_t − η·∇E(x_t)``; t counts steps.
* ``online`` (per-pattern backprop): one step is one pass over the n examples, in the given
  order or in a fresh permutation per pass, updating after each example with the gradient
  of that example's own term, ``x ← x + 2η·(1 − θ(z_i))·θ'(z_i)·B_i`` with ``z_i = B_i·x``.
  t counts passes.
* Stop rules, checked after every step (and, where they make sense, at t = 0) in this order
  of precedence: ``non_finite`` (the next iterate or its error is not a finite number; the
  run ends at the last finite state), ``error_tolerance`` (E ≤ tolerance),
  ``classified`` (every margin B_i·x > 0, when asked), ``weight_bound`` (max_j |x_j| ≥ bound),
  ``step_tolerance`` (‖x_t − x_{t−1}‖₂ < tolerance), ``steps`` (t reached the budget).

The loop itself is behind :func:`_descend_reference`; the driver :func:`run_descent` owns
validation, initial weights and the result.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from service.core.activations import Array
from service.core.errors import InvalidProblem
from service.core.problem import Problem, accuracy, check_weights, error_and_gradient
from service.core.recorder import History, Recorder, record_schedule
from service.vocabulary import Method, Order, StopReason

STOP_EXPLANATIONS: dict[StopReason, str] = {
    StopReason.STEPS: "ran the requested number of steps",
    StopReason.WEIGHT_BOUND: "a weight reached the weight bound (max_j |x_j| >= bound)",
    StopReason.STEP_TOLERANCE: "the last step was shorter than the step tolerance",
    StopReason.ERROR_TOLERANCE: "the error fell to the error tolerance",
    StopReason.CLASSIFIED: "every example is classified correctly (all margins > 0)",
    StopReason.NON_FINITE: (
        "the next iterate or its error was not a finite number (overflow); "
        "the weights are the last finite ones"
    ),
}
"""One sentence per stop reason."""


@dataclass(frozen=True, slots=True)
class StopRules:
    """The run's budget and optional early stops (all tolerances and bounds positive)."""

    steps: int
    weight_bound: float | None = None
    step_tolerance: float | None = None
    error_tolerance: float | None = None
    on_classification: bool = False


@dataclass(frozen=True, slots=True)
class DescentResult:
    """The end of a run and its log-spaced history.

    ``steps`` is the final t; ``last_step`` is ‖x_t − x_{t−1}‖₂ (NaN if no step was taken);
    ``gradient_norm`` is ‖∇E(x_t)‖₂ at the final weights.
    """

    weights: Array
    error: float
    steps: int
    stopped_by: StopReason
    accuracy: float
    last_step: float
    gradient_norm: float
    history: History


INITIAL_WEIGHT_RANGE = 0.5
"""Weights drawn from ``seed`` are i.i.d. uniform on [−0.5, 0.5]."""


def initial_weights(problem: Problem, given: Sequence[float] | None, seed: int | None) -> Array:
    """The starting point: ``given``, else uniform on ±INITIAL_WEIGHT_RANGE from ``seed``,
    else zeros."""
    if given is not None:
        return check_weights(problem, given, "initial_weights")
    if seed is not None:
        rng = np.random.default_rng([seed, 0])
        return rng.uniform(-INITIAL_WEIGHT_RANGE, INITIAL_WEIGHT_RANGE, size=problem.m)
    return np.zeros(problem.m)


def run_descent(
    problem: Problem,
    *,
    method: Method,
    learning_rate: float,
    stop: StopRules,
    record_points: int,
    initial: Sequence[float] | None = None,
    seed: int | None = None,
    order: Order = Order.GIVEN,
) -> DescentResult:
    """Run gradient descent (``gd``) or online backprop (``online``) from ``initial``.

    Parameters
    ----------
    problem
        The reduced problem (B, θ).
    learning_rate
        η > 0.
    stop
        The step budget and early stops (see the module docstring).
    record_points
        How many log-spaced times to record besides t = 0.
    initial, seed
        Initial weights; see :func:`initial_weights`. ``seed`` also drives the shuffled order.
    """
    if not (learning_rate > 0 and math.isfinite(learning_rate)):
        raise InvalidProblem("learning_rate", "must be a finite number > 0")
    if stop.steps < 1:
        raise InvalidProblem("steps", "must be at least 1")
    if order is Order.SHUFFLED and method is not Method.ONLINE:
        raise InvalidProblem("order", "'shuffled' applies to method 'online' only")
    x0 = initial_weights(problem, initial, seed)
    rng = np.random.default_rng([0 if seed is None else seed, 1])
    orders = (lambda: rng.permutation(problem.n)) if order is Order.SHUFFLED else None
    schedule = record_schedule(stop.steps, record_points)
    return _descend_reference(problem, method, learning_rate, stop, schedule, x0, orders)


def _state_stop(problem: Problem, stop: StopRules, x: Array, error: float) -> StopReason | None:
    """The stop rules that depend on the state alone, in order of precedence."""
    if stop.error_tolerance is not None and error <= stop.error_tolerance:
        return StopReason.ERROR_TOLERANCE
    if stop.on_classification and accuracy(problem, x) == 1.0:
        return StopReason.CLASSIFIED
    if stop.weight_bound is not None and float(np.max(np.abs(x))) >= stop.weight_bound:
        return StopReason.WEIGHT_BOUND
    return None


def _online_pass(
    problem: Problem, x: Array, learning_rate: float, order: NDArray[np.int64] | None
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
    problem: Problem,
    method: Method,
    learning_rate: float,
    stop: StopRules,
    schedule: NDArray[np.int64],
    x0: Array,
    next_order: Callable[[], NDArray[np.int64]] | None,
) -> DescentResult:
    """The plain numpy loop: the reference every faster kernel must reproduce."""
    with np.errstate(over="ignore", invalid="ignore"):
        return _reference_loop(problem, method, learning_rate, stop, schedule, x0, next_order)


def _reference_loop(
    problem: Problem,
    method: Method,
    learning_rate: float,
    stop: StopRules,
    schedule: NDArray[np.int64],
    x0: Array,
    next_order: Callable[[], NDArray[np.int64]] | None,
) -> DescentResult:

    def advance(x: Array, g: Array) -> Array:
        if method is Method.GD:
            return x - learning_rate * g
        return _online_pass(problem, x, learning_rate, None if next_order is None else next_order())

    recorder = Recorder(len(schedule) + 1, problem.m)
    x = x0
    err, g = error_and_gradient(problem, x)
    t = 0
    k = 0  # index of the next scheduled time
    last_step = math.nan
    reason = _state_stop(problem, stop, x, err)
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
            recorder.add(t, err, x, t * (x_new - x))
            k += 1
        dx = x_new - x
        last_step = math.sqrt(float(dx @ dx))
        x, err, g = x_new, err_new, g_new
        t += 1
        reason = _state_stop(problem, stop, x, err)
        if reason is None and stop.step_tolerance is not None and last_step < stop.step_tolerance:
            reason = StopReason.STEP_TOLERANCE
    final_delta: Array | None = None
    if reason is not StopReason.NON_FINITE:
        x_next = advance(x, g)
        if np.all(np.isfinite(x_next)):
            final_delta = t * (x_next - x)
    recorder.add(t, err, x, final_delta)
    return DescentResult(
        weights=x,
        error=err,
        steps=t,
        stopped_by=reason,
        accuracy=accuracy(problem, x),
        last_step=last_step,
        gradient_norm=float(np.linalg.norm(g)),
        history=recorder.history(),
    )
