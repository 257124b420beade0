"""POST /train in process: answers, the error model, and the non-finite guard."""

from __future__ import annotations

import json
import math
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.conftest import strict_json

SCALAR = {"dataset": {"inputs": [[1.0]], "targets": [1]}}


def post(client: TestClient, body: Any) -> tuple[int, Any, str]:
    r = client.post("/train", json=body)
    return r.status_code, strict_json(r.text), r.headers["content-type"]


def test_scalar_example_follows_the_log_rule(client: TestClient) -> None:
    x = 0.0
    for _ in range(10_000):
        th = math.tanh(x)
        x += 0.1 * 2.0 * (1.0 - th) * (1.0 - th * th)
    status, body, _ = post(client, {**SCALAR, "learning_rate": 0.1, "steps": 10_000})
    assert status == 200
    assert body["weights"][0] == pytest.approx(x, rel=1e-12)
    assert body["stopped_by"] == "steps" and body["steps"] == 10_000
    assert body["history"]["t"][-1] == 10_000
    assert body["history"]["t_delta"][-1][0] == pytest.approx(0.25, rel=0.05)
    assert body["accuracy"] == 1.0
    assert body["divergence"]["verdict"] == "logarithmic"


def test_a_million_steps_record_at_most_201_log_spaced_points(client: TestClient) -> None:
    status, body, _ = post(client, {**SCALAR, "steps": 1e6, "record": {"points": 200}})
    assert status == 200
    t = body["history"]["t"]
    assert len(t) <= 201 and t[0] == 0 and t[-1] == 10**6 == body["steps"]
    assert all(b > a for a, b in zip(t, t[1:], strict=False))
    assert t[-1] / t[-2] == pytest.approx(t[-2] / t[-3], rel=1e-3)  # geometric at the end
    for key in ("error", "weights", "t_delta"):
        assert len(body["history"][key]) == len(t)


@pytest.mark.parametrize("learning_rate", [1e6, 1e300])
@pytest.mark.parametrize(
    "inputs",
    [[[1e10, 1e10], [-1e10, 3.0]], [[1.0, -2.0], [1e10, -1e10]], [[1e10], [1e-10]]],
)
def test_extreme_learning_rates_answer_truthfully(
    client: TestClient, learning_rate: float, inputs: list[list[float]]
) -> None:
    body = {
        "dataset": {"inputs": inputs, "targets": [1, -1]},
        "learning_rate": learning_rate,
        "steps": 1000,
    }
    status, answer, _ = post(client, body)  # strict_json: no NaN or Infinity anywhere
    assert status == 200
    assert all(math.isfinite(w) for w in answer["weights"])
    if learning_rate == 1e300:  # |∇E(0)| ≥ 1e10, so the first step overflows
        assert (answer["stopped_by"], answer["steps"]) == ("non_finite", 0)
    else:
        assert answer["stopped_by"] in ("non_finite", "steps")


def test_non_finite_case_reports_the_last_finite_state(client: TestClient) -> None:
    body = {
        "dataset": {"inputs": [[1.0, 1.0], [1e10, -1e10]], "targets": [1, 1]},
        "learning_rate": 2.5e299,
        "initial_weights": [1e-7, -1e-7],
        "steps": 100,
    }
    status, answer, _ = post(client, body)
    assert status == 200
    assert answer["stopped_by"] == "non_finite" and answer["steps"] == 0
    assert answer["weights"] == [1e-7, -1e-7]
    assert answer["history"]["t_delta"] == [None]


@pytest.mark.parametrize(
    ("body", "field", "words"),
    [
        (
            {"dataset": {"inputs": [[1.0, 2.0], [1.0]], "targets": [1, 1]}},
            "dataset.inputs",
            "row 1",
        ),
        ({"dataset": {"inputs": [], "targets": []}}, "dataset.inputs", ""),
        ({"dataset": {"inputs": [[]], "targets": [1]}}, "dataset.inputs", "at least one input"),
        ({"dataset": {"inputs": [[1.0]], "targets": [0]}}, "dataset.targets", "map 0 to -1"),
        ({"dataset": {"inputs": [[1.0]], "targets": [2]}}, "dataset.targets", "+1 or -1"),
        ({**SCALAR, "initial_weights": [0.0, 1.0]}, "initial_weights", "needs 1 weights"),
        ({**SCALAR, "learning_rate": 0}, "learning_rate", "greater than 0"),
        ({**SCALAR, "learning_rate": -1}, "learning_rate", "greater than 0"),
        ({**SCALAR, "steps": 0}, "steps", "greater than or equal to 1"),
        ({**SCALAR, "steps": 1.5}, "steps", "integer"),
        ({**SCALAR, "steps": "100"}, "steps", "integer"),
        ({**SCALAR, "activation": "relu"}, "activation", "tanh"),
        ({**SCALAR, "method": "adam"}, "method", "gd"),
        ({**SCALAR, "record": {"points": 10_001}}, "record.points", "10000"),
        ({**SCALAR, "colour": "blue"}, "colour", "Extra inputs"),
        ({**SCALAR, "stop": {"patience": 3}}, "stop.patience", "Extra inputs"),
        ({**SCALAR, "network": {"hidden": [2] * 9}}, "network.hidden", "at most 8"),
        ({**SCALAR, "network": {"hidden": [257]}}, "network.hidden.0", "256"),
        ({"dataset": {"inputs": [["1"]], "targets": [1]}}, "dataset.inputs.0.0", "number"),
        ({"dataset": {"inputs": [[1.0]], "targets": [1], "bias": 1}}, "dataset.bias", "bool"),
        ({**SCALAR, "order": "shuffled"}, "order", "online"),
    ],
)
def test_bad_input_is_a_422_naming_the_field(
    client: TestClient, body: dict[str, Any], field: str, words: str
) -> None:
    status, answer, content_type = post(client, body)
    assert status == 422, answer
    assert content_type == "application/problem+json"
    assert answer["status"] == 422 and answer["title"] and answer["type"]
    fields = [e["field"] for e in answer["errors"]]
    assert field in fields, fields
    message = next(e["message"] for e in answer["errors"] if e["field"] == field)
    assert words in message


@pytest.mark.parametrize("literal", ["NaN", "Infinity", "-Infinity", "1e400"])
def test_non_finite_literals_in_the_body_are_422(client: TestClient, literal: str) -> None:
    raw = '{"dataset": {"inputs": [[' + literal + ']], "targets": [1]}}'
    r = client.post("/train", content=raw, headers={"content-type": "application/json"})
    assert r.status_code == 422
    assert strict_json(r.text)["errors"][0]["field"] == "dataset.inputs.0.0"


@pytest.mark.parametrize("raw", ["{bad", "", "[1, 2]", "null", '{"dataset": '])
def test_malformed_json_is_4xx_problem(client: TestClient, raw: str) -> None:
    r = client.post("/train", content=raw, headers={"content-type": "application/json"})
    assert r.status_code in (400, 422)
    assert r.headers["content-type"] == "application/problem+json"
    assert strict_json(r.text)["status"] == r.status_code


def test_body_over_the_limit_is_413_problem(client: TestClient) -> None:
    big = json.dumps({"dataset": {"inputs": [[1.0]] * 2_000_000, "targets": [1] * 2_000_000}})
    r = client.post("/train", content=big, headers={"content-type": "application/json"})
    assert r.status_code == 413
    assert r.headers["content-type"] == "application/problem+json"
    assert "8388608 bytes" in strict_json(r.text)["detail"]


def test_work_over_the_budget_is_422_with_the_figure(client: TestClient) -> None:
    status, answer, _ = post(client, {**SCALAR, "steps": 10**10})
    assert status == 422
    assert answer["errors"][0]["field"] == "steps"
    assert "1e+10" in answer["detail"] and "2e+09" in answer["detail"]


def test_unknown_route_and_method_are_problems(client: TestClient) -> None:
    r = client.get("/nowhere")
    assert r.status_code == 404 and r.headers["content-type"] == "application/problem+json"
    r = client.get("/train")
    assert r.status_code == 405 and r.headers["content-type"] == "application/problem+json"


def test_operations(client: TestClient) -> None:
    assert client.get("/healthz").json() == {"status": "ok"}
    assert client.get("/readyz").json()["ready"] is True
    version = client.get("/version").json()
    assert version["name"] == "learndyn" and version["api"] == "v1"
