"""Is the point where the weights stopped a critical point of E? Decided in log space.

Float64 stops the weights wherever a step ``η·∇E`` falls below the rounding of x — at a
minimum, but also where every example is saturated and ∇E ≈ 10⁻¹⁷³, or on separable data
where ∇E ≈ 10⁻⁵² decays like the logarithmically diverging weights' steps. A verdict that the
weights "converge" must tell these apart, and the float gradient cannot: it rounds to a value
that cancels, or underflows to 0. So, for the perceptron, with ``z = B·x`` and the residuals
``r_i = (1 − θ(z_i))·θ'(z_i) > 0`` of the gradient ``∇E = −2·Σ_i r_i·B_i``:

* ``ℓ_i = log r_i`` comes from the activation's stable complements
  (:attr:`~service.core.model.activations.Activation.log_residual`), finite where r_i itself
  underflows;
* with ``L = max_i ℓ_i`` the sum ``s = Σ_i e^{ℓ_i − L}·B_i`` is formed in float64 (its terms
  are at most 1 in size), so ``log10 ‖∇E‖ = (ln 2 + L + ln ‖s‖)/ln 10`` whatever the scale;
* x is a critical point "to rounding" when ``‖s‖`` is within ``CANCELLATION·n·ε`` of the sum
  of the terms' sizes ``Σ_i e^{ℓ_i − L}·‖B_i‖``: the terms cancel as far as float64 can tell;
* when Sontag's Lemma applies (a half-space witness ν with B·ν ≥ 0, B·ν ≠ 0), E has no
  critical point at all: ``−∇E·ν = 2·Σ_i r_i·(B_i·ν)`` is, for an exact witness, a sum of
  terms ≥ 0, one of them > 0, and for any ν its log, ``ln 2 + L + ln Σ_i e^{ℓ_i − L}·(B_i·ν)``
  summed in log space with the signs of the computed B·ν (a computed ν is a witness only to
  rounding), bounds ‖∇E‖ from below (``‖∇E‖ ≥ −∇E·ν/‖ν‖``) whenever it is positive.

The weights are *frozen* at x when no move of the method can change x in float64: every
``step·|∂E/∂x_j|`` is below half the smaller gap between x_j and its float neighbours, with
``step`` the learning rate η of descent (α·t for the flow, its displacement over a time t).
A net's
gradient goes through the hidden layers; it is taken in float64 (the numpy reference), and a
gradient that underflowed to 0 leaves the question open (``critical`` is None).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy.special import logsumexp

from service.core.model.activations import Array
from service.core.model.models import Model
from service.core.model.network import NetworkProblem, network_error_and_gradient
from service.core.model.norms import vector_norm

CANCELLATION = 8.0
"""The terms of ∇E cancel "to rounding" when ‖s‖ ≤ CANCELLATION·n·ε·Σ|terms|: a sum of n
terms in float64 carries an error of at most about n·ε times the sum of their sizes, and a
factor 8 covers the norms and the exponentials around it."""


@dataclass(frozen=True, slots=True)
class Stationarity:
    """The exact gradient at a point x.

    ``gradient_log10`` is log10 ‖∇E(x)‖ (None when it cannot be told: a net's gradient that
    underflowed); ``critical`` says whether x is a critical point of E to rounding (always
    False when ``lemma_applies``; None when it cannot be told); ``frozen``: no step of the
    method can move x in float64; ``lemma_applies``: Sontag's Lemma holds for the data, so E
    has no critical point anywhere.
    """

    gradient_log10: float | None
    critical: bool | None
    frozen: bool
    lemma_applies: bool


def assess_stationarity(
    model: Model, x: Array, step: float, half_space: Array | None
) -> Stationarity:
    """Whether x is a critical point of E, how large ∇E(x) is, and whether a move of size
    ``step``·∇E can change x in float64 (see the module docstring).

    ``half_space`` is the Lemma's witness ν (B·ν ≥ 0, B·ν ≠ 0) when the perceptron's data are
    weakly separable, else None; nets have no Lemma and ignore it.
    """
    gap = _gap(x)
    if isinstance(model, NetworkProblem):
        with np.errstate(over="ignore", invalid="ignore", under="ignore"):
            g = network_error_and_gradient(model, x)[1]
        norm = float(np.linalg.norm(g))
        frozen = bool(np.all(2.0 * step * np.abs(g) < gap))
        if not (norm > 0 and math.isfinite(norm)):
            return Stationarity(None, critical=None, frozen=frozen, lemma_applies=False)
        return Stationarity(math.log10(norm), critical=False, frozen=frozen, lemma_applies=False)
    lemma = half_space is not None
    with np.errstate(over="ignore", invalid="ignore"):
        z = model.B @ x
    if not np.isfinite(z).all():  # an overflowed margin
        return Stationarity(None, critical=None, frozen=False, lemma_applies=lemma)
    B, z = _merge_equal_margins(model.B, z)
    if len(z) == 0:  # every example cancels another: ∇E = 0 exactly
        return Stationarity(None, critical=not lemma, frozen=True, lemma_applies=lemma)
    ell = model.activation.log_residual(z)
    top = float(np.max(ell))
    if not math.isfinite(top):  # erf's log residual past |z| ≈ 1e154
        return Stationarity(None, critical=None, frozen=False, lemma_applies=lemma)
    weights = np.exp(ell - top)
    with np.errstate(over="ignore"):  # huge inputs: an infinite sum leaves the question open
        s = B.T @ weights  # ∇E = −2·e^top·s
        size = float(weights @ np.max(np.abs(B), axis=1))
    if not (np.isfinite(s).all() and math.isfinite(size)):
        return Stationarity(None, critical=None, frozen=False, lemma_applies=lemma)
    s_norm = vector_norm(s)
    log_norm = math.log(s_norm) if s_norm > 0 else -math.inf
    if half_space is not None:
        # −∇E·ν/‖ν‖ = 2·Σ r_i·(B_i·ν)/‖ν‖ ≤ ‖∇E‖ for any ν; summed in log space with the
        # signs the float B·ν has (a computed ν is a witness only to rounding)
        along = (B @ half_space) / float(np.linalg.norm(half_space))
        log_along = _log_signed_sum(ell, along) - top
        log_norm = max(log_norm, log_along)
        critical = False
    else:
        critical = s_norm <= CANCELLATION * len(z) * float(np.finfo(np.float64).eps) * size
    with np.errstate(divide="ignore"):
        # log(2·step·|∂E/∂x_j|); a flow stopped at t = 0 made no move at all (step 0)
        log_step = math.log(4.0 * step) if step > 0 else -math.inf
        log_moves = log_step + top + np.log(np.abs(s))
        frozen = bool(np.all(log_moves < np.log(gap)))
    gradient_log10 = (math.log(2.0) + top + log_norm) / math.log(10.0)
    return Stationarity(
        gradient_log10=gradient_log10 if math.isfinite(gradient_log10) else None,
        critical=critical,
        frozen=frozen,
        lemma_applies=lemma,
    )


def _merge_equal_margins(B: Array, z: Array) -> tuple[Array, Array]:
    """Rows with the same margin share one residual r(z): sum them first (in float64, so an
    example given with both labels, b and −b, cancels exactly), and drop the sums that are 0.
    Returns the summed rows and their margins."""
    margins, inverse = np.unique(z, return_inverse=True)
    summed = np.zeros((len(margins), B.shape[1]))
    np.add.at(summed, inverse.ravel(), B)
    keep = np.any(summed != 0.0, axis=1)
    return summed[keep], margins[keep]


def _gap(x: Array) -> Array:
    """The smaller of the gaps between x_j and its two float64 neighbours: a change of less
    than half of it rounds back to x_j, whichever way it goes (just below a power of two the
    gap beneath is half the one above; at 0 it is the least subnormal)."""
    size = np.abs(x)
    below = size - np.nextafter(size, 0.0)
    gap: Array = np.where(size == 0.0, np.spacing(0.0), np.minimum(np.spacing(size), below))
    return gap


def _log_signed_sum(log_terms: Array, factors: Array) -> float:
    """log Σ_i e^{log_terms_i}·factors_i when that sum is positive, else −∞ (no bound)."""
    with np.errstate(divide="ignore"):
        up, down = factors > 0, factors < 0
        positive = float(logsumexp(log_terms[up] + np.log(factors[up]))) if up.any() else -math.inf
        negative = (
            float(logsumexp(log_terms[down] + np.log(-factors[down]))) if down.any() else -math.inf
        )
    if not positive > negative:
        return -math.inf
    return positive + math.log1p(-math.exp(negative - positive))
