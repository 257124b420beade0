"""Gradient descent and online backprop against hand-written loops; the stop rules."""

from __future__ import annotations

import math

import numpy as np
import pytest

from service.core.engine.descent import run_descent
from service.core.engine.recorder import record_schedule
from service.core.engine.run import StopRules
from service.core.model.activations import get_activation
from service.core.model.problem import PerceptronProblem, build_problem
from service.vocabulary import Method, Order, StopReason


def scalar(name: str = "tanh") -> PerceptronProblem:
    return build_problem([[1.0]], [1], get_activation(name))


def run(problem: PerceptronProblem, steps: int, **kw):  # type: ignore[no-untyped-def]
    stop_kw = {k: kw.pop(k) for k in list(kw) if k in StopRules.__slots__}
    kw.setdefault("method", Method.GD)
    kw.setdefault("learning_rate", 0.1)
    kw.setdefault("record_points", 200)
    return run_descent(problem, stop=StopRules(steps=steps, **stop_kw), **kw)


def test_scalar_tanh_matches_a_tight_loop_and_the_log_rule() -> None:
    # x' = x + 2η(1 − tanh x)(1 − tanh² x): the paper's scalar example, η = 0.1, x0 = 0
    x = 0.0
    for _ in range(10_000):
        th = math.tanh(x)
        x += 0.1 * 2.0 * (1.0 - th) * (1.0 - th * th)
    result = run(scalar(), 10_000)
    assert result.stopped_by is StopReason.STEPS
    assert result.steps == 10_000
    assert result.weights[0] == pytest.approx(x, rel=1e-12)
    # x ~ (1/4) log t, so t·(x(t+1) − x(t)) → 1/4
    assert result.trajectory.t[-1] == 10_000
    assert result.trajectory.t_delta[-1, 0] == pytest.approx(0.25, rel=0.05)


def test_online_on_one_example_equals_gd() -> None:
    problem = build_problem([[0.7, -1.3]], [-1], get_activation("arctan"), bias=True)
    gd = run(problem, 500, initial=[0.1, 0.2, -0.3])
    online = run(problem, 500, method=Method.ONLINE, initial=[0.1, 0.2, -0.3])
    np.testing.assert_allclose(online.weights, gd.weights, rtol=1e-14)
    np.testing.assert_allclose(online.trajectory.weights, gd.trajectory.weights, rtol=1e-14)


@pytest.mark.parametrize("name", ["tanh", "logistic", "arctan", "erf"])
def test_one_online_pass_is_three_hand_unrolled_updates(name: str) -> None:
    act = get_activation(name)
    A = np.array([[1.0, 2.0], [-0.5, 1.5], [2.0, -1.0]])
    y = np.array([1.0, -1.0, 1.0])
    problem = build_problem(A.tolist(), y.tolist(), act)
    eta = 0.3
    x = np.array([0.05, -0.1])
    for i in range(3):  # per-example gradient of (θ(A_i·x) − y_i)²
        z = A[i] @ x
        x = x - eta * 2.0 * (float(act.theta(z)) - y[i]) * float(act.derivative(z)) * A[i]
    result = run(problem, 1, method=Method.ONLINE, learning_rate=eta, initial=[0.05, -0.1])
    np.testing.assert_allclose(result.weights, x, rtol=1e-13)


def test_shuffled_online_is_reproducible_and_differs_from_given_order() -> None:
    problem = build_problem([[1.0], [2.0], [-0.5]], [1, 1, -1], get_activation("tanh"))
    a = run(problem, 50, method=Method.ONLINE, order=Order.SHUFFLED, seed=3)
    b = run(problem, 50, method=Method.ONLINE, order=Order.SHUFFLED, seed=3)
    c = run(problem, 50, method=Method.ONLINE)
    np.testing.assert_array_equal(a.weights, b.weights)
    assert not np.array_equal(a.weights, c.weights)


def test_seeded_initial_weights_are_uniform_in_half_unit() -> None:
    problem = build_problem([[1.0] * 50], [1], get_activation("tanh"))
    result = run(problem, 1, seed=11)
    x0 = result.trajectory.weights[0]
    # the documented draw (service/core/model/problem.py): default_rng([seed, 0]), U(−½, ½)
    np.testing.assert_array_equal(x0, np.random.default_rng([11, 0]).uniform(-0.5, 0.5, 50))
    assert np.all(np.abs(x0) <= 0.5)
    np.testing.assert_array_equal(x0, run(problem, 1, seed=11).trajectory.weights[0])
    assert not np.array_equal(x0, run(problem, 1, seed=12).trajectory.weights[0])


def test_stop_rules_fire_and_are_reported() -> None:
    p = scalar()
    r = run(p, 10**6, weight_bound=2.0)
    assert r.stopped_by is StopReason.WEIGHT_BOUND and r.weights[0] >= 2.0
    assert run(p, r.steps - 1, weight_bound=2.0).weights[0] < 2.0  # fired at the first crossing
    r = run(p, 10**6, error_tolerance=1e-3)
    assert r.stopped_by is StopReason.ERROR_TOLERANCE and r.error <= 1e-3
    r = run(p, 10**6, step_tolerance=1e-3)
    assert r.stopped_by is StopReason.STEP_TOLERANCE and r.last_step < 1e-3
    r = run(p, 10**6, on_classification=True)
    assert r.stopped_by is StopReason.CLASSIFIED and r.steps == 1 and r.accuracy == 1.0
    r = run(p, 10)
    assert r.stopped_by is StopReason.STEPS and r.steps == 10


def test_non_finite_when_a_weight_overflows() -> None:
    problem = build_problem([[1e10, 1e10]], [1], get_activation("tanh"))
    r = run(problem, 100, learning_rate=1e300)
    assert r.stopped_by is StopReason.NON_FINITE
    assert r.steps == 0 and np.all(np.isfinite(r.weights)) and math.isfinite(r.error)
    assert np.all(np.isnan(r.trajectory.t_delta[-1]))


def test_non_finite_when_B_x_is_inf_minus_inf() -> None:
    # Row 2's margin is huge at x0, so only row 1 moves x: x1 = (5e299, 5e299), finite,
    # but row 2's margin 1e10·5e299 − 1e10·5e299 is ∞ − ∞ in float64 (its true value is 0;
    # an FMA may round it to ±∞ instead of NaN: either way it is not a finite number).
    problem = build_problem([[1.0, 1.0], [1e10, -1e10]], [1, 1], get_activation("tanh"))
    r = run(problem, 100, learning_rate=2.5e299, initial=[1e-7, -1e-7])
    assert r.stopped_by is StopReason.NON_FINITE
    assert r.steps == 0
    np.testing.assert_array_equal(r.weights, [1e-7, -1e-7])


def test_record_schedule_is_log_spaced_and_bounded() -> None:
    times = record_schedule(10**6, 200)
    assert times[0] == 0 and times[-1] == 10**6 and len(times) == 201
    assert np.all(np.diff(times) > 0)
    ratios = times[2:] / times[1:-1]
    # geometric spacing once integer rounding no longer merges points
    late = ratios[times[1:-1] > 1000]
    assert np.ptp(np.log(late)) < 0.01 * np.log(late).mean() + 2e-3
    assert len(record_schedule(5, 200)) == 6  # every step of a short run


def test_history_memory_is_bounded_by_points() -> None:
    result = run(scalar(), 20_000, record_points=10)
    assert len(result.trajectory.t) <= 11
    assert result.trajectory.weights.shape == (len(result.trajectory.t), 1)


def test_early_stop_is_the_last_recorded_point() -> None:
    result = run(scalar(), 10**6, weight_bound=1.5, record_points=50)
    assert result.trajectory.t[-1] == result.steps
    assert np.all(np.diff(result.trajectory.t) > 0)


def test_step_and_gradient_norms_do_not_overflow_in_their_squares() -> None:
    # ∇E(0) = −2·(1e-300 + 1e300)·c(0)·θ'(0) = −2e300: finite, though its square is not
    problem = build_problem([[1e-300], [1e300]], [1, 1], get_activation("tanh"))
    assert run(problem, 5).gradient_norm == pytest.approx(2e300, rel=1e-12)
    # x1 = 0 − 1e160·(−2) = 2e160: a finite step (and margin) whose square overflows
    r = run(scalar(), 1, learning_rate=1e160)
    assert (r.steps, r.stopped_by) == (1, StopReason.STEPS)
    assert r.last_step == pytest.approx(2e160, rel=1e-15)
    r = run(scalar(), 10, learning_rate=1e160, step_tolerance=1e300)
    assert r.stopped_by is StopReason.STEP_TOLERANCE and r.steps == 1
