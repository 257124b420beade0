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
  critical point at all: ``−∇E·ν = 2·Σ_i r_i·(B_i·ν)`` is a sum of terms ≥ 0, one of them
  > 0, and its log, ``ln 2 + L + ln Σ_i e^{ℓ_i − L}·(B_i·ν)``, bounds ‖∇E‖ from below
  (``‖∇E‖ ≥ −∇E·ν/‖ν‖``) with no cancellation to fear.

The weights are *frozen* at x when no move of the method can change x in float64: every
``step·|∂E/∂x_j|`` is below half the spacing of the floats at x_j, with ``step`` the
learning rate η of descent (α·t for the flow, its displacement over a time t). A net's
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
    half = np.spacing(np.abs(x)) / 2.0  # a change below this rounds back to x_j
    if isinstance(model, NetworkProblem):
        with np.errstate(over="ignore", invalid="ignore", under="ignore"):
            g = network_error_and_gradient(model, x)[1]
        norm = float(np.linalg.norm(g))
        frozen = bool(np.all(step * np.abs(g) < half))
        if not (norm > 0 and math.isfinite(norm)):
            return Stationarity(None, critical=None, frozen=frozen, lemma_applies=False)
        return Stationarity(math.log10(norm), critical=False, frozen=frozen, lemma_applies=False)
    lemma = half_space is not None
    B = model.B
    with np.errstate(over="ignore", invalid="ignore"):
        z = B @ x
    ell = model.activation.log_residual(z) if np.isfinite(z).all() else np.array([math.nan])
    top = float(np.max(ell))
    if not math.isfinite(top):  # an overflowed margin, or erf's log residual past 1e154
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
        # −∇E·ν/‖ν‖ = 2·Σ r_i·(B_i·ν)/‖ν‖ over the rows with B_i·ν > 0, summed in log space
        along = (B @ half_space) / float(np.linalg.norm(half_space))
        up = along > 0
        if up.any():
            log_along = float(logsumexp(ell[up] + np.log(along[up]))) - top
            log_norm = max(log_norm, log_along)
        critical = False
    else:
        critical = s_norm <= CANCELLATION * len(z) * float(np.finfo(np.float64).eps) * size
    with np.errstate(divide="ignore"):
        log_moves = math.log(2.0 * step) + top + np.log(np.abs(s))  # log(step·|∂E/∂x_j|)
        frozen = bool(np.all(log_moves < np.log(half)))
    gradient_log10 = (math.log(2.0) + top + log_norm) / math.log(10.0)
    return Stationarity(
        gradient_log10=gradient_log10 if math.isfinite(gradient_log10) else None,
        critical=critical,
        frozen=frozen,
        lemma_applies=lemma,
    )
