"""The perceptron's E and ∇E in compiled code: stable residuals, a SIMD exp, blocked evaluation.

These are the numerics the one run kernel (:mod:`service.core.engine.kernel`) uses for a
net with no hidden layer, E(x) = Σ_i (1 − θ(z_i))² with z = B·x and
∇E(x) = −2·Bᵀ·((1 − θ(z))·θ'(z)); E is NaN when a margin z_i is not finite (an overflow, see
:func:`service.core.model.problem.error`). θ is chosen by its registry code
(:attr:`service.core.model.activations.Activation.code`).

The complements 1 − θ(z) are never formed as differences (see
:mod:`service.core.model.activations`): with e = exp(−2|z|) ∈ (0, 1], tanh has
1 − tanh z = 2e/(1 + e) for z ≥ 0 and 2/(1 + e) for z < 0 (and 1 + tanh z the other one),
logistic the same with e = exp(−|z|), arctan 1 − θ(z) = (2/π)·atan2(1, z), erf
1 − erf z = erfc z.

Large problems evaluate E and ∇E in cache-sized blocks of rows when ``blocked`` is set
(:func:`evaluate_blocked`: one pass over B per step, SIMD dot products and, for tanh and
logistic, SIMD residuals); the driver chooses it above an n·m threshold.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from numba import njit

from service.core.model.activations import ARCTAN_CODE as ARCTAN
from service.core.model.activations import LOGISTIC_CODE as LOGISTIC
from service.core.model.activations import TANH_CODE as TANH

_TWO_OVER_PI = 2.0 / math.pi
_TWO_OVER_SQRT_PI = 2.0 / math.sqrt(math.pi)

# Layout of the integer and float state vectors carried between chunks.
T, K = 0, 1  # int state: t (steps taken), k (index of the next scheduled time)
ERR, LAST_STEP = 0, 1  # float state: E(x_t), ‖x_t − x_{t−1}‖₂


@njit(inline="always")
def residual(kind: int, z: float) -> tuple[float, float]:
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
"""Rows of B per block of :func:`evaluate_blocked`: a block (64·m floats, 25 KiB at m = 50)
is still in the L1/L2 cache when it is read the second time, for the gradient."""

# The two mat-vec halves of the blocked evaluation may reassociate their sums (SIMD lanes)
# and fuse multiply-adds; the residuals keep residual's formulas (multiply-adds may be fused,
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

    tanh and logistic evaluate :func:`residual`'s formulas on whole blocks with
    :func:`exp_nonpositive`, in loops without branches or calls that run on SIMD lanes;
    arctan and erf call :func:`residual` per example. ``work`` (BLOCK_ROWS floats) and
    ``bits`` (2 × BLOCK_ROWS int64) are scratch.
    """
    count = i1 - i0
    if kind != TANH and kind != LOGISTIC:
        err = 0.0
        for i in range(i0, i1):
            c, cd = residual(kind, z[i])
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
def evaluate_blocked(
    kind: int, B: Any, x: Any, z: Any, v: Any, g: Any, need_g: bool, scratch: Any
) -> tuple[float, bool]:
    """:func:`evaluate` for large problems: one pass over B in blocks of BLOCK_ROWS rows.

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
def evaluate(
    kind: int, B: Any, x: Any, z: Any, v: Any, g: Any, blocked: bool, need_g: bool, scratch: Any
) -> tuple[float, bool]:
    """z ← B·x, v ← (1 − θ(z))·θ'(z), g ← −2·Bᵀ·v (if ``need_g``); returns (E, finite).

    ``finite`` is false when a margin or (if computed) a gradient entry is not finite; E is
    then NaN, as in :func:`service.core.model.problem.error_and_gradient`. ``blocked`` selects
    :func:`evaluate_blocked` (large problems;
    ``scratch`` is the pair (``work``, ``bits``) of :func:`_block_residuals`, allocated once
    per run),
    else one plain pass over the rows.
    """
    n, m = B.shape
    if blocked:
        err, finite = evaluate_blocked(kind, B, x, z, v, g, need_g, scratch)
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
            c, cd = residual(kind, zi)
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


@njit(inline="always")
def online_pass(kind: int, B: Any, eta: float, x: Any, x_new: Any, orders: Any, row: int) -> None:
    """x_new ← x after one online pass, x ← x + 2η·(1 − θ(z_i))·θ'(z_i)·B_i for i in
    ``orders[row]`` (no finiteness check: the caller makes it)."""
    n, m = B.shape
    for j in range(m):
        x_new[j] = x[j]
    for p in range(n):
        i = orders[row, p]
        zi = 0.0
        for j in range(m):
            zi += B[i, j] * x_new[j]
        _, cd = residual(kind, zi)
        s = 2.0 * eta * cd
        for j in range(m):
            x_new[j] += s * B[i, j]
