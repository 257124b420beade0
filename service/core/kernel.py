"""The compiled gradient-descent kernel: gd and online loops with the recorder and stop rules.

The loops are numba ``@njit(nogil=True, cache=True)`` functions; nothing per step crosses
back into Python. They reproduce :func:`service.core.descent._descend_reference` step for
step (the numpy reference), so every convention below is the reference's:

* E(x) = Σ_i (1 − θ(z_i))² with z = B·x, and ∇E(x) = −2·Bᵀ·((1 − θ(z))·θ'(z)); E is NaN
  when a margin z_i is not finite (an overflow, see :func:`service.core.problem.error`).
* ``gd``: x_{t+1} = x_t − η·∇E(x_t). ``online``: one step is one pass over the examples in
  the given order (or a permutation supplied by the caller), x ← x + 2η·(1 − θ(z_i))·θ'(z_i)·B_i.
* A step from x_t is taken only if x_{t+1} is finite, E(x_{t+1}) is finite and ∇E(x_{t+1}) is
  finite; otherwise the run stops with ``non_finite`` at the last finite state.
* Stop rules after each step, in order of precedence: error_tolerance (E ≤ tol), classified
  (every z_i > 0), weight_bound (max_j |x_j| ≥ bound), step_tolerance (‖x_t − x_{t−1}‖₂ <
  tol), then the step budget. An unset tolerance or bound is passed as NaN, which no
  comparison satisfies.
* At each scheduled t < final t the recorder stores (t, E(x_t), x_t, t·(x_{t+1} − x_t)); the
  final t is recorded by :func:`_finish_run` with a tentative extra step (NaN row when that
  step is not finite, or when the run ended ``non_finite``).

The complements 1 − θ(z) are never formed as differences (see
:mod:`service.core.activations`): with e = exp(−2|z|) ∈ (0, 1], tanh has 1 − tanh z =
2e/(1 + e) for z ≥ 0 and 2/(1 + e) for z < 0 (and 1 + tanh z the other one), logistic the
same with e = exp(−|z|), arctan 1 − θ(z) = (2/π)·atan2(1, z), erf 1 − erf z = erfc z.

Large problems evaluate E and ∇E in cache-sized blocks of rows when ``blocked`` is set
(:func:`_evaluate_blocked`: one pass over B per step, SIMD dot products and, for tanh and
logistic, SIMD residuals); the driver chooses it above an n·m threshold.

Compilation and caching
-----------------------
The kernels are compiled lazily by :func:`kernels` (on first use, or by
:func:`service.core.descent.warm_up` at service start-up) with ``cache=True``. The cache
directory is, in order: the one given to :func:`configure_cache` (the service passes
``LEARNDYN_NUMBA_CACHE_DIR``), numba's own ``NUMBA_CACHE_DIR``, the package's
``__pycache__`` if writable, numba's per-user cache directory, and finally a directory under
the system temporary directory; if none is writable the kernels are compiled without a
cache. numba keys the cache by the source file's contents and the CPU model: a cache
written on another CPU is ignored (and the warm-up compiles again, ~20 s).
"""

from __future__ import annotations

import math
import os
import stat
import tempfile
import threading
from dataclasses import dataclass
from typing import Any

import numpy as np
from numba import njit
from numba.core import config as numba_config

# Activation codes passed to the kernel (descent maps the registry names to them).
TANH, LOGISTIC, ARCTAN, ERF = 0, 1, 2, 3

# Stop codes returned by the kernel; 0 means "not stopped yet".
RUNNING, STEPS, WEIGHT_BOUND, STEP_TOLERANCE, ERROR_TOLERANCE, CLASSIFIED, NON_FINITE = range(7)

_TWO_OVER_PI = 2.0 / math.pi
_TWO_OVER_SQRT_PI = 2.0 / math.sqrt(math.pi)

# Layout of the integer and float state vectors carried between chunks.
T, K = 0, 1  # int state: t (steps taken), k (index of the next scheduled time)
ERR, LAST_STEP = 0, 1  # float state: E(x_t), ‖x_t − x_{t−1}‖₂


@njit(inline="always")
def _residual(kind: int, z: float) -> tuple[float, float]:
    """(1 − θ(z), (1 − θ(z))·θ'(z)), from stable complements (see the module docstring)."""
    if kind == TANH or kind == LOGISTIC:
        e = math.exp(-2.0 * abs(z)) if kind == TANH else math.exp(-abs(z))
        large = 2.0 / (1.0 + e)
        small = e * large  # 1 ∓ θ(z) on the side where it is small: 2e/(1 + e)
        if z >= 0.0:
            c, cm = small, large
        else:
            c, cm = large, small
        if z != z:  # NaN in, NaN out (the comparisons above would pick a side)
            c = cm = z
        if kind == TANH:
            return c, c * (c * cm)  # θ' = (1 − θ)(1 + θ)
        return c, c * (0.5 * c * cm)  # θ = tanh(z/2): θ' = (1 − θ)(1 + θ)/2
    if kind == ARCTAN:
        c = _TWO_OVER_PI * math.atan2(1.0, z)
        return c, c * (_TWO_OVER_PI / (1.0 + z * z))
    c = math.erfc(z)
    return c, c * (_TWO_OVER_SQRT_PI * math.exp(-(z * z)))


# exp on (−∞, 0] in straight-line arithmetic the compiler can put on SIMD lanes (libm's exp
# is a call per element): a = k·ln 2 + r with |r| ≤ ln 2 / 2 (Cody–Waite: k·_LN2_HI is exact),
# exp r by its Taylor polynomial to r^13 (truncation < 4e-18 relative), and 2^k applied as
# two exactly representable powers of two built from their bits, so subnormal results round
# once. Error ≤ 1.1 ulp over the whole range (1.07 measured; tests/core/test_kernel.py, against
# mpmath), against glibc's ≤ 0.64 measured the same way.
_FUSED = {"contract"}  # may fuse a·b + c into one rounding (Horner steps); no reassociation
_LOG2E = 1.4426950408889634
_LN2_HI = 6.93147180369123816490e-01  # ln 2 to 32 significant bits
_LN2_LO = 1.90821492927058770002e-10  # ln 2 − _LN2_HI
_EXP_MIN_ARGUMENT = -746.0  # exp of anything below rounds to 0
_C2, _C3, _C4, _C5, _C6, _C7, _C8, _C9, _C10, _C11, _C12, _C13 = (
    1.0 / math.factorial(k) for k in range(2, 14)
)


@njit(inline="always")
def _exp_reduced(a: float) -> tuple[float, int]:
    """(p, k) with exp(max(a, −746)) = p·2^k, 1/√2 ≲ p ≲ √2, for a ≤ 0 (not NaN)."""
    t = max(a, _EXP_MIN_ARGUMENT)
    k = math.floor(t * _LOG2E + 0.5)  # an integer, |k| ≤ 1077
    r = (t - k * _LN2_HI) - k * _LN2_LO
    p = _C13
    p = p * r + _C12
    p = p * r + _C11
    p = p * r + _C10
    p = p * r + _C9
    p = p * r + _C8
    p = p * r + _C7
    p = p * r + _C6
    p = p * r + _C5
    p = p * r + _C4
    p = p * r + _C3
    p = p * r + _C2
    p = p * r + 1.0
    p = p * r + 1.0
    return p, k


@njit(inline="always", fastmath=_FUSED)
def exp_nonpositive(a: Any, out: Any, bits: Any) -> None:
    """out_i ← exp(a_i) for an array of a_i ≤ 0 (not NaN; ``out`` may be ``a``); ``bits`` is
    int64 scratch of shape (2, ≥ len(a))."""
    scale = bits.view(np.float64)
    for i in range(a.shape[0]):
        p, k = _exp_reduced(a[i])
        half = k >> 1
        bits[0, i] = (half + 1023) << 52
        bits[1, i] = (k - half + 1023) << 52
        out[i] = p
    for i in range(a.shape[0]):
        out[i] = out[i] * scale[0, i] * scale[1, i]


BLOCK_ROWS = 64
"""Rows of B per block of :func:`_evaluate_blocked`: a block (64·m floats, 25 KiB at m = 50)
is still in the L1/L2 cache when it is read the second time, for the gradient."""

# The two mat-vec halves of the blocked evaluation may reassociate their sums (SIMD lanes)
# and fuse multiply-adds; the residuals keep _residual's formulas (multiply-adds may be fused,
# nothing is reassociated), and no flag anywhere lets the compiler assume finite values.
_SIMD_SUMS = {"reassoc", "contract"}


@njit(fastmath=_SIMD_SUMS)
def _block_margins(B: Any, x: Any, z: Any, i0: int, i1: int) -> None:
    """z_i ← B_i·x for i0 ≤ i < i1, four rows per pass over x."""
    m = B.shape[1]
    i = i0
    while i + 4 <= i1:
        a0 = a1 = a2 = a3 = 0.0
        for j in range(m):
            xj = x[j]
            a0 += B[i, j] * xj
            a1 += B[i + 1, j] * xj
            a2 += B[i + 2, j] * xj
            a3 += B[i + 3, j] * xj
        z[i], z[i + 1], z[i + 2], z[i + 3] = a0, a1, a2, a3
        i += 4
    while i < i1:
        a = 0.0
        for j in range(m):
            a += B[i, j] * x[j]
        z[i] = a
        i += 1


@njit(fastmath=_SIMD_SUMS)
def _block_gradient(B: Any, v: Any, g: Any, i0: int, i1: int) -> None:
    """g ← g + Σ_{i0 ≤ i < i1} v_i·B_i, four rows per pass over g."""
    m = B.shape[1]
    i = i0
    while i + 4 <= i1:
        v0, v1, v2, v3 = v[i], v[i + 1], v[i + 2], v[i + 3]
        for j in range(m):
            g[j] += (B[i, j] * v0 + B[i + 1, j] * v1) + (B[i + 2, j] * v2 + B[i + 3, j] * v3)
        i += 4
    while i < i1:
        vi = v[i]
        for j in range(m):
            g[j] += B[i, j] * vi
        i += 1


@njit(fastmath=_FUSED)
def _block_residuals(kind: int, z: Any, v: Any, i0: int, i1: int, work: Any, bits: Any) -> float:
    """v_i ← (1 − θ(z_i))·θ'(z_i) for i0 ≤ i < i1 (finite z_i); returns Σ (1 − θ(z_i))².

    tanh and logistic evaluate :func:`_residual`'s formulas on whole blocks with
    :func:`exp_nonpositive`, in loops without branches or calls that run on SIMD lanes;
    arctan and erf call :func:`_residual` per example. ``work`` (BLOCK_ROWS floats) and
    ``bits`` (2 × BLOCK_ROWS int64) are scratch.
    """
    count = i1 - i0
    if kind != TANH and kind != LOGISTIC:
        err = 0.0
        for i in range(i0, i1):
            c, cd = _residual(kind, z[i])
            v[i] = cd
            err += c * c
        return err
    scale = 2.0 if kind == TANH else 1.0  # e = exp(−2|z|) for tanh, exp(−|z|) for logistic
    half = 1.0 if kind == TANH else 0.5  # θ' = (1 − θ)(1 + θ), halved for logistic
    e = work[:count]
    for q in range(count):
        e[q] = -scale * abs(z[i0 + q])
    exp_nonpositive(e, e, bits)
    for q in range(count):
        large = 2.0 / (1.0 + e[q])
        small = e[q] * large
        negative = z[i0 + q] < 0.0
        c = large if negative else small
        cm = small if negative else large
        v[i0 + q] = c * (half * c * cm)
        e[q] = c * c
    err = 0.0
    for q in range(count):
        err += e[q]
    return err


@njit
def _block_scratch() -> tuple[Any, Any]:
    """The ``work`` and ``bits`` scratch of :func:`_block_residuals`, allocated once per
    kernel call rather than once per evaluation."""
    return np.empty(BLOCK_ROWS), np.empty((2, BLOCK_ROWS), dtype=np.int64)


@njit
def _evaluate_blocked(
    kind: int, B: Any, x: Any, z: Any, v: Any, g: Any, need_g: bool, scratch: Any
) -> tuple[float, bool]:
    """:func:`_evaluate` for large problems: one pass over B in blocks of BLOCK_ROWS rows.

    Each block's margins, residuals and gradient terms are computed while its rows are in
    cache, so B is read from memory once per evaluation (two BLAS mat-vecs read it twice),
    and the dot products run on SIMD lanes. The sums are reassociated, so the results agree
    with the row loop to rounding (about 1e-15 relative), not bit for bit.
    """
    n, m = B.shape
    work, bits = scratch
    err = 0.0
    for j in range(m):
        g[j] = 0.0
    for i0 in range(0, n, BLOCK_ROWS):
        i1 = min(n, i0 + BLOCK_ROWS)
        _block_margins(B, x, z, i0, i1)
        for i in range(i0, i1):
            if not math.isfinite(z[i]):
                return math.nan, False
        err += _block_residuals(kind, z, v, i0, i1, work, bits)
        if need_g:
            _block_gradient(B, v, g, i0, i1)
    return err, True


@njit
def _evaluate(
    kind: int, B: Any, x: Any, z: Any, v: Any, g: Any, blocked: bool, need_g: bool, scratch: Any
) -> tuple[float, bool]:
    """z ← B·x, v ← (1 − θ(z))·θ'(z), g ← −2·Bᵀ·v (if ``need_g``); returns (E, finite).

    ``finite`` is false when a margin or (if computed) a gradient entry is not finite; E is
    then NaN, as in :func:`service.core.problem.error_and_gradient`. ``blocked`` selects
    :func:`_evaluate_blocked` (large problems, with ``scratch`` from :func:`_block_scratch`),
    else one plain pass over the rows.
    """
    n, m = B.shape
    if blocked:
        err, finite = _evaluate_blocked(kind, B, x, z, v, g, need_g, scratch)
        if not finite:
            return err, False
    else:
        # one pass over the rows: z_i = B_i·x, then g += B_i·(1 − θ(z_i))θ'(z_i)
        err = 0.0
        for j in range(m):
            g[j] = 0.0
        for i in range(n):
            zi = 0.0
            for j in range(m):
                zi += B[i, j] * x[j]
            z[i] = zi
            if not math.isfinite(zi):
                return math.nan, False
            c, cd = _residual(kind, zi)
            err += c * c
            if need_g:
                for j in range(m):
                    g[j] += B[i, j] * cd
    if not need_g:
        return err, True
    for j in range(m):
        g[j] = -2.0 * g[j]
    for j in range(m):
        if not math.isfinite(g[j]):
            return err, False
    return err, True


@njit
def _advance(
    kind: int,
    online: bool,
    B: Any,
    eta: float,
    x: Any,
    g: Any,
    orders: Any,
    row: int,
    x_new: Any,
) -> bool:
    """x_new ← the next iterate from x (gd step, or one online pass); returns all-finite."""
    n, m = B.shape
    if not online:
        for j in range(m):
            x_new[j] = x[j] - eta * g[j]
    else:
        for j in range(m):
            x_new[j] = x[j]
        for p in range(n):
            i = orders[row, p]
            zi = 0.0
            for j in range(m):
                zi += B[i, j] * x_new[j]
            _, cd = _residual(kind, zi)
            s = 2.0 * eta * cd
            for j in range(m):
                x_new[j] += s * B[i, j]
    for j in range(m):
        if not math.isfinite(x_new[j]):
            return False
    return True


@njit
def _scaled_norm(a: Any, b: Any, m: int) -> float:
    """‖a − b‖₂ without overflow in the squares (called only when they overflow)."""
    scale = 0.0
    for j in range(m):
        scale = max(scale, abs(a[j] - b[j]))
    if scale == 0.0 or scale == math.inf:
        return scale
    acc = 0.0
    for j in range(m):
        r = (a[j] - b[j]) / scale
        acc += r * r
    return scale * math.sqrt(acc)


@njit
def _state_stop(
    x: Any, z: Any, err: float, error_tolerance: float, classify: bool, weight_bound: float
) -> int:
    """The stop rules that depend on the state alone, in order of precedence."""
    if err <= error_tolerance:
        return ERROR_TOLERANCE
    if classify:
        every = True
        for i in range(z.shape[0]):
            if not z[i] > 0.0:
                every = False
                break
        if every:
            return CLASSIFIED
    if weight_bound == weight_bound:  # set (not NaN)
        for j in range(x.shape[0]):
            if abs(x[j]) >= weight_bound:
                return WEIGHT_BOUND
    return RUNNING


def _start_run(
    kind: int,
    B: Any,
    x: Any,
    z: Any,
    v: Any,
    g: Any,
    fstate: Any,
    blocked: bool,
    error_tolerance: float,
    classify: bool,
    weight_bound: float,
) -> int:
    """Evaluate E, ∇E and the margins at x_0 and apply the state stop rules at t = 0."""
    err, _ = _evaluate(kind, B, x, z, v, g, blocked, True, _block_scratch())
    fstate[ERR] = err
    fstate[LAST_STEP] = math.nan
    return int(_state_stop(x, z, err, error_tolerance, classify, weight_bound))


def _run_chunk(
    kind: int,
    online: bool,
    blocked: bool,
    check_gradient: bool,
    B: Any,
    eta: float,
    x: Any,
    z: Any,
    v: Any,
    g: Any,
    x_new: Any,
    z_new: Any,
    g_new: Any,
    istate: Any,
    fstate: Any,
    schedule: Any,
    rec_t: Any,
    rec_error: Any,
    rec_weights: Any,
    rec_t_delta: Any,
    steps: int,
    t_end: int,
    orders: Any,
    shuffled: bool,
    t_orders: int,
    error_tolerance: float,
    classify: bool,
    weight_bound: float,
    step_tolerance: float,
) -> int:
    """Take steps from t until a stop rule fires or t reaches ``t_end``; return the stop code.

    The state (x, its margins z, its gradient g, E, t, the schedule index k, the last step
    length) is read from and written back to the arrays, so the caller can resume with the
    next chunk; RUNNING means t reached ``t_end`` with no rule firing. An online pass from
    x_t visits the examples in the order ``orders[t − t_orders]`` when ``shuffled``, else
    ``orders[0]`` (which is then 0, 1, …, n − 1). In online runs g is only kept current
    when ``check_gradient`` (a gradient entry could overflow and must be checked like the
    reference does); :func:`_finish_run` recomputes it at the end. Online passes never use
    the blocked evaluation.
    """
    # The step is written out here rather than calling _advance, _evaluate and _state_stop
    # (which it repeats, and which start and finish use): numba reference-counts the arrays
    # passed to a helper, and on a tiny problem that bookkeeping costs more than the step.
    n, m = B.shape
    t = istate[T]
    k = istate[K]
    err = fstate[ERR]
    last_step = fstate[LAST_STEP]
    n_sched = schedule.shape[0]
    reason = RUNNING
    need_g = check_gradient or not online
    scratch = _block_scratch()
    check_step = step_tolerance == step_tolerance  # set (not NaN)
    squares = math.nan  # ‖x_t − x_{t−1}‖₂² of the last step taken in this chunk
    step_length = math.nan
    while True:
        if t >= steps:
            reason = STEPS
            break
        if t >= t_end:
            break
        row = t - t_orders if shuffled else 0
        # x_new ← the next iterate (as _advance)
        if not online:
            for j in range(m):
                x_new[j] = x[j] - eta * g[j]
        else:
            for j in range(m):
                x_new[j] = x[j]
            for p in range(n):
                i = orders[row, p]
                zi = 0.0
                for j in range(m):
                    zi += B[i, j] * x_new[j]
                _, cd = _residual(kind, zi)
                s = 2.0 * eta * cd
                for j in range(m):
                    x_new[j] += s * B[i, j]
        finite = True
        for j in range(m):
            if not math.isfinite(x_new[j]):
                finite = False
        err_new = math.nan
        if finite and blocked:
            err_new, finite = _evaluate(kind, B, x_new, z_new, v, g_new, blocked, need_g, scratch)
        elif finite:
            # E, margins and gradient at x_new in one pass over the rows (as _evaluate)
            err_new = 0.0
            for j in range(m):
                g_new[j] = 0.0
            for i in range(n):
                zi = 0.0
                for j in range(m):
                    zi += B[i, j] * x_new[j]
                z_new[i] = zi
                if not math.isfinite(zi):
                    finite = False
                    break
                c, cd = _residual(kind, zi)
                err_new += c * c
                if need_g:
                    for j in range(m):
                        g_new[j] += B[i, j] * cd
            if need_g:
                for j in range(m):
                    g_new[j] = -2.0 * g_new[j]
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
            d = x_new[j] - x[j]
            squares += d * d
        step_length = math.sqrt(squares)
        if step_length == math.inf:  # the sum of squares overflowed, not the step: rescale
            step_length = _scaled_norm(x_new, x, m)
        for j in range(m):
            x[j] = x_new[j]
        for i in range(n):
            z[i] = z_new[i]
        if need_g:
            for j in range(m):
                g[j] = g_new[j]
        err = err_new
        t += 1
        # the state stop rules (as _state_stop), then the step tolerance
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
    kind: int,
    online: bool,
    blocked: bool,
    B: Any,
    eta: float,
    x: Any,
    z: Any,
    v: Any,
    g: Any,
    x_new: Any,
    istate: Any,
    fstate: Any,
    rec_t: Any,
    rec_error: Any,
    rec_weights: Any,
    rec_t_delta: Any,
    orders: Any,
    row: int,
    reason: int,
) -> int:
    """Refresh g at x (online), record the final point with its tentative next step, and
    return the number of recorded rows."""
    m = x.shape[0]
    t = istate[T]
    k = istate[K]
    if online:
        _evaluate(kind, B, x, z, v, g, blocked, True, _block_scratch())
    finite = False
    if reason != NON_FINITE:
        finite = _advance(kind, online, B, eta, x, g, orders, row, x_new)
    rec_t[k] = t
    rec_error[k] = fstate[ERR]
    for j in range(m):
        rec_weights[k, j] = x[j]
        rec_t_delta[k, j] = t * (x_new[j] - x[j]) if finite else math.nan
    istate[K] = k + 1
    return int(k + 1)


@dataclass(frozen=True, slots=True)
class Kernels:
    """The compiled entry points (numba dispatchers)."""

    start_run: Any
    run_chunk: Any
    finish_run: Any
    cache_dir: str | None
    """Where compiled code is cached ("numba's default": beside the source or in the user's
    cache); None when no writable place was found."""


_lock = threading.Lock()
_kernels: Kernels | None = None
_requested_cache_dir: str | None = None


def configure_cache(cache_dir: str | None) -> None:
    """Ask for compiled code to be cached in ``cache_dir`` (before the first compilation).

    Has no effect once the kernels are built; ``None`` or ``""`` keeps numba's defaults.
    """
    global _requested_cache_dir
    with _lock:
        _requested_cache_dir = cache_dir or None


def _compile(cache: bool) -> tuple[Any, Any, Any]:
    jit = njit(nogil=True, cache=cache)
    return jit(_start_run), jit(_run_chunk), jit(_finish_run)


def _fallback_cache_dir() -> str | None:
    """A private directory under the temporary directory, or None if it is not ours.

    Cache files are pickles that numba loads and runs, so a directory in a shared /tmp is
    used only if it is this user's own and nobody else can write to it.
    """
    path = os.path.join(tempfile.gettempdir(), f"learndyn-numba-{os.getuid()}")
    try:
        os.makedirs(path, mode=0o700, exist_ok=True)
        st = os.lstat(path)
    except OSError:
        return None
    private = stat.S_ISDIR(st.st_mode) and st.st_uid == os.getuid() and not st.st_mode & 0o022
    return path if private else None


def _compile_cached(directory: str | None) -> Kernels | None:
    """Compile with the cache in ``directory`` (None: numba's default locators), or None if
    numba finds no writable place for it."""
    saved: str = numba_config.CACHE_DIR  # type: ignore[attr-defined]
    numba_config.CACHE_DIR = directory or ""  # type: ignore[attr-defined]
    try:
        start, chunk, finish = _compile(cache=True)
    except RuntimeError:  # "cannot cache function ...: no locator available"
        return None
    finally:
        numba_config.CACHE_DIR = saved  # type: ignore[attr-defined]
    return Kernels(start, chunk, finish, directory or "numba's default")


def kernels() -> Kernels:
    """The compiled kernels, decorated on first use with a writable cache (see module doc)."""
    global _kernels
    with _lock:
        if _kernels is not None:
            return _kernels
        preferred = _requested_cache_dir or numba_config.CACHE_DIR  # type: ignore[attr-defined]
        # numba itself falls back from a preferred directory to __pycache__ and the user's
        # cache; the private temporary directory is tried only when all of those fail
        built = _compile_cached(preferred or None)
        if built is None:
            fallback = _fallback_cache_dir()
            built = _compile_cached(fallback) if fallback else None
        if built is None:
            start, chunk, finish = _compile(cache=False)
            built = Kernels(start, chunk, finish, None)
        _kernels = built
        return built


def given_order(n: int) -> np.ndarray[Any, np.dtype[np.int64]]:
    """The ``orders`` argument of a run in the given order: one row 0, 1, …, n − 1."""
    return np.arange(n, dtype=np.int64).reshape(1, n)
