"""Every /train answer is bounded (issue 21): counted before the run, 422 naming record.points
over LEARNDYN_MAX_ANSWER_NUMBERS, and ``record.weights: "norms"`` for large nets.

The norms are checked against numpy's norms of the slices of an "all" answer of the same run
(runs are deterministic), the counts against the numbers of real answers.
"""

from __future__ import annotations

import json
import time
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from fastapi.testclient import TestClient

from service import limits
from service.app import create_app
from service.figures import canvas
from service.settings import Settings
from tests.conftest import strict_json, wait_until_ready
from tests.problems import assert_problem

AMPLIFICATION = {
    "dataset": {"inputs": [[1.0]], "targets": [1]},
    "network": {"hidden": [256, 256, 256, 256, 256, 256, 256, 256]},
    "steps": 15,
    "record": {"points": 50},
}
"""Issue 21's 133-byte request: it answered 319 MB (459,264 weights at 16 recorded times)."""

SCALAR_30 = {
    "dataset": {"inputs": [[1.0]], "targets": [1]},
    "steps": 100_000,
    "record": {"points": 30},
}
"""The README's example: one weight, 31 recorded times, a logarithmic verdict (so log_rate, the
extrapolation and the theory's predicted rate are all there)."""

SCALAR_30_NUMBERS = 31 * 4 + 1 + 1 + (1 + 2 * 3) + 4
"""Its answer's numbers, by hand: 31 recorded times × (t, E, x, t·Δx); the final weight; its
log_rate; the extrapolation's direction and, at its 2 times, t, E and x; the theory's ŵ,
separating weights, half-space ν and predicted rate (one each)."""

NET = {
    "dataset": {"inputs": [[1.0], [2.0]], "targets": [1, 1], "bias": True},
    "network": {"hidden": [2, 2]},
    "steps": 100_000,
    "record": {"points": 60},
}
"""A 1-2-2-1 net with biases (13 weights: 4, 6 and 3 by layer) whose verdict is logarithmic,
so every per-weight array of the answer is present."""

PERCEPTRON = {
    "dataset": {"inputs": [[1.0, 0.5], [0.5, 1.0]], "targets": [1, 1], "bias": True},
    "steps": 100_000,
    "record": {"points": 30},
}
"""Three weights (the bias last) in one layer, logarithmic."""


def with_norms(body: dict[str, Any]) -> dict[str, Any]:
    return {**body, "record": {**body["record"], "weights": "norms"}}


def answer_numbers(answer: dict[str, Any]) -> int:
    """The numbers of an answer's arrays that grow with the weights or the recorded times (the
    theory's per-example multipliers and support vectors excepted), read off the JSON."""

    def size(value: Any) -> int:
        if value is None:
            return 0
        if isinstance(value, list):
            return sum(size(v) for v in value)
        return 1

    history, divergence = answer["history"], answer["divergence"]
    count = size(answer["weights"]) + size(divergence["log_rate"])
    count += sum(size(history[k]) for k in ("t", "error", "weights", "t_delta"))
    extrapolation = answer["extrapolation"] or {}
    count += sum(size(extrapolation.get(k)) for k in ("direction", "t", "weights", "error"))
    for layer in answer["layers"] or []:
        count += sum(size(layer[k]) for k in ("weights", "bias", "t_delta", "log_rate"))
    theory = answer["theory"] or {}
    facts = theory.get("separability") or {}
    count += size(theory.get("predicted_log_rate"))
    count += size(facts.get("separating_weights")) + size(facts.get("half_space_weights"))
    count += size((facts.get("max_margin") or {}).get("weights"))
    return count


@pytest.fixture(scope="module")
def bounded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    """An app whose answer limit is exactly the scalar example's count."""
    settings = Settings(
        data_dir=str(tmp_path_factory.mktemp("data")), max_answer_numbers=SCALAR_30_NUMBERS
    )
    with TestClient(create_app(settings)) as c:
        wait_until_ready(c)
        yield c


# -- the acceptance of issue 21 --------------------------------------------------------------


def test_the_amplification_request_is_refused_before_it_runs(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_run(*args: object, **kwargs: object) -> None:
        raise AssertionError("the request ran")

    monkeypatch.setattr("service.core.training.run_descent", no_run)
    assert len(json.dumps(AMPLIFICATION, separators=(",", ":"))) == 133
    times = []
    for _ in range(3):
        started = time.perf_counter()
        r = client.post("/train", json=AMPLIFICATION)
        times.append(time.perf_counter() - started)
        assert_problem(
            r,
            kind="limit-exceeded",
            field="record.points",
            words=("LEARNDYN_MAX_ANSWER_NUMBERS", "16 recorded times", 'record.weights "norms"'),
        )
    # measured 2-3 ms in-process; the check is arithmetic on the request's sizes
    assert max(times) < 0.1, times


def test_with_norms_the_amplification_request_answers_under_the_limit(client: TestClient) -> None:
    r = client.post("/train", json=with_norms(AMPLIFICATION))
    assert r.status_code == 200, r.text[:500]
    assert len(r.content) < 16 * 10**6  # measured 9.3 MB: the final weights, 20 bytes each
    answer = strict_json(r.text)
    assert answer_numbers(answer) <= limits.DEFAULT_MAX_ANSWER_NUMBERS
    assert len(answer["weights"]) == 256 + 7 * 256 * 256 + 256  # always every weight
    assert len(answer["history"]["t"]) == 16
    assert {len(row) for row in answer["history"]["weights"]} == {9}  # one norm per layer


# -- the count at its boundary ---------------------------------------------------------------


def test_the_count_is_that_of_a_real_answer(client: TestClient) -> None:
    answer = client.post("/train", json=SCALAR_30).json()
    assert answer["divergence"]["verdict"] == "logarithmic"  # every array is present
    assert answer_numbers(answer) == SCALAR_30_NUMBERS == 137


def test_the_limit_admits_its_count_and_refuses_one_time_more(bounded: TestClient) -> None:
    assert bounded.post("/train", json=SCALAR_30).status_code == 200  # exactly at the limit
    over = {**SCALAR_30, "record": {"points": 31}}  # 4 numbers more
    assert_problem(
        bounded.post("/train", json=over),
        kind="limit-exceeded",
        field="record.points",
        words=("141 numbers", f"limit of {SCALAR_30_NUMBERS}", "at most 30"),
    )


def test_the_recorded_trajectory_is_bounded_whatever_the_answer(
    tmp_path: Path,
) -> None:
    # NET records 61 times × 13 weights = 793 numbers of each of x and t·Δx, norms or not
    settings = Settings(data_dir=str(tmp_path), max_recorded=61 * 13)
    with TestClient(create_app(settings)) as c:
        wait_until_ready(c)
        assert c.post("/train", json=with_norms(NET)).status_code == 200
        more = with_norms({**NET, "record": {"points": 61}})
        assert_problem(
            c.post("/train", json=more),
            kind="limit-exceeded",
            field="record.points",
            words=("62·13 = 806", "LEARNDYN_MAX_RECORDED", "at most 60 points"),
        )


# -- what the norms are ----------------------------------------------------------------------


def layer_norm(values: list[float], start: int, stop: int) -> float:
    return float(np.linalg.norm(np.asarray(values[start:stop])))


def test_a_nets_norms_are_the_norms_of_its_layers_slices(client: TestClient) -> None:
    full = client.post("/train", json=NET).json()
    norms = client.post("/train", json=with_norms(NET)).json()
    spans = [(layer["start"], layer["stop"]) for layer in full["layers"]]
    assert spans == [(0, 4), (4, 10), (10, 13)]
    # the same run: the same final weights and verdicts
    assert norms["weights"] == full["weights"]
    assert norms["divergence"]["verdict"] == full["divergence"]["verdict"] == "logarithmic"
    assert [x["verdict"] for x in norms["layers"]] == [x["verdict"] for x in full["layers"]]
    # numpy's norm and the service's scaled one differ by a few ulps: rtol 1e-14 (~45 ulps)
    close = {"rtol": 1e-14, "atol": 0.0}
    for key in ("weights", "t_delta"):
        want = [
            None if row is None else [layer_norm(row, *span) for span in spans]
            for row in full["history"][key]
        ]
        got = norms["history"][key]
        assert [row is None for row in got] == [row is None for row in want]
        for g, w in zip(got, want, strict=True):
            if w is not None:
                np.testing.assert_allclose(g, w, **close)
    rate = full["divergence"]["log_rate"]
    np.testing.assert_allclose(
        norms["divergence"]["log_rate"], [layer_norm(rate, *span) for span in spans], **close
    )
    predicted, predicted_norms = full["extrapolation"], norms["extrapolation"]
    np.testing.assert_allclose(
        predicted_norms["direction"],
        [layer_norm(predicted["direction"], *span) for span in spans],
        **close,
    )
    for row, row_norms in zip(predicted["weights"], predicted_norms["weights"], strict=True):
        np.testing.assert_allclose(row_norms, [layer_norm(row, *span) for span in spans], **close)
    assert predicted_norms["t"] == predicted["t"] and predicted_norms["error"] == predicted["error"]
    for layer, reduced in zip(full["layers"], norms["layers"], strict=True):
        np.testing.assert_allclose(
            reduced["weights"], [[np.linalg.norm(layer["weights"])]], **close
        )
        np.testing.assert_allclose(reduced["bias"], [np.linalg.norm(layer["bias"])], **close)
        np.testing.assert_allclose(reduced["t_delta"], [layer["t_delta_norm"]], **close)
        np.testing.assert_allclose(reduced["t_delta"], [np.linalg.norm(layer["t_delta"])], **close)
        np.testing.assert_allclose(
            reduced["log_rate"], [np.linalg.norm(layer["log_rate"])], **close
        )
    # ‖x⁽ℓ⁾‖ at the last recorded time is the final weights' own
    final = norms["history"]["weights"][-1]
    np.testing.assert_allclose(final, [layer_norm(full["weights"], *s) for s in spans], **close)


def test_the_perceptron_is_one_layer_with_its_bias(client: TestClient) -> None:
    full = client.post("/train", json=PERCEPTRON).json()
    norms = client.post("/train", json=with_norms(PERCEPTRON)).json()
    assert norms["layers"] is None and norms["weights"] == full["weights"]
    assert norms["history"]["weights"] == [
        [pytest.approx(float(np.linalg.norm(row)), rel=1e-14)] for row in full["history"]["weights"]
    ]
    assert norms["divergence"]["log_rate"] == [
        pytest.approx(float(np.linalg.norm(full["divergence"]["log_rate"])), rel=1e-14)
    ]
    assert norms["extrapolation"]["direction"] == [pytest.approx(1.0, rel=1e-14)]  # b/‖b‖
    assert norms["theory"] == full["theory"]  # the data's facts, not the run's: unchanged


def test_the_figure_of_a_norms_run_draws_one_line_per_layer(client: TestClient) -> None:
    from service.figures.training import draw_train
    from service.schemas.train import TRAIN_REQUEST, TrainResponse

    body = with_norms(NET)
    answer = TrainResponse.model_validate(client.post("/train", json=body).json())
    with canvas._style():
        figure = draw_train(TRAIN_REQUEST.validate_python(body), answer)
        weights_axes, t_delta_axes = figure.axes[1], figure.axes[2]
        lines = [x for x in weights_axes.get_lines() if (x.get_gid() or "").startswith("weights-")]
        assert [x.get_gid() for x in lines] == ["weights-0", "weights-1", "weights-2"]
        assert [x.get_label() for x in lines] == ["‖w₁…w₄‖₂", "‖w₅…w₁₀‖₂", "‖w₁₁…w₁₃‖₂"]
        legend = [text.get_text() for text in figure.legends[0].get_texts()]
        assert legend == [
            "layer 1 (inputs→hidden 1): w₁…w₄",
            "‖w₁…w₄‖₂",
            "layer 2 (hidden 1→hidden 2): w₅…w₁₀",
            "‖w₅…w₁₀‖₂",
            "layer 3 (hidden 2→output): w₁₁…w₁₃",
            "‖w₁₁…w₁₃‖₂",
        ]
        history = np.asarray(answer.history.weights)
        t = np.asarray(answer.history.t)
        for k, line in enumerate(lines):  # each line is its layer's column, at t > 0
            drawn = dict(zip(line.get_xdata(), line.get_ydata(), strict=True))
            assert all(drawn[tk] == history[i, k] for i, tk in enumerate(t) if tk in drawn)
            assert len(drawn) > 10
        assert weights_axes.get_ylabel() == "‖w_layer(t)‖₂"
        assert t_delta_axes.get_ylabel() == "‖t·Δw_layer‖₂"
        assert "one layer's norm" in " ".join(figure.get_supxlabel().split())
    r = client.post("/figures/train", json=body)
    assert r.status_code == 200
    ids = {e.attrib.get("id") for e in ET.fromstring(r.content).iter()}
    assert {"weights-0", "weights-1", "weights-2"} <= ids and "weights-3" not in ids
