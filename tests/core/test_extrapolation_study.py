"""The log rule put to the test (issue 20): predictions from T against the runs to c·T,
checked against what is known independently of the service.

* The scalar example of the paper, E(x) = (tanh x − 1)² (one input 1, target +1), where
  gradient descent is x ← x + 2η·c²·(2 − c) with c = 1 − tanh x = 2/(1 + e^(2x)): a plain
  Python loop of that recursion gives w(c·T) independently of the kernel, and its asymptote
  x(t) = ¼·ln(64ηt) + O(t^(−1/2)) checks the loop (from ẋ ≈ 16η·e^(−4x) for large x).
* The flow ẋ = 2α·c²·(2 − c) = 16α·e^(2x)/(1 + e^(2x))³ integrates in closed form:
  16α·t(x) = (1 − e^(−2x))/2 + 3x + 3(e^(2x) − 1)/2 + (e^(4x) − 1)/4, inverted by brentq.
* The comparison's figures and the summary's medians and fits on values worked out by hand.
"""

from __future__ import annotations

import functools
import math
import typing
from dataclasses import replace

import numpy as np
import pytest
from scipy.optimize import brentq

from service.core.analysis.extrapolation import (
    GOOD_WEIGHT_ERROR,
    Comparison,
    LogRuleFit,
    PointCheck,
    compare,
    summarize,
)
from service.core.budget import Budget
from service.core.engine.run import StopRules
from service.core.errors import InvalidProblem, LimitExceeded
from service.core.extrapolation import extrapolation_run, extrapolation_work, longer_runs
from service.core.training import TrainingSpec, work
from service.limits import MAX_STEPS
from service.schemas import studies as schemas
from service.vocabulary import Method, StopReason, Verdict

ETA = 0.1
T = 10_000


def scalar_spec(**changes: typing.Any) -> TrainingSpec:
    """The paper's scalar example: E(x) = (θ(x) − 1)², from x = 0, η = 0.1, T steps."""
    spec = TrainingSpec(inputs=[[1.0]], targets=[1], stop=StopRules(steps=T), learning_rate=ETA)
    return replace(spec, **changes)


@functools.cache
def scalar_descent(eta: float, checkpoints: tuple[int, ...]) -> tuple[float, ...]:
    """Gradient descent on (tanh x − 1)² from x = 0, in plain Python: x at each checkpoint
    (steps, increasing). c = 1 − tanh x = 2/(1 + e^(2x)) without cancellation, and
    −E'(x) = 2·c·θ'(x) = 2·c²·(2 − c)."""
    x, t, found = 0.0, 0, []
    for stop in checkpoints:
        for _ in range(stop - t):
            c = 2.0 / (1.0 + math.exp(2.0 * x))
            x += 2.0 * eta * c * c * (2.0 - c)
        t = stop
        found.append(x)
    return tuple(found)


def flow_time(x: float, alpha: float) -> float:
    """The time the flow ẋ = 16α·e^(2x)/(1 + e^(2x))³ takes from 0 to x (closed form)."""
    return (
        (1 - math.exp(-2 * x)) / 2
        + 3 * x
        + 3 * (math.exp(2 * x) - 1) / 2
        + (math.exp(4 * x) - 1) / 4
    ) / (16 * alpha)


def flow_weight(t: float, alpha: float) -> float:
    """The flow's x(t) from x(0) = 0: flow_time inverted."""
    return float(brentq(lambda x: flow_time(x, alpha) - t, 0.0, 50.0, xtol=1e-14, rtol=1e-15))


def relative(a: float, b: float) -> float:
    return abs(a - b) / abs(b)


# --- the comparison, by hand


def test_compare_measures_the_weights_and_e_relative_to_the_actual_run() -> None:
    c = compare(10.0, 100.0, np.array([3.0, 4.0]), 0.5, np.array([3.0, 0.0]), 0.4)
    assert c.weight_error == pytest.approx(4 / 3, rel=1e-15)  # ‖(0, 4)‖ / ‖(3, 0)‖
    assert c.error_difference == pytest.approx(0.1, rel=1e-15)
    assert c.error_relative == pytest.approx(0.25, rel=1e-15)
    assert c.failure is None and c.factor == 10.0 and c.t == 100.0


def test_compare_when_e_underflows_gives_the_absolute_error_only() -> None:
    w = np.array([1.0])
    assert compare(10, 1, w, 1e-300, w, 0.0).error_relative is None
    assert compare(10, 1, w, 1e-300, w, 0.0).error_difference == 1e-300
    assert compare(10, 1, w, 0.0, w, 0.0).error_relative == 0.0
    assert compare(10, 1, w, 0.0, np.zeros(1), 0.0).weight_error is None  # ‖w‖ = 0
    assert compare(10, 1, w, math.nan, w, 0.5).error_relative is None  # Ê overflowed


# --- the summary, by hand


def applicable(*errors: float) -> PointCheck:
    """A logarithmic point whose weight errors at the factors are ``errors`` (E's twice)."""
    comparisons = tuple(
        Comparison(
            factor=10.0**k,
            t=T * 10.0**k,
            predicted_weights=np.ones(1),
            predicted_error=1.0,
            actual_weights=np.ones(1),
            actual_error=1.0,
            weight_error=e,
            error_difference=2 * e,
            error_relative=2 * e,
        )
        for k, e in enumerate(errors, start=1)
    )
    return PointCheck(t=T, verdict=Verdict.LOGARITHMIC, applicable=True, comparisons=comparisons)


def not_applicable(verdict: Verdict) -> PointCheck:
    return PointCheck(t=T, verdict=verdict, applicable=False, reason="…")


def test_summary_per_activation_medians_and_fits() -> None:
    points = [
        ("tanh", applicable(0.002, 0.004)),
        ("tanh", applicable(0.004, 0.008)),
        ("tanh", applicable(0.003, 0.030)),
        ("logistic", applicable(0.009, 0.018)),
        ("arctan", not_applicable(Verdict.POWER_LAW)),
        ("arctan", None),  # its run to T failed
        ("erf", not_applicable(Verdict.SUB_LOGARITHMIC)),
    ]
    found = summarize([10.0, 100.0], points)
    tanh = found.activations["tanh"]
    assert (tanh.points, tanh.applicable, tanh.failed) == (3, 3, 0)
    assert [f.weight_error_median for f in tanh.factors] == [0.003, 0.008]
    assert [f.weight_error_max for f in tanh.factors] == [0.004, 0.030]
    assert [f.error_relative_median for f in tanh.factors] == [0.006, 0.016]
    assert [f.compared for f in tanh.factors] == [3, 3]
    assert tanh.fit is LogRuleFit.PREDICTS_WELL  # the median, not the largest, decides
    logistic = found.activations["logistic"]
    assert logistic.fit is LogRuleFit.DRIFTS and "1.800%" in logistic.explanation
    arctan = found.activations["arctan"]
    assert arctan.fit is LogRuleFit.NOT_APPLICABLE and arctan.failed == 1
    assert arctan.verdicts == {Verdict.POWER_LAW: 1} and "power_law" in arctan.explanation
    assert arctan.factors[0].weight_error_median is None
    erf = found.activations["erf"]
    assert erf.fit is LogRuleFit.NOT_APPLICABLE and "sub_logarithmic" in erf.explanation
    overall = found.overall
    assert (overall.points, overall.applicable, overall.failed) == (7, 4, 1)
    assert overall.factors[1].weight_error_median == pytest.approx((0.008 + 0.018) / 2)
    assert overall.fit is LogRuleFit.DRIFTS
    assert list(found.activations) == ["tanh", "logistic", "arctan", "erf"]


def test_a_factor_with_nothing_compared_is_not_predicting_well() -> None:
    missing = replace(
        applicable(0.001),
        comparisons=(
            Comparison(factor=10.0, t=1e5, predicted_weights=np.ones(1), predicted_error=1.0,
                       failure="the time limit"),
        ),
    )  # fmt: skip
    group = summarize([10.0], [("tanh", missing)]).overall
    assert group.factors[0].compared == 0 and group.fit is LogRuleFit.DRIFTS


def test_the_schema_names_the_same_fits_as_the_core() -> None:
    assert set(typing.get_args(schemas.LogRuleFit)) == {f.value for f in LogRuleFit}


# --- the runs to c·T


def test_longer_runs_and_their_work() -> None:
    spec = scalar_spec()
    longer = longer_runs(spec, [10.0, 2.5e2])
    assert [s.stop.steps for s in longer] == [100_000, 2_500_000]
    assert all(s.extrapolate_to is None and s.learning_rate == ETA for s in longer)
    assert extrapolation_work(spec, [10.0, 2.5e2]) == work(spec) * (1 + 10 + 250)
    flow = scalar_spec(method=Method.FLOW, t_max=50.0)
    assert [s.t_max for s in longer_runs(flow, [10.0])] == [500.0]


@pytest.mark.parametrize(
    ("spec", "factors", "error"),
    [
        (scalar_spec(), [10.0, 10.0], InvalidProblem),  # not increasing
        (scalar_spec(), [1.0], InvalidProblem),
        (scalar_spec(), [math.inf], InvalidProblem),
        (scalar_spec(stop=StopRules(steps=1)), [1.2, 1.4], InvalidProblem),  # both 1 step
        (scalar_spec(), [MAX_STEPS / T * 1.5], LimitExceeded),
        (scalar_spec(method=Method.FLOW, t_max=1e14), [100.0], LimitExceeded),  # > MAX_T_MAX
    ],
)
def test_longer_runs_refuse_factors_naming_them(
    spec: TrainingSpec, factors: list[float], error: type[Exception]
) -> None:
    with pytest.raises(error) as raised:
        longer_runs(spec, factors)
    assert isinstance(raised.value, InvalidProblem) and raised.value.field == "factors"


def test_tanh_predicts_a_hundredfold_within_one_percent_of_an_independent_descent() -> None:
    factors = [10.0, 100.0]
    report, check = extrapolation_run(scalar_spec(), factors, Budget())
    assert check.applicable and check.verdict is Verdict.LOGARITHMIC and check.t == T
    x_T, *actual = scalar_descent(ETA, (T, 10 * T, 100 * T))
    assert report.run.weights[0] == pytest.approx(x_T, rel=1e-10)
    # the loop itself against the asymptote ¼·ln(64ηt) (next term −1.5/√(64ηt))
    for t, x in zip((10 * T, 100 * T), actual, strict=True):
        assert abs(x - math.log(64 * ETA * t) / 4) < 2 / math.sqrt(64 * ETA * t)
    for c, x in zip(check.comparisons, actual, strict=True):
        assert c.failure is None and c.verdict is Verdict.LOGARITHMIC
        assert c.stopped_by is StopReason.STEPS and c.t == c.factor * T
        assert c.actual_weights is not None and c.actual_weights[0] == pytest.approx(x, rel=1e-9)
        predicted = float(c.predicted_weights[0])
        assert c.weight_error == pytest.approx(relative(predicted, x), rel=1e-6)
        # E = c(x)² at the actual weights; Ê at the predicted ones
        e_actual = (2 / (1 + math.exp(2 * x))) ** 2
        e_predicted = (2 / (1 + math.exp(2 * predicted))) ** 2
        assert c.actual_error == pytest.approx(e_actual, rel=1e-8)
        assert c.error_relative == pytest.approx(relative(e_predicted, e_actual), rel=1e-5)
    errors = [c.weight_error or math.inf for c in check.comparisons]
    assert errors[1] < GOOD_WEIGHT_ERROR  # the acceptance: 10⁶ from 10⁴ within 1%
    assert 0 < errors[0] < errors[1]  # the fitted b exceeds ¼ a little: the error grows with c


def test_the_flow_predicts_against_its_closed_form() -> None:
    alpha, t_max = ETA, 1e4
    flow = scalar_spec(method=Method.FLOW, t_max=t_max)
    report, check = extrapolation_run(flow, [10.0, 100.0], Budget())
    assert check.applicable and check.t == pytest.approx(t_max, rel=1e-12)
    assert report.run.weights[0] == pytest.approx(flow_weight(t_max, alpha), rel=1e-6)
    for c in check.comparisons:
        x = flow_weight(c.factor * t_max, alpha)
        assert c.failure is None and c.stopped_by is StopReason.T_MAX
        assert c.actual_weights is not None and c.actual_weights[0] == pytest.approx(x, rel=1e-6)
        assert c.weight_error == pytest.approx(relative(float(c.predicted_weights[0]), x), abs=1e-6)
        assert c.weight_error is not None and c.weight_error < GOOD_WEIGHT_ERROR


@pytest.mark.parametrize(
    ("activation", "verdict"),
    [("arctan", Verdict.POWER_LAW), ("erf", Verdict.SUB_LOGARITHMIC)],
)
def test_without_logarithmic_growth_the_rule_does_not_apply(
    activation: str, verdict: Verdict
) -> None:
    report, check = extrapolation_run(scalar_spec(activation=activation), [10.0], Budget())
    assert report.divergence.verdict is verdict and report.prediction is None
    assert not check.applicable and check.comparisons == ()
    assert check.reason is not None and verdict.value in check.reason


def test_a_run_to_ct_stopped_by_a_rule_is_not_compared() -> None:
    # x(10⁵) ≈ 3.34 < 3.5 < x(10⁶) ≈ 3.92: the run to 100·T stops at the bound
    spec = scalar_spec(stop=StopRules(steps=T, weight_bound=3.5))
    _, check = extrapolation_run(spec, [10.0, 100.0], Budget())
    assert check.applicable
    first, second = check.comparisons
    assert first.failure is None and first.weight_error is not None
    assert second.stopped_by is StopReason.WEIGHT_BOUND and second.weight_error is None
    assert second.failure is not None and "weight_bound" in second.failure
    assert second.actual_weights is not None and second.actual_weights[0] >= 3.5
