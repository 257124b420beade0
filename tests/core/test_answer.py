"""The size of a /train answer, counted before the run, and the per-layer norms of "norms".

The counts are derived by hand here from the answer's schema (which arrays hold a number per
weight, per layer, per recorded time); the norms are checked against numpy's own norm and
against exact values.
"""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import pytest

from service.core.answer import AnswerShape
from service.core.budget import Budget
from service.core.engine.run import StopRules
from service.core.errors import LimitExceeded
from service.core.model.norms import layer_norms
from service.core.training import TrainingSpec, check
from service.vocabulary import RecordWeights

ALL, NORMS = RecordWeights.ALL, RecordWeights.NORMS

NET_2_2_1 = AnswerShape(weights=9, layers=2, net=True, rows=11, times=2, inputs=3)
"""The paper's 2-2-1 net with biases (9 weights: 6 in layer 1, 3 in layer 2) on 2 inputs plus
the bias column (m_in = 3), 10 points (11 recorded times), the log rule's 2 default times."""


def test_a_2_2_1_nets_answer_counted_by_hand() -> None:
    # every weight: final weights 9, log_rate 9, extrapolation direction 9 + 2 times × 9
    # weights + t and E at each time (4), layers 6 + 3 (matrices and biases) + 9 (t·Δw) + 9
    # (log_rate), theory ŵ, ν, separating weights, predicted rate 4 × 3; each recorded time
    # t, E, 9 weights, 9 of t·Δw
    fixed_all = 9 + 9 + (9 + 2 * 9 + 4) + (9 + 9 + 9) + 4 * 3
    assert NET_2_2_1.numbers(ALL) == fixed_all + 11 * (2 + 9 + 9) == 308
    # norms: 2 numbers where there were 9 (but the final weights); each layer of ``layers``
    # has its matrix, biases, t·Δw and log_rate as one norm each
    fixed_norms = 9 + 2 + (2 + 2 * 2 + 4) + 2 * 4 + 4 * 3
    assert NET_2_2_1.numbers(NORMS) == fixed_norms + 11 * (2 + 2 + 2) == 107
    assert NET_2_2_1.recorded == 11 * 9


def test_the_perceptron_has_no_layers_array_and_one_norm_per_array() -> None:
    shape = AnswerShape(weights=5, layers=1, net=False, rows=3, times=20, inputs=5)
    # weights 5, log_rate 5, extrapolation 5 + 20·5 + 2·20, theory 4·5; 3 rows of 2 + 10
    assert shape.numbers(ALL) == 5 + 5 + (5 + 100 + 40) + 20 + 3 * 12 == 211
    # norms: the final weights stay 5; every other per-weight array is 1 number
    assert shape.numbers(NORMS) == 5 + 1 + (1 + 20 + 40) + 20 + 3 * 4 == 99


@pytest.mark.parametrize(("limit", "passes"), [(308, True), (307, False)])
def test_the_answer_limit_admits_its_own_count_and_no_more(limit: int, passes: bool) -> None:
    budget = Budget(max_answer_numbers=limit)
    if passes:
        budget.check_answer(NET_2_2_1, ALL, weights_field="network.hidden")
        return
    with pytest.raises(LimitExceeded) as info:
        budget.check_answer(NET_2_2_1, ALL, weights_field="network.hidden")
    assert info.value.field == "record.points"
    # (307 − 88) // 20 = 10 recorded times fit: t = 0 and 9 points; norms fit as they are
    for words in ("308 numbers", "limit of 307", "LEARNDYN_MAX_ANSWER_NUMBERS", "at most 9"):
        assert words in info.value.message
    assert 'record.weights "norms"' in info.value.message and "107 numbers" in info.value.message


def test_norms_with_fewer_points_are_suggested_when_norms_alone_are_not_enough() -> None:
    big = AnswerShape(weights=1000, layers=3, net=True, rows=1001, times=2, inputs=10)
    # all: 1000·(1 + 1 + 3 + 3) + 4 + 40 = 8044 fixed, over 7000 already: no point fits
    # norms: 1000 + 3 + (9 + 4) + 12 + 40 = 1068 fixed, 8 per row: (7000 − 1068)//8 = 741
    budget = Budget(max_answer_numbers=7000)
    with pytest.raises(LimitExceeded) as info:
        budget.check_answer(big, ALL, weights_field="network.hidden")
    assert info.value.field == "record.points"
    assert 'record.weights "norms" with at most 740 points' in info.value.message
    assert "fewer record.points" not in info.value.message


def test_when_the_final_weights_alone_are_over_the_field_is_the_weights() -> None:
    huge = AnswerShape(weights=7000, layers=2, net=True, rows=2, times=2, inputs=1)
    with pytest.raises(LimitExceeded) as info:
        Budget(max_answer_numbers=7000).check_answer(huge, NORMS, weights_field="network.hidden")
    assert info.value.field == "network.hidden"
    assert "use fewer weights" in info.value.message


@pytest.mark.parametrize(("limit", "passes"), [(99, True), (98, False)])
def test_the_recorded_trajectory_is_bounded_whatever_the_answer(limit: int, passes: bool) -> None:
    budget = Budget(max_recorded=limit)  # 11 times × 9 weights = 99
    if passes:
        budget.check_answer(NET_2_2_1, NORMS, weights_field="network.hidden")
        return
    with pytest.raises(LimitExceeded) as info:
        budget.check_answer(NET_2_2_1, NORMS, weights_field="network.hidden")
    assert info.value.field == "record.points"
    for words in ("11·9 = 99", "limit of 98", "LEARNDYN_MAX_RECORDED", "at most 9 points"):
        assert words in info.value.message  # 98 // 9 = 10 times: t = 0 and 9 points


AMPLIFICATION = TrainingSpec(
    inputs=[[1.0]],
    targets=[1],
    hidden=(256,) * 8,
    stop=StopRules(steps=15),
    record_points=50,
)
"""The 133-byte request of issue 21 (an answer of 319 MB)."""


def test_the_amplification_request_is_refused_by_the_checks_a_study_runs_too() -> None:
    with pytest.raises(LimitExceeded) as info:
        check(AMPLIFICATION, Budget())
    assert info.value.field == "record.points"
    # 8 hidden layers of 256 and one input: 256 + 7·256² + 256 = 459,264 weights, 16 times
    assert "16 recorded times" in info.value.message
    check(replace(AMPLIFICATION, record_weights=NORMS), Budget())  # 459,664 numbers: fits


# -- layer norms -------------------------------------------------------------------------------


def test_layer_norms_are_numpys_norms_of_each_slice() -> None:
    rng = np.random.default_rng(7)
    values = rng.standard_normal((5, 9))
    starts = (0, 6, 9)
    got = layer_norms(values, starts)
    want = np.stack(
        [np.linalg.norm(values[:, 0:6], axis=1), np.linalg.norm(values[:, 6:9], axis=1)]
    )
    # both sum squares of order-1 numbers: a few ulps apart (the scaled sum rounds differently)
    np.testing.assert_allclose(got, want.T, rtol=1e-14, atol=0)
    np.testing.assert_allclose(layer_norms(values[0], starts), want[:, 0], rtol=1e-14, atol=0)


def test_layer_norms_do_not_overflow_and_keep_nan_rows() -> None:
    values = np.array([[3e200, 4e200, 0.0], [np.nan, 1.0, 2.0]])
    got = layer_norms(values, (0, 2, 3))
    assert got[0, 0] == pytest.approx(5e200, rel=1e-15)  # 3-4-5, scaled: no overflow
    assert got[0, 1] == 0.0
    assert math.isnan(got[1, 0]) and got[1, 1] == 2.0
