"""Gradient descent and online backprop, for the perceptron and for nets, through one kernel.

Conventions
-----------
* ``gd``: ``x_{t+1} = x_t − η·∇E(x_t)``; t counts steps.
* ``online`` (per-pattern backprop): one step is one pass over the n examples, in the given
  order or in a fresh permutation per pass, updating after each example with the gradient of
  that example's own term (the perceptron: ``x ← x + 2η·(1 − θ(z_i))·θ'(z_i)·B_i`` with
  ``z_i = B_i·x``; a net: ``x ← x − η·∇E_i(x)``). t counts passes.
* ``anneal`` (Langevin relaxation): ``x_{t+1} = x_t − η·∇E(x_t) + √(2η·T_t)·ξ_t`` with ξ_t
  standard normal and the logarithmic cooling schedule ``T_t = T₀/ln(e + t/τ)`` (Geman and
  Hwang), T₀ the ``temperature`` and τ the ``cooling_time``; t counts steps. The ξ_t are
  ``np.random.default_rng([seed, 2]).standard_normal`` drawn in order, m per step (a chunk's
  at once: the same stream whatever the chunks), so a run is reproducible from its seed
  (seed 0 when none is given). T₀ = 0 is ``gd`` to the last bit. The recorded t_delta is the
  drift t·(−η·∇E(x_t)), the noise left out (see :mod:`service.core.engine.kernel`).
* The stop rules and their precedence are those of :mod:`service.core.engine.run`.

:func:`run_descent` takes either model (:data:`service.core.model.models.Model`) and runs the
compiled kernel (:mod:`service.core.engine.kernel`) in chunks of steps, through the one chunk
driver and result builder of :mod:`service.core.engine.run`. :class:`CompiledModel` is a model
as the kernel sees it (grouped arrays); it also evaluates E and ∇E through the kernel, which is
all a gradient-flow integrator needs of a net. A shuffled online run draws one
``rng.permutation(n)`` per pass from ``np.random.default_rng([seed, 1])``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
from numpy.typing import NDArray

from service.core.deadline import NO_DEADLINE, Deadline
from service.core.engine import kernel as _k
from service.core.engine.network_kernel import unit_offsets
from service.core.engine.perceptron_kernel import BLOCK_ROWS
from service.core.engine.recorder import Recorder, record_schedule
from service.core.engine.run import RunResult, StopRules, build_result, drive_chunks
from service.core.engine.workspace import unshared
from service.core.errors import InvalidProblem
from service.core.model.activations import Array
from service.core.model.models import Model, initial_point, model_accuracy
from service.core.model.network import NetworkProblem
from service.vocabulary import Method, Order

BLOCKED_THRESHOLD = 500
"""gd runs of the perceptron whose n·m exceeds this evaluate E and ∇E in blocks of rows (one
pass over B, SIMD dot products and residuals; see
:func:`service.core.engine.perceptron_kernel.evaluate_blocked`), smaller ones in the plain row
loop. Measured on a 2-core Xeon (µs per step, row loop vs blocks; section 5 of
benchmarks/bench_descent.py): 4×3 0.10 vs 0.38, 25×8 0.48 vs 0.56, 50×8 0.86 vs 0.86,
20×30 0.79 vs 0.72, 30×30 1.15 vs 0.91, 100×20 2.65 vs 1.89, 400×40 17.7 vs 8.5."""

CHUNK_WORK = 1 << 22
"""About this many multiply-adds per kernel call (tens of milliseconds), so the driver regains
control between chunks (for a deadline, and to draw the next chunk's permutations)."""

MAX_CHUNK_STEPS = 1_000_000
MAX_CHUNK_ORDERS = 1 << 18
"""At most this many permutation entries (steps × n) are drawn per chunk."""
MAX_CHUNK_NOISE = 1 << 18
"""At most this many normals (steps × m) are drawn per chunk of an annealing run (2 MB)."""

# Bound of |(1 − θ(z))·θ'(z)| over all z and activations: 2·(2/√π) for erf is the largest.
_MAX_RESIDUAL = 2.0 * 2.0 / math.sqrt(math.pi)

_NO_MATRIX = np.empty((0, 0))
_NO_MATRIX.setflags(write=False)  # the models' data are read-only: one compiled signature
_NO_VECTOR = np.empty(0)
_NO_VECTOR.setflags(write=False)
_NO_INDEX = np.empty(0, dtype=np.int64)


class CompiledModel:
    """A model as the kernel sees it: its data, its layout and its per-example scratch.

    ``work`` is the multiply-adds of one evaluation of E and ∇E: n·m for the perceptron,
    about 3·n·m for a net (forward and back).
    """

    def __init__(self, model: Model) -> None:
        self.model = model
        self.n, self.m = model.n, model.m
        net = isinstance(model, NetworkProblem)
        kind = model.activation.code
        units = 0
        data: tuple[Any, ...]  # (B, A, y, widths, starts, offs, bias): the unused model's empty
        if isinstance(model, NetworkProblem):
            layout = model.layout
            widths = np.asarray(layout.widths, dtype=np.int64)
            offs = unit_offsets(widths)
            units = int(offs[-1])
            data = (
                _NO_MATRIX,
                np.ascontiguousarray(model.A, dtype=np.float64),
                np.ascontiguousarray(model.y, dtype=np.float64),
                widths,
                np.asarray(layout.starts, dtype=np.int64),
                offs,
                layout.bias,
            )
        else:
            B = np.ascontiguousarray(model.B)
            data = (B, _NO_MATRIX, _NO_VECTOR, _NO_INDEX, _NO_INDEX, _NO_INDEX, False)
        self._head = (kind, net)
        self._data = data
        self.work = (3 if net else 1) * self.n * self.m
        # per-example scratch, apart from every other run's (see service.core.engine.workspace)
        v, h, d, delta, gi, work = unshared(self.n, units, units, units, self.m, BLOCK_ROWS)
        (bits,) = unshared((2, BLOCK_ROWS), dtype=np.int64)
        self.scratch = (v, h, d, delta, gi, work, bits)

    def arguments(self, *, blocked: bool = False, check_gradient: bool = False) -> tuple[Any, ...]:
        """The kernel's ``model`` tuple."""
        return (*self._head, *self._data, blocked, check_gradient)

    def error_and_gradient(self, x: Array) -> tuple[float, Array]:
        """E(x) (NaN when not finite) and ∇E(x), through the kernel."""
        g, z = np.empty(self.m), np.empty(self.n)
        x = np.ascontiguousarray(x, dtype=np.float64)
        err = _k.kernels().gradient(self.arguments(), self.scratch, x, z, g)
        return float(err), g

    def margins(self, x: Array) -> Array:
        """The margins z_i (example i is classified correctly when z_i > 0)."""
        g, z = np.empty(self.m), np.empty(self.n)
        x = np.ascontiguousarray(x, dtype=np.float64)
        _k.kernels().gradient(self.arguments(), self.scratch, x, z, g)
        return z


def chunk_steps(work: int, n: int, shuffled: bool, noisy_weights: int = 0) -> int:
    """Steps per kernel call: about CHUNK_WORK multiply-adds for an evaluation of ``work``
    multiply-adds, within the caps above (``noisy_weights``: m for an annealing run)."""
    steps = CHUNK_WORK // work
    if shuffled:
        steps = min(steps, MAX_CHUNK_ORDERS // n)
    if noisy_weights:
        steps = min(steps, MAX_CHUNK_NOISE // noisy_weights)
    return max(1, min(steps, MAX_CHUNK_STEPS))


def run_descent(
    model: Model,
    *,
    method: Method,
    learning_rate: float,
    stop: StopRules,
    record_points: int,
    initial: Sequence[float] | None = None,
    seed: int | None = None,
    order: Order = Order.GIVEN,
    temperature: float = 0.0,
    cooling_time: float = 1.0,
    deadline: Deadline = NO_DEADLINE,
    should_stop: Callable[[], bool] | None = None,
) -> RunResult:
    """Run gradient descent (``gd``), online backprop (``online``) or Langevin relaxation
    (``anneal``) from ``initial``.

    (The gradient flow, ``method="flow"``, is :func:`service.core.engine.flow.run_flow`.)

    Parameters
    ----------
    model
        The perceptron (B, θ) or a net with hidden layers.
    learning_rate
        η > 0.
    stop
        The step budget and early stops (see :mod:`service.core.engine.run`).
    record_points
        How many log-spaced times to record besides t = 0.
    initial, seed
        Initial weights; see :func:`service.core.model.models.initial_point`. ``seed`` also
        drives the shuffled order and the annealing noise.
    temperature, cooling_time
        ``anneal``: T₀ ≥ 0 and τ > 0 of the cooling schedule T_t = T₀/ln(e + t/τ).
    deadline
        The computation's wall-time deadline (:mod:`service.core.deadline`); checked between
        chunks of the compiled kernel (a chunk is about 2^22 multiply-adds, a fraction of a
        second), past it :class:`~service.core.errors.TimeLimitExceeded`.
    should_stop
        Asked between chunks too; when it returns True the run ends with
        :class:`~service.core.errors.Cancelled`.
    """
    if not (learning_rate > 0 and math.isfinite(learning_rate)):
        raise InvalidProblem("learning_rate", "must be a finite number > 0")
    if stop.steps < 1:
        raise InvalidProblem("steps", "must be at least 1")
    if record_points < 1:
        raise InvalidProblem("record.points", "must be at least 1")
    if method not in (Method.GD, Method.ONLINE, Method.ANNEAL):
        raise InvalidProblem(
            "method", f"run_descent runs 'gd', 'online' and 'anneal', not {method!r}"
        )
    if method is Method.ANNEAL:
        if not (temperature >= 0 and math.isfinite(temperature)):
            raise InvalidProblem("temperature", "must be a finite number ≥ 0")
        if not (cooling_time > 0 and math.isfinite(cooling_time)):
            raise InvalidProblem("cooling_time", "must be a finite number > 0")
    if order is Order.SHUFFLED and method is not Method.ONLINE:
        raise InvalidProblem("order", "'shuffled' applies to method 'online' only")
    x0 = initial_point(model, initial, seed)
    rng = np.random.default_rng([0 if seed is None else seed, 1])
    annealing = method is Method.ANNEAL and temperature > 0
    noise = np.random.default_rng([0 if seed is None else seed, 2]) if annealing else None
    return _descend(
        CompiledModel(model),
        method is Method.ONLINE,
        learning_rate,
        stop,
        record_schedule(stop.steps, record_points),
        x0,
        rng if order is Order.SHUFFLED else None,
        deadline,
        should_stop,
        Annealing(temperature, cooling_time, noise) if noise is not None else None,
    )


class Annealing:
    """An annealing run's schedule (T₀, τ) and its noise generator (see the module docstring)."""

    def __init__(self, temperature: float, cooling_time: float, noise: np.random.Generator):
        self.temperature = temperature
        self.cooling_time = cooling_time
        self.noise = noise

    def chunk(self, t: int, t_end: int, m: int) -> tuple[float, float, Array, int]:
        """The kernel's ``anneal`` argument for the steps t … t_end − 1 (its normals drawn)."""
        xi = self.noise.standard_normal((t_end - t, m))
        return (self.temperature, self.cooling_time, xi, t)


def _no_annealing(m: int) -> tuple[float, float, Array, int]:
    """The kernel's ``anneal`` argument of a run without noise."""
    return (0.0, 1.0, np.empty((0, m)), 0)


def _check_gradient(model: Model) -> bool:
    """Whether an online perceptron run must keep ∇E current: only when a gradient entry could
    overflow (it is then checked like the oracle does). A net's is always kept."""
    if isinstance(model, NetworkProblem):
        return True
    with np.errstate(over="ignore"):
        col_sums = np.abs(model.B).sum(axis=0)
        return not bool(np.all(_MAX_RESIDUAL * 2.0 * col_sums < 1e300))


def _descend(
    compiled: CompiledModel,
    online: bool,
    learning_rate: float,
    stop: StopRules,
    schedule: NDArray[np.int64],
    x0: Array,
    rng: np.random.Generator | None,
    deadline: Deadline,
    should_stop: Callable[[], bool] | None = None,
    annealing: Annealing | None = None,
) -> RunResult:
    """The compiled kernel, driven in chunks of :func:`chunk_steps` steps.

    ``rng`` (shuffled online runs only) draws the pass orders: the permutations of a chunk
    are drawn at once, row by row exactly as successive ``rng.permutation(n)`` calls.
    ``annealing`` (annealing runs with T₀ > 0) draws each chunk's normals before it runs.
    """
    ks = _k.kernels()
    model, n, m = compiled.model, compiled.n, compiled.m
    net = isinstance(model, NetworkProblem)
    blocked = not online and not net and n * m > BLOCKED_THRESHOLD
    arguments = compiled.arguments(
        blocked=blocked, check_gradient=online and _check_gradient(model)
    )
    scratch = compiled.scratch
    # state written every step, apart from every other run's (see service.core.engine.workspace)
    x, z, g, x_new, z_new, g_new, fstate = unshared(m, n, m, m, n, m, 2)
    (istate,) = unshared(2, dtype=np.int64)
    x[:] = x0
    state = (x, z, g, x_new, z_new, g_new, istate, fstate)
    recorder = Recorder(schedule, m)
    records = recorder.buffers
    rules = stop.compiled()
    start = ks.start_run(arguments, scratch, state, rules)

    def chunk(t_end: int, orders: NDArray[np.int64], t_orders: int) -> int:
        t = int(istate[_k.T])
        noise = _no_annealing(m) if annealing is None else annealing.chunk(t, t_end, m)
        return int(
            ks.run_chunk(
                arguments, scratch, online, learning_rate, state, records, rules, t_end,
                orders, rng is not None, t_orders, noise,
            )
        )  # fmt: skip

    def finish(orders: NDArray[np.int64], row: int, code: int) -> int:
        return int(
            ks.finish_run(
                arguments, scratch, online, learning_rate, state, records, orders, row, code
            )
        )

    per_chunk = chunk_steps(compiled.work, n, rng is not None, m if annealing else 0)
    code, t, size = drive_chunks(
        int(start), stop.steps, per_chunk, n, rng, istate, chunk, finish, deadline, should_stop
    )
    return build_result(x, g, fstate, code, t, model_accuracy(model, x), recorder, size)
