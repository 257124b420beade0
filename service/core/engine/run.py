"""What every engine shares: the stop rules and their precedence, the result of a run, and the
driver that runs the compiled kernel in chunks.

Stop rules
----------
A run ends at the first of these to hold, checked after every step (the state rules also at
t = 0), in this order of precedence (:data:`PRECEDENCE`):

``non_finite``
    the next iterate or its error is not a finite number; the run ends at the last finite
    state;
``error_tolerance``
    E ≤ tolerance;
``classified``
    every margin is > 0 (when asked);
``weight_bound``
    max_j |x_j| ≥ bound;
``step_tolerance``
    ‖x_t − x_{t−1}‖₂ < tolerance (flow: ‖ẋ‖₂ < tolerance);
``steps``
    t reached the budget; the flow's ``t_max`` when it reached its horizon.

The compiled kernel (:mod:`service.core.engine.kernel`) defines the state rules once
(``_state_stop``, which the flow integrator calls too) and inlines them in its step loop for
speed; ``tests/core/test_stop_precedence.py`` drives one constructed case through every engine
and checks that they agree on which rule wins.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from service.core.deadline import NO_DEADLINE, Deadline
from service.core.engine import kernel as _k
from service.core.engine.recorder import Recorder, Trajectory
from service.core.errors import Cancelled
from service.core.model.activations import Array
from service.core.model.norms import vector_norm
from service.vocabulary import StopReason

PRECEDENCE: tuple[StopReason, ...] = (
    StopReason.NON_FINITE,
    StopReason.ERROR_TOLERANCE,
    StopReason.CLASSIFIED,
    StopReason.WEIGHT_BOUND,
    StopReason.STEP_TOLERANCE,
    StopReason.STEPS,
    StopReason.T_MAX,
)
"""The stop rules; the first that holds wins (``steps`` and ``t_max`` never meet: the first
ends descent, the second the flow)."""

STOP_EXPLANATIONS: dict[StopReason, str] = {
    StopReason.STEPS: "ran the requested number of steps",
    StopReason.T_MAX: "reached t_max, the requested time of the flow",
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

STOP_CODES: dict[int, StopReason] = {
    _k.STEPS: StopReason.STEPS,
    _k.WEIGHT_BOUND: StopReason.WEIGHT_BOUND,
    _k.STEP_TOLERANCE: StopReason.STEP_TOLERANCE,
    _k.ERROR_TOLERANCE: StopReason.ERROR_TOLERANCE,
    _k.CLASSIFIED: StopReason.CLASSIFIED,
    _k.NON_FINITE: StopReason.NON_FINITE,
}
"""The kernel's stop codes."""


@dataclass(frozen=True, slots=True)
class StopRules:
    """The run's budget and optional early stops (all tolerances and bounds positive)."""

    steps: int
    weight_bound: float | None = None
    step_tolerance: float | None = None
    error_tolerance: float | None = None
    on_classification: bool = False

    def compiled(self) -> tuple[int, float, bool, float, float]:
        """The kernel's ``rules``: (steps, error_tolerance, classify, weight_bound,
        step_tolerance), an unset tolerance or bound as NaN (no comparison satisfies it)."""
        return (
            int(self.steps),
            _nan_or(self.error_tolerance),
            bool(self.on_classification),
            _nan_or(self.weight_bound),
            _nan_or(self.step_tolerance),
        )


def _nan_or(value: float | None) -> float:
    return math.nan if value is None else float(value)


def state_stop(stop: StopRules, x: Array, error: float, margins: Array) -> StopReason | None:
    """The stop rules that depend on the state alone, in order of precedence, through the
    kernel's one definition; None when none holds."""
    code = int(_k.kernels().state_stop(x, margins, error, stop.compiled()))
    return None if code == _k.RUNNING else STOP_CODES[code]


@dataclass(frozen=True, slots=True)
class RunResult:
    """The end of a run and its log-spaced trajectory.

    ``steps`` is the final t (descent) or the integrator's right-hand side evaluations
    (flow); ``last_step`` is ‖x_t − x_{t−1}‖₂ (flow: ‖ẋ‖₂; NaN if no step was taken);
    ``gradient_norm`` is ‖∇E(x_t)‖₂ at the final weights.
    """

    weights: Array
    error: float
    steps: int
    stopped_by: StopReason
    accuracy: float
    last_step: float
    gradient_norm: float
    trajectory: Trajectory


def build_result(
    x: Array,
    g: Array,
    fstate: Array,
    code: int,
    t: int,
    accuracy: float,
    recorder: Recorder,
    size: int,
) -> RunResult:
    """The :class:`RunResult` of a compiled run from its buffers: final x and ∇E, the
    kernel's float state, stop code and t, and the first ``size`` recorded rows."""
    return RunResult(
        weights=x.copy(),
        error=float(fstate[_k.ERR]),
        steps=t,
        stopped_by=STOP_CODES[code],
        accuracy=accuracy,
        last_step=float(fstate[_k.LAST_STEP]),
        gradient_norm=vector_norm(g),
        trajectory=recorder.trajectory(size),
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
    deadline: Deadline = NO_DEADLINE,
    should_stop: Callable[[], bool] | None = None,
) -> tuple[int, int, int]:
    """Drive a compiled run in chunks; return (stop code, t, records).

    ``start`` is the code of the t = 0 checks; ``chunk(t_end, orders, t_orders)`` runs up to
    ``t_end`` (``orders`` row k is the pass order at ``t_orders + k``, for shuffled online
    runs) and returns its code; ``finish(orders, row, code)`` records the final point, with
    ``orders[row]`` the order of the tentative last pass. ``istate[T]`` is the kernel's t.
    Between chunks the ``deadline`` is checked
    (:class:`~service.core.errors.TimeLimitExceeded`), and ``should_stop()`` when given
    (:class:`~service.core.errors.Cancelled` when it says so).
    """
    orders = _k.given_order(n)
    t_orders = 0
    code = start
    while code == _k.RUNNING:
        t = int(istate[_k.T])
        t_end = min(steps, t + per_chunk)
        if rng is not None:
            t_orders = t
            orders = draw_orders(rng, t_end - t, n)
        code = chunk(t_end, orders, t_orders)
        if code == _k.RUNNING:
            deadline.check(lambda: f"after {int(istate[_k.T])} of {steps} steps")
        if code == _k.RUNNING and should_stop is not None and should_stop():
            raise Cancelled(f"cancelled after {int(istate[_k.T])} of {steps} steps")
    t = int(istate[_k.T])
    row = 0
    if rng is not None and code != _k.NON_FINITE:
        # the tentative last pass uses the permutation drawn for the pass from x_t
        row = t - t_orders
        if row >= len(orders):
            orders, row = draw_orders(rng, 1, n), 0
    return code, t, finish(orders, row, code)


def draw_orders(rng: np.random.Generator, count: int, n: int) -> NDArray[np.int64]:
    """``count`` rows, each what one ``rng.permutation(n)`` call would return, in turn."""
    rows = np.broadcast_to(np.arange(n, dtype=np.int64), (count, n))
    return np.ascontiguousarray(rng.permuted(rows, axis=1), dtype=np.int64)
