"""θ, θ' and the stable complement 1 − θ against 50-digit mpmath values."""

from __future__ import annotations

import mpmath
import numpy as np
import pytest

from service.core.errors import InvalidProblem
from service.core.model.activations import ACTIVATIONS, TailClass, get_activation

mpmath.mp.dps = 50


def mp_theta(name: str, z: mpmath.mpf) -> mpmath.mpf:
    if name == "tanh":
        return mpmath.tanh(z)
    if name == "logistic":
        return 2 / (1 + mpmath.exp(-z)) - 1
    if name == "arctan":
        return 2 / mpmath.pi * mpmath.atan(z)
    if name == "erf":
        return mpmath.erf(z)
    raise AssertionError(name)


def mp_complement(name: str, z: float) -> float:
    """1 − θ(z) to 50 significant digits: computed with enough working digits that the
    subtraction, which cancels up to 35 digits for tanh at z = 40, loses none of them."""
    if name == "erf":  # 1 − erf cancels ~700 digits at z = 40: use mpmath's own erfc
        return float(mpmath.erfc(mpmath.mpf(z)))
    with mpmath.workdps(120):
        return float(1 - mp_theta(name, mpmath.mpf(z)))


def mp_derivative(name: str, z: mpmath.mpf) -> mpmath.mpf:
    """θ'(z) from the textbook formulas, in mpmath."""
    if name == "tanh":
        return mpmath.sech(z) ** 2
    if name == "logistic":
        return 2 * mpmath.exp(-z) / (1 + mpmath.exp(-z)) ** 2
    if name == "arctan":
        return 2 / (mpmath.pi * (1 + z * z))
    if name == "erf":
        return 2 / mpmath.sqrt(mpmath.pi) * mpmath.exp(-z * z)
    raise AssertionError(name)


NAMES = sorted(ACTIVATIONS)
TINY = float(np.finfo(np.float64).tiny)


@pytest.mark.parametrize("name", NAMES)
def test_complement_matches_mpmath_on_0_to_40(name: str) -> None:
    act = get_activation(name)
    zs = np.linspace(0.0, 40.0, 801)
    got = act.complement(zs)
    for z, value in zip(zs, got, strict=True):
        exact = mp_complement(name, float(z))
        if exact >= TINY:
            assert abs(value - exact) <= 1e-12 * exact, (z, value, exact)
        else:  # erfc(z) < 2.2e-308 for z > 26.55: not a normal float64; must underflow, not lie
            assert name == "erf" and z > 26.5
            assert 0.0 <= value <= TINY


@pytest.mark.parametrize("name", NAMES)
def test_theta_and_derivative_match_mpmath(name: str) -> None:
    act = get_activation(name)
    zs = np.concatenate([-np.geomspace(1e-3, 30, 60), [0.0], np.geomspace(1e-3, 30, 60)])
    for z in zs:
        mz = mpmath.mpf(float(z))
        theta, dtheta = mp_theta(name, mz), mp_derivative(name, mz)
        assert float(act.theta(z)) == pytest.approx(float(theta), rel=1e-13, abs=1e-300)
        assert float(act.derivative(z)) == pytest.approx(float(dtheta), rel=1e-12, abs=1e-300)
        # the complement at negative z is 1 + |θ|: no cancellation there either
        assert float(act.complement(z)) == pytest.approx(float(1 - theta), rel=1e-13)


@pytest.mark.parametrize("name", NAMES)
def test_theta_is_odd_and_onto_minus_one_one(name: str) -> None:
    act = get_activation(name)
    zs = np.linspace(-50, 50, 1001)
    np.testing.assert_array_equal(act.theta(zs), -act.theta(-zs))
    assert float(act.theta(1e6)) == pytest.approx(1.0, abs=1e-5)
    assert np.all(np.diff(act.theta(np.linspace(-3, 3, 101))) > 0)


@pytest.mark.parametrize("name", NAMES)
def test_tail_coefficient_and_rate_describe_the_complement(name: str) -> None:
    act = get_activation(name)
    tail = act.tail
    z = 30.0 if tail.kind is not TailClass.POLYNOMIAL else 1e8
    exact = float(1 - mp_theta(name, mpmath.mpf(z)))
    if tail.kind is TailClass.EXPONENTIAL:
        model = tail.coefficient * np.exp(-tail.rate * z)
    elif tail.kind is TailClass.POLYNOMIAL:
        model = tail.coefficient * z ** (-tail.rate)
    else:
        model = tail.coefficient * np.exp(-tail.rate * z * z) / z
    assert model == pytest.approx(exact, rel=1e-3)


def test_loss_tail_exponents_of_exponential_activations() -> None:
    assert get_activation("tanh").tail.loss_exponent == 4.0
    assert get_activation("logistic").tail.loss_exponent == 2.0


def test_unknown_activation_names_the_choices() -> None:
    with pytest.raises(InvalidProblem, match="activation.*arctan, erf, logistic, tanh"):
        get_activation("relu")


def mp_log_residual(name: str, z: float) -> float:
    """log((1 − θ(z))·θ'(z)) in mpmath, each factor from a form without cancellation (the
    exponential forms of tanh and logistic, acot for arctan's tail, the asymptotic erfc far
    out), at 60 digits."""
    with mpmath.workdps(60):
        x = mpmath.mpf(z)
        if name in ("tanh", "logistic"):
            r = 2 if name == "tanh" else 1
            e = mpmath.exp(r * x)
            c, d = 2 / (1 + e), 2 * r * e / (1 + e) ** 2
        elif name == "arctan":
            c = 2 / mpmath.pi * (mpmath.acot(x) if x > 0 else mpmath.pi / 2 - mpmath.atan(x))
            d = 2 / mpmath.pi / (1 + x * x)
        else:
            if x > 1e6:  # erfc(x) = e^{−x²}/(x√π)·(1 − 1/(2x²) + …): the rest is below 1e-12
                log_c = -x * x - mpmath.log(x * mpmath.sqrt(mpmath.pi))
            else:
                log_c = mpmath.log(mpmath.erfc(x) if x > -1e6 else 2)
            return float(log_c + mpmath.log(2 / mpmath.sqrt(mpmath.pi)) - x * x)
        return float(mpmath.log(c) + mpmath.log(d))


LOG_RESIDUAL_POINTS = [-1e200, -1e50, -400.0, -30.0, -3.0, -0.1, 0.0, 0.2, 2.0, 30.0, 400.0,
                       1e5, 1e50, 1e120, 1e150]  # fmt: skip


@pytest.mark.parametrize("name", sorted(ACTIVATIONS))
def test_log_residual_is_finite_where_the_residual_underflows(name: str) -> None:
    # the residual itself underflows float64 at z ≈ 177 (tanh), 354 (logistic), 19 (erf):
    # its log must stay accurate (2 ulp of |log| or 1e-15 absolute)
    got = ACTIVATIONS[name].log_residual(np.array(LOG_RESIDUAL_POINTS))
    for z, value in zip(LOG_RESIDUAL_POINTS, got, strict=True):
        want = mp_log_residual(name, z)
        assert value == pytest.approx(want, rel=4.5e-16, abs=1e-15), (name, z)
    if name == "erf":  # −z² overflows beyond |z| ≈ 1.3e154: the log is −∞, not NaN
        assert ACTIVATIONS[name].log_residual(np.array([2e154]))[0] == -np.inf
