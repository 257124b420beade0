"""The verdict engine on closed-form histories, then on real runs of the paper's examples.

Reference values are the paper's asymptotics (§3) worked out for each activation, for the
scalar problem E(x) = (1 − θ(x))² (one input 1, target +1) under descent with step η:
ẋ ≈ 2η·(1 − θ(x))·θ'(x), so

* tanh: 1 − θ ≈ 2e^(−2x), θ' ≈ 4e^(−2x), ẋ ≈ 16η·e^(−4x), x ≈ (1/4)·log(64ηt): b = 1/4;
* logistic: 1 − θ ≈ 2e^(−x), θ' ≈ 2e^(−x), ẋ ≈ 8η·e^(−2x), x ≈ (1/2)·log(16ηt): b = 1/2;
* arctan: 1 − θ ≈ (2/π)/x, θ' ≈ (2/π)/x², ẋ ≈ (8η/π²)/x³, x ≈ (32ηt/π²)^(1/4): p = 1/4;
* erf: 1 − θ ≈ e^(−x²)/(x√π), θ' = (2/√π)e^(−x²), ẋ ≈ (4η/π)e^(−2x²)/x, x² ≈ (1/2)·log t:
  ‖x‖ ~ (log t)^(1/2), sub-logarithmic, and t·ẋ ~ (log t)^(−1/2).
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import pytest

from service.core.analysis.divergence import DivergenceReport, judge_divergence
from service.core.analysis.log_rule import LogRulePrediction, extrapolate
from service.core.engine.descent import run_descent
from service.core.engine.flow import run_flow
from service.core.engine.recorder import Trajectory, record_schedule
from service.core.engine.run import RunResult, StopRules
from service.core.model.activations import get_activation
from service.core.model.problem import PerceptronProblem, build_problem, error, time_unit
from service.vocabulary import Method, StopReason, Verdict

Curve = Callable[[np.ndarray], np.ndarray]

SEPARABLE = (
    [[1.0, 2.0], [2.0, 1.0], [-1.0, -1.5], [-2.0, -0.5], [0.5, 1.0]],
    [1, 1, -1, -1, 1],
)


# --- closed-form histories --------------------------------------------------------------


def history(
    w: Curve, rate: Curve, t_end: float = 1e6, points: int = 200, unit: float = 1.0
) -> Trajectory:
    """t = 0 and log-spaced t in [unit, t_end]; weights w(t), t_delta = t·w'(t) = rate(t),
    and a decreasing error."""
    t = np.concatenate([[0.0], np.geomspace(unit, t_end, points)])
    weights = np.atleast_2d(w(t).T).reshape(len(t), -1)
    t_delta = np.atleast_2d(rate(t).T).reshape(len(t), -1)
    return Trajectory(t=t, error=1.0 / (1.0 + t), weights=weights, t_delta=t_delta)


def judge(h: Trajectory, last_step: float | None = None, **kw: object) -> DivergenceReport:
    if last_step is None:
        last_step = float(np.linalg.norm(h.t_delta[-1])) / float(h.t[-1])
    kw.setdefault("stopped_by", StopReason.STEPS)
    return judge_divergence(h, last_step=last_step, **kw)  # type: ignore[arg-type]


A0, B0 = np.array([0.1, 0.2]), np.array([0.25, -0.1])


def log_weights(t: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore"):
        return A0[:, None] + B0[:, None] * np.where(t > 0, np.log(np.maximum(t, 1e-300)), 0.0)


def log_rates(t: np.ndarray) -> np.ndarray:
    return np.where(t > 0, 1.0, 0.0)[None, :] * B0[:, None]


def test_exact_log_growth_is_logarithmic_with_its_rate() -> None:
    report = judge(history(log_weights, log_rates))
    assert report.verdict is Verdict.LOGARITHMIC
    assert report.log_rate is not None
    np.testing.assert_allclose(report.log_rate, B0, rtol=1e-9)
    assert report.rate_exponent == pytest.approx(0.0, abs=1e-9)
    assert report.goodness == pytest.approx(1.0, abs=1e-12)
    assert report.window is not None
    assert report.window[1] == 1e6 and report.window[0] == pytest.approx(1e3, rel=0.05)
    # the last step ‖b‖/t = 2.7e-7 is below the default tolerance 1e-6: the paper's warning
    assert report.apparent_convergence
    assert "logarithmic" in report.explanation


def test_apparent_convergence_follows_the_given_step_tolerance() -> None:
    h = history(log_weights, log_rates)
    assert not judge(h, step_tolerance=1e-8).apparent_convergence
    assert judge(h, step_tolerance=1e-6).apparent_convergence
    assert not judge(h, last_step=math.nan).apparent_convergence


def test_sqrt_log_growth_is_sub_logarithmic() -> None:
    # w = sqrt(log t): t·w' = 1/(2 sqrt(log t)) = (log t)^(−1/2)/2, so γ = −1/2 exactly
    report = judge(
        history(
            lambda t: np.sqrt(np.log(np.maximum(t, 1.0))),
            lambda t: np.where(t > 1, 0.5 / np.sqrt(np.log(np.maximum(t, 1.0 + 1e-9))), 0.0),
        )
    )
    assert report.verdict is Verdict.SUB_LOGARITHMIC
    assert report.rate_exponent == pytest.approx(-0.5, abs=1e-9)
    assert report.apparent_convergence


@pytest.mark.parametrize(("p", "verdict"), [(0.3, Verdict.POWER_LAW), (1.0, Verdict.LINEAR)])
def test_power_growth_is_a_power_law_or_linear(p: float, verdict: Verdict) -> None:
    report = judge(history(lambda t: 2.0 * t**p, lambda t: 2.0 * p * t**p))
    assert report.verdict is verdict
    assert report.power == pytest.approx(p, abs=1e-9)


@pytest.mark.parametrize(
    ("w", "rate"),
    [
        (lambda t: 1.0 + np.exp(-t / 50.0), lambda t: -(t / 50.0) * np.exp(-t / 50.0)),
        (lambda t: 1.0 + (1.0 + t) ** -0.5, lambda t: -0.5 * t * (1.0 + t) ** -1.5),
        (lambda t: 1.0 + 0.0 * t, lambda t: 0.0 * t),
        # stopped descent: each step is an ulp of rounding noise, so t·Δw grows like t
        (lambda t: 1.0 + 0.0 * t, lambda t: 2.2e-16 * t * np.cos(t)),
    ],
    ids=["exponential", "algebraic", "still", "rounding-noise"],
)
def test_weights_with_a_finite_limit_converge(w: Curve, rate: Curve) -> None:
    report = judge(history(w, rate))
    assert report.verdict is Verdict.CONVERGING
    assert not report.apparent_convergence


def test_a_short_run_is_undetermined() -> None:
    report = judge(history(log_weights, log_rates, t_end=500.0))  # 2.7 decades
    assert report.verdict is Verdict.UNDETERMINED
    assert report.log_rate is None and report.power is None
    assert "decades" in report.explanation


def test_decades_are_counted_in_units_of_the_time_unit() -> None:
    # the same exact log growth, but with time measured in units of τ = 1000
    def w(t: np.ndarray) -> np.ndarray:
        return log_weights(t / 1000.0)

    h = history(w, log_rates, t_end=1e9, unit=1e3)
    assert judge(h, time_unit=1e3).verdict is Verdict.LOGARITHMIC
    assert judge(h, time_unit=1e7).verdict is Verdict.UNDETERMINED  # 2 decades of t/τ


def test_overflow_and_rising_error_are_unstable() -> None:
    h = history(log_weights, log_rates)
    assert judge(h, stopped_by=StopReason.NON_FINITE).verdict is Verdict.UNSTABLE
    rising = Trajectory(t=h.t, error=h.error[::-1].copy(), weights=h.weights, t_delta=h.t_delta)
    assert judge(rising).verdict is Verdict.UNSTABLE
    nan_row = h.t_delta.copy()
    nan_row[-3] = np.nan
    broken = Trajectory(t=h.t, error=h.error, weights=h.weights, t_delta=nan_row)
    assert judge(broken).verdict is Verdict.UNSTABLE


def test_online_error_may_wobble_but_not_climb() -> None:
    h = history(log_weights, log_rates)
    wobble = h.error * (1.0 + 0.2 * np.cos(np.arange(len(h.t))))  # ±20% from pass to pass
    wobbly = Trajectory(t=h.t, error=wobble, weights=h.weights, t_delta=h.t_delta)
    assert judge(wobbly).verdict is Verdict.UNSTABLE  # descent must decrease E
    assert judge(wobbly, monotone=False).verdict is Verdict.LOGARITHMIC
    climbing = h.error.copy()
    climbing[-1] = 3.0 * climbing[-20:].min()
    climbed = Trajectory(t=h.t, error=climbing, weights=h.weights, t_delta=h.t_delta)
    assert judge(climbed, monotone=False).verdict is Verdict.UNSTABLE


def test_iterates_jumping_back_and_forth_are_unstable() -> None:
    # a period-2 cycle ±0.5 seen at log-spaced integer times: constant error, huge steps
    t = np.concatenate([[0.0], record_schedule(10**6, 200).astype(float)[1:]])
    sign = np.where(t.astype(np.int64) % 2 == 0, 1.0, -1.0)
    w = (0.5 * sign)[:, None]
    h = Trajectory(t=t, error=np.full(len(t), 2.0), weights=w, t_delta=(-t * sign)[:, None])
    report = judge(h, last_step=1.0)
    assert report.verdict is Verdict.UNSTABLE
    assert "back and forth" in report.explanation


def test_a_plateau_crawl_is_undetermined_not_a_power_law() -> None:
    # weights parked on a plateau, creeping at a constant tiny speed: t·Δw grows like t,
    # ‖w‖ does not
    report = judge(
        history(
            lambda t: np.array([20.0 + 1e-12 * t, 15.0 + 0.0 * t]),
            lambda t: np.array([1e-12 * t, 0.0 * t]),
        )
    )
    assert report.verdict is Verdict.UNDETERMINED
    assert "asymptotic regime" in report.explanation


def test_a_rate_that_falls_and_then_rises_is_a_regime_change() -> None:
    # an escape from a plateau: the weights sit still, then start a log divergence late
    def w(t: np.ndarray) -> np.ndarray:
        return np.where(t > 1e5, 1.0 + 0.25 * np.log(np.maximum(t, 1e5) / 1e5), 1.0)

    def rate(t: np.ndarray) -> np.ndarray:
        return np.where(t > 1e5, 0.25, 1e-9 * np.exp(-t / 1e3))

    report = judge(history(w, rate))
    assert report.verdict is not Verdict.CONVERGING
    assert report.verdict is Verdict.UNDETERMINED


def test_the_log_rule_extrapolates_exact_log_growth_exactly() -> None:
    problem = build_problem([[1.0, 0.0], [0.0, 1.0]], [1, -1], get_activation("tanh"))
    h = history(log_weights, log_rates)
    report = judge(h)
    result = extrapolate(problem, h, report, [1e7, 1e9])
    assert isinstance(result, LogRulePrediction)
    np.testing.assert_allclose(result.direction, B0 / np.linalg.norm(B0), rtol=1e-9)
    np.testing.assert_allclose(result.weights[0], A0 + B0 * math.log(1e7), rtol=1e-9)
    np.testing.assert_allclose(result.weights[1], A0 + B0 * math.log(1e9), rtol=1e-9)
    # E at (x1, x2) = (1 − tanh x1)² + (1 + tanh x2)², the targets being +1 and −1
    x1, x2 = A0 + B0 * math.log(1e9)
    assert result.error[1] == pytest.approx(
        (1 - math.tanh(x1)) ** 2 + (1 + math.tanh(x2)) ** 2, rel=1e-9
    )
    default = extrapolate(problem, h, report)
    assert default is not None and list(default.t) == [1e7, 1e9]


def test_no_extrapolation_unless_logarithmic() -> None:
    problem = build_problem([[1.0]], [1], get_activation("tanh"))
    h = history(lambda t: 2.0 * t**0.3, lambda t: 0.6 * t**0.3)
    assert extrapolate(problem, h, judge(h)) is None


# --- real runs: the paper's scalar example and friends -------------------------------------


def scalar(name: str) -> PerceptronProblem:
    return build_problem([[1.0]], [1], get_activation(name))


def judged(
    problem: PerceptronProblem, result: RunResult, rate: float, method: Method
) -> DivergenceReport:
    return judge_divergence(
        result.trajectory,
        last_step=result.last_step,
        stopped_by=result.stopped_by,
        time_unit=time_unit(problem, rate, method),
    )


def flow_report(name: str, t_max: float = 1e12) -> DivergenceReport:
    problem = scalar(name)
    result = run_flow(problem, alpha=1.0, t_max=t_max, stop=StopRules(steps=1), record_points=200)
    return judged(problem, result, 1.0, Method.FLOW)


def gd_report(name: str, steps: int) -> DivergenceReport:
    problem = scalar(name)
    result = run_descent(
        problem, method=Method.GD, learning_rate=0.1, stop=StopRules(steps=steps), record_points=200
    )
    return judged(problem, result, 0.1, Method.GD)


def assert_rate(report: DivergenceReport, name: str, rel: float) -> None:
    if name in ("tanh", "logistic"):
        assert report.verdict is Verdict.LOGARITHMIC
        assert report.log_rate is not None
        assert report.log_rate[0] == pytest.approx({"tanh": 0.25, "logistic": 0.5}[name], rel=rel)
    elif name == "arctan":
        assert report.verdict is Verdict.POWER_LAW
        assert report.power == pytest.approx(0.25, abs=0.03)
    else:  # erf: a divergence, slower than log t
        assert report.verdict is not Verdict.CONVERGING
        assert report.verdict is Verdict.SUB_LOGARITHMIC or (
            report.verdict is Verdict.LOGARITHMIC and "fell" in report.explanation
        )
        assert report.rate_exponent is not None and report.rate_exponent < -0.25


@pytest.mark.parametrize("name", ["tanh", "logistic", "arctan", "erf"])
def test_flow_to_a_trillion(name: str) -> None:
    report = flow_report(name)
    assert_rate(report, name, rel=0.02)
    assert report.apparent_convergence  # ‖ẋ‖ at t = 10^12 is below 1e-6 for all four


@pytest.mark.parametrize("name", ["tanh", "logistic", "arctan", "erf"])
def test_gd_thirty_thousand_steps(name: str) -> None:
    # a shorter run than the acceptance's 10^6 steps: the same verdicts, the rates within 5%
    # (the corrections to the asymptotics decay like t^(-1/2) for tanh and logistic)
    assert_rate(gd_report(name, 30_000), name, rel=0.05)


@pytest.fixture(scope="module")
def million_step_reports() -> dict[str, DivergenceReport]:
    return {name: gd_report(name, 10**6) for name in ("tanh", "logistic", "arctan", "erf")}


@pytest.mark.parametrize("name", ["tanh", "logistic", "arctan", "erf"])
def test_gd_a_million_steps(million_step_reports: dict[str, DivergenceReport], name: str) -> None:
    assert_rate(million_step_reports[name], name, rel=0.02)


def test_xor_with_bias_converges_under_descent() -> None:
    xor = build_problem(
        [[0, 0], [0, 1], [1, 0], [1, 1]], [-1, 1, 1, -1], get_activation("tanh"), bias=True
    )
    result = run_descent(
        xor,
        method=Method.GD,
        learning_rate=0.1,
        stop=StopRules(steps=10**4),
        record_points=200,
        seed=3,
    )
    report = judged(xor, result, 0.1, Method.GD)
    assert report.verdict is Verdict.CONVERGING
    assert result.gradient_norm < 1e-8
    assert extrapolate(xor, result.trajectory, report) is None


@pytest.mark.parametrize("learning_rate", [0.6, 1.0, 3.0])
def test_an_overshooting_learning_rate_is_unstable(learning_rate: float) -> None:
    # E(x) = (1 − tanh x)² + (1 + tanh x)² = 2 + 2tanh² x: minimum at 0 with E''(0) = 4, so
    # descent is stable only for η < 2/4 = 0.5
    problem = build_problem([[1.0], [1.0]], [1, -1], get_activation("tanh"))
    result = run_descent(
        problem,
        method=Method.GD,
        learning_rate=learning_rate,
        stop=StopRules(steps=10**4),
        record_points=200,
        initial=[0.3],
    )
    assert judged(problem, result, learning_rate, Method.GD).verdict is Verdict.UNSTABLE


def test_a_stable_learning_rate_on_the_same_data_converges() -> None:
    problem = build_problem([[1.0], [1.0]], [1, -1], get_activation("tanh"))
    result = run_descent(
        problem,
        method=Method.GD,
        learning_rate=0.4,
        stop=StopRules(steps=10**4),
        record_points=200,
        initial=[0.3],
    )
    assert judged(problem, result, 0.4, Method.GD).verdict is Verdict.CONVERGING


def test_overflow_is_unstable() -> None:
    problem = build_problem([[1e200]], [1], get_activation("tanh"))
    result = run_descent(
        problem, method=Method.GD, learning_rate=1e200, stop=StopRules(steps=100), record_points=20
    )
    assert result.stopped_by is StopReason.NON_FINITE
    assert judged(problem, result, 1e200, Method.GD).verdict is Verdict.UNSTABLE


def separable(c: float) -> PerceptronProblem:
    inputs, targets = SEPARABLE
    return build_problem((c * np.array(inputs)).tolist(), targets, get_activation("tanh"))


@pytest.mark.parametrize("c", [0.1, 1.0, 10.0])
def test_scaling_the_inputs_keeps_the_flow_verdict(c: float) -> None:
    problem = separable(c)
    result = run_flow(problem, alpha=1.0, t_max=1e8, stop=StopRules(steps=1), record_points=200)
    report = judged(problem, result, 1.0, Method.FLOW)
    assert report.verdict is Verdict.LOGARITHMIC
    # E(x; cB) = E(cx; B): with time rescaled by c², the weights are those of c = 1 over c
    scaled = run_flow(
        problem, alpha=1.0, t_max=1e8 / c**2, stop=StopRules(steps=1), record_points=200
    )
    same = judged(problem, scaled, 1.0, Method.FLOW)
    base = separable(1.0)
    reference = judged(
        base,
        run_flow(base, alpha=1.0, t_max=1e8, stop=StopRules(steps=1), record_points=200),
        1.0,
        Method.FLOW,
    )
    assert same.verdict is reference.verdict is Verdict.LOGARITHMIC
    assert same.log_rate is not None and reference.log_rate is not None
    np.testing.assert_allclose(c * same.log_rate, reference.log_rate, rtol=1e-5)


@pytest.mark.parametrize("c", [0.5, 1.0, 2.0])
def test_scaling_the_inputs_keeps_the_gd_verdict(c: float) -> None:
    problem = separable(c)
    result = run_descent(
        problem,
        method=Method.GD,
        learning_rate=0.01,
        stop=StopRules(steps=30_000),
        record_points=200,
    )
    assert judged(problem, result, 0.01, Method.GD).verdict is Verdict.LOGARITHMIC


def test_the_log_rule_predicts_a_later_flow() -> None:
    problem = separable(1.0)
    early = run_flow(problem, alpha=1.0, t_max=1e6, stop=StopRules(steps=1), record_points=200)
    report = judged(problem, early, 1.0, Method.FLOW)
    predicted = extrapolate(problem, early.trajectory, report, [1e12])
    assert predicted is not None
    late = run_flow(problem, alpha=1.0, t_max=1e12, stop=StopRules(steps=1), record_points=20)
    # from 6 decades of data the log rule lands within 1% six decades later
    np.testing.assert_allclose(predicted.weights[0], late.weights, rtol=1e-2)
    assert predicted.error[0] == pytest.approx(late.error, rel=1e-2)
    assert predicted.error[0] == pytest.approx(error(problem, predicted.weights[0]), rel=1e-12)


def test_the_measured_rate_is_the_max_margin_direction_over_four() -> None:
    # For tanh, (1 − θ(z))² ~ 4e^(−4z): the flow follows w ≈ (ŵ/4)·log t with ŵ the hard-margin
    # solution (min ‖w‖ with B·w ≥ 1). Here one example, u = (0.5, 1), is the only support
    # vector (the others have B_i·ŵ ≥ 1.2), so ŵ = u/‖u‖² = (0.4, 0.8) and b = (0.1, 0.2).
    problem = separable(1.0)
    result = run_flow(problem, alpha=1.0, t_max=1e12, stop=StopRules(steps=1), record_points=200)
    report = judged(problem, result, 1.0, Method.FLOW)
    assert report.verdict is Verdict.LOGARITHMIC
    assert report.log_rate is not None
    np.testing.assert_allclose(report.log_rate, [0.1, 0.2], rtol=1e-2)
