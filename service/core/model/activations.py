"""The activation registry: θ, θ', the stable complement 1 − θ, and the tail class.

Every activation θ here is odd, smooth, strictly increasing and onto (−1, 1), as the paper
(§2) assumes. The error of an example with margin ``z = B_i·x`` is ``(1 − θ(z))²``, so the
numerics never form ``1 − θ(z)`` as a difference: each activation supplies ``complement(z)``,
accurate to a few ulps for every real z, including z → +∞ where ``1 − θ(z)`` underflows
long after a naive subtraction has returned exactly 0.

============  ===========================  ===============================  =====================
name          θ(z)                         1 − θ(z), as computed            tail of 1 − θ(z), z→∞
============  ===========================  ===============================  =====================
``tanh``      tanh z                       2·expit(−2z)                     2·e^(−2z)
``logistic``  2/(1 + e^(−z)) − 1           2·expit(−z)                      2·e^(−z)
``arctan``    (2/π)·atan z                 (2/π)·atan2(1, z)                (2/π)·z^(−1)
``erf``       erf z                        erfc z                           e^(−z²)/(z·√π)
============  ===========================  ===============================  =====================

In float64, ``1 − θ(z)`` is representable as a normal number up to z ≈ 354 (tanh), 708
(logistic), 10^308 (arctan) and 26.5 (erf); beyond that it underflows gracefully to 0.

The derivative uses the same complements: for tanh and logistic ``θ'(z)`` is a product of
``complement(z)`` and ``complement(−z)``, so it too keeps full relative accuracy in the tails.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy.special import erf, erfc, erfcx, expit

from service.core.errors import InvalidProblem
from service.vocabulary import ActivationName

Array = NDArray[np.float64]

TANH_CODE, LOGISTIC_CODE, ARCTAN_CODE, ERF_CODE = 0, 1, 2, 3
"""The activations' codes in the compiled kernels (``Activation.code``)."""


class TailClass(StrEnum):
    """How fast ``1 − θ(z)`` decays as z → +∞."""

    EXPONENTIAL = "exponential"
    """``1 − θ(z) ~ c·e^(−r·z)``; ``rate`` is r."""
    POLYNOMIAL = "polynomial"
    """``1 − θ(z) ~ c·z^(−r)``; ``rate`` is r."""
    GAUSSIAN = "gaussian"
    """``1 − θ(z) ~ c·e^(−r·z²)/z``; ``rate`` is r."""


@dataclass(frozen=True, slots=True)
class Tail:
    """Leading asymptotics of ``1 − θ(z)`` as z → +∞ (see :class:`TailClass`).

    ``coefficient`` is c and ``rate`` is r in the class's formula. The per-example loss
    ``(1 − θ(z))²`` then has the same class with rate 2r (exponential: the loss tail exponent
    k = 2r of the max-margin asymptotics; tanh k = 4, logistic k = 2).
    """

    kind: TailClass
    rate: float
    coefficient: float

    @property
    def loss_exponent(self) -> float:
        """The exponent of the squared loss ``(1 − θ(z))²`` in the same tail class."""
        return 2.0 * self.rate


@dataclass(frozen=True, slots=True)
class Activation:
    """One sigmoid θ with its derivative, its stable complement and its tail.

    All callables take and return float64 arrays (or scalars) elementwise.
    """

    name: str
    formula: str
    theta: Callable[[ArrayLike], Array]
    derivative: Callable[[ArrayLike], Array]
    complement: Callable[[ArrayLike], Array]
    """``1 − θ(z)``, computed without cancellation for every z."""
    second_derivative: Callable[[ArrayLike], Array]
    """θ''(z), written with θ and θ' (for the Hessian of E)."""
    log_residual: Callable[[ArrayLike], Array]
    """``log((1 − θ(z))·θ'(z))``, the log of one example's gradient weight: finite wherever
    that log fits float64 (far beyond where the residual itself underflows; erf's is −∞
    only for |z| > 1.3e154, where −z² overflows)."""
    tail: Tail
    code: int
    """The compiled kernels' code for θ (:data:`TANH_CODE` …): the kernels dispatch on it."""


def _tanh_complement(z: ArrayLike) -> Array:
    return np.asarray(2.0 * expit(-2.0 * np.asarray(z, dtype=np.float64)))


def _tanh_derivative(z: ArrayLike) -> Array:
    # 1 − tanh² z = (1 − tanh z)(1 + tanh z) = complement(z)·complement(−z)
    z = np.asarray(z, dtype=np.float64)
    return _tanh_complement(z) * _tanh_complement(-z)


def _logistic_theta(z: ArrayLike) -> Array:
    return np.tanh(0.5 * np.asarray(z, dtype=np.float64))


def _logistic_complement(z: ArrayLike) -> Array:
    return np.asarray(2.0 * expit(-np.asarray(z, dtype=np.float64)))


def _logistic_derivative(z: ArrayLike) -> Array:
    # θ = tanh(z/2), so θ' = (1 − θ)(1 + θ)/2
    z = np.asarray(z, dtype=np.float64)
    return 0.5 * _logistic_complement(z) * _logistic_complement(-z)


_LOG2 = math.log(2.0)


def _exponential_log_residual(rate: float, derivative_scale: float) -> Callable[[ArrayLike], Array]:
    """log((1 − θ)·θ') for θ(z) = tanh(rate·z/2): 1 ∓ θ = 2/(1 + e^{±rate·z}) and
    θ' = derivative_scale·(1 − θ)(1 + θ) (tanh: rate 2, scale 1; logistic: rate 1, scale 1/2)."""

    def log_residual(z: ArrayLike) -> Array:
        rz = rate * np.asarray(z, dtype=np.float64)
        log_minus = _LOG2 - np.logaddexp(0.0, rz)  # log(1 − θ)
        log_plus = _LOG2 - np.logaddexp(0.0, -rz)  # log(1 + θ)
        return np.asarray(2.0 * log_minus + log_plus + math.log(derivative_scale))

    return log_residual


_TWO_OVER_PI = 2.0 / math.pi
_HUGE = 1e100
"""Above this |z|, atan2(1, z) = 1/z and 1 + z² = z² to far below float64's rounding."""


def _arctan_log_residual(z: ArrayLike) -> Array:
    z = np.asarray(z, dtype=np.float64)
    with np.errstate(divide="ignore"):  # the branch np.where does not pick may be log 0
        return _arctan_log_terms(z)


def _arctan_log_terms(z: Array) -> Array:
    huge = np.abs(z) > _HUGE
    safe = np.where(huge, 1.0, z)
    log_c = np.where(huge & (z > 0), -np.log(np.abs(z)), np.log(np.arctan2(1.0, safe)))
    log_c = np.where(huge & (z < 0), math.log(math.pi), log_c)  # atan2(1, −∞) = π
    log_d = np.where(huge, -2.0 * np.log(np.abs(z)), -np.log1p(safe * safe))
    return np.asarray(2.0 * math.log(_TWO_OVER_PI) + log_c + log_d)


def _arctan_theta(z: ArrayLike) -> Array:
    return _TWO_OVER_PI * np.arctan(np.asarray(z, dtype=np.float64))


def _arctan_complement(z: ArrayLike) -> Array:
    # atan2(1, z) = π/2 − atan z for every real z, and is accurate where it is small.
    return _TWO_OVER_PI * np.arctan2(1.0, np.asarray(z, dtype=np.float64))


def _arctan_derivative(z: ArrayLike) -> Array:
    z = np.asarray(z, dtype=np.float64)
    with np.errstate(over="ignore"):
        return np.asarray(_TWO_OVER_PI / (1.0 + z * z))


_TWO_OVER_SQRT_PI = 2.0 / math.sqrt(math.pi)


def _erf_theta(z: ArrayLike) -> Array:
    return np.asarray(erf(np.asarray(z, dtype=np.float64)))


def _erf_complement(z: ArrayLike) -> Array:
    return np.asarray(erfc(np.asarray(z, dtype=np.float64)))


def _erf_log_residual(z: ArrayLike) -> Array:
    # erfc(z) = erfcx(z)·e^{−z²} for z > 0, where erfc itself underflows from z ≈ 27
    z = np.asarray(z, dtype=np.float64)
    positive = np.maximum(z, 0.0)
    with np.errstate(divide="ignore", over="ignore"):  # −z² = −∞ beyond |z| ≈ 1.3e154
        log_c = np.where(z > 0, np.log(erfcx(positive)) - positive * positive, np.log(erfc(z)))
        return np.asarray(log_c + math.log(_TWO_OVER_SQRT_PI) - z * z)


def _erf_derivative(z: ArrayLike) -> Array:
    z = np.asarray(z, dtype=np.float64)
    with np.errstate(over="ignore"):
        return np.asarray(_TWO_OVER_SQRT_PI * np.exp(-(z * z)))


ACTIVATIONS: dict[ActivationName, Activation] = {
    ActivationName.TANH: Activation(
        name="tanh",
        formula="tanh(z)",
        theta=lambda z: np.tanh(np.asarray(z, dtype=np.float64)),
        derivative=_tanh_derivative,
        complement=_tanh_complement,
        second_derivative=lambda z: (
            -2.0 * np.tanh(np.asarray(z, dtype=np.float64)) * _tanh_derivative(z)
        ),
        log_residual=_exponential_log_residual(2.0, 1.0),
        tail=Tail(TailClass.EXPONENTIAL, rate=2.0, coefficient=2.0),
        code=TANH_CODE,
    ),
    ActivationName.LOGISTIC: Activation(
        name="logistic",
        formula="2/(1 + exp(-z)) - 1 = tanh(z/2)",
        theta=_logistic_theta,
        derivative=_logistic_derivative,
        complement=_logistic_complement,
        second_derivative=lambda z: -_logistic_theta(z) * _logistic_derivative(z),
        log_residual=_exponential_log_residual(1.0, 0.5),
        tail=Tail(TailClass.EXPONENTIAL, rate=1.0, coefficient=2.0),
        code=LOGISTIC_CODE,
    ),
    ActivationName.ARCTAN: Activation(
        name="arctan",
        formula="(2/pi)·atan(z)",
        theta=_arctan_theta,
        derivative=_arctan_derivative,
        complement=_arctan_complement,
        second_derivative=lambda z: (
            -math.pi * np.asarray(z, dtype=np.float64) * _arctan_derivative(z) ** 2
        ),
        log_residual=_arctan_log_residual,
        tail=Tail(TailClass.POLYNOMIAL, rate=1.0, coefficient=_TWO_OVER_PI),
        code=ARCTAN_CODE,
    ),
    ActivationName.ERF: Activation(
        name="erf",
        formula="erf(z)",
        theta=_erf_theta,
        derivative=_erf_derivative,
        complement=_erf_complement,
        second_derivative=lambda z: -2.0 * np.asarray(z, dtype=np.float64) * _erf_derivative(z),
        log_residual=_erf_log_residual,
        tail=Tail(TailClass.GAUSSIAN, rate=1.0, coefficient=1.0 / math.sqrt(math.pi)),
        code=ERF_CODE,
    ),
}
"""The one registry of activations, by name."""


def get_activation(name: str) -> Activation:
    """Return the activation called ``name``; raise :class:`InvalidProblem` if unknown."""
    try:
        return ACTIVATIONS[ActivationName(name)]
    except ValueError:
        known = ", ".join(sorted(ACTIVATIONS))
        raise InvalidProblem(
            "activation", f"unknown activation {name!r}; use one of: {known}"
        ) from None
