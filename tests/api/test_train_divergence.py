"""POST /train: the divergence verdict, the log rule's extrapolation and method 'flow'."""

from __future__ import annotations

import math
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.conftest import strict_json

SCALAR = {"dataset": {"inputs": [[1.0]], "targets": [1]}}
XOR = {
    "dataset": {"inputs": [[0, 0], [0, 1], [1, 0], [1, 1]], "targets": [-1, 1, 1, -1], "bias": True}
}


def post(client: TestClient, body: Any) -> tuple[int, Any]:
    r = client.post("/train", json=body)
    return r.status_code, strict_json(r.text)


def test_step_tolerance_is_fooled_by_logarithmic_divergence(client: TestClient) -> None:
    body = {**SCALAR, "learning_rate": 0.1, "steps": 10**6, "stop": {"step_tolerance": 1e-5}}
    status, answer = post(client, body)
    assert status == 200
    assert answer["stopped_by"] == "step_tolerance"
    assert answer["last_step"] < 1e-5
    # the step is about b/t with b = 1/4, so the rule fires near t = 25 000
    assert answer["steps"] == pytest.approx(0.25 / 1e-5, rel=0.05)
    divergence = answer["divergence"]
    assert divergence["verdict"] == "logarithmic"
    assert divergence["apparent_convergence"] is True
    assert divergence["log_rate"][0] == pytest.approx(0.25, rel=0.05)
    # the log rule, by default at 10 and 1000 times the last t
    extrapolation = answer["extrapolation"]
    t_end = answer["t_final"]
    assert t_end == answer["steps"]
    assert extrapolation["t"] == [10 * t_end, 1000 * t_end]
    assert extrapolation["direction"] == [1.0]
    b = divergence["log_rate"][0]
    x_end = answer["weights"][0]
    for T, w, e in zip(
        extrapolation["t"], extrapolation["weights"], extrapolation["error"], strict=True
    ):
        assert w[0] == pytest.approx(x_end + b * math.log(T / t_end), rel=1e-12)
        assert e == pytest.approx((1 - math.tanh(w[0])) ** 2, rel=1e-9)


def test_flow_to_a_trillion_in_one_request(client: TestClient) -> None:
    body = {
        **SCALAR,
        "method": "flow",
        "learning_rate": 1.0,
        "t_max": 1e12,
        "extrapolate_to": [1e15],
    }
    status, answer = post(client, body)
    assert status == 200
    assert answer["t_final"] == 1e12 and answer["stopped_by"] == "steps"
    assert answer["history"]["t"][-1] == 1e12
    divergence = answer["divergence"]
    assert divergence["verdict"] == "logarithmic"
    assert divergence["log_rate"][0] == pytest.approx(0.25, rel=0.02)
    assert divergence["apparent_convergence"] is True
    assert divergence["goodness"] > 0.999
    assert divergence["window"][1] == 1e12
    # x ~ (1/4) log(64 t) for the flow with α = 1
    assert answer["weights"][0] == pytest.approx(0.25 * math.log(64e12), abs=1e-4)
    assert answer["extrapolation"]["t"] == [1e15]
    assert answer["extrapolation"]["weights"][0][0] == pytest.approx(
        0.25 * math.log(64e15), abs=1e-3
    )


def test_xor_converges_and_gets_no_extrapolation(client: TestClient) -> None:
    status, answer = post(client, {**XOR, "learning_rate": 0.1, "steps": 10**4, "seed": 3})
    assert status == 200
    assert answer["divergence"]["verdict"] == "converging"
    assert answer["divergence"]["apparent_convergence"] is False
    assert answer["gradient_norm"] < 1e-8
    assert answer["extrapolation"] is None


@pytest.mark.parametrize(
    "body",
    [
        {
            "dataset": {"inputs": [[1.0], [1.0]], "targets": [1, -1]},
            "learning_rate": 1.0,
            "initial_weights": [0.3],
        },
        {"dataset": {"inputs": [[1e200]], "targets": [1]}, "learning_rate": 1e200},
    ],
    ids=["oscillating", "overflowing"],
)
def test_too_large_a_learning_rate_is_unstable(client: TestClient, body: dict[str, Any]) -> None:
    status, answer = post(client, {**body, "steps": 10**4})
    assert status == 200
    assert answer["divergence"]["verdict"] == "unstable"
    assert answer["divergence"]["log_rate"] is None
    assert answer["extrapolation"] is None


def test_shuffled_online_on_separable_data_diverges(client: TestClient) -> None:
    # strictly separable data: by the paper's Lemma no trajectory stays bounded; the shuffled
    # passes make E wobble, which is not instability
    body = {
        "dataset": {
            "inputs": [[1.0, 2.0], [2.0, 1.0], [-1.0, -1.5], [-2.0, -0.5], [0.5, 1.0]],
            "targets": [1, 1, -1, -1, 1],
        },
        "method": "online",
        "order": "shuffled",
        "seed": 0,
        "learning_rate": 0.1,
        "steps": 5000,
    }
    status, answer = post(client, body)
    assert status == 200
    assert answer["divergence"]["verdict"] in ("logarithmic", "sub_logarithmic")


def test_a_short_run_is_undetermined(client: TestClient) -> None:
    status, answer = post(client, {**SCALAR, "steps": 100})
    assert status == 200
    assert answer["divergence"]["verdict"] == "undetermined"
    assert answer["extrapolation"] is None


@pytest.mark.parametrize(
    ("extra", "field"),
    [
        ({"method": "flow"}, "t_max"),
        ({"t_max": 10.0}, "t_max"),
        ({"rtol": 1e-6}, "rtol"),
        ({"atol": 1e-9}, "atol"),
        ({"method": "flow", "t_max": 10.0, "steps": 100}, "steps"),
        ({"method": "flow", "t_max": 10.0, "order": "shuffled"}, "order"),
        ({"method": "flow", "t_max": 1e16}, "t_max"),
        ({"method": "flow", "t_max": 10.0, "rtol": 1.0}, "rtol"),
        ({"extrapolate_to": [-1.0]}, "extrapolate_to.0"),
        ({"extrapolate_to": []}, "extrapolate_to"),
    ],
)
def test_flow_fields_are_checked(client: TestClient, extra: dict[str, Any], field: str) -> None:
    r = client.post("/train", json={**SCALAR, **extra})
    assert r.status_code == 422
    assert r.headers["content-type"].startswith("application/problem+json")
    assert field in [e["field"] for e in r.json()["errors"]]


def test_flow_work_is_limited(client: TestClient) -> None:
    # 5000·n·m·(m + 1) with m = 700 is 2.45e9, over the default budget of 2e9
    body = {"dataset": {"inputs": [[1.0] * 700], "targets": [1]}, "method": "flow", "t_max": 10.0}
    r = client.post("/train", json=body)
    assert r.status_code == 422
    assert r.json()["errors"][0]["field"] == "dataset.inputs"
