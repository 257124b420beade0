"""Gradient flow against quadratures of the scalar ODE, finite differences and descent."""

from __future__ import annotations

import math

import mpmath
import numpy as np
import pytest

from service.core.engine.descent import run_descent
from service.core.engine.flow import hessian, run_flow
from service.core.engine.run import StopRules
from service.core.errors import InvalidProblem
from service.core.model.activations import get_activation
from service.core.model.problem import PerceptronProblem, build_problem, error_and_gradient
from service.vocabulary import Method, StopReason

mpmath.mp.dps = 30


def scalar(name: str = "tanh") -> PerceptronProblem:
    return build_problem([[1.0]], [1], get_activation(name))


def speed(x: mpmath.mpf) -> mpmath.mpf:
    """ẋ of the scalar tanh flow with α = 1: 2(1 − tanh x)(1 − tanh² x)."""
    th = mpmath.tanh(x)
    return 2 * (1 - th) * (1 - th**2)


def time_to(x1: float, x0: float = 0.0) -> float:
    """The time the scalar tanh flow takes from x0 to x1: ∫ dξ / ẋ(ξ)."""
    return float(mpmath.quad(lambda s: 1 / speed(s), [x0, (x0 + x1) / 2, x1]))


def flow(problem: PerceptronProblem, t_max: float, **kw):  # type: ignore[no-untyped-def]
    stop_kw = {k: kw.pop(k) for k in list(kw) if k in StopRules.__slots__}
    kw.setdefault("alpha", 1.0)
    kw.setdefault("record_points", 100)
    return run_flow(problem, t_max=t_max, stop=StopRules(steps=1, **stop_kw), **kw)


def test_scalar_tanh_reaches_the_time_the_quadrature_gives() -> None:
    result = flow(scalar(), 1e12)
    assert result.stopped_by is StopReason.T_MAX
    assert result.trajectory.t[-1] == 1e12
    # t(x(T)) = T, and x ~ (1/4) log(64 t) far out (the paper's §3 with α = 1)
    assert time_to(float(result.weights[0])) == pytest.approx(1e12, rel=1e-5)
    assert result.weights[0] == pytest.approx(0.25 * math.log(64e12), abs=1e-5)
    assert result.trajectory.t_delta[-1, 0] == pytest.approx(0.25, rel=1e-5)
    assert result.last_step == pytest.approx(float(speed(mpmath.mpf(result.weights[0]))), rel=1e-9)


def test_recorded_times_are_log_spaced_from_the_time_unit() -> None:
    problem = build_problem([[2.0]], [1], get_activation("tanh"))  # ‖B‖² = 4
    result = flow(problem, 1e6, alpha=0.5, record_points=50)
    t = result.trajectory.t
    assert t[0] == 0.0 and len(t) == 51
    assert t[1] == pytest.approx(1 / (0.5 * 4.0), rel=1e-12)  # τ = 1/(α‖B‖²)
    assert t[-1] == 1e6
    np.testing.assert_allclose(np.diff(np.log(t[1:])), math.log(2e6) / 49, rtol=1e-9)
    # t_delta is t·ẋ = −α·t·∇E at every recorded time
    for k in (5, 20, 50):
        g = error_and_gradient(problem, result.trajectory.weights[k])[1]
        np.testing.assert_allclose(result.trajectory.t_delta[k], -0.5 * t[k] * g, rtol=1e-12)


@pytest.mark.parametrize("name", ["tanh", "logistic", "arctan", "erf"])
def test_hessian_matches_central_differences_of_the_gradient(name: str) -> None:
    rng = np.random.default_rng(7)
    A = rng.normal(size=(6, 3))
    problem = build_problem(A.tolist(), [1, -1, 1, 1, -1, -1], get_activation(name), bias=True)
    x = rng.normal(size=4)
    h = 1e-6
    numeric = np.empty((4, 4))
    for j in range(4):
        e = np.zeros(4)
        e[j] = h
        numeric[:, j] = (
            error_and_gradient(problem, x + e)[1] - error_and_gradient(problem, x - e)[1]
        ) / (2 * h)
    np.testing.assert_allclose(hessian(problem, x), numeric, rtol=1e-6, atol=1e-8)


def test_weight_bound_stops_where_the_weight_reaches_it() -> None:
    result = flow(scalar(), 1e12, weight_bound=5.0)
    assert result.stopped_by is StopReason.WEIGHT_BOUND
    assert result.weights[0] == pytest.approx(5.0, rel=1e-7)
    assert result.trajectory.t[-1] == pytest.approx(time_to(5.0), rel=1e-6)


def test_error_tolerance_stops_where_the_error_reaches_it() -> None:
    x_star = math.atanh(1 - 1e-3)  # (1 − tanh x)² = 1e-6
    result = flow(scalar(), 1e12, error_tolerance=1e-6)
    assert result.stopped_by is StopReason.ERROR_TOLERANCE
    assert result.error == pytest.approx(1e-6, rel=1e-6)
    assert result.trajectory.t[-1] == pytest.approx(time_to(x_star), rel=1e-6)


def test_step_tolerance_stops_where_the_speed_falls_to_it() -> None:
    x_star = float(mpmath.findroot(lambda s: speed(s) - mpmath.mpf("1e-3"), 2.0))
    result = flow(scalar(), 1e12, step_tolerance=1e-3)
    assert result.stopped_by is StopReason.STEP_TOLERANCE
    assert result.last_step == pytest.approx(1e-3, rel=1e-6)
    assert result.weights[0] == pytest.approx(x_star, rel=1e-6)
    assert result.trajectory.t[-1] == pytest.approx(time_to(x_star), rel=1e-6)


def test_classification_stops_when_the_margin_crosses_zero() -> None:
    result = flow(scalar(), 1e12, initial=[-1.0], on_classification=True)
    assert result.stopped_by is StopReason.CLASSIFIED
    assert result.weights[0] == pytest.approx(0.0, abs=1e-8)
    assert result.trajectory.t[-1] == pytest.approx(time_to(0.0, -1.0), rel=1e-6)


def test_state_rules_apply_at_time_zero() -> None:
    result = flow(scalar(), 1e12, initial=[7.0], weight_bound=6.0)
    assert result.stopped_by is StopReason.WEIGHT_BOUND
    assert result.steps == 0 and list(result.trajectory.t) == [0.0]
    assert math.isnan(result.last_step)


def test_xor_with_bias_settles_in_its_finite_minimum() -> None:
    xor = build_problem(
        [[0, 0], [0, 1], [1, 0], [1, 1]], [-1, 1, 1, -1], get_activation("tanh"), bias=True
    )
    result = flow(xor, 1e12, seed=1)
    assert result.stopped_by is StopReason.T_MAX
    assert result.gradient_norm < 1e-8
    # by symmetry x = 0 is the critical point: Σ_i B_i = 0, so ∇E(0) = −2·Σ_i B_i = 0
    np.testing.assert_allclose(result.weights, 0.0, atol=1e-8)
    assert result.error == pytest.approx(4.0, abs=1e-12)


@pytest.mark.parametrize(
    ("inputs", "targets"),
    [([[1.0]], [1]), ([[1, 2], [2, 1], [-1, -1.5], [-2, -0.5], [0.5, 1.0]], [1, 1, -1, -1, 1])],
)
def test_flow_agrees_with_small_step_descent(inputs: list[list[float]], targets: list[int]) -> None:
    problem = build_problem(inputs, targets, get_activation("tanh"))
    gd = run_descent(
        problem,
        method=Method.GD,
        learning_rate=0.01,
        stop=StopRules(steps=10**5),
        record_points=10,
    )
    continuous = flow(problem, 0.01 * 10**5)
    np.testing.assert_allclose(continuous.weights, gd.weights, rtol=1e-3)


UNITS_RULE = "natural time units is outside [1e-09, 1e+30]"
"""t_max·α·‖B‖₂² must lie in [1e-9, 1e30]: the weights move at all, and 30 decades at most."""


@pytest.mark.parametrize(
    ("kw", "field", "words"),
    [
        ({"alpha": 0.0}, "learning_rate", "must be a finite number > 0"),
        ({"t_max": 0.0}, "t_max", "must be a number in [1e-100, 1e+15]"),
        ({"t_max": 1e16}, "t_max", "must be a number in [1e-100, 1e+15]"),
        # t_max·α·‖B‖₂² = 1e-50·1·1: nothing would move
        ({"t_max": 1e-50}, "t_max", ("t_max·α·‖B‖₂² = 1e-50 " + UNITS_RULE, "larger")),
        # 10·1e300·1 = 1e301 natural time units: beyond 30 decades
        ({"alpha": 1e300}, "t_max", ("t_max·α·‖B‖₂² = 1e+301 " + UNITS_RULE, "smaller")),
        ({"rtol": 1.0}, "rtol", "must be a number in [2.22045e-14, 1) (100·ε)"),
        ({"rtol": 1e-15}, "rtol", "must be a number in [2.22045e-14, 1) (100·ε)"),
        ({"atol": 0.0}, "atol", "must be a finite number ≥ 1e-150"),
        ({"atol": 1e-200}, "atol", "must be a finite number ≥ 1e-150"),
        ({"initial": [1.0, 2.0]}, "initial_weights", "needs 1 weights; got 2"),
    ],
)
def test_invalid_arguments_name_the_field_and_the_rule(
    kw: dict[str, float], field: str, words: str | tuple[str, ...]
) -> None:
    args: dict[str, object] = {"t_max": 10.0, **kw}
    with pytest.raises(InvalidProblem) as info:
        flow(scalar(), **args)  # type: ignore[arg-type]
    assert info.value.field == field
    for word in (words,) if isinstance(words, str) else words:
        assert word in info.value.message, (word, info.value.message)
