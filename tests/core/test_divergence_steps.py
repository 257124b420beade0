"""The steps of the divergence verdict, each on its own: window → instability → fits →
classification → explanation.

Every expected value is derived here from a closed form, not read from the code:

* the window of a run of D = log10(t_end/τ) decades is its last min(3, D/2) decades;
* w = a + b·ln t has t·ẇ = b, so the log rule's slope is b, the rate v = ‖b‖ is constant and
  γ = 0;
* w = c·t^p has ‖w‖ = ‖c‖·t^p and t·ẇ = p·w, so the power fit is p and v/‖w‖ = p;
* a rate v = k·L^γ with L = ln(t/τ) has ln v = ln k + γ·ln L: slope γ exactly;
* ∫ L^γ dL is finite exactly when γ < −1.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest

from service.core.analysis import divergence as dv
from service.core.analysis.divergence import judge_divergence
from service.core.analysis.stationarity import Stationarity
from service.core.engine.recorder import Trajectory
from service.core.errors import InvalidProblem
from service.vocabulary import StopReason, UndeterminedReason, Verdict

Array = np.ndarray


def trajectory(t: Array, weights: Array, t_delta: Array, error: Array | None = None) -> Trajectory:
    t = np.asarray(t, dtype=float)
    weights = np.asarray(weights, dtype=float).reshape(len(t), -1)
    t_delta = np.asarray(t_delta, dtype=float).reshape(len(t), -1)
    if error is None:
        error = 1.0 / (1.0 + t)
    return Trajectory(t=t, error=np.asarray(error, dtype=float), weights=weights, t_delta=t_delta)


def log_spaced(t_end: float, points: int = 200, start: float = 1.0) -> Array:
    return np.concatenate([[0.0], np.geomspace(start, t_end, points)])


def still(t: Array) -> Trajectory:
    return trajectory(t, np.ones_like(t), np.zeros_like(t))


def window_of(h: Trajectory, time_unit: float = 1.0) -> dv._Window:
    window = dv._window(h, time_unit)
    assert window is not None
    return window


# ----------------------------------------------------------------------------------------
# Step 1: the window


@pytest.mark.parametrize(
    ("t_end", "time_unit", "decades", "span"),
    [
        (1e6, 1.0, 6.0, 3.0),  # D/2 = 3: the cap and the half agree
        (1e4, 1.0, 4.0, 2.0),  # half of the run
        (1e4, 10.0, 3.0, 1.5),  # decades of t/τ, not of t
        (1e12, 1.0, 12.0, 3.0),  # capped at MAX_WINDOW_DECADES
        (1e9, 1e3, 6.0, 3.0),
    ],
)
def test_the_window_is_the_last_min_3_half_decades(
    t_end: float, time_unit: float, decades: float, span: float
) -> None:
    # records at every quarter decade, t_k = 10^(k/4): the window holds exactly the k with
    # k/4 ≥ log10(t_end) − span (the left end itself included)
    top = round(4 * math.log10(t_end))
    t = np.concatenate([[0.0], 10.0 ** (np.arange(top + 1) / 4.0)])
    window = window_of(still(t), time_unit)
    assert window.decades == pytest.approx(decades, abs=1e-12)
    assert window.span == pytest.approx(span, abs=1e-12)
    first = round(4 * (math.log10(t_end) - span))
    np.testing.assert_array_equal(window.t, t[1 + first :])
    assert window.bounds == (float(t[1 + first]), t_end)


def test_the_window_edge_keeps_a_record_at_its_left_end_up_to_rounding() -> None:
    # t_end = 10^6, τ = 1: the window starts at 10^3. A record a rounding error below it
    # (relative 1e-13 < WINDOW_EDGE) is in; one 1e-11 below (> WINDOW_EDGE) is out.
    assert 1e-13 < dv.WINDOW_EDGE < 1e-11
    t = np.array([0.0, 1e3 * (1 - 1e-11), 1e3 * (1 - 1e-13), 1e4, 1e5, 1e6])
    window = window_of(still(t))
    np.testing.assert_array_equal(window.t, t[2:])


def test_no_step_no_window() -> None:
    assert dv._window(still(np.array([0.0])), 1.0) is None


def test_a_run_shorter_than_a_float_ratio_covers_no_decade() -> None:
    # t_end/τ = 1e-200/1e200 underflows to 0: zero decades, not a math domain error
    h = still(np.array([0.0, 5e-201, 1e-200]))
    window = window_of(h, 1e200)
    assert window.decades == -math.inf and window.span == 0.0
    np.testing.assert_array_equal(window.t, [1e-200])
    report = judge_divergence(h, last_step=0.0, stopped_by=StopReason.STEPS, time_unit=1e200)
    assert report.verdict is Verdict.UNDETERMINED
    assert "covers 0 decades" in report.explanation


# ----------------------------------------------------------------------------------------
# Step 2: instability and runs too short


def test_a_monotone_error_may_not_rise_by_more_than_error_rise() -> None:
    # E rises from 0.5 by a factor 1 + 2e-3 (> ERROR_RISE = 1e-3): the rise is (1, 2)
    assert dv._error_rise(np.array([1.0, 0.5, 0.5 * (1 + 2e-3), 0.4]), monotone=True) == (1, 2)
    # by 1 + 5e-4 (< ERROR_RISE): no rise
    assert dv._error_rise(np.array([1.0, 0.5, 0.5 * (1 + 5e-4), 0.4]), monotone=True) is None


def test_an_online_error_may_wobble_but_not_end_above_twice_its_best() -> None:
    wobble = np.array([1.0, 0.3, 0.45, 0.2, 0.35, 0.3])  # ends at 1.5× its best (0.2)
    assert dv._error_rise(wobble, monotone=False) is None
    assert dv._error_rise(wobble, monotone=True) == (1, 2)  # 0.3 → 0.45 is a rise for gd
    climbing = np.array([1.0, 0.3, 0.2, 0.3, 0.5])  # ends at 2.5× its best, at index 2
    assert dv._error_rise(climbing, monotone=False) == (2, 4)


def test_an_error_at_the_bottom_of_float64_does_not_rise() -> None:
    # from E = 0 to 1e-310 (a subnormal, below ERROR_FLOOR): rounding, not overshooting
    assert dv._error_rise(np.array([0.0, 0.0, 1e-310]), monotone=True) is None
    assert dv._error_rise(np.array([0.0, 0.0, 1e-310]), monotone=False) is None
    # from 0 to 1e-290 (above ERROR_FLOOR): a rise
    assert dv._error_rise(np.array([0.0, 1e-290]), monotone=True) == (0, 1)


def test_instability_names_the_rise_or_the_non_finite_rate() -> None:
    t = log_spaced(1e6)
    error = 1.0 / (1.0 + t)
    error[150] = 2.0 * error[149]
    rising = window_of(trajectory(t, np.ones_like(t), np.zeros_like(t), error))
    text = dv._instability(rising, monotone=True)
    assert text is not None and f"t = {t[150]:.4g}" in text and "overshooting" in text
    rate = np.zeros_like(t)
    rate[-2] = np.nan
    broken = window_of(trajectory(t, np.ones_like(t), rate))
    assert dv._instability(broken, monotone=True) == (
        "the next iterate was not a finite number inside the window"
    )
    assert dv._instability(window_of(still(t)), monotone=True) is None


def test_three_decades_up_to_decades_slack_are_enough() -> None:
    # D = 3 + log10(1 − 1e-10) ≈ 3 − 4.3e-11: within DECADES_SLACK of MIN_DECADES
    near = window_of(still(log_spaced(1e3 * (1 - 1e-10))))
    assert dv.MIN_DECADES - near.decades < dv.DECADES_SLACK
    assert dv._shortness(near, 1.0) is None
    # D ≈ 3 − 4.3e-9: beyond the slack, too short
    short = window_of(still(log_spaced(1e3 * (1 - 1e-8))))
    assert dv.MIN_DECADES - short.decades > dv.DECADES_SLACK
    found = dv._shortness(short, 1.0)
    assert found is not None and found[0] is UndeterminedReason.TOO_SHORT
    assert "run longer" in found[1]


def test_a_window_needs_min_points_records() -> None:
    # 6 decades: the window is [1e3, 1e6]; records at 1e3, 1e4, 1e5, 3e5 and 1e6 are 5
    t = np.array([0.0, 1.0, 10.0, 100.0, 1e3, 1e4, 1e5, 3e5, 1e6])
    found = dv._shortness(window_of(still(t)), 1.0)
    assert found is not None and found[0] is UndeterminedReason.TOO_FEW_POINTS
    assert found[1].startswith("only 5 recorded times")
    t6 = np.insert(t, 5, 3e3)
    assert dv._shortness(window_of(still(t6)), 1.0) is None


def test_a_period_two_cycle_jumps() -> None:
    # w alternates ±a: every step is 2a, and the whole motion over the window is 2a too,
    # above JUMP_FRACTION of it
    a, t_end = 0.5, 1e6
    motion = dv._Motion(rates=np.array([2 * a * 10.0, 2 * a * t_end]), size=a, spread=2 * a)
    text = dv._jumps(motion, t_end, 1.0)
    assert text is not None and "back and forth" in text


def test_a_log_drift_does_not_jump() -> None:
    # w = b·ln t over [1e3, 1e6]: last step b/t_end, motion b·ln(1000) ≈ 6.9·b
    b, t_end = 0.25, 1e6
    motion = dv._Motion(rates=np.array([b, b]), size=b * math.log(t_end), spread=b * math.log(1e3))
    assert (b / t_end) < dv.JUMP_FRACTION * motion.spread
    assert dv._jumps(motion, t_end, 1.0) is None


def test_a_cycle_at_the_rounding_level_is_not_a_jump() -> None:
    # ±1e-14 around w = 1: a step of 2e-14 < ROUNDING_STEP·(1 + ‖w‖) = 2e-13
    motion = dv._Motion(rates=np.array([2e-14 * 1e6]), size=1.0, spread=2e-14)
    assert dv._jumps(motion, 1e6, 1.0) is None
    loud = dv._Motion(rates=np.array([2e-12 * 1e6]), size=1.0, spread=2e-12)
    assert dv._jumps(loud, 1e6, 1.0) is not None


# ----------------------------------------------------------------------------------------
# Step 3: the fits


A0, B0 = np.array([0.1, 0.2]), np.array([0.25, -0.1])


def log_growth(t_end: float = 1e6) -> Trajectory:
    t = log_spaced(t_end, points=201)
    lnt = np.log(np.maximum(t, 1.0))
    weights = A0 + np.outer(lnt, B0)
    t_delta = np.outer(t > 0, B0)  # flow: t·ẇ = b
    return trajectory(t, weights, t_delta)


def test_the_log_rule_slope_of_a_plus_b_log_t_is_b() -> None:
    lnt = np.log(np.geomspace(1e3, 1e6, 50))
    slope, goodness = dv._line(lnt, A0 + np.outer(lnt, B0))
    np.testing.assert_allclose(slope, B0, rtol=1e-12)
    assert goodness == pytest.approx(1.0, abs=1e-12)


def test_the_power_of_c_t_to_the_p_is_p() -> None:
    t = np.geomspace(1e3, 1e6, 50)
    weights = np.outer(t**0.3, [3.0, 4.0])  # ‖w‖ = 5·t^0.3
    p, goodness = dv._power_fit(np.log(t), weights)
    assert p == pytest.approx(0.3, abs=1e-12)
    assert goodness == pytest.approx(1.0, abs=1e-12)
    weights[7] = 0.0  # ln ‖w‖ undefined
    assert dv._power_fit(np.log(t), weights) == (None, None)


@pytest.mark.parametrize("gamma", [-2.0, -1.0, -0.5, 0.0, 0.7])
def test_a_rate_like_a_power_of_log_t_has_that_exponent(gamma: float) -> None:
    t, tau = np.geomspace(1e3, 1e6, 60), 0.5
    big_l = np.log(t / tau)
    v = 3.0 * big_l**gamma
    late = dv._late_half(np.log(t))
    fitted, goodness, late_gamma = dv._rate_exponent(np.log(big_l), dv._floored_log(v), late)
    assert fitted == pytest.approx(gamma, abs=1e-12)
    assert late_gamma == pytest.approx(gamma, abs=1e-12)
    if gamma != 0.0:  # a constant ln v has no variance to explain: R² is a convention
        assert goodness == pytest.approx(1.0, abs=1e-12)


def test_the_late_exponent_is_that_of_the_last_half_only() -> None:
    # v = L^(−2) up to the geometric midpoint of the window, then L^0.5 (scaled to be
    # continuous): the late fit sees only the second law
    t = np.geomspace(1e3, 1e6, 61)
    lnt = np.log(t)
    late = dv._late_half(lnt)
    big_l = lnt  # τ = 1
    mid = big_l[late][0]
    v = np.where(late, mid**-2 * (big_l / mid) ** 0.5, big_l**-2.0)
    _, _, late_gamma = dv._rate_exponent(np.log(big_l), dv._floored_log(v), late)
    assert late_gamma == pytest.approx(0.5, abs=1e-12)


def test_the_late_half_starts_at_the_geometric_midpoint() -> None:
    t = 10.0 ** np.array([3.0, 3.4, 4.4, 4.6, 5.0, 6.0])  # the midpoint in log t is 10^4.5
    assert dv._late_half(np.log(t)).tolist() == [False, False, False, True, True, True]


def test_two_late_records_do_not_make_a_late_exponent() -> None:
    # MIN_LATE_POINTS = 3: with two late records (which always fit a line exactly) the
    # whole window's γ stands for the late one
    assert dv.MIN_LATE_POINTS == 3
    big_l = np.log(np.log(np.array([1e3, 1.1e3, 1.2e3, 1.3e3, 1e6, 1.1e6])))
    ln_v = np.array([0.0, 0.0, 0.0, 0.0, 5.0, -5.0])
    late = np.array([False, False, False, False, True, True])
    gamma, _, late_gamma = dv._rate_exponent(big_l, ln_v, late)
    assert late_gamma == gamma
    late[3] = True
    assert dv._rate_exponent(big_l, ln_v, late)[2] != gamma


def test_a_zero_rate_gets_a_finite_log_below_every_other() -> None:
    # RATE_FLOOR: ln max(v, 1e-300·max v)
    ln_v = dv._floored_log(np.array([0.0, 1.0, 2.0]))
    assert ln_v[0] == pytest.approx(math.log(2e-300), rel=1e-15)
    np.testing.assert_allclose(ln_v[1:], [0.0, math.log(2.0)], rtol=1e-15)
    tiny = float(np.finfo(np.float64).tiny)
    assert dv._floored_log(np.zeros(3)).tolist() == [math.log(tiny)] * 3


def test_fits_of_exact_log_growth() -> None:
    window = window_of(log_growth())
    fits = dv._fits(window, 1.0)
    np.testing.assert_allclose(fits.log_rate, B0, rtol=1e-10)
    assert fits.log_goodness == pytest.approx(1.0, abs=1e-12)
    assert fits.rate is not None
    assert fits.rate.gamma == pytest.approx(0.0, abs=1e-12)  # v = ‖b‖, constant
    assert fits.rate.change == pytest.approx(0.0, abs=1e-15)
    # over the window [t_0, t_end] the weights moved by ‖b‖·ln(t_end/t_0), t_0 ≈ 1e3
    assert window.t[0] == pytest.approx(1e3, rel=1e-12)
    assert fits.spread == pytest.approx(np.linalg.norm(B0) * math.log(1e3), rel=1e-12)


def test_fits_of_a_power_growth_report_the_ratio_p() -> None:
    p = 0.3
    t = log_spaced(1e6)
    h = trajectory(t, np.outer(t**p, [3.0, 4.0]), np.outer(p * t**p, [3.0, 4.0]))
    window = window_of(h)
    fits = dv._fits(window, 1.0)
    assert fits.power == pytest.approx(p, abs=1e-12)
    assert fits.rate is not None
    assert fits.rate.ratio == pytest.approx(p, rel=1e-12)  # t·ẇ/‖w‖ = p
    # v ∝ t^p: v(t_end)/v(t_0) − 1 = (t_end/t_0)^p − 1
    assert fits.rate.change == pytest.approx((1e6 / window.t[0]) ** p - 1.0, rel=1e-12)


def test_still_weights_have_no_rate_fit() -> None:
    fits = dv._fits(window_of(still(log_spaced(1e6))), 1.0)
    assert fits.rate is None and fits.spread == 0.0
    assert dv._classify(fits) is dv._Case.STOPPED


# ----------------------------------------------------------------------------------------
# Step 4: the classification


@pytest.mark.parametrize(
    ("gamma", "verdict"),
    [
        (-1.0001, Verdict.CONVERGING),
        (-1.0, Verdict.SUB_LOGARITHMIC),  # ∫ L^(−1) dL = ln L diverges
        (-0.2501, Verdict.SUB_LOGARITHMIC),
        (-0.25, Verdict.LOGARITHMIC),
        (0.0, Verdict.LOGARITHMIC),
        (0.25, Verdict.LOGARITHMIC),
        (0.2501, Verdict.POWER_LAW),
    ],
)
def test_the_regime_of_a_rate_exponent(gamma: float, verdict: Verdict) -> None:
    assert dv._rate_class(gamma) is verdict


def test_a_power_law_needs_the_ratio_of_c_t_to_the_p() -> None:
    p = 0.3
    assert dv._power_law_holds(p, p)  # w = c·t^p exactly
    # within a factor 2 of p: [0.15, 0.6]
    assert dv._power_law_holds(p, 0.16) and dv._power_law_holds(p, 0.59)
    assert not dv._power_law_holds(p, 0.14) and not dv._power_law_holds(p, 0.61)
    assert dv._power_law_holds(p, p / dv.POWER_BAND) and dv._power_law_holds(p, dv.POWER_BAND * p)
    assert not dv._power_law_holds(p, 0.99 * p / dv.POWER_BAND)
    assert not dv._power_law_holds(p, 1.01 * dv.POWER_BAND * p)
    assert not dv._power_law_holds(0.04, 0.04)  # below MIN_POWER
    # a transient: w = 1000 + 2·t^0.3 at t = 1e6 has t·ẇ/w = 0.6·t^0.3/(1000 + 2·t^0.3)
    growth = 2.0 * 1e6**p
    assert not dv._power_law_holds(p, p * growth / (1000.0 + growth))


def rate_fit(gamma: float, late_gamma: float, **changes: Any) -> dv._RateFit:
    fields: dict[str, Any] = {
        "gamma": gamma,
        "goodness": 0.9,
        "late_gamma": late_gamma,
        "late_start": 3e4,
        "late_spread": 1.0,
        "late_still": False,
        "change": 0.0,
        "ratio": 0.3,
    }
    fields.update(changes)
    return dv._RateFit(**fields)


@pytest.mark.parametrize(
    ("gamma", "late_gamma", "power", "ratio", "case"),
    [
        (-2.0, -2.0, None, 0.0, dv._Case.FALLING),
        (-2.0, 0.0, None, 0.0, dv._Case.FELL_THEN_ROSE),
        (0.0, -0.5, None, 0.0, dv._Case.SUB_LOGARITHMIC),  # the later data decide
        (-0.5, 0.0, None, 0.0, dv._Case.LOGARITHMIC),
        (-0.5, -2.0, None, 0.0, dv._Case.REGIME_CHANGE),
        (0.0, 1.0, 0.3, 0.3, dv._Case.REGIME_CHANGE),
        (1.0, 0.0, 0.3, 0.3, dv._Case.REGIME_CHANGE),
        (1.0, 1.0, 0.3, 0.3, dv._Case.POWER_LAW),
        (1.0, 1.0, 1.0, 1.0, dv._Case.LINEAR),
        (1.0, 1.0, 0.3, 0.01, dv._Case.TRANSIENT),
        (1.0, 1.0, None, 0.3, dv._Case.TRANSIENT),
    ],
)
def test_the_case_of_a_moving_window(
    gamma: float, late_gamma: float, power: float | None, ratio: float, case: dv._Case
) -> None:
    assert dv._classify_rate(rate_fit(gamma, late_gamma, ratio=ratio), power) is case


def test_weights_still_over_the_last_half_are_stopped_whatever_the_rate() -> None:
    fit = rate_fit(1.0, 1.0, late_still=True)
    assert dv._classify_rate(fit, 1.0) is dv._Case.STOPPED_LATE


def test_every_case_has_a_verdict_and_the_divergent_ones_are_divergent() -> None:
    assert set(dv._VERDICTS) == set(dv._Case)
    divergent = {c for c, v in dv._VERDICTS.items() if v in dv.DIVERGENT}
    assert divergent == {
        dv._Case.SUB_LOGARITHMIC,
        dv._Case.LOGARITHMIC,
        dv._Case.POWER_LAW,
        dv._Case.LINEAR,
    }


# ----------------------------------------------------------------------------------------
# Step 5: the explanation and the report


def fits_with(rate: dv._RateFit | None, power: float | None = 0.3) -> dv._Fits:
    return dv._Fits(
        log_rate=B0,
        log_goodness=0.99,
        power=power,
        power_goodness=0.98,
        size=2.0,
        spread=1.0,
        rate=rate,
    )


BOUNDS = (1e3, 1e6)


def test_each_case_has_its_own_sentence() -> None:
    fits = fits_with(rate_fit(-0.5, -0.4))
    stall = Stationarity(gradient_log10=-60.0, critical=False, frozen=True, lemma_applies=True)
    sentences = {case: dv._explain(case, fits, BOUNDS, stall) for case in dv._Case}
    # power_law and linear share theirs (the exponent tells them apart)
    assert sentences[dv._Case.POWER_LAW] == sentences[dv._Case.LINEAR]
    assert len(set(sentences.values())) == len(dv._Case) - 1
    for case, sentence in sentences.items():
        if case is not dv._Case.STOPPED_LATE:  # that one names the last half's start
            assert "over t in [1e+03, 1e+06]" in sentence


def test_a_logarithmic_report_rests_on_the_log_model_and_the_late_exponent() -> None:
    fits = fits_with(rate_fit(-0.1, -0.2, change=-0.2))
    report = dv._assemble(dv._Case.LOGARITHMIC, fits, BOUNDS, last_step=1e-3, step_tolerance=None)
    assert report.verdict is Verdict.LOGARITHMIC
    assert report.rate_exponent == -0.1 and report.late_rate_exponent == -0.2
    assert report.rate_change == -0.2
    assert report.goodness == 0.99  # the log model's R²
    assert report.log_rate is B0 and report.power == 0.3 and report.window == BOUNDS
    # ‖b‖ = √(0.25² + 0.1²) = 0.2693; v fell by 20% > FALLING_NOTE
    assert f"‖b‖ = {math.hypot(0.25, 0.1):.4g}" in report.explanation
    assert "fell (by 20% over the window)" in report.explanation
    assert not report.apparent_convergence  # 1e-3 is above the default step tolerance


def test_the_paper_s_warning_is_added_to_a_divergence_below_the_step_tolerance() -> None:
    fits = fits_with(rate_fit(1.0, 1.0))
    report = dv._assemble(dv._Case.POWER_LAW, fits, BOUNDS, last_step=1e-7, step_tolerance=None)
    assert report.apparent_convergence and report.goodness == 0.98
    assert "t^0.3" in report.explanation
    assert report.explanation.endswith("would wrongly call this convergence")
    quiet = dv._assemble(dv._Case.POWER_LAW, fits, BOUNDS, last_step=1e-7, step_tolerance=1e-8)
    assert not quiet.apparent_convergence
    falling = dv._assemble(dv._Case.FALLING, fits, BOUNDS, last_step=1e-9, step_tolerance=None)
    assert falling.verdict is Verdict.CONVERGING and not falling.apparent_convergence


def test_an_undetermined_report_carries_no_fitted_rate() -> None:
    fits = fits_with(rate_fit(0.0, 1.0))
    report = dv._assemble(dv._Case.REGIME_CHANGE, fits, BOUNDS, last_step=1e-9, step_tolerance=None)
    assert report.verdict is Verdict.UNDETERMINED
    assert report.log_rate is None and report.power is None and report.goodness is None
    assert report.rate_exponent == 0.0  # γ of the window is still reported
    assert not report.apparent_convergence


def test_stopped_reports_carry_the_rate_shape_only_when_it_was_fitted() -> None:
    for case, fits, gamma in [
        (dv._Case.STOPPED, fits_with(None), None),
        (dv._Case.STOPPED_LATE, fits_with(rate_fit(1.0, 0.5, late_still=True)), (1.0, 0.5)),
    ]:
        report = dv._assemble(case, fits, BOUNDS, last_step=1e-9, step_tolerance=None)
        assert report.verdict is Verdict.CONVERGING
        if gamma is None:
            assert report.rate_exponent is None and report.late_rate_exponent is None
        else:
            assert (report.rate_exponent, report.late_rate_exponent) == gamma
        assert report.log_rate is B0  # judged: b and p are reported
        assert "stopped" in report.explanation
        assert report.undetermined is None and report.stall is None


# ----------------------------------------------------------------------------------------
# The pipeline's argument check


@pytest.mark.parametrize("bad", [0.0, -1.0, math.inf, math.nan])
def test_a_bad_time_unit_is_an_invalid_problem_naming_it(bad: float) -> None:
    with pytest.raises(InvalidProblem) as caught:
        judge_divergence(log_growth(), last_step=1e-7, stopped_by=StopReason.STEPS, time_unit=bad)
    assert caught.value.field == "time_unit"
    assert "finite number > 0" in caught.value.message
