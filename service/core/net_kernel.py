"""The compiled backpropagation kernel for multilayer nets: gd and online, in chunks.

Same contract as the perceptron kernel (:mod:`service.core.kernel`): the same stop codes,
stop rules in the same order of precedence, the same recorder (t, E(x_t), x_t,
t·(x_{t+1} − x_t) at the scheduled t), the same non-finite rule (a step is taken only if
x_{t+1}, E(x_{t+1}) and ∇E(x_{t+1}) are finite) and the same state carried between chunks
(``istate`` = (t, k), ``fstate`` = (E, last step length)). Only the model differs: E and
∇E are those of :mod:`service.core.network` (backpropagation; the layout and the
conventions are documented there), the margins are z_i = y_i·a_out(u^i), and an ``online``
step is one pass over the examples, x ← x − η·∇E_i(x) after each.

The output's 1 − θ(z) and (1 − θ(z))·θ'(z) come from the perceptron kernel's
``_residual`` (stable complements). A hidden unit needs θ(a) and θ'(a): θ'(a) is
``_residual(|a|)[1] / _residual(|a|)[0]`` (θ' is even, and the quotient keeps full relative
accuracy in the tails, where 1 − θ is the small stable complement; 0 once that underflows),
θ(a) is the library function (tanh, tanh(a/2), (2/π)·atan, erf).

The net is described to the kernel by ``widths`` (m_0, …, m_L, 1) and ``starts`` (offset of
each layer's weights in x); the per-example buffers ``h`` (unit outputs, the input layer
first), ``d`` (θ' of the hidden units) and ``delta`` (back-propagated errors) have
``units_offsets`` into them.
"""

from __future__ import annotations

import math
import threading
from typing import Any

import numpy as np
from numba import njit
from numba.core import config as numba_config

from service.core import kernel as _k
from service.core.kernel import (
    ARCTAN,
    CLASSIFIED,
    ERR,
    ERROR_TOLERANCE,
    LAST_STEP,
    NON_FINITE,
    RUNNING,
    STEP_TOLERANCE,
    STEPS,
    TANH,
    WEIGHT_BOUND,
    K,
    T,
    _residual,
    _scaled_norm,
)

_LOGISTIC = _k.LOGISTIC
_TWO_OVER_PI = 2.0 / math.pi


@njit(inline="always")
def _unit(kind: int, a: float) -> tuple[float, float]:
    """(θ(a), θ'(a)) for a hidden unit (see the module docstring)."""
    c, cd = _residual(kind, abs(a))
    dt = cd / c if c > 0.0 else 0.0
    if kind == TANH:
        th = math.tanh(a)
    elif kind == _LOGISTIC:
        th = math.tanh(0.5 * a)
    elif kind == ARCTAN:
        th = _TWO_OVER_PI * math.atan(a)
    else:
        th = math.erf(a)
    return th, dt


@njit(inline="always")
def _example(
    kind: int,
    A: Any,
    y: Any,
    i: int,
    x: Any,
    widths: Any,
    starts: Any,
    offs: Any,
    bias: bool,
    h: Any,
    d: Any,
    delta: Any,
    g: Any,
    scale: float,
    need_g: bool,
) -> tuple[float, float]:
    """Forward and back through the net for example i: returns (z_i, (1 − θ(z_i))²) and, if
    ``need_g``, adds ``scale``·∇E_i(x) to g."""
    layers = widths.shape[0] - 1
    for c in range(widths[0]):
        h[c] = A[i, c]
    a_out = 0.0
    for ell in range(layers):
        rows, cols = widths[ell + 1], widths[ell]
        w0 = starts[ell]
        src = offs[ell]
        dst = offs[ell + 1]
        for r in range(rows):
            a = 0.0
            base = w0 + r * cols
            for c in range(cols):
                a += x[base + c] * h[src + c]
            if bias:
                a += x[w0 + rows * cols + r]
            if ell < layers - 1:
                th, dt = _unit(kind, a)
                h[dst + r] = th
                d[dst + r] = dt
            else:
                a_out = a
    z = y[i] * a_out
    c_out, cd = _residual(kind, z)
    if need_g:
        delta[offs[layers]] = -2.0 * y[i] * cd * scale
        for ell in range(layers - 1, -1, -1):
            rows, cols = widths[ell + 1], widths[ell]
            w0 = starts[ell]
            src = offs[ell]
            dst = offs[ell + 1]
            if ell > 0:
                for c in range(cols):
                    delta[src + c] = 0.0
            for r in range(rows):
                dr = delta[dst + r]
                base = w0 + r * cols
                for c in range(cols):
                    g[base + c] += dr * h[src + c]
                    if ell > 0:
                        delta[src + c] += x[base + c] * dr
                if bias:
                    g[w0 + rows * cols + r] += dr
            if ell > 0:
                for c in range(cols):
                    delta[src + c] *= d[src + c]
    return z, c_out * c_out


@njit(inline="always")
def _evaluate_net(
    kind: int,
    A: Any,
    y: Any,
    x: Any,
    widths: Any,
    starts: Any,
    offs: Any,
    bias: bool,
    h: Any,
    d: Any,
    delta: Any,
    z: Any,
    g: Any,
    need_g: bool,
) -> tuple[float, bool]:
    """z ← the margins, g ← ∇E(x) (if ``need_g``); returns (E, finite) as the perceptron's."""
    n = A.shape[0]
    m = x.shape[0]
    for j in range(m):
        g[j] = 0.0
    err = 0.0
    for i in range(n):
        zi, e = _example(kind, A, y, i, x, widths, starts, offs, bias, h, d, delta, g, 1.0, need_g)
        z[i] = zi
        if not math.isfinite(zi):
            return math.nan, False
        err += e
    if need_g:
        for j in range(m):
            if not math.isfinite(g[j]):
                return err, False
    return err, True


@njit(inline="always")
def _online_pass(
    kind: int,
    A: Any,
    y: Any,
    eta: float,
    x: Any,
    x_new: Any,
    widths: Any,
    starts: Any,
    offs: Any,
    bias: bool,
    h: Any,
    d: Any,
    delta: Any,
    gi: Any,
    orders: Any,
    row: int,
) -> bool:
    """x_new ← one pass of x ← x − η·∇E_i(x) from x (``gi`` is scratch); returns all-finite."""
    n = A.shape[0]
    m = x.shape[0]
    for j in range(m):
        x_new[j] = x[j]
    for p in range(n):
        i = orders[row, p]
        for j in range(m):
            gi[j] = 0.0
        _example(kind, A, y, i, x_new, widths, starts, offs, bias, h, d, delta, gi, 1.0, True)
        for j in range(m):
            x_new[j] -= eta * gi[j]
    for j in range(m):
        if not math.isfinite(x_new[j]):
            return False
    return True


def _gradient(
    kind: int, A: Any, y: Any, x: Any, widths: Any, starts: Any, offs: Any, bias: bool,
    h: Any, d: Any, delta: Any, z: Any, g: Any,
) -> float:  # fmt: skip
    """E(x) (NaN if not finite), with g ← ∇E(x) and z ← the margins (for tests and flow)."""
    err, finite = _evaluate_net(kind, A, y, x, widths, starts, offs, bias, h, d, delta, z, g, True)
    return err if finite else math.nan


def _start_run(
    kind: int, A: Any, y: Any, x: Any, widths: Any, starts: Any, offs: Any, bias: bool,
    h: Any, d: Any, delta: Any, z: Any, g: Any, fstate: Any,
    error_tolerance: float, classify: bool, weight_bound: float,
) -> int:  # fmt: skip
    """Evaluate E, ∇E and the margins at x_0 and apply the state stop rules at t = 0."""
    err, _ = _evaluate_net(kind, A, y, x, widths, starts, offs, bias, h, d, delta, z, g, True)
    fstate[ERR] = err
    fstate[LAST_STEP] = math.nan
    if err <= error_tolerance:
        return ERROR_TOLERANCE
    if classify:
        every = True
        for i in range(z.shape[0]):
            if not z[i] > 0.0:
                every = False
        if every:
            return CLASSIFIED
    if weight_bound == weight_bound:
        for j in range(x.shape[0]):
            if abs(x[j]) >= weight_bound:
                return WEIGHT_BOUND
    return RUNNING


def _run_chunk(
    kind: int, online: bool, A: Any, y: Any, eta: float,
    widths: Any, starts: Any, offs: Any, bias: bool, h: Any, d: Any, delta: Any, gi: Any,
    x: Any, z: Any, g: Any, x_new: Any, z_new: Any, g_new: Any, istate: Any, fstate: Any,
    schedule: Any, rec_t: Any, rec_error: Any, rec_weights: Any, rec_t_delta: Any,
    steps: int, t_end: int, orders: Any, shuffled: bool, t_orders: int,
    error_tolerance: float, classify: bool, weight_bound: float, step_tolerance: float,
) -> int:  # fmt: skip
    """Take steps from t until a stop rule fires or t reaches ``t_end``; return the stop code.

    As :func:`service.core.kernel._run_chunk` (state in the arrays, RUNNING when t reached
    ``t_end``); the gradient is always kept current (it is needed for the non-finite rule).
    """
    n = A.shape[0]
    m = x.shape[0]
    t = istate[T]
    k = istate[K]
    err = fstate[ERR]
    last_step = fstate[LAST_STEP]
    n_sched = schedule.shape[0]
    reason = RUNNING
    check_step = step_tolerance == step_tolerance
    squares = math.nan
    step_length = math.nan
    while True:
        if t >= steps:
            reason = STEPS
            break
        if t >= t_end:
            break
        if online:
            row = t - t_orders if shuffled else 0
            finite = _online_pass(
                kind, A, y, eta, x, x_new, widths, starts, offs, bias, h, d, delta, gi, orders, row
            )
        else:
            finite = True
            for j in range(m):
                x_new[j] = x[j] - eta * g[j]
                if not math.isfinite(x_new[j]):
                    finite = False
        err_new = math.nan
        if finite:
            # E, margins and ∇E at x_new (the body of _example, written out: numba
            # reference-counts the arrays passed to a helper, and on a small net that
            # bookkeeping costs more than the arithmetic)
            err_new = 0.0
            for j in range(m):
                g_new[j] = 0.0
            layers = widths.shape[0] - 1
            top = offs[layers]
            for i in range(n):
                for c in range(widths[0]):
                    h[c] = A[i, c]
                a_out = 0.0
                for ell in range(layers):
                    rows, cols = widths[ell + 1], widths[ell]
                    w0 = starts[ell]
                    src = offs[ell]
                    dst = offs[ell + 1]
                    for r in range(rows):
                        a = 0.0
                        base = w0 + r * cols
                        for c in range(cols):
                            a += x_new[base + c] * h[src + c]
                        if bias:
                            a += x_new[w0 + rows * cols + r]
                        if ell < layers - 1:
                            th, dt = _unit(kind, a)
                            h[dst + r] = th
                            d[dst + r] = dt
                        else:
                            a_out = a
                zi = y[i] * a_out
                z_new[i] = zi
                if not math.isfinite(zi):
                    finite = False
                    break
                c_out, cd = _residual(kind, zi)
                err_new += c_out * c_out
                delta[top] = -2.0 * y[i] * cd
                for ell in range(layers - 1, -1, -1):
                    rows, cols = widths[ell + 1], widths[ell]
                    w0 = starts[ell]
                    src = offs[ell]
                    dst = offs[ell + 1]
                    if ell > 0:
                        for c in range(cols):
                            delta[src + c] = 0.0
                    for r in range(rows):
                        dr = delta[dst + r]
                        base = w0 + r * cols
                        for c in range(cols):
                            g_new[base + c] += dr * h[src + c]
                            if ell > 0:
                                delta[src + c] += x_new[base + c] * dr
                        if bias:
                            g_new[w0 + rows * cols + r] += dr
                    if ell > 0:
                        for c in range(cols):
                            delta[src + c] *= d[src + c]
            for j in range(m):
                if not math.isfinite(g_new[j]):
                    finite = False
        if not finite:
            reason = NON_FINITE
            break
        if k < n_sched and schedule[k] == t:
            rec_t[k] = t
            rec_error[k] = err
            for j in range(m):
                rec_weights[k, j] = x[j]
                rec_t_delta[k, j] = t * (x_new[j] - x[j])
            k += 1
        squares = 0.0
        for j in range(m):
            dj = x_new[j] - x[j]
            squares += dj * dj
        step_length = math.sqrt(squares)
        if step_length == math.inf:
            step_length = _scaled_norm(x_new, x, m)
        for j in range(m):
            x[j] = x_new[j]
            g[j] = g_new[j]
        for i in range(n):
            z[i] = z_new[i]
        err = err_new
        t += 1
        if err <= error_tolerance:
            reason = ERROR_TOLERANCE
        if reason == RUNNING and classify:
            every = True
            for i in range(n):
                if not z[i] > 0.0:
                    every = False
                    break
            if every:
                reason = CLASSIFIED
        if reason == RUNNING and weight_bound == weight_bound:
            for j in range(m):
                if abs(x[j]) >= weight_bound:
                    reason = WEIGHT_BOUND
                    break
        if reason == RUNNING and check_step and step_length < step_tolerance:
            reason = STEP_TOLERANCE
        if reason != RUNNING:
            break
    if squares == squares:
        last_step = step_length
    istate[T] = t
    istate[K] = k
    fstate[ERR] = err
    fstate[LAST_STEP] = last_step
    return reason


def _finish_run(
    kind: int, online: bool, A: Any, y: Any, eta: float,
    widths: Any, starts: Any, offs: Any, bias: bool, h: Any, d: Any, delta: Any, gi: Any,
    x: Any, g: Any, x_new: Any, istate: Any, fstate: Any,
    rec_t: Any, rec_error: Any, rec_weights: Any, rec_t_delta: Any,
    orders: Any, row: int, reason: int,
) -> int:  # fmt: skip
    """Record the final point with its tentative next step; return the number of rows."""
    m = x.shape[0]
    t = istate[T]
    k = istate[K]
    finite = False
    if reason != NON_FINITE:
        if online:
            finite = _online_pass(
                kind, A, y, eta, x, x_new, widths, starts, offs, bias, h, d, delta, gi, orders, row
            )
        else:
            finite = True
            for j in range(m):
                x_new[j] = x[j] - eta * g[j]
                if not math.isfinite(x_new[j]):
                    finite = False
    rec_t[k] = t
    rec_error[k] = fstate[ERR]
    for j in range(m):
        rec_weights[k, j] = x[j]
        rec_t_delta[k, j] = t * (x_new[j] - x[j]) if finite else math.nan
    istate[K] = k + 1
    return int(k + 1)


class NetKernels:
    """The compiled entry points (numba dispatchers), built once by :func:`net_kernels`."""

    __slots__ = ("gradient", "start_run", "run_chunk", "finish_run")

    def __init__(self, cache: bool) -> None:
        jit = njit(nogil=True, cache=cache)
        self.gradient = jit(_gradient)
        self.start_run = jit(_start_run)
        self.run_chunk = jit(_run_chunk)
        self.finish_run = jit(_finish_run)


_lock = threading.Lock()
_built: NetKernels | None = None


def net_kernels() -> NetKernels:
    """The compiled kernels, cached where the perceptron kernel caches its own.

    :func:`service.core.kernel.kernels` chooses the cache directory (see its module
    docstring); these are compiled with the same one, or without a cache if it has none.
    """
    global _built
    with _lock:
        if _built is not None:
            return _built
        directory = _k.kernels().cache_dir
        if directory is None:
            _built = NetKernels(cache=False)
            return _built
        saved: str = numba_config.CACHE_DIR  # type: ignore[attr-defined]
        if directory != "numba's default":
            numba_config.CACHE_DIR = directory  # type: ignore[attr-defined]
        try:
            _built = NetKernels(cache=True)
        except RuntimeError:  # no locator available for this directory
            _built = NetKernels(cache=False)
        finally:
            numba_config.CACHE_DIR = saved  # type: ignore[attr-defined]
        return _built


def unit_offsets(widths: Any) -> Any:
    """Offsets of each layer's units in the per-example buffers (input layer first)."""
    return np.concatenate([[0], np.cumsum(widths)]).astype(np.int64)
