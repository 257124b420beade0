"""Gradient descent and online backprop on multilayer nets, and per-layer summaries.

:func:`run_network_descent` is :func:`service.core.descent.run_descent` for the nets of
:mod:`service.core.network`: the same stop rules, recorder, non-finite rule, chunking and
wall-time limit, returning the same :class:`~service.core.descent.DescentResult`; the loop
runs in the compiled backprop kernel :mod:`service.core.net_kernel`. With no hidden layer
the net is the perceptron, but the service sends those runs to the perceptron kernel.

:class:`NetworkModel` is the net as a differentiable function of its flat weights
(``error_and_gradient``, ``margins``, through the compiled kernel): all that a gradient-flow
integrator needs. The flow ẋ = −α·∇E(x) of a net is the perceptron's solve_ivp path with
``model.error_and_gradient(x)`` in place of ``error_and_gradient(problem, x)``, ``min_i
model.margins(x)`` for the ``classified`` event, and no analytic Hessian (the stiff solver
then estimates the Jacobian by differences).

:func:`layer_histories` splits a run's history by layer (the per-layer divergence verdict
is the divergence engine run on each part), and :func:`summarise_layers` splits the final
weights, the final t·Δw, its drift over the last decade of t and any per-weight log rate
from the engine: near the end of a run the lower layers barely move (Kung and Hwang, quoted
in the paper's §1), which these figures show.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from service.core.activations import Array
from service.core.descent import (
    ACTIVATION_CODES,
    CHUNK_WORK,
    MAX_CHUNK_ORDERS,
    MAX_CHUNK_STEPS,
    DescentResult,
    StopRules,
    compiled_result,
    drive_chunks,
    vector_norm,
)
from service.core.divergence import DivergenceReport, judge_divergence
from service.core.errors import InvalidProblem
from service.core.net_kernel import net_kernels, unit_offsets
from service.core.network import (
    DEFAULT_SEED,
    Layout,
    NetworkProblem,
    initial_network_weights,
    network_accuracy,
)
from service.core.recorder import History, record_schedule
from service.core.workspace import unshared
from service.vocabulary import Method, Order, StopReason


@dataclass(frozen=True, slots=True)
class NetworkRun:
    """A run of a multilayer net: the descent result and the seed its weights came from
    (None when they were given)."""

    result: DescentResult
    seed: int | None


class _Buffers:
    """The kernel's description of the net and its per-example scratch."""

    __slots__ = ("kind", "A", "y", "widths", "starts", "offs", "bias", "h", "d", "delta", "gi")

    def __init__(self, problem: NetworkProblem) -> None:
        layout = problem.layout
        self.kind = ACTIVATION_CODES[problem.activation.name]
        self.A = np.ascontiguousarray(problem.A, dtype=np.float64)
        self.y = np.ascontiguousarray(problem.y, dtype=np.float64)
        self.widths = np.asarray(layout.widths, dtype=np.int64)
        self.starts = np.asarray(layout.starts, dtype=np.int64)
        self.offs = unit_offsets(self.widths)
        self.bias = layout.bias
        units = int(self.offs[-1])
        self.h, self.d, self.delta, self.gi = unshared(units, units, units, layout.size)


class NetworkModel:
    """A net as a function of its flat weights, through the compiled backprop kernel."""

    def __init__(self, problem: NetworkProblem) -> None:
        self.problem = problem
        self._buffers = _Buffers(problem)
        self._kernels = net_kernels()

    @property
    def m(self) -> int:
        """Number of weights."""
        return self.problem.m

    def error_and_gradient(self, x: Array) -> tuple[float, Array]:
        """E(x) (NaN when not finite) and ∇E(x) by backpropagation."""
        b = self._buffers
        g = np.empty(self.problem.m)
        z = np.empty(self.problem.n)
        err = self._kernels.gradient(
            b.kind, b.A, b.y, np.ascontiguousarray(x, dtype=np.float64),
            b.widths, b.starts, b.offs, b.bias, b.h, b.d, b.delta, z, g,
        )  # fmt: skip
        return float(err), g

    def margins(self, x: Array) -> Array:
        """z_i = y_i·a_out(u^i)."""
        b = self._buffers
        g = np.empty(self.problem.m)
        z = np.empty(self.problem.n)
        self._kernels.gradient(
            b.kind, b.A, b.y, np.ascontiguousarray(x, dtype=np.float64),
            b.widths, b.starts, b.offs, b.bias, b.h, b.d, b.delta, z, g,
        )  # fmt: skip
        return z


def chunk_steps(problem: NetworkProblem, shuffled: bool) -> int:
    """Steps per kernel call: about CHUNK_WORK multiply-adds (forward and back ≈ 3 per
    weight per example), within the perceptron driver's caps."""
    steps = CHUNK_WORK // (3 * problem.n * problem.m)
    if shuffled:
        steps = min(steps, MAX_CHUNK_ORDERS // problem.n)
    return max(1, min(steps, MAX_CHUNK_STEPS))


def _nan_or(value: float | None) -> float:
    return math.nan if value is None else float(value)


def run_network_descent(
    problem: NetworkProblem,
    *,
    method: Method,
    learning_rate: float,
    stop: StopRules,
    record_points: int,
    initial: Sequence[float] | None = None,
    seed: int | None = None,
    order: Order = Order.GIVEN,
    time_limit: float | None = None,
) -> NetworkRun:
    """Run gd or online backprop on a net; see :func:`service.core.descent.run_descent`.

    The initial weights are ``initial``, else drawn from ``seed``, else from
    :data:`~service.core.network.DEFAULT_SEED` (see :mod:`service.core.network`); a
    shuffled online run draws its pass orders from ``np.random.default_rng([seed, 1])``.
    """
    if not (learning_rate > 0 and math.isfinite(learning_rate)):
        raise InvalidProblem("learning_rate", "must be a finite number > 0")
    if stop.steps < 1:
        raise InvalidProblem("steps", "must be at least 1")
    if method not in (Method.GD, Method.ONLINE):
        raise InvalidProblem("method", "hidden-layer nets run with 'gd' or 'online'")
    if order is Order.SHUFFLED and method is not Method.ONLINE:
        raise InvalidProblem("order", "'shuffled' applies to method 'online' only")
    x0 = initial_network_weights(problem, initial, seed)
    used_seed = None if initial is not None else (DEFAULT_SEED if seed is None else seed)
    rng = np.random.default_rng([0 if seed is None else seed, 1])
    schedule = record_schedule(stop.steps, record_points)
    result = _descend(
        problem, method, learning_rate, stop, schedule, x0,
        rng if order is Order.SHUFFLED else None, time_limit,
    )  # fmt: skip
    return NetworkRun(result=result, seed=used_seed)


def _descend(
    problem: NetworkProblem,
    method: Method,
    learning_rate: float,
    stop: StopRules,
    schedule: NDArray[np.int64],
    x0: Array,
    rng: np.random.Generator | None,
    time_limit: float | None,
) -> DescentResult:
    """The compiled kernel, driven in chunks (as ``descent._descend_compiled``)."""
    ks = net_kernels()
    b = _Buffers(problem)
    n, m = problem.n, problem.m
    online = method is Method.ONLINE
    # state written every step, apart from every other run's (see service.core.workspace)
    x, z, g, x_new, z_new, g_new, fstate = unshared(m, n, m, m, n, m, 2)
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
    net = (b.widths, b.starts, b.offs, b.bias, b.h, b.d, b.delta)

    start = ks.start_run(
        b.kind, b.A, b.y, x, *net, z, g, fstate, error_tolerance, classify, weight_bound
    )

    def chunk(t_end: int, orders: NDArray[np.int64], t_orders: int) -> int:
        return int(
            ks.run_chunk(
                b.kind, online, b.A, b.y, learning_rate, *net, b.gi,
                x, z, g, x_new, z_new, g_new, istate, fstate, schedule,
                rec_t, rec_error, rec_weights, rec_t_delta, stop.steps, t_end,
                orders, rng is not None, t_orders, error_tolerance, classify, weight_bound,
                step_tolerance,
            )
        )  # fmt: skip

    def finish(orders: NDArray[np.int64], row: int, code: int) -> int:
        return int(
            ks.finish_run(
                b.kind, online, b.A, b.y, learning_rate, *net, b.gi, x, g, x_new, istate, fstate,
                rec_t, rec_error, rec_weights, rec_t_delta, orders, row, code,
            )
        )  # fmt: skip

    code, t, size = drive_chunks(
        int(start), stop.steps, per_chunk, n, rng, istate, chunk, finish, time_limit
    )
    records = (rec_t, rec_error, rec_weights, rec_t_delta)
    return compiled_result(x, g, fstate, code, t, network_accuracy(problem, x), records, size)


def layer_histories(layout: Layout, history: History) -> list[History]:
    """The history of each layer's weights alone (its columns of ``weights`` and
    ``t_delta``; ``t`` and ``error`` shared), in layer order.

    The per-layer divergence verdict is the divergence engine run on each of these (the
    engine judges any set of weights from their recorded trajectory).
    """
    starts = layout.starts
    return [
        History(
            t=history.t,
            error=history.error,
            weights=history.weights[:, starts[k] : starts[k + 1]],
            t_delta=history.t_delta[:, starts[k] : starts[k + 1]],
        )
        for k in range(layout.layers)
    ]


def judge_layers(
    layout: Layout,
    history: History,
    *,
    last_step: float,
    stopped_by: StopReason,
    step_tolerance: float | None = None,
    time_unit: float = 1.0,
    monotone: bool = True,
) -> list[DivergenceReport]:
    """The divergence engine's verdict on each layer's weights alone (see
    :func:`service.core.divergence.judge_divergence`; the arguments are the whole run's).

    A layer's last step is its share of the final step, ‖t·Δw_layer(t_end)‖ / t_end (for
    flow, its share of ‖ẋ‖), or the whole run's when that is not available.
    """
    t_end = float(history.t[-1]) if len(history.t) else 0.0
    reports = []
    for part in layer_histories(layout, history):
        final = part.t_delta[-1] if len(part.t) else np.empty(0)
        own = last_step
        if t_end > 0 and np.isfinite(final).all() and math.isfinite(last_step):
            own = vector_norm(final) / t_end
        reports.append(
            judge_divergence(
                part,
                last_step=own,
                stopped_by=stopped_by,
                step_tolerance=step_tolerance,
                time_unit=time_unit,
                monotone=monotone,
            )
        )
    return reports


@dataclass(frozen=True, slots=True)
class LayerSummary:
    """One layer's share of a run.

    ``t_delta`` is the layer's final t·Δw; ``t_delta_norm`` its norm; ``t_delta_drift`` is
    max over recorded t in [t_end/10, t_end] of ‖t·Δw(t) − t·Δw(t_end)‖₂ / ‖t·Δw(t_end)‖₂
    (how far the statistic of Figure 5 moved over the last decade; None when the last
    decade has fewer than two samples, a non-finite row, or a zero final norm);
    ``log_rate`` is the divergence engine's per-weight rate for the layer's weights, when
    given.
    """

    index: int
    inputs: int
    units: int
    start: int
    stop: int
    weights: Array
    bias: Array | None
    t_delta: Array | None
    t_delta_norm: float | None
    t_delta_drift: float | None
    log_rate: Array | None
    log_rate_norm: float | None


def summarise_layers(
    layout: Layout, weights: Array, history: History, log_rate: Array | None = None
) -> list[LayerSummary]:
    """Split a run's final weights, t·Δw and (optionally) per-weight log rates by layer."""
    out: list[LayerSummary] = []
    t = history.t
    last = len(t) - 1
    decade = [k for k in range(len(t)) if t[k] >= t[last] / 10.0] if last >= 0 else []
    for index, (W, c) in enumerate(layout.unflatten(np.asarray(weights, dtype=np.float64))):
        start, stop = layout.starts[index], layout.starts[index + 1]
        td = history.t_delta[:, start:stop]
        final = td[last] if last >= 0 and np.isfinite(td[last]).all() else None
        norm = vector_norm(final) if final is not None else None
        drift: float | None = None
        rows = td[decade] if decade else td[:0]
        if final is not None and norm and len(decade) >= 2 and np.isfinite(rows).all():
            drift = max(vector_norm(row - final) for row in rows) / norm
        rate = None if log_rate is None else np.asarray(log_rate[start:stop], dtype=np.float64)
        out.append(
            LayerSummary(
                index=index,
                inputs=layout.widths[index],
                units=layout.widths[index + 1],
                start=start,
                stop=stop,
                weights=W.copy(),
                bias=None if c is None else c.copy(),
                t_delta=final,
                t_delta_norm=norm,
                t_delta_drift=drift,
                log_rate=rate,
                log_rate_norm=None if rate is None else vector_norm(rate),
            )
        )
    return out


def warm_up_network() -> None:
    """Compile the backprop kernel (or load it from the cache) with two tiny runs, gd and
    shuffled online, on a 2-1-1 net with biases (the activation, the method and the depth are
    run-time arguments of one compiled function)."""
    from service.core.activations import get_activation
    from service.core.network import build_network_problem

    problem = build_network_problem(
        [[1.0, -0.5], [0.25, 2.0]], [1, -1], get_activation("tanh"), hidden=[1], bias=True
    )
    for method, order in ((Method.GD, Order.GIVEN), (Method.ONLINE, Order.SHUFFLED)):
        run_network_descent(
            problem, method=method, learning_rate=0.1, stop=StopRules(steps=3),
            record_points=2, seed=0, order=order,
        )  # fmt: skip
    NetworkModel(problem).error_and_gradient(np.zeros(problem.m))
