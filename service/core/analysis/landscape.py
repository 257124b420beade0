"""The exact critical-point structure of a one-weight error (the paper's §2, m = 1).

With one weight x and the reduced data b = B·(the one column), the error is

    E(x) = Σ_i (1 − θ(b_i·x))²,     E'(x) = −2·Σ_i b_i·(1 − θ(b_i·x))·θ'(b_i·x).

Split the examples by the sign of b_i and write ``E'(x) = 2·(N(x) − P(x))`` with

    N(x) = Σ_{b_i<0} |b_i|·(1 − θ(b_i·x))·θ'(b_i·x),  P(x) = Σ_{b_i>0} b_i·(1 − θ(b_i·x))·θ'(b_i·x).

Both sums are positive for every x, so ``sign E'(x) = sign F(x)`` with the log-ratio
``F(x) = log N(x) − log P(x)``. F is evaluated term by term in log space, so that no term
ever underflows: an example with ``b_i·x > 0`` has the exponentially (or polynomially) small
factor (1 − θ), and a float64 sum of such terms is exactly 0 long before the sign of E' is
decided — the spurious "extrema" of a naive scan at |x| ≈ 10–40 for tanh. Each log-term
is written as ``R_i(x) − k_i·φ(x)`` with ``R_i`` bounded and ``φ`` the tail's growth
(``r·|x|`` exponential, ``x²`` Gaussian, 0 polynomial), and the slowest rate is subtracted
from both sums before they are compared, so F keeps its accuracy even where both sums are
10^(−10^15).

Finite critical points are the roots of F: bracketed on a log-spaced grid of |x| (both
signs, 32 points a decade, and 0) that reaches from ``10^−2/max|b_i|`` to beyond the last
possible root, refined with Brent's method. Inside ``|x| < 10^−2/max|b_i|`` E' is increasing
(every term of E'' is positive there), so one sign change shows the one root it can hold.
Where |F| has a grid minimum without a sign change and the parabola through the three values
dips well below it (or it is near 0), bounded minimisation of |F| splits a close pair of
roots into two brackets, or finds a degenerate (double) root. The grid's far end ("reach")
is certified by the asymptotics below: past it, E' has the sign of its leading term.

The data are first scaled by an exact power of two so that the nonzero |b_i| centre on 1
(E(x; b) = E(2^k·x; 2^−k·b)); nonzero |b_i| must lie in [1e−150, 1e150] and span at most
100 decades, so that every rate, term and grid point stays a normal float64.

Infinity
--------
Along a direction σ = ±1 (x = σ·t, t → ∞) the examples with σ·b_i > 0 tend to error 0,
those with σ·b_i < 0 to 4 and those with b_i = 0 stay at 1, so
``E(σ∞) = 4·#{σ·b_i < 0} + #{b_i = 0}``. The end is a local minimum when E approaches this
limit from above, i.e. when ``d/dt E(σt) < 0`` for all large t. Write β = |b_i|, and call an
example *decaying* when σ·b_i > 0 and *rising* when σ·b_i < 0. If there are no rising
examples E decreases along σ everywhere (a local minimum at σ∞); if there are no decaying
ones it increases (not a minimum). Otherwise, per tail class of ``1 − θ(z)``:

* exponential (tanh: ``1 − θ = 2/(1 + e^{2z})``, r = 2; logistic r = 1). With
  ``τ = e^{−rβt}`` exactly: a decaying example contributes ``−8rβ·τ²/(1 + τ)³`` to
  ``d/dt E(σt)`` and a rising one ``+8rβ·τ/(1 + τ)³``. Expanding ``(1 + τ)^{−3}`` gives a
  Dirichlet series ``Σ C_μ·e^{−rμt}`` with exponents μ = β·(k + 2) (decaying) and
  μ = β·(k + 1) (rising). The sign of the first nonzero ``C_μ`` decides. At first order:
  compare ``2·min β_decaying`` with ``min β_rising``; the smaller exponent wins (decaying →
  local minimum); on an exact tie the coefficient is ``Σ_rising β − Σ_decaying β`` over the
  tied examples, and when that cancels too (e.g. b = (1, 1, −2)) the higher orders are
  summed exactly in rational arithmetic (the inputs are binary fractions).
  For tanh and n = 2, b = (1, −a): +∞ is a local minimum iff a > 2.
* polynomial (arctan: ``1 − θ(z) = (2/π)·atan(1/z)``). A rising example contributes
  ``≥ 1/(πβt²)`` and decaying ones ``≤ (4/π²)·Σ β^{−2}/t³``: any rising example wins, so
  σ∞ is a local minimum iff there are no rising examples.
* Gaussian (erf). A rising example contributes ``≍ e^{−β²t²}``, a decaying one
  ``≍ e^{−2β²t²}/t``; ``β_r² = 2·β_d²`` is impossible for nonzero binary fractions, so the
  smaller of ``min β_rising²`` and ``2·min β_decaying²`` decides (decaying → local minimum).

The reach is the t beyond which the leading term exceeds the sum of bounds on all the
others (each bound's ratio to the leading term decreases in t, so once is for ever).

The global minimum is ``inf E`` over the line, attained at a finite local minimum or at an
end that is a local minimum; ``distance = √(inf E) = dist(e, clos TV)``.

The computation's deadline (:mod:`service.core.deadline`) is checked between the chunks of
every scan of F, at every grid point of the root search, and at every example of the exact
series at infinity: past it, :class:`~service.core.errors.TimeLimitExceeded`.

References
----------
E. D. Sontag, "Some remarks on the backpropagation algorithm for neural net learning"
(1988), §2: the types of V = span(v) for n = 2 and the local minimum at infinity.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction
from typing import Literal

import numpy as np
from scipy.optimize import brentq, minimize_scalar
from scipy.special import erf, erfcx

from service.core.deadline import NO_DEADLINE, Deadline
from service.core.errors import InvalidProblem
from service.core.model.activations import Activation, Array, TailClass
from service.core.model.problem import PerceptronProblem
from service.vocabulary import CriticalKind, Location

GRID_PER_DECADE = 32
"""Log-spaced grid points per decade of |x| in the scan for sign changes of E'."""

DEGENERATE_TOLERANCE = 1e-11
"""A local minimum of |F| = |log N − log P| below this, without a sign change, is reported
as a degenerate critical point (|E'| ≤ 1e-11·(N + P))."""

MAX_MAGNITUDE = 1e150
"""Nonzero inputs must have magnitudes in [1/MAX_MAGNITUDE, MAX_MAGNITUDE] ..."""

MAX_SPREAD = 1e100
"""... and span at most 100 decades (max|b_i| ≤ MAX_SPREAD·min|b_i| over b_i ≠ 0), so that
every term, rate and grid point of the scan is a normal float64."""

_CHUNK = 1 << 19
_LOG_SQRT_PI = 0.5 * math.log(math.pi)


@dataclass(frozen=True, slots=True)
class CriticalPoint:
    """A finite root x of E' with its kind and ``error = E(x)``."""

    x: float
    kind: CriticalKind
    error: float


@dataclass(frozen=True, slots=True)
class InfinityEnd:
    """The end x → σ∞: ``error_limit = E(σ∞)``, and whether E approaches it from above
    (``local_min``). ``approach`` is "above", "below" or "constant" (flat E)."""

    error_limit: float
    local_min: bool
    approach: Literal["above", "below", "constant"]


@dataclass(frozen=True, slots=True)
class LocalMinimum:
    """A local minimum of E: finite (``x`` set) or at an end (``x`` None)."""

    location: Location
    x: float | None
    error: float


@dataclass(frozen=True, slots=True)
class Subspace:
    """The paper's class of V = span(v), v = (b_1, b_2), for n = 2.

    ``type`` 0: v = 0. 1: v_1 = 0 (``a`` None). 2: v ∝ (1, a) with a = v_2/v_1 ≥ 0.
    3: v ∝ (1, −a) with a = −v_2/v_1 > 0. The paper's parameter is ``v_1·x``.
    """

    type: Literal[0, 1, 2, 3]
    a: float | None
    vector: tuple[float, float]


@dataclass(frozen=True, slots=True)
class Curve:
    """Samples of E on ``x = scale·tan(s)``, s uniform on (−π/2, π/2) (midpoints), so
    the whole line shows; for n = 2 also the image curve TV: ``image[j] = θ(b·x_j)``."""

    s: Array
    x: Array
    error: Array
    image: Array | None
    scale: float


@dataclass(frozen=True, slots=True)
class Landscape:
    """Every critical point of a one-weight E, its ends, minima and (n = 2) subspace type.

    ``critical_points`` are sorted by x; ``local_minima`` run from −∞ through the finite
    ones to +∞. ``global_error = inf E`` and ``distance = √(inf E)``; ``global_minimum`` is
    the first of the local minima (in that order) where E attains its infimum. ``flat``: all
    b_i = 0, E ≡ n (every x is a minimum; none is listed, and ``global_minimum`` is x = 0).
    """

    critical_points: tuple[CriticalPoint, ...]
    plus: InfinityEnd
    minus: InfinityEnd
    local_minima: tuple[LocalMinimum, ...]
    global_error: float
    distance: float
    global_minimum: LocalMinimum
    flat: bool
    subspace: Subspace | None
    curve: Curve | None


def weight_column(problem: PerceptronProblem) -> Array:
    """The one column b of B, or :class:`InvalidProblem` when m ≠ 1 after the bias."""
    if problem.m != 1:
        bias = " (counting the bias column)" if problem.bias else ""
        raise InvalidProblem(
            "dataset.inputs",
            f"/minima analyses one-weight problems (m = 1), where the landscape is a curve "
            f"and every critical point can be found exactly; these data have m = "
            f"{problem.m} weights{bias}. Give one input per row without bias, or use /train "
            "for higher dimensions",
        )
    return np.ascontiguousarray(problem.B[:, 0])


# --------------------------------------------------------------------------- log terms


@dataclass(frozen=True, slots=True)
class _Family:
    """The log of one term ``β·(1 − θ(±β·t))·θ'(β·t)`` of N or P, split as
    ``const(β) + var(β, t) − k(β)·φ(t)`` with ``var`` bounded; ``decaying`` when the
    example's error tends to 0 along the side (σ·b > 0)."""

    const: Callable[[Array], Array]
    var: Callable[[Array, Array, bool], Array]
    k: Callable[[Array, bool], tuple[Array, Array]]
    """The rate k(β) as an unevaluated sum hi + lo (exact for binary-fraction β)."""
    phi: Callable[[Array], Array]


def _exponential_family(rate: float) -> _Family:
    # term = 4rβ·τ^s/(1 + τ)^3 with τ = e^{−rβt}, s = 2 decaying, 1 rising (see module doc)
    return _Family(
        const=lambda beta: np.log(4.0 * rate * beta),
        var=lambda beta, t, dec: -3.0 * np.log1p(np.exp(-rate * beta * t)),
        k=lambda beta, dec: (2.0 * beta if dec else beta, 0.0 * beta),
        phi=lambda t: rate * t,
    )


def _gaussian_var(beta: Array, t: Array, decaying: bool) -> Array:
    # erfc(z)·θ'(z) = (2/√π)·erfcx(z)·e^{−2z²};  (2 − erfc(z))·θ'(z) = (2/√π)(1 + erf z)e^{−z²}
    z = beta * t
    return np.asarray(np.log(erfcx(z)) if decaying else np.log1p(erf(z)))


def _square(beta: Array) -> tuple[Array, Array]:
    """β² = hi + lo exactly (Dekker's product): near-equal rates β_r² ≈ 2β_d² must not
    lose their difference to rounding, which x² then multiplies."""
    c = 134217729.0 * beta
    top = c - (c - beta)
    bottom = beta - top
    hi = beta * beta
    return hi, ((top * top - hi) + 2.0 * top * bottom) + bottom * bottom


def _gaussian_k(beta: Array, decaying: bool) -> tuple[Array, Array]:
    hi, lo = _square(beta)
    return (2.0 * hi, 2.0 * lo) if decaying else (hi, lo)


_GAUSSIAN = _Family(
    const=lambda beta: np.log(2.0 * beta) - _LOG_SQRT_PI,
    var=_gaussian_var,
    k=_gaussian_k,
    phi=lambda t: t * t,
)


def _polynomial_var(beta: Array, t: Array, decaying: bool) -> Array:
    # (1 − θ(±z))·θ'(z), θ = (2/π)atan: 1 − θ(z) = (2/π)·atan2(1, z), θ' = (2/π)/(1 + z²)
    z = beta * t
    if z.max() <= 1e100:  # the quotient stays a normal float: one log
        return np.asarray(np.log(np.arctan2(1.0, z if decaying else -z) / (1.0 + z * z)))
    if decaying:
        big = z > 1e100
        log_c = np.where(big, -np.log(z), np.log(np.arctan2(1.0, np.where(big, 1.0, z))))
    else:
        log_c = np.log(np.arctan2(1.0, -z))
    huge = z > 1e150
    log_d = np.where(huge, -2.0 * np.log(z), -np.log1p(np.where(huge, 0.0, z) ** 2))
    return np.asarray(log_c + log_d)


_POLYNOMIAL = _Family(
    const=lambda beta: np.log(beta) + 2.0 * math.log(2.0 / math.pi),
    var=_polynomial_var,
    k=lambda beta, dec: (0.0 * beta, 0.0 * beta),
    phi=lambda t: 0.0 * t,
)


def _lse(a: Array) -> Array:
    """log Σ exp down the columns (every entry finite)."""
    top = a.max(axis=0)
    return np.asarray(top + np.log(np.exp(a - top).sum(axis=0)))


@dataclass(frozen=True, slots=True)
class _Group:
    beta: Array
    const: Array  # log(multiplicity) + const(β)
    dk: Array  # k(β) − k_ref ≥ 0
    decaying: bool


@dataclass(frozen=True, slots=True)
class _Side:
    """N and P along x = σ·t, t ≥ 0, in log space with the slowest rate k_ref taken out."""

    sigma: float
    family: _Family
    n: _Group
    p: _Group
    deadline: Deadline = NO_DEADLINE

    def _log_sum(self, g: _Group, t: Array) -> Array:
        a = g.const[:, None] + self.family.var(g.beta[:, None], t, g.decaying)
        if g.dk.any():
            a -= g.dk[:, None] * self.family.phi(t)
        return _lse(a)

    def log_ratio(self, t: Array) -> Array:
        """F(σ·t) = log N − log P at each t ≥ 0."""
        t = np.asarray(t, dtype=np.float64)
        out = np.empty_like(t)
        step = max(1, _CHUNK // max(self.n.beta.size, self.p.beta.size))
        with np.errstate(over="ignore", under="ignore", divide="ignore"):
            for lo in range(0, t.size, step):
                self.deadline.check(_progress("scanning E' for its roots"))
                tc = t[lo : lo + step][None, :]
                out[lo : lo + step] = self._log_sum(self.n, tc) - self._log_sum(self.p, tc)
        return out


def _progress(step: str) -> str:
    """How far a landscape got, for :class:`~service.core.errors.TimeLimitExceeded`."""
    return f"while finding the critical points of E ({step})"


def _side(
    sigma: float,
    activation: Activation,
    bn: Array,
    mn: Array,
    bp: Array,
    mp: Array,
    deadline: Deadline = NO_DEADLINE,
) -> _Side:
    kind = activation.tail.kind
    if kind is TailClass.EXPONENTIAL:
        # the family's closed form is 1 − θ(z) = 2/(1 + e^{rz}) (tanh, logistic)
        if activation.tail.coefficient != 2.0:
            raise InvalidProblem(
                "activation",
                f"{activation.name}: /minima's exact rule at infinity needs an exponential tail "
                "of the form 1 − θ(z) = 2/(1 + e^(rz))",
            )
        family = _exponential_family(activation.tail.rate)
    elif kind is TailClass.GAUSSIAN:
        family = _GAUSSIAN
    else:
        family = _POLYNOMIAL
    # σ·b > 0 is "decaying"; N holds b < 0, so N decays on σ = −1 and P on σ = +1.
    k_n, k_p = family.k(bn, sigma < 0), family.k(bp, sigma > 0)
    # the smallest rate, with its low part (Sterbenz: hi − hi_ref is exact near a tie)
    hi = np.concatenate([k_n[0], k_p[0]])
    lo = np.concatenate([k_n[1], k_p[1]])
    ref = int(np.argmin(hi + lo))

    def group(beta: Array, mult: Array, k: tuple[Array, Array], dec: bool) -> _Group:
        dk = np.maximum((k[0] - hi[ref]) + (k[1] - lo[ref]), 0.0)
        return _Group(beta, np.log(mult) + family.const(beta), dk, dec)

    return _Side(
        sigma, family, group(bn, mn, k_n, sigma < 0), group(bp, mp, k_p, sigma > 0), deadline
    )


# --------------------------------------------------------------------------- infinity


def _log_fraction(q: Fraction) -> float:
    return math.log(q.numerator) - math.log(q.denominator)


def _exponential_end(
    beta_d: Array,
    mult_d: Array,
    beta_r: Array,
    mult_r: Array,
    rate: float,
    deadline: Deadline = NO_DEADLINE,
) -> tuple[int, float]:
    """Sign of d/dt E(σt) as t → ∞ and the reach, exponential tails (see module doc).

    Coefficients are in units of 8r: decaying ``−β·m·(−1)^k·C(k+2, 2)`` at exponent
    ``β(k+2)``, rising ``+β·m·(−1)^k·C(k+2, 2)`` at ``β(k+1)`` (exponents in units of r).
    """
    first_d, first_r = 2.0 * beta_d, beta_r
    mu0 = min(float(first_d.min()), float(first_r.min()))
    tied_d, tied_r = first_d == mu0, first_r == mu0
    lead = sum(
        (Fraction(float(b)) * int(m) for b, m in zip(beta_r[tied_r], mult_r[tied_r], strict=True)),
        Fraction(0),
    ) - sum(
        (Fraction(float(b)) * int(m) for b, m in zip(beta_d[tied_d], mult_d[tied_d], strict=True)),
        Fraction(0),
    )
    if lead != 0:
        # Others: untied examples (|term| ≤ β·m·e^{−r·first·t}) and the tied ones'
        # corrections, |(1 + τ)^{−3} − 1| ≤ 3τ, at exponent μ0 + β.
        mu = np.concatenate([first_d[~tied_d], first_r[~tied_r], mu0 + beta_d[tied_d]])
        mu = np.concatenate([mu, mu0 + beta_r[tied_r]])
        coef = np.concatenate(
            [
                (beta_d * mult_d)[~tied_d],
                (beta_r * mult_r)[~tied_r],
                3.0 * (beta_d * mult_d)[tied_d],
                3.0 * (beta_r * mult_r)[tied_r],
            ]
        )
        log_lead = _log_fraction(abs(lead))
        with np.errstate(divide="ignore"):
            need = (np.log((coef.size + 1) * coef) - log_lead) / (rate * (mu - mu0))
        reach = float(max(0.0, need.max(initial=0.0)))
        return (1 if lead > 0 else -1), reach
    return _exponential_series_end(beta_d, mult_d, beta_r, mult_r, rate, mu0, deadline)


def _exponential_series_end(
    beta_d: Array,
    mult_d: Array,
    beta_r: Array,
    mult_r: Array,
    rate: float,
    mu0: float,
    deadline: Deadline = NO_DEADLINE,
) -> tuple[int, float]:
    """The first-order coefficient cancels: sum the series exactly in rationals."""
    window = 3.0
    while True:
        cut = window * mu0
        series: dict[Fraction, Fraction] = {}
        bounds: list[tuple[float, float]] = []  # (exponent, |coefficient| bound)
        for betas, mults, shift, sign in ((beta_d, mult_d, 2, -1), (beta_r, mult_r, 1, 1)):
            for b, mf in zip(betas.tolist(), mults.tolist(), strict=True):
                deadline.check(_progress("the exact series at infinity"))
                m = int(mf)
                if b * shift >= cut:
                    bounds.append((b * shift, b * m))
                    continue
                fb = Fraction(b)
                k = 0
                while b * (k + shift) < cut:
                    key = fb * (k + shift)
                    c = sign * fb * m * (-1) ** k * math.comb(k + 2, 2)
                    series[key] = series.get(key, Fraction(0)) + c
                    k += 1
                # alternating remainder, valid for τ ≤ 1/4 (t ≥ ln 4/(rβ))
                bounds.append((b * (k + shift), b * m * math.comb(k + 2, 2)))
        deadline.check(_progress("the exact series at infinity"))
        nonzero = sorted(key for key, c in series.items() if c != 0)
        if nonzero or window > 96:
            break
        window *= 2.0
    if not nonzero:  # pragma: no cover - would need cancellation to 96 orders
        return 1, 1e3 / mu0
    lead_key = nonzero[0]
    lead = series[lead_key]
    mu_lead = float(lead_key)
    deadline.check(_progress("the exact series at infinity"))
    others = [(float(k), float(abs(series[k]))) for k in nonzero[1:]] + bounds
    log_lead = _log_fraction(abs(lead))
    t0 = math.log(4.0) / (rate * min(float(beta_d.min()), float(beta_r.min())))
    reach = t0
    for mu, c in others:
        gap = mu - mu_lead
        if gap <= 0.0:  # only from float rounding of a near-equal exponent
            gap = abs(mu_lead) * 1e-16
        reach = max(reach, (math.log((len(others) + 1) * c) - log_lead) / (rate * gap))
    return (1 if lead > 0 else -1), reach


def _polynomial_end(beta_d: Array, mult_d: Array, beta_r: Array) -> tuple[int, float]:
    """Any rising example wins: ``N ≥ 1/(πβ_j t²)`` for t ≥ 1/β_j, ``P ≤ (4/π²)·S/t³``."""
    with np.errstate(over="ignore", divide="ignore"):
        s = float(np.sum(mult_d / (beta_d * beta_d)))
        reach = np.maximum(1.0 / beta_r, (4.0 / math.pi) * beta_r * s)
    return 1, float(min(reach.min(), 1e300))


def _doubling(g: Callable[[float], float], start: float) -> float:
    x = start
    for _ in range(2000):
        if g(x) > 0.0:
            return x
        x *= 2.0
    return x  # pragma: no cover


def _gaussian_end(beta_d: Array, mult_d: Array, beta_r: Array, mult_r: Array) -> tuple[int, float]:
    """Compare ``min β_rising²`` with ``2·min β_decaying²`` exactly (never equal)."""
    bd, br = float(beta_d.min()), float(beta_r.min())
    delta = Fraction(br) ** 2 - 2 * Fraction(bd) ** 2
    gap = float(abs(delta))
    if delta < 0:  # rising leads: β_r(2/√π)e^{−β_r²t²} > n_d(2/π)e^{−2β_d²t²}/t
        const = math.log(br * 2.0 / math.sqrt(math.pi)) - math.log(
            float(mult_d.sum()) * 2.0 / math.pi
        )
        return 1, _doubling(lambda t: const + gap * t * t + math.log(t), 1.0 / br)
    # decaying leads: β_d(4/π)e^{−2β_d²t²}/(β_d t + √(β_d²t² + 2)) > (4/√π)S_r e^{−β_r²t²}
    const = math.log(bd * 4.0 / math.pi) - math.log(
        4.0 / math.sqrt(math.pi) * float((beta_r * mult_r).sum())
    )

    def g(t: float) -> float:
        z = bd * t
        return const + gap * t * t - math.log(z + math.sqrt(z * z + 2.0))

    start = max(1.0 / bd, bd / (2.0 * math.sqrt(2.0) * gap))
    return -1, _doubling(g, start)


def _end(
    sigma: float,
    activation: Activation,
    values: Array,
    mults: Array,
    deadline: Deadline = NO_DEADLINE,
) -> tuple[int, float]:
    """(sign of d/dt E(σt) for large t, reach) for the end σ∞."""
    oriented = sigma * values
    dec, ris = oriented > 0, oriented < 0
    if not ris.any():
        return -1, 0.0
    if not dec.any():
        return 1, 0.0
    bd, md = np.abs(values[dec]), mults[dec]
    br, mr = np.abs(values[ris]), mults[ris]
    kind = activation.tail.kind
    if kind is TailClass.EXPONENTIAL:
        return _exponential_end(bd, md, br, mr, activation.tail.rate, deadline)
    if kind is TailClass.GAUSSIAN:
        return _gaussian_end(bd, md, br, mr)
    return _polynomial_end(bd, md, br)


# --------------------------------------------------------------------------- finite roots


def _side_grid(side: _Side, t_lo: float, t_hi: float, far_sign: int) -> tuple[Array, Array]:
    """Log-spaced t ∈ [t_lo, t_hi] and F(σ·t); extended if F's sign at the far end is not
    yet ``far_sign`` (the asymptotic sign of E' there; the reach proves it already is, this
    guards the proof against rounding)."""
    decades = max(1.0, math.log10(t_hi / t_lo))
    t = np.geomspace(t_lo, t_hi, int(math.ceil(GRID_PER_DECADE * decades)) + 1)
    f = side.log_ratio(t)
    for _ in range(40):
        if np.sign(f[-1]) == far_sign or abs(f[-1]) < 1e-8:
            break
        more = np.geomspace(t[-1], t[-1] * 10.0, GRID_PER_DECADE + 1)[1:]
        t, f = np.concatenate([t, more]), np.concatenate([f, side.log_ratio(more)])
    return t, f


def _kind(left: float, right: float) -> int:
    """1 min (E' from − to +), −1 max, 0 degenerate (no sign change)."""
    if left < 0 < right:
        return 1
    if left > 0 > right:
        return -1
    return 0


def _roots_on_grid(
    fx: Callable[[float], float], x: Array, f: Array, deadline: Deadline = NO_DEADLINE
) -> list[tuple[float, int]]:
    """Roots of F from an x-sorted grid: sign changes (Brent) and dips of |F| (refined)."""

    def root(a: float, b: float) -> float:
        tol = 1e-300 + 1e-16 * abs(b - a)
        return float(brentq(fx, a, b, xtol=tol, rtol=8.9e-16))

    found: list[tuple[float, int]] = []
    s = np.sign(f)
    last = x.size - 1
    for i in range(last):
        deadline.check(_progress("refining the roots of E'"))
        if s[i] == 0.0:
            if 0 < i:
                found.append((float(x[i]), _kind(s[i - 1], s[i + 1])))
        elif s[i + 1] == 0.0:
            continue
        elif s[i] * s[i + 1] < 0:
            found.append((root(float(x[i]), float(x[i + 1])), _kind(s[i], s[i + 1])))
        elif 0 < i and s[i - 1] == s[i] and _is_dip(abs(f[i - 1]), abs(f[i]), abs(f[i + 1])):
            found.extend(_refine_dip(fx, float(x[i - 1]), float(x[i + 1]), s[i], root))
    return found


def _is_dip(left: float, mid: float, right: float) -> bool:
    """|F| has a grid minimum that may hide two roots or a double one: the parabola through
    the three values dips well below the middle one, or the middle one is near 0. Flat
    stretches (F ≈ const, with rounding wiggles) are not dips."""
    depth = min(left, right) - mid
    if depth <= 1e-9 * max(1.0, mid):
        return False
    curvature = left + right - 2.0 * mid
    bottom = mid - (right - left) ** 2 / (8.0 * curvature)
    return bottom < 0.5 * mid or mid < 0.05


def _refine_dip(
    fx: Callable[[float], float],
    a: float,
    b: float,
    sign: float,
    root: Callable[[float, float], float],
) -> list[tuple[float, int]]:
    """|F| has a grid minimum between a and b with no sign change: two close roots, a
    degenerate one, or (usually) none."""
    res = minimize_scalar(
        lambda xx: sign * fx(xx),
        bounds=(a, b),
        method="bounded",
        options={"xatol": 1e-15 * max(abs(a), abs(b))},
    )
    xm, fm = float(res.x), sign * float(res.fun)
    if np.sign(fm) == -sign:
        return [(root(a, xm), _kind(sign, -sign)), (root(xm, b), _kind(-sign, sign))]
    if abs(fm) < DEGENERATE_TOLERANCE:
        return [(xm, 0)]
    return []


# --------------------------------------------------------------------------- driver


def _error(values: Array, mults: Array, activation: Activation, x: Array) -> Array:
    c = activation.complement(values[:, None] * np.asarray(x, dtype=np.float64)[None, :])
    return np.asarray(mults @ (c * c))


def _subspace(b: Array) -> Subspace:
    v1, v2 = float(b[0]), float(b[1])
    if v1 == 0.0 and v2 == 0.0:
        return Subspace(0, None, (v1 + 0.0, v2 + 0.0))
    if v1 == 0.0:
        return Subspace(1, None, (v1 + 0.0, v2 + 0.0))
    a = v2 / v1
    if a >= 0.0:
        return Subspace(2, a + 0.0, (v1, v2))
    return Subspace(3, -a, (v1, v2))


def _curve(
    b: Array, values: Array, mults: Array, activation: Activation, points: int, k: int
) -> Curve:
    """Samples on the centred data b (= data·2^k); the weights are returned as x·2^k."""
    nz = np.abs(values[values != 0.0])
    scale = float(np.exp(-np.mean(np.log(nz)))) if nz.size else 1.0
    s = -0.5 * math.pi + math.pi * (np.arange(points) + 0.5) / points
    x = scale * np.tan(s)
    err = _error(values, mults, activation, x)
    image = activation.theta(np.outer(x, b)) if b.size == 2 else None
    return Curve(s=s, x=np.ldexp(x, k), error=err, image=image, scale=math.ldexp(scale, k))


def _normalise(b: Array) -> tuple[Array, int]:
    """``(b·2^k, k)`` with the nonzero |b_i·2^k| centred on 1 (exact: a power of two).

    E(x; b) = E(2^k·x; b·2^−k), so the critical points of the centred data, times 2^k, are
    those of b.
    """
    nz = np.abs(b[b != 0.0])
    if nz.size == 0:
        return b, 0
    lo, hi = float(nz.min()), float(nz.max())
    if lo < 1.0 / MAX_MAGNITUDE or hi > MAX_MAGNITUDE or hi > MAX_SPREAD * lo:
        raise InvalidProblem(
            "dataset.inputs",
            f"the nonzero inputs must have magnitudes between {1 / MAX_MAGNITUDE:g} and "
            f"{MAX_MAGNITUDE:g} and span at most {math.log10(MAX_SPREAD):.0f} decades "
            f"(max/min ≤ {MAX_SPREAD:g}); got magnitudes from {lo:g} to {hi:g}",
        )
    k = -round((math.frexp(lo)[1] + math.frexp(hi)[1]) / 2)
    return np.ldexp(b, k), k


def _infinity_end(limit: float, slope_sign: int) -> InfinityEnd:
    above = slope_sign < 0
    return InfinityEnd(limit, above, "above" if above else "below")


def _finite_roots(
    activation: Activation,
    values: Array,
    mults: Array,
    plus: tuple[int, float],
    minus: tuple[int, float],
    deadline: Deadline = NO_DEADLINE,
) -> list[tuple[float, int]]:
    """All roots of E' (x, kind code), scanning x = −t_hi … 0 … t_hi.

    Near 0 the grid steps from −t_lo to 0 to t_lo with t_lo = 10^−2/max|b|: there every
    |b_i·x| ≤ 10^−2 and E' is increasing (E''(0) = 2θ'(0)²·Σb_i² > 0), so at most one root
    lies there and a sign change shows it.
    """
    neg, pos = values < 0.0, values > 0.0
    beta = np.abs(values[values != 0.0])
    t_lo = 1e-2 / float(beta.max())
    args = (-values[neg], mults[neg], values[pos], mults[pos])
    sides = {sigma: _side(sigma, activation, *args, deadline) for sigma in (1.0, -1.0)}

    def fx(x: float) -> float:
        side = sides[1.0 if x >= 0.0 else -1.0]
        return float(side.log_ratio(np.array([abs(x)]))[0])

    grids = {}
    for sigma, (slope_sign, reach) in ((1.0, plus), (-1.0, minus)):
        t_hi = max(1.25 * reach, 10.0 * t_lo)
        # sign F(σ·t) = sign E'(σ·t) = σ·sign d/dt E(σt)
        grids[sigma] = _side_grid(sides[sigma], t_lo, t_hi, int(sigma * slope_sign))
    tm, fm = grids[-1.0]
    tp, fp = grids[1.0]
    x = np.concatenate([-tm[::-1], [0.0], tp])
    f = np.concatenate([fm[::-1], [fx(0.0)], fp])
    return _roots_on_grid(fx, x, f, deadline)


def find_critical_points(
    b: Array,
    activation: Activation,
    *,
    curve_points: int | None = None,
    deadline: Deadline = NO_DEADLINE,
) -> Landscape:
    """Every critical point of ``E(x) = Σ_i (1 − θ(b_i·x))²`` on the line and at ±∞.

    Parameters
    ----------
    b : array of n finite floats
        The one column of the reduced matrix ``B = diag(y)·A`` (m = 1).
    activation : Activation
        θ, with its stable complement and tail class (which fixes the rule at infinity).
    curve_points : int, optional
        When given, also sample E (and for n = 2 the image curve) at this many points.
    deadline : Deadline, optional
        The computation's wall-time deadline; past it
        :class:`~service.core.errors.TimeLimitExceeded` (see the module docstring).

    Returns
    -------
    Landscape
        Finite critical points (roots of E', kind by the sign change of E'), both ends,
        the local minima, ``inf E`` and ``dist(e, clos TV)``, and for n = 2 the subspace
        type of the paper's §2. See the module docstring for the method and the rules.
    """
    b = np.asarray(b, dtype=np.float64)
    n = b.size
    subspace = _subspace(b) if n == 2 else None
    b, k = _normalise(b)
    values, counts = np.unique(b, return_counts=True)
    mults = counts.astype(np.float64)
    zeros = float(mults[values == 0.0].sum())
    neg, pos = values < 0.0, values > 0.0
    curve = _curve(b, values, mults, activation, curve_points, k) if curve_points else None
    deadline.check(_progress("after the samples of E"))
    if not (neg.any() or pos.any()):
        end = InfinityEnd(float(n), False, "constant")
        anywhere = LocalMinimum(Location.FINITE, 0.0, float(n))
        return Landscape((), end, end, (), float(n), math.sqrt(n), anywhere, True, subspace, curve)

    sign_plus, reach_plus = _end(1.0, activation, values, mults, deadline)
    sign_minus, reach_minus = _end(-1.0, activation, values, mults, deadline)
    plus = _infinity_end(4.0 * float(mults[neg].sum()) + zeros, sign_plus)
    minus = _infinity_end(4.0 * float(mults[pos].sum()) + zeros, sign_minus)

    found: list[tuple[float, int]] = []
    if neg.any() and pos.any():
        # Mixed signs; otherwise E is strictly monotone and has no finite critical point.
        found = _finite_roots(
            activation,
            values,
            mults,
            (sign_plus, reach_plus),
            (sign_minus, reach_minus),
            deadline,
        )
    found.sort()
    xs = np.array([x for x, _ in found])
    errors = _error(values, mults, activation, xs) if found else np.empty(0)
    with np.errstate(over="ignore"):
        xs = np.ldexp(xs, k)
    if not np.all(np.isfinite(xs)):
        raise InvalidProblem(
            "dataset.inputs",
            "a critical point lies beyond the float64 range (|x| > 1.8e308); scale the inputs up",
        )
    kinds = {1: CriticalKind.MIN, -1: CriticalKind.MAX, 0: CriticalKind.DEGENERATE}
    points = tuple(
        CriticalPoint(float(x), kinds[code], float(e))
        for x, (_, code), e in zip(xs, found, errors, strict=True)
    )
    minima: list[LocalMinimum] = []
    if minus.local_min:
        minima.append(LocalMinimum(Location.MINUS_INF, None, minus.error_limit))
    minima.extend(
        LocalMinimum(Location.FINITE, p.x, p.error) for p in points if p.kind is CriticalKind.MIN
    )
    if plus.local_min:
        minima.append(LocalMinimum(Location.PLUS_INF, None, plus.error_limit))
    best = min(minima, key=lambda minimum: minimum.error)
    return Landscape(
        points,
        plus,
        minus,
        tuple(minima),
        best.error,
        math.sqrt(best.error),
        best,
        False,
        subspace,
        curve,
    )
