"""The comparison of a relaxation study (issue 20): Wilson intervals against values worked out
by hand, the success threshold, and when a method wins."""

from __future__ import annotations

import pytest

from service.core.analysis.relaxation import (
    RelaxationRun,
    compare,
    success_threshold,
    wilson,
)


def test_wilson_intervals_by_hand() -> None:
    # 8 of 10, z = 1.959964: centre (0.8 + 0.192073)/1.384146 = 0.716743,
    # half 1.959964·√(0.016 + 0.009604)/1.384146 = 0.226579: [0.4902, 0.9433], as tabulated
    low, high = wilson(8, 10)
    assert low == pytest.approx(0.716743 - 0.226579, abs=1e-5)
    assert high == pytest.approx(0.716743 + 0.226579, abs=1e-5)
    # 0 of 16: [0, z²/(n + z²)] = [0, 3.841459/19.841459]
    assert wilson(0, 16) == pytest.approx((0.0, 3.841459 / 19.841459), abs=1e-6)
    assert wilson(16, 16)[1] == 1.0 and wilson(0, 0) == (0.0, 1.0)


def test_a_run_succeeds_closer_to_the_global_minimum_than_to_the_next() -> None:
    best, threshold = success_threshold([4.0, 1.6449232446759916, 4.0])
    assert best == 1.6449232446759916 and threshold == pytest.approx(2.8224616223)
    assert success_threshold([2.0])[1] == pytest.approx(2.0 + 0.05 * 3.0)
    assert success_threshold([]) == (None, None)


def runs(temperature: float, errors: list[float], seconds: float) -> list[RelaxationRun]:
    return [
        RelaxationRun(temperature, e, "converging", [0.0, 10.0, 100.0], [4.0, e + 1.0, e],
                      seconds)
        for e in errors
    ]  # fmt: skip


def test_the_winner_has_the_highest_rate_beyond_the_others_intervals_whatever_the_timing() -> None:
    minima = [1.0, 3.0]  # success: E ≤ 2
    gd = runs(0.0, [1.0] * 5 + [3.0] * 35, 0.01)  # 5 of 40
    hot = runs(1.0, [1.1] * 36 + [3.0] * 4, 0.012)  # 36 of 40
    found = compare(gd + hot, minima)
    assert [m.method for m in found.methods] == ["gd", "anneal T0=1"]
    assert [m.successes for m in found.methods] == [5, 36]
    assert found.methods[1].mean_steps_to_global == 100.0  # E within 2 first at t = 100
    assert found.methods[0].error_quantiles[1] == 3.0
    assert found.winner == "anneal T0=1"
    # the same runs timed otherwise: the same answer
    slow = compare(gd + runs(1.0, [1.1] * 36 + [3.0] * 4, 5.0), minima)
    assert slow.winner == "anneal T0=1" and slow.methods[1].successes == 36
    # the same rates at a tenth of the starts: the intervals overlap, nobody wins
    close = compare(runs(0.0, [1.0] + [3.0] * 3, 0.01) + runs(1.0, [1.1] * 3 + [3.0], 0.01), minima)
    assert close.winner is None and "overlap" in close.explanation
    # gd above every temperature wins; a tie between two temperatures does not hide a winner
    cold = compare(runs(0.0, [1.0] * 36 + [3.0] * 4, 0.01) + gd_like(1.0) + gd_like(2.0), minima)
    assert cold.winner == "gd"
    tie = compare(gd + hot + runs(2.0, [1.1] * 36 + [3.0] * 4, 0.01), minima)
    assert tie.winner == "anneal T0=1"


def gd_like(temperature: float) -> list[RelaxationRun]:
    return runs(temperature, [1.0] * 5 + [3.0] * 35, 0.01)


def test_the_global_error_is_the_lowest_minimum_or_final_error_unless_given() -> None:
    # gd found only the minimum at +∞ (E = 4); an annealing run ended at 1.7: E* = 1.7 and
    # E₂ = 4, so the threshold lies between them
    gd = runs(0.0, [4.0, 4.0], 0.01)
    hot = runs(1.0, [1.7, 4.0], 0.01)
    found = compare(gd + hot, [4.0])
    assert found.global_error == 1.7 and found.threshold == pytest.approx(2.85)
    assert [m.successes for m in found.methods] == [0, 1]
    # a given E* stands, whatever the runs ended at
    given = compare(gd + hot, [4.0], lowest=1.6449)
    assert given.global_error == 1.6449
    assert given.threshold == pytest.approx(1.6449 + (4.0 - 1.6449) / 2)
    assert compare([], []).threshold is None
