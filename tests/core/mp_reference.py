"""An independent high-precision model of a one-weight error, for the landscape tests.

Everything here is mpmath (and plain float numpy for a pre-screen), written from the
definitions, not from service.core: ``E(x) = Σ (1 − θ(b_i x))²`` and
``E'(x) = −2·Σ b_i·(1 − θ(b_i x))·θ'(b_i x)``, with each ``1 − θ`` from a closed form that
has no cancellation.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import mpmath as mp
import numpy as np


def one_minus_theta(name: str, z: mp.mpf) -> mp.mpf:
    """1 − θ(z) without cancellation."""
    if name == "tanh":
        return 2 / (1 + mp.exp(2 * z))
    if name == "logistic":
        return 2 / (1 + mp.exp(z))
    if name == "arctan":
        return 2 / mp.pi * mp.atan(1 / z) if z > 0 else 1 - 2 / mp.pi * mp.atan(z)
    if name == "erf":
        return mp.erfc(z)
    raise ValueError(name)


def dtheta(name: str, z: mp.mpf) -> mp.mpf:
    if name == "tanh":
        return 4 / (mp.exp(z) + mp.exp(-z)) ** 2
    if name == "logistic":
        return 2 / (mp.exp(z / 2) + mp.exp(-z / 2)) ** 2
    if name == "arctan":
        return 2 / mp.pi / (1 + z * z)
    if name == "erf":
        return 2 / mp.sqrt(mp.pi) * mp.exp(-z * z)
    raise ValueError(name)


def slope_terms(name: str, b: Sequence[float], x: mp.mpf) -> list[mp.mpf]:
    """The terms −2·b_i·(1 − θ(b_i x))·θ'(b_i x) of E'(x)."""
    out = []
    for bi in b:
        if bi == 0:
            continue
        z = mp.mpf(bi) * x
        out.append(-2 * mp.mpf(bi) * one_minus_theta(name, z) * dtheta(name, z))
    return out


def slope(name: str, b: Sequence[float], x: float | mp.mpf) -> mp.mpf:
    return mp.fsum(slope_terms(name, b, mp.mpf(x)))


def error(name: str, b: Sequence[float], x: float | mp.mpf) -> mp.mpf:
    x = mp.mpf(x)
    return mp.fsum(one_minus_theta(name, mp.mpf(bi) * x) ** 2 for bi in b)


def excess_at(name: str, b: Sequence[float], x: float | mp.mpf) -> mp.mpf:
    """E(x) − E(sign(x)·∞) without cancellation: decaying terms w², rising ones w(w − 4)
    with w = 1 − θ(|b_i x|)."""
    x = mp.mpf(x)
    total = mp.mpf(0)
    for bi in b:
        z = mp.mpf(bi) * x
        if z > 0:
            total += one_minus_theta(name, z) ** 2
        elif z < 0:
            w = one_minus_theta(name, -z)
            total += w * (w - 4)
    return total


def _float_terms(name: str, b: np.ndarray, x: np.ndarray) -> np.ndarray:
    """Float64 terms of E' (rows: examples), each with full relative accuracy or 0."""
    z = np.outer(b, x)
    with np.errstate(over="ignore", under="ignore"):
        if name == "tanh":
            c, d = 2.0 / (1.0 + np.exp(2.0 * z)), 1.0 / np.cosh(z) ** 2
        elif name == "logistic":
            c, d = 2.0 / (1.0 + np.exp(z)), 0.5 / np.cosh(z / 2) ** 2
        elif name == "arctan":
            c = np.where(z > 0, 2 / np.pi * np.arctan(1 / np.where(z > 0, z, 1.0)), 0.0)
            c = np.where(z > 0, c, 1.0 - 2 / np.pi * np.arctan(z))
            d = 2 / np.pi / (1.0 + z * z)
        else:
            from scipy.special import erfc

            c, d = erfc(z), 2 / np.sqrt(np.pi) * np.exp(-z * z)
    return -2.0 * b[:, None] * c * d


def slope_signs(name: str, b: Sequence[float], xs: np.ndarray, dps: int = 30) -> np.ndarray:
    """sign E'(x) at each x: float64 where its terms are normal and do not nearly cancel,
    mpmath (``dps`` digits) elsewhere."""
    bb = np.asarray([v for v in b if v != 0.0], dtype=np.float64)
    terms = _float_terms(name, bb, xs)
    total, scale = terms.sum(axis=0), np.abs(terms).sum(axis=0)
    sure = (scale > 1e-280) & (np.abs(total) > 1e-9 * scale)
    signs = np.sign(total)
    with mp.workdps(dps):
        for j in np.flatnonzero(~sure):
            exact = slope_terms(name, bb.tolist(), mp.mpf(float(xs[j])))
            total_mp, size = mp.fsum(exact), mp.fsum(abs(t) for t in exact)
            # within rounding of the working precision: an exact zero (e.g. E'(0), Σb = 0)
            signs[j] = 0 if abs(total_mp) <= size * mp.mpf(10) ** (10 - dps) else mp.sign(total_mp)
    return signs


def relative_slope(name: str, b: Sequence[float], x: float) -> float:
    """|E'(x)| / Σ|terms| at 40 digits."""
    with mp.workdps(40):
        terms = slope_terms(name, b, mp.mpf(x))
        if not terms:
            return 0.0
        return float(abs(mp.fsum(terms)) / mp.fsum(abs(t) for t in terms))


def scan_grid(b: Sequence[float], far: float, per_decade: int = 40) -> np.ndarray:
    beta = np.abs(np.asarray([v for v in b if v != 0.0]))
    lo, hi = 1e-3 / beta.max(), far / beta.min()
    g = np.geomspace(lo, hi, int(math.ceil(per_decade * math.log10(hi / lo))) + 1)
    return np.concatenate([-g[::-1], [0.0], g])
