"""Why a verdict is ``undetermined`` (reason, heading, steps_to_decide), and when weights that
stopped have ``stalled``.

The histories are built from rates with known exponents. With ``L = ln(t/τ)`` and a rate
``v(L) = k·L^γ1`` up to ``L_c`` and ``k·L_c^(γ1−γ2)·L^γ2`` after (continuous), the weights are
its integral ``W(L) = ∫ v dL`` in closed form (``k·L^(γ+1)/(γ+1)`` on each piece) and
``t_delta = t·dW/dt = dW/dL = v``. The expected verdicts are derived here, not read from the
code:

* γ over the window and over its last half in log t are computed by this file's own least
  squares (the covariance formula ``Σ(x − x̄)(y − ȳ)/Σ(x − x̄)²`` of ``ln v`` against ``ln L``);
  on a piece where ``v = k·L^γ`` exactly the slope is γ, so a late half inside the second
  piece has late γ = γ2 to rounding;
* the regimes of the module docstring: γ < −1 converging, −1 ≤ γ < −1/4 sub-logarithmic,
  |γ| ≤ 1/4 logarithmic, γ > 1/4 faster; two regimes that disagree (beyond the two slow ones)
  are a regime change, and so is a fall faster than 1/log t where Sontag's Lemma applies;
* ``heading`` is the sign of the late γ;
* ``steps_to_decide``: the window is ``[t_end·10^(−s), t_end]``, ``s = min(3, D/2)``,
  ``D = log10(t_end/τ)``; t_0 is its first recorded time, t_m the first recorded time with
  ``ln t ≥ (ln t_0 + ln t_end)/2``; ``T = t_m²/τ`` if ``T ≤ 10⁶·τ`` else ``10³·t_m``, at least
  ``10·t_end`` when ``T ≤ t_end``; ``steps_to_decide = ⌈T − t_end⌉``, computed here in exact
  rational arithmetic from the recorded float times.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction

import mpmath as mp
import numpy as np
import pytest

from service.core.analysis import divergence as dv
from service.core.analysis.divergence import DivergenceReport, judge_divergence
from service.core.analysis.separability import test_separability as separability_of
from service.core.analysis.stationarity import Stationarity, assess_stationarity
from service.core.engine.descent import run_descent
from service.core.engine.recorder import Trajectory
from service.core.engine.run import StopRules
from service.core.model.activations import get_activation
from service.core.model.problem import build_problem, time_unit
from service.vocabulary import Heading, Method, StopReason, UndeterminedReason, Verdict
from tests.core.mp_reference import slope as mp_slope

Array = np.ndarray

LEMMA = Stationarity(gradient_log10=-30.0, critical=False, frozen=False, lemma_applies=True)
"""What the caller passes for separable data: E has no critical point anywhere."""


# ----------------------------------------------------------------------------------------
# Histories with known rates, and this file's own reading of them


@dataclass(frozen=True)
class Rate:
    """v = k·L^γ1 for L ≤ L_c, continued as k·L_c^(γ1−γ2)·L^γ2 (L = ln(t/τ))."""

    gamma1: float
    gamma2: float
    split: float  # L_c
    k: float = 0.3
    w0: float = 1.0

    def v(self, L: Array) -> Array:
        k2 = self.k * self.split ** (self.gamma1 - self.gamma2)
        return np.where(L <= self.split, self.k * L**self.gamma1, k2 * L**self.gamma2)

    def w(self, L: Array) -> Array:
        k2 = self.k * self.split ** (self.gamma1 - self.gamma2)

        def first(x: Array | float) -> Array:
            return self.k * np.power(x, self.gamma1 + 1) / (self.gamma1 + 1)

        def second(x: Array | float) -> Array:
            return k2 * np.power(x, self.gamma2 + 1) / (self.gamma2 + 1)

        late = first(self.split) + second(L) - second(self.split)
        return self.w0 + np.where(L <= self.split, first(L), late)


def build(t: Array, tau: float, rate: Rate) -> Trajectory:
    """Records at t (ascending, all with L = ln(t/τ) > 0), with t = 0 first."""
    L = np.log(t / tau)
    assert (L > 0).all()
    times = np.concatenate([[0.0], t])
    weights = np.concatenate([[rate.w0], rate.w(L)])
    rates = np.concatenate([[0.0], rate.v(L)])
    return Trajectory(
        t=times, error=1.0 / (1.0 + times), weights=weights[:, None], t_delta=rates[:, None]
    )


def window_times(t: Array, tau: float) -> Array:
    """The recorded times in the window (the decades rule of the module docstring)."""
    t_end = float(t[-1])
    span = min(3.0, math.log10(t_end / tau) / 2.0)
    return t[(t >= t_end / 10.0**span * (1 - 1e-12)) & (t > 0)]


def late_half(window: Array) -> Array:
    lnt = np.log(window)
    return window[lnt >= 0.5 * (lnt[0] + lnt[-1])]


def least_squares_slope(x: Array, y: Array) -> float:
    dx = x - x.mean()
    return float(np.sum(dx * (y - y.mean())) / np.sum(dx * dx))


def exponents(h: Trajectory, tau: float) -> tuple[float, float]:
    """(γ over the window, γ over its last half) of ln v against ln L."""
    window = window_times(h.t, tau)
    late = late_half(window)
    v = np.abs(h.t_delta[:, 0])

    def slope_over(times: Array) -> float:
        rows = np.isin(h.t, times)
        return least_squares_slope(np.log(np.log(h.t[rows] / tau)), np.log(v[rows]))

    return slope_over(window), slope_over(late)


def regime(gamma: float) -> str:
    if gamma < -1.0:
        return "converging"
    if gamma < -0.25:
        return "sub_logarithmic"
    if gamma <= 0.25:
        return "logarithmic"
    return "faster"


def expected_steps(t: Array, tau: float) -> int:
    """⌈T − t_end⌉ from t_m (see the module docstring), in exact rationals."""
    window = window_times(t, tau)
    t_m, t_end, unit = Fraction(float(late_half(window)[0])), Fraction(float(t[-1])), Fraction(tau)
    target = t_m * t_m / unit
    if target > unit * 10**6:
        target = 1000 * t_m
    if target <= t_end:
        target = 10 * t_end
    return math.ceil(target - t_end)


def judge(h: Trajectory, tau: float = 1.0, **kw: object) -> DivergenceReport:
    return judge_divergence(
        h,
        last_step=float(abs(h.t_delta[-1, 0]) / h.t[-1]),
        stopped_by=StopReason.STEPS,
        time_unit=tau,
        **kw,  # type: ignore[arg-type]
    )


def assert_regime_change(report: DivergenceReport, h: Trajectory, tau: float) -> None:
    """undetermined, regime_change, heading the sign of our late γ, our steps_to_decide."""
    late = exponents(h, tau)[1]
    assert report.verdict is Verdict.UNDETERMINED
    assert report.undetermined is not None
    assert report.undetermined.reason is UndeterminedReason.REGIME_CHANGE
    assert report.undetermined.heading is (Heading.RISING if late > 0 else Heading.FALLING)
    assert report.undetermined.steps_to_decide == expected_steps(h.t, tau)
    assert report.late_rate_exponent == pytest.approx(late, abs=1e-9)
    assert report.stall is None
    assert report.log_rate is None and report.power is None and report.goodness is None


def split_at_late_half(t: Array, tau: float, gamma1: float, gamma2: float) -> Rate:
    """The change of regime at the first recorded time of the late half (so the whole late
    half is the second piece)."""
    t_m = float(late_half(window_times(t, tau))[0])
    return Rate(gamma1, gamma2, split=math.log(t_m / tau))


LONG = np.geomspace(10.0, 1e8, 200)  # τ = 1: 8 decades, the window [1e5, 1e8]


# ----------------------------------------------------------------------------------------
# too_short and too_few_points


@pytest.mark.parametrize(("t_end", "tau"), [(999.0, 1.0), (5e4, 100.0), (0.5, 1e-3), (10.0, 1.0)])
def test_a_run_of_fewer_than_three_decades_is_too_short(t_end: float, tau: float) -> None:
    t = np.geomspace(t_end / 1e4, t_end, 300)
    report = judge(build(t, tau * 1e-6, Rate(0.0, 0.0, 1.0)), tau)
    assert math.log10(t_end / tau) < 3
    assert report.verdict is Verdict.UNDETERMINED
    assert report.undetermined == dv.Undetermined(UndeterminedReason.TOO_SHORT)
    assert report.undetermined.heading is None and report.undetermined.steps_to_decide is None
    assert "decades" in report.explanation


def test_exactly_three_decades_are_enough() -> None:
    # t_end/τ = 1e3: D = 3, the window is the last 1.5 decades, with 100 records in it
    t = np.geomspace(1.0, 1e3, 200)
    report = judge(build(t, 0.5, Rate(0.0, 0.0, 1.0)), 1.0)
    assert report.verdict is Verdict.LOGARITHMIC and report.undetermined is None


@pytest.mark.parametrize(("inside", "reason"), [(5, UndeterminedReason.TOO_FEW_POINTS), (6, None)])
def test_fewer_than_six_records_in_the_window_are_too_few(
    inside: int, reason: UndeterminedReason | None
) -> None:
    # τ = 1, t_end = 1e6: the window is [1e3, 1e6]; `inside` records in it, 30 before it
    t = np.concatenate([np.geomspace(2.0, 900.0, 30), np.geomspace(1e3, 1e6, inside)])
    report = judge(build(t, 1.0, Rate(0.0, 0.0, 1.0)))
    assert len(window_times(t, 1.0)) == inside
    if reason is None:
        assert report.verdict is Verdict.LOGARITHMIC and report.undetermined is None
    else:
        assert report.verdict is Verdict.UNDETERMINED
        assert report.undetermined == dv.Undetermined(reason)
        assert f"only {inside} recorded times" in report.explanation


# ----------------------------------------------------------------------------------------
# regime_change: reason, heading and steps_to_decide


@pytest.mark.parametrize(
    ("gamma1", "gamma2", "window_regime", "late_regime"),
    [
        (0.5, -1.5, "sub_logarithmic", "converging"),  # a slow divergence that starts to fall
        (2.0, -0.6, "faster", "sub_logarithmic"),  # a fast rise settling into a slow one
        (-4.0, 0.2, "converging", "logarithmic"),  # fell, then a rate that holds
        (-6.0, 0.5, "converging", "faster"),  # fell, then rose
    ],
)
def test_two_regimes_in_the_window_are_a_regime_change(
    gamma1: float, gamma2: float, window_regime: str, late_regime: str
) -> None:
    h = build(LONG, 1.0, split_at_late_half(LONG, 1.0, gamma1, gamma2))
    gamma, late = exponents(h, 1.0)
    # the design: the whole late half is the second piece, and the regimes disagree
    assert late == pytest.approx(gamma2, abs=1e-9)
    assert (regime(gamma), regime(late)) == (window_regime, late_regime)
    report = judge(h)
    assert_regime_change(report, h, 1.0)
    assert report.rate_exponent == pytest.approx(gamma, abs=1e-9)
    # t_m ≈ 10^6.5 here: T = t_m² would be 13 decades past τ, so T = 10³·t_m
    assert report.undetermined is not None
    t_m = float(late_half(window_times(LONG, 1.0))[0])
    assert report.undetermined.steps_to_decide == math.ceil(1000 * t_m - 1e8)
    assert "would put the whole window after the change" in report.explanation


def test_a_log_rate_that_turns_into_a_rising_power_is_a_transient() -> None:
    # w = a + b·ln t for t < t_c, then w = a + b·ln t_c + (b/p)·((t/t_c)^p − 1): the rate
    # t·ẇ = b, then b·(t/t_c)^p. With a = 1e4, ‖w‖ hardly grows (its power fit is below
    # MIN_POWER = 0.05), so the rising rate is not (yet) a power law: a transient, rising
    a, b, p = 1e4, 0.5, 0.5
    t = LONG
    t_c = 10**5.5
    w = np.where(t < t_c, a + b * np.log(t), a + b * math.log(t_c) + (b / p) * ((t / t_c) ** p - 1))
    v = np.where(t < t_c, b, b * (t / t_c) ** p)
    times = np.concatenate([[0.0], t])
    h = Trajectory(
        t=times,
        error=1.0 / (1.0 + times),
        weights=np.concatenate([[a], w])[:, None],
        t_delta=np.concatenate([[0.0], v])[:, None],
    )
    window = np.isin(t, window_times(t, 1.0))
    power = least_squares_slope(np.log(t[window]), np.log(w[window]))
    assert power < 0.05
    gamma, late = exponents(h, 1.0)
    assert regime(gamma) == regime(late) == "faster"
    report = judge(h)
    assert_regime_change(report, h, 1.0)
    assert report.undetermined is not None and report.undetermined.heading is Heading.RISING
    assert "not reached their asymptotic regime" in report.explanation


def test_a_fast_fall_is_converging_without_the_lemma_and_undetermined_with_it() -> None:
    # v = 0.3·L^(−2): γ = −2 over the window and its last half, a finite total motion ∫ v dL
    h = build(LONG, 1.0, Rate(-2.0, -2.0, 1.0))
    gamma, late = exponents(h, 1.0)
    assert gamma == pytest.approx(-2.0, abs=1e-9) and late == pytest.approx(-2.0, abs=1e-9)
    assert judge(h).verdict is Verdict.CONVERGING
    at_a_minimum = Stationarity(-20.0, critical=True, frozen=False, lemma_applies=False)
    assert judge(h, stationarity=at_a_minimum).verdict is Verdict.CONVERGING
    # Sontag's Lemma: E has no critical point, so no limit: a transient, heading down
    for lemma in (LEMMA, Stationarity(None, critical=False, frozen=True, lemma_applies=True)):
        report = judge(h, stationarity=lemma)
        assert_regime_change(report, h, 1.0)
        assert report.undetermined is not None
        assert report.undetermined.heading is Heading.FALLING
        assert "Sontag's Lemma rules out a finite limit" in report.explanation


def with_records(t_end: float, extra: list[float], drop: tuple[float, float]) -> Array:
    """Rounded log-spaced records up to t_end, plus `extra`, none in [drop[0], drop[1])."""
    base = np.unique(np.round(np.geomspace(3.0, t_end, 80)))
    t = np.unique(np.concatenate([base, extra, [t_end]]))
    return t[(t < drop[0]) | (t >= drop[1])]


@pytest.mark.parametrize(
    ("t_end", "tau", "extra", "drop", "t_m", "branch"),
    [
        # window [99.9, 9980] from t_0 = 100: midpoint √(100·9980) = 998.999…, t_m = 999,
        # T = 999² = 998001 ≤ 10⁶: the first branch
        (9980.0, 1.0, [100.0, 999.0], (990.0, 999.0), 999.0, "square"),
        # window [100, 1e4]: midpoint 1000, t_m = 1001, T = 1002001 > 10⁶: 10³·t_m instead
        (1e4, 1.0, [100.0, 1001.0], (990.0, 1001.0), 1001.0, "thousand"),
        # τ = 1/4: window [24.97…, 2495] from t_0 = 25, t_m = 249.75 (exact in binary),
        # T = 249.75²·4 = 249500.25 ≤ 10⁶/4 = 250000: ⌈249500.25 − 2495⌉ = 247006
        (2495.0, 0.25, [25.0, 249.75], (240.0, 249.75), 249.75, "square"),
    ],
)
def test_steps_to_decide_on_both_sides_of_six_decades(
    t_end: float,
    tau: float,
    extra: list[float],
    drop: tuple[float, float],
    t_m: float,
    branch: str,
) -> None:
    t = with_records(t_end, extra, drop)
    assert float(late_half(window_times(t, tau))[0]) == t_m
    h = build(t, tau, Rate(-2.0, -2.0, 1.0))
    report = judge(h, tau, stationarity=LEMMA)
    assert_regime_change(report, h, tau)
    want = t_m * t_m / tau if branch == "square" else 1000.0 * t_m
    assert (t_m * t_m / tau <= 1e6 * tau) is (branch == "square")
    assert report.undetermined is not None
    assert report.undetermined.steps_to_decide == math.ceil(want - t_end)


def test_the_ten_times_floor_of_steps_to_decide() -> None:
    # Unreachable from judge_divergence (t_m ≥ √(t_0·t_end) ≥ t_end·10^(−1.5) makes both
    # T = t_m²/τ and 10³·t_m exceed t_end), so checked on the rule itself: t_m = 10, τ = 1,
    # t_end = 500: T = 100 ≤ t_end, so T = 10·t_end and 4500 more steps
    fit = dv._RateFit(
        gamma=0.0,
        goodness=1.0,
        late_gamma=0.0,
        late_start=10.0,
        late_spread=1.0,
        late_still=False,
        change=None,
        ratio=1.0,
    )
    assert dv._steps_to_decide(fit, 500.0, 1.0) == 4500


# ----------------------------------------------------------------------------------------
# stalled: weights that stopped, where E has no critical point


def stopped(t: Array) -> Trajectory:
    """Weights that never moved: w = (3, −2), t_delta = 0."""
    times = np.concatenate([[0.0], t])
    k = len(times)
    return Trajectory(
        t=times,
        error=np.full(k, 0.5),
        weights=np.tile([3.0, -2.0], (k, 1)),
        t_delta=np.zeros((k, 2)),
    )


def stopped_late(t: Array, t_stop: float) -> Trajectory:
    """w = 1 + 0.2·ln t up to t_stop, then constant (t_delta = 0 after it)."""
    times = np.concatenate([[0.0], t])
    w = 1.0 + 0.2 * np.log(np.clip(times, 1.0, t_stop))
    v = np.where((times > 0) & (times < t_stop), 0.2, 0.0)
    return Trajectory(t=times, error=1.0 / (1.0 + times), weights=w[:, None], t_delta=v[:, None])


STALLS = [
    Stationarity(-200.0, critical=False, frozen=True, lemma_applies=False),
    Stationarity(-40.0, critical=False, frozen=False, lemma_applies=True),
    Stationarity(-500.0, critical=False, frozen=True, lemma_applies=True),
    Stationarity(None, critical=False, frozen=True, lemma_applies=True),
]
NOT_STALLS = [
    None,
    Stationarity(-200.0, critical=False, frozen=False, lemma_applies=False),  # can still move
    Stationarity(-17.0, critical=True, frozen=True, lemma_applies=False),  # a minimum
    Stationarity(None, critical=None, frozen=True, lemma_applies=False),  # cannot tell
    Stationarity(None, critical=None, frozen=False, lemma_applies=True),
]


@pytest.mark.parametrize("history", ["stopped", "stopped_late"])
@pytest.mark.parametrize("stationarity", STALLS)
def test_stopped_weights_stall_where_e_has_no_critical_point(
    history: str, stationarity: Stationarity
) -> None:
    t = np.geomspace(1.0, 1e6, 150)
    h = stopped(t) if history == "stopped" else stopped_late(t, 2e3)  # window [1e3, 1e6]
    report = judge(h, stationarity=stationarity)
    assert report.verdict is Verdict.STALLED
    assert report.stall is stationarity
    assert report.undetermined is None
    assert "stalled" in report.explanation
    if stationarity.lemma_applies:
        assert "Sontag's Lemma applies" in report.explanation
    if stationarity.gradient_log10 is None:
        assert "too small for float64 even in log space" in report.explanation


@pytest.mark.parametrize("history", ["stopped", "stopped_late"])
@pytest.mark.parametrize("stationarity", NOT_STALLS)
def test_stopped_weights_converge_at_a_critical_point_or_when_it_cannot_be_told(
    history: str, stationarity: Stationarity | None
) -> None:
    t = np.geomspace(1.0, 1e6, 150)
    h = stopped(t) if history == "stopped" else stopped_late(t, 2e3)
    report = judge(h, stationarity=stationarity)
    assert report.verdict is Verdict.CONVERGING
    assert report.stall is None and report.undetermined is None


def test_moving_weights_never_stall() -> None:
    # w = 1 + 0.3·L (γ = 0): logarithmic whatever the gradient at the end says
    h = build(LONG, 1.0, Rate(0.0, 0.0, 1.0))
    for stationarity in STALLS:
        report = judge(h, stationarity=stationarity)
        assert report.verdict is Verdict.LOGARITHMIC and report.stall is None


@pytest.mark.parametrize(
    ("targets", "lemma"),
    [([1, -1], False), ([1, 1], True)],  # B = (1, −2)ᵀ: no half-space; B = (1, 2)ᵀ: ν = 1
)
def test_a_saturated_start_stalls_in_a_real_run(targets: list[int], lemma: bool) -> None:
    # tanh from x = −300: margins (−300, ±600), ∇E ≈ −2·r(−300)·1 with r(−300) ≈ 8e^(−600),
    # about 1.6e-260: gd with η = 0.1 moves x by 1.6e-261, far below spacing(300)/2
    problem = build_problem([[1.0], [2.0]], targets, get_activation("tanh"))
    run = run_descent(
        problem,
        method=Method.GD,
        learning_rate=0.1,
        stop=StopRules(steps=100_000),
        record_points=100,
        initial=[-300.0],
    )
    assert run.weights[0] == -300.0
    facts = separability_of(problem.B)
    half_space = facts.half_space_weights if facts.lemma_applies else None
    assert (half_space is not None) is lemma
    stationarity = assess_stationarity(problem, run.weights, 0.1, half_space)
    report = judge_divergence(
        run.trajectory,
        last_step=run.last_step,
        stopped_by=run.stopped_by,
        time_unit=time_unit(problem, 0.1, Method.GD),
        stationarity=stationarity,
    )
    assert report.verdict is Verdict.STALLED
    assert report.stall is not None and report.stall.lemma_applies is lemma
    with mp.workdps(50):
        want = float(mp.log10(abs(mp_slope("tanh", problem.B[:, 0].tolist(), -300.0))))
    assert report.stall.gradient_log10 == pytest.approx(want, abs=1e-10)
    # without the exact gradient the same run is called converged
    plain = judge_divergence(
        run.trajectory,
        last_step=run.last_step,
        stopped_by=run.stopped_by,
        time_unit=time_unit(problem, 0.1, Method.GD),
    )
    assert plain.verdict is Verdict.CONVERGING
