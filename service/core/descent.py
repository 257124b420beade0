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

The driver :func:`run_descent` owns validation, initial weights and the result; the loop runs
in the compiled kernel (:mod:`service.core.kernel`), in chunks of steps, through
:func:`_descend_compiled`. :func:`_descend_reference` is the plain numpy loop it reproduces
(to rounding: 1e-12 relative in the tests, with every stop rule firing at the same step).
A shuffled online run draws one ``rng.permutation(n)`` per pass from
``np.random.default_rng([seed, 1])``, in both.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from service.core import kernel as _k
from service.core.activations import Array, get_activation
from service.core.errors import InvalidProblem, TimeLimitExceeded
from service.core.problem import (
    Problem,
    accuracy,
    build_problem,
    check_weights,
    error_and_gradient,
)
from service.core.recorder import History, Recorder, record_schedule
from service.core.workspace import unshared
from service.vocabulary import ActivationName, Method, Order, StopReason

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


def vector_norm(v: Array) -> float:
    """‖v‖₂ of a vector, without overflow in the squares (∞ only if an entry is)."""
    scale = float(np.max(np.abs(v))) if v.size else 0.0
    if scale == 0.0 or not math.isfinite(scale):
        return scale
    return scale * math.sqrt(float(np.sum((v / scale) ** 2)))


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
    time_limit: float | None = None,
) -> DescentResult:
    """Run gradient descent (``gd``) or online backprop (``online``) from ``initial``.

    (The gradient flow, ``method="flow"``, is :func:`service.core.flow.run_flow`.)

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
    time_limit
        Wall-time limit in seconds; checked between chunks of the compiled kernel (a chunk is
        about 2^22 multiply-adds, a fraction of a second), past it :class:`TimeLimitExceeded`.
    """
    if not (learning_rate > 0 and math.isfinite(learning_rate)):
        raise InvalidProblem("learning_rate", "must be a finite number > 0")
    if stop.steps < 1:
        raise InvalidProblem("steps", "must be at least 1")
    if method not in (Method.GD, Method.ONLINE):
        raise InvalidProblem("method", f"run_descent runs 'gd' and 'online', not {method!r}")
    if order is Order.SHUFFLED and method is not Method.ONLINE:
        raise InvalidProblem("order", "'shuffled' applies to method 'online' only")
    x0 = initial_weights(problem, initial, seed)
    rng = np.random.default_rng([0 if seed is None else seed, 1])
    schedule = record_schedule(stop.steps, record_points)
    return _descend_compiled(
        problem,
        method,
        learning_rate,
        stop,
        schedule,
        x0,
        rng if order is Order.SHUFFLED else None,
        time_limit,
    )


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
            recorder.add(t, err, x, t * (x_new - x))
            k += 1
        last_step = vector_norm(x_new - x)
        x, err, g = x_new, err_new, g_new
        t += 1
        reason = state_stop(stop, x, err, problem.margins)
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
        gradient_norm=vector_norm(g),
        history=recorder.history(),
    )


BLOCKED_THRESHOLD = 500
"""gd runs whose n·m exceeds this evaluate E and ∇E in blocks of rows (one pass over B, SIMD
dot products and residuals; see :func:`service.core.kernel._evaluate_blocked`), smaller ones
in the plain row loop. Measured on a 2-core Xeon (µs per step, row loop vs blocks; section 5
of benchmarks/bench_descent.py): 4×3 0.10 vs 0.38, 25×8 0.48 vs 0.56, 50×8 0.86 vs 0.86,
20×30 0.79 vs 0.72, 30×30 1.15 vs 0.91, 100×20 2.65 vs 1.89, 400×40 17.7 vs 8.5."""

CHUNK_WORK = 1 << 22
"""About this many multiply-adds per kernel call (tens of milliseconds), so the driver regains
control between chunks (for a deadline, and to draw the next chunk's permutations)."""

MAX_CHUNK_STEPS = 1_000_000
MAX_CHUNK_ORDERS = 1 << 18
"""At most this many permutation entries (steps × n) are drawn per chunk."""

ACTIVATION_CODES: dict[str, int] = {  # activation → the compiled kernels' code
    ActivationName.TANH: _k.TANH,
    ActivationName.LOGISTIC: _k.LOGISTIC,
    ActivationName.ARCTAN: _k.ARCTAN,
    ActivationName.ERF: _k.ERF,
}
_STOP_CODES: dict[int, StopReason] = {
    _k.STEPS: StopReason.STEPS,
    _k.WEIGHT_BOUND: StopReason.WEIGHT_BOUND,
    _k.STEP_TOLERANCE: StopReason.STEP_TOLERANCE,
    _k.ERROR_TOLERANCE: StopReason.ERROR_TOLERANCE,
    _k.CLASSIFIED: StopReason.CLASSIFIED,
    _k.NON_FINITE: StopReason.NON_FINITE,
}
# Bound of |(1 − θ(z))·θ'(z)| over all z and activations: 2·(2/√π) for erf is the largest.
_MAX_RESIDUAL = 2.0 * 2.0 / math.sqrt(math.pi)


def chunk_steps(problem: Problem, shuffled: bool) -> int:
    """Steps per kernel call: about CHUNK_WORK multiply-adds, within the caps above."""
    steps = CHUNK_WORK // (problem.n * problem.m)
    if shuffled:
        steps = min(steps, MAX_CHUNK_ORDERS // problem.n)
    return max(1, min(steps, MAX_CHUNK_STEPS))


def _nan_or(value: float | None) -> float:
    # The kernel takes an unset tolerance or bound as NaN, which no comparison satisfies.
    return math.nan if value is None else float(value)


def _descend_compiled(
    problem: Problem,
    method: Method,
    learning_rate: float,
    stop: StopRules,
    schedule: NDArray[np.int64],
    x0: Array,
    rng: np.random.Generator | None,
    time_limit: float | None = None,
) -> DescentResult:
    """The compiled kernel, driven in chunks of :func:`chunk_steps` steps.

    ``time_limit`` (seconds from the start of the run) is checked between chunks: past it
    the run raises :class:`TimeLimitExceeded`.

    ``rng`` (shuffled online runs only) draws the pass orders: the permutations of a chunk
    are drawn at once, row by row exactly as successive ``rng.permutation(n)`` calls.
    """
    ks = _k.kernels()
    B = np.ascontiguousarray(problem.B)
    n, m = problem.n, problem.m
    kind = ACTIVATION_CODES[problem.activation.name]
    online = method is Method.ONLINE
    blocked = not online and n * m > BLOCKED_THRESHOLD
    # online keeps ∇E current only if it could overflow (it is checked like the reference);
    # gd always has it
    check_gradient = False
    if online:
        with np.errstate(over="ignore"):
            col_sums = np.abs(B).sum(axis=0)
            check_gradient = not bool(np.all(_MAX_RESIDUAL * 2.0 * col_sums < 1e300))
    # state written every step, apart from every other run's (see service.core.workspace)
    x, z, v, g, x_new, z_new, g_new, fstate = unshared(m, n, n, m, m, n, m, 2)
    (istate,) = unshared(2, dtype=np.int64)
    x[:] = x0
    capacity = len(schedule) + 1
    rec_t, rec_error = np.empty(capacity), np.empty(capacity)
    rec_weights, rec_t_delta = np.empty((capacity, m)), np.empty((capacity, m))
    error_tolerance = _nan_or(stop.error_tolerance)
    weight_bound = _nan_or(stop.weight_bound)
    step_tolerance = _nan_or(stop.step_tolerance)
    classify = bool(stop.on_classification)
    per_chunk = chunk_steps(problem, rng is not None)
    start = ks.start_run(
        kind, B, x, z, v, g, fstate, blocked, error_tolerance, classify, weight_bound
    )

    def chunk(t_end: int, orders: NDArray[np.int64], t_orders: int) -> int:
        return int(
            ks.run_chunk(
                kind, online, blocked, check_gradient, B, learning_rate,
                x, z, v, g, x_new, z_new, g_new, istate, fstate, schedule,
                rec_t, rec_error, rec_weights, rec_t_delta, stop.steps, t_end,
                orders, rng is not None, t_orders, error_tolerance, classify, weight_bound,
                step_tolerance,
            )
        )  # fmt: skip

    def finish(orders: NDArray[np.int64], row: int, code: int) -> int:
        return int(
            ks.finish_run(
                kind, online, blocked, B, learning_rate, x, z, v, g, x_new, istate, fstate,
                rec_t, rec_error, rec_weights, rec_t_delta, orders, row, code,
            )
        )  # fmt: skip

    code, t, size = drive_chunks(
        int(start), stop.steps, per_chunk, n, rng, istate, chunk, finish, time_limit
    )
    records = (rec_t, rec_error, rec_weights, rec_t_delta)
    return compiled_result(x, g, fstate, code, t, accuracy(problem, x), records, size)


def compiled_result(
    x: Array,
    g: Array,
    fstate: Array,
    code: int,
    t: int,
    accuracy: float,
    records: tuple[Array, Array, Array, Array],
    size: int,
) -> DescentResult:
    """The :class:`DescentResult` of a compiled run (perceptron or net) from its buffers:
    final x and ∇E, the kernel's float state, stop code and t, and the first ``size`` rows
    of the recorder's (t, error, weights, t_delta)."""
    t_rec, error_rec, weights_rec, t_delta_rec = (r[:size].copy() for r in records)
    return DescentResult(
        weights=x,
        error=float(fstate[_k.ERR]),
        steps=t,
        stopped_by=_STOP_CODES[code],
        accuracy=accuracy,
        last_step=float(fstate[_k.LAST_STEP]),
        gradient_norm=vector_norm(g),
        history=History(t=t_rec, error=error_rec, weights=weights_rec, t_delta=t_delta_rec),
    )


def drive_chunks(
    start: int,
    steps: int,
    per_chunk: int,
    n: int,
    rng: np.random.Generator | None,
    istate: NDArray[np.int64],
    chunk: Callable[[int, NDArray[np.int64], int], int],
    finish: Callable[[NDArray[np.int64], int, int], int],
    time_limit: float | None,
) -> tuple[int, int, int]:
    """Drive a compiled run (perceptron or net) in chunks; return (stop code, t, records).

    ``start`` is the code of the t = 0 checks; ``chunk(t_end, orders, t_orders)`` runs up to
    ``t_end`` (``orders`` row k is the pass order at ``t_orders + k``, for shuffled online
    runs) and returns its code; ``finish(orders, row, code)`` records the final point, with
    ``orders[row]`` the order of the tentative last pass. ``istate[T]`` is the kernel's t.
    Between chunks the wall-time limit is checked (:class:`TimeLimitExceeded`).
    """
    deadline = None if time_limit is None else time.monotonic() + time_limit
    orders = _k.given_order(n)
    t_orders = 0
    code = start
    while code == _k.RUNNING:
        t = int(istate[_k.T])
        t_end = min(steps, t + per_chunk)
        if rng is not None:
            t_orders = t
            orders = _draw_orders(rng, t_end - t, n)
        code = chunk(t_end, orders, t_orders)
        if code == _k.RUNNING and deadline is not None and time.monotonic() > deadline:
            progress = f"after {int(istate[_k.T])} of {steps} steps"
            raise TimeLimitExceeded(time_limit or 0.0, progress)
    t = int(istate[_k.T])
    row = 0
    if rng is not None and code != _k.NON_FINITE:
        # the tentative last pass uses the permutation drawn for the pass from x_t
        row = t - t_orders
        if row >= len(orders):
            orders, row = _draw_orders(rng, 1, n), 0
    return code, t, finish(orders, row, code)


def _draw_orders(rng: np.random.Generator, count: int, n: int) -> NDArray[np.int64]:
    """``count`` rows, each what one ``rng.permutation(n)`` call would return, in turn."""
    rows = np.broadcast_to(np.arange(n, dtype=np.int64), (count, n))
    return np.ascontiguousarray(rng.permuted(rows, axis=1), dtype=np.int64)


def reference_descent(
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
    """:func:`run_descent` through the plain numpy loop (the reference; slow, for tests)."""
    x0 = initial_weights(problem, initial, seed)
    rng = np.random.default_rng([0 if seed is None else seed, 1])
    orders: Callable[[], NDArray[np.int64]] | None = None
    if order is Order.SHUFFLED:
        orders = lambda: rng.permutation(problem.n)  # noqa: E731
    schedule = record_schedule(stop.steps, record_points)
    return _descend_reference(problem, method, learning_rate, stop, schedule, x0, orders)


def warm_up() -> None:
    """Compile the kernel (or load it from the cache) and run gd and shuffled online once.

    The activation, the method, the order and the blocked switch are run-time arguments of one
    compiled function, so these two tiny runs compile everything a request can use; then
    the same for the backprop kernel of nets with hidden layers.
    """
    problem = build_problem([[1.0, -0.5], [0.25, 2.0]], [1, -1], get_activation("tanh"))
    for method, order in ((Method.GD, Order.GIVEN), (Method.ONLINE, Order.SHUFFLED)):
        run_descent(
            problem, method=method, learning_rate=0.1, stop=StopRules(steps=3),
            record_points=2, seed=0, order=order,
        )  # fmt: skip
    from service.core.net_descent import warm_up_network  # imports this module

    warm_up_network()
