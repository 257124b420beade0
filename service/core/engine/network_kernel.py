"""A multilayer net's E and ∇E in compiled code: forward and back through the net.

These are the numerics the one run kernel (:mod:`service.core.engine.kernel`) uses for a net
with hidden layers. E and ∇E are those of :mod:`service.core.model.network` (backpropagation;
the layout and the conventions are documented there), the margins are z_i = y_i·a_out(u^i),
and an ``online`` step is one pass over the examples, x ← x − η·∇E_i(x) after each.

The output's 1 − θ(z) and (1 − θ(z))·θ'(z) come from the perceptron's stable
:func:`~service.core.engine.perceptron_kernel.residual`. A hidden unit needs θ(a) and θ'(a):
θ'(a) is ``residual(|a|)[1] / residual(|a|)[0]`` (θ' is even, and the quotient keeps full
relative accuracy in the tails, where 1 − θ is the small stable complement; 0 once that
underflows), θ(a) is the library function (tanh, tanh(a/2), (2/π)·atan, erf).

The net is described by ``widths`` (m_0, …, m_L, 1) and ``starts`` (offset of each layer's
weights in x); the per-example buffers ``h`` (unit outputs, the input layer first), ``d`` (θ'
of the hidden units) and ``delta`` (back-propagated errors) have :func:`unit_offsets` into
them.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from numba import njit

from service.core.engine.perceptron_kernel import residual
from service.core.model.activations import ARCTAN_CODE as ARCTAN
from service.core.model.activations import LOGISTIC_CODE as LOGISTIC
from service.core.model.activations import TANH_CODE as TANH

_TWO_OVER_PI = 2.0 / math.pi


@njit(inline="always")
def unit(kind: int, a: float) -> tuple[float, float]:
    """(θ(a), θ'(a)) for a hidden unit (see the module docstring)."""
    c, cd = residual(kind, abs(a))
    dt = cd / c if c > 0.0 else 0.0
    if kind == TANH:
        th = math.tanh(a)
    elif kind == LOGISTIC:
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
    need_g: bool,
) -> tuple[float, float]:
    """Forward and back through the net for example i: returns (z_i, (1 − θ(z_i))²) and, if
    ``need_g``, adds ∇E_i(x) to g."""
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
                th, dt = unit(kind, a)
                h[dst + r] = th
                d[dst + r] = dt
            else:
                a_out = a
    z = y[i] * a_out
    c_out, cd = residual(kind, z)
    if need_g:
        delta[offs[layers]] = -2.0 * y[i] * cd
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
def evaluate_net(
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
        zi, e = _example(kind, A, y, i, x, widths, starts, offs, bias, h, d, delta, g, need_g)
        z[i] = zi
        if not math.isfinite(zi):
            return math.nan, False
        err += e
    if need_g:
        for j in range(m):
            if not math.isfinite(g[j]):
                return err, False
    return err, True


@njit
def online_pass(
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
) -> None:
    """x_new ← x after one online pass, x ← x − η·∇E_i(x) for i in ``orders[row]`` (``gi`` is
    scratch; no finiteness check: the caller makes it)."""
    n = A.shape[0]
    m = x.shape[0]
    for j in range(m):
        x_new[j] = x[j]
    for p in range(n):
        i = orders[row, p]
        for j in range(m):
            gi[j] = 0.0
        _example(kind, A, y, i, x_new, widths, starts, offs, bias, h, d, delta, gi, True)
        for j in range(m):
            x_new[j] -= eta * gi[j]


def unit_offsets(widths: Any) -> Any:
    """Offsets of each layer's units in the per-example buffers (input layer first)."""
    return np.concatenate([[0], np.cumsum(widths)]).astype(np.int64)
