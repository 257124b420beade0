"""POST /train in process: answers, the error model, and the non-finite guard."""

from __future__ import annotations

import json
import math
from http import HTTPStatus
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.conftest import strict_json
from tests.problems import assert_problem

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


def plain_tanh_descent(
    inputs: list[list[float]], targets: list[int], learning_rate: float, steps: int
) -> tuple[str, int, list[float], float]:
    """(stopped_by, steps, weights, error) of gd from x = 0, by a plain Python loop:
    ∇E(x) = −2·Σ_i B_i·(1 − tanh z_i)·(1 − tanh² z_i), z_i = B_i·x, B_i = y_i·u_i, and a step
    that is not finite stops the run at the last finite state. (The naive complement
    1 − tanh z is exact enough here: every z below is 0 or so large that tanh z is ±1.)"""
    B = [[y * a for a in row] for row, y in zip(inputs, targets, strict=True)]
    x = [0.0] * len(B[0])

    def error(x: list[float]) -> float:
        return sum(
            (1.0 - math.tanh(sum(b * w for b, w in zip(row, x, strict=True)))) ** 2 for row in B
        )

    for k in range(steps):
        g = [0.0] * len(x)
        for row in B:
            th = math.tanh(sum(b * w for b, w in zip(row, x, strict=True)))
            for j, b in enumerate(row):
                g[j] -= 2.0 * b * (1.0 - th) * (1.0 - th * th)
        step = [w - learning_rate * gj for w, gj in zip(x, g, strict=True)]
        if not all(math.isfinite(w) for w in step):
            return "non_finite", k, x, error(x)
        x = step
    return "steps", steps, x, error(x)


@pytest.mark.parametrize("learning_rate", [1e6, 1e300])
@pytest.mark.parametrize(
    "inputs",
    [[[1e10, 1e10], [-1e10, 3.0]], [[1.0, -2.0], [1e10, -1e10]], [[1e10], [1e-10]]],
)
def test_extreme_learning_rates_answer_truthfully(
    client: TestClient, learning_rate: float, inputs: list[list[float]]
) -> None:
    """|∇E(0)| = 2‖Σ_i B_i‖ ≥ 2e10 on all three sets. With η = 1e300 the first step is not
    finite: the run stops at once at x = 0. With η = 1e6 it is finite, x₁ = 2η·Σ_i B_i ~ 1e16,
    and every margin B_i·x₁ is so large (|z| ≥ 2e6) that (1 − tanh z)(1 − tanh² z) is exactly
    0 in float64: the gradient vanishes, x₁ stays, and the run uses all its steps."""
    body = {
        "dataset": {"inputs": inputs, "targets": [1, -1]},
        "learning_rate": learning_rate,
        "steps": 1000,
    }
    status, answer, _ = post(client, body)  # strict_json: no NaN or Infinity anywhere
    assert status == 200
    stopped_by, steps, weights, error = plain_tanh_descent(inputs, [1, -1], learning_rate, 1000)
    assert (stopped_by, steps) == (("non_finite", 0) if learning_rate == 1e300 else ("steps", 1000))
    assert (answer["stopped_by"], answer["steps"]) == (stopped_by, steps)
    assert answer["weights"] == pytest.approx(weights, rel=1e-15)
    assert answer["error"] == error  # 2 (two examples at z = 0), 0 or 4 (saturated): exact


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


# kind: "request" when the body does not fit the schema (targets not ±1, a field another method
# takes), "problem" when it fits but breaks a rule of the mathematics JSON Schema cannot state
# (ragged rows, m = 0, a weight count that depends on n and m): service/api/problems.py
@pytest.mark.parametrize(
    ("body", "kind", "field", "words"),
    [
        (
            {"dataset": {"inputs": [[1.0, 2.0], [1.0]], "targets": [1, 1]}},
            "problem",
            "dataset.inputs",
            "row 1 has 1",
        ),
        (
            {"dataset": {"inputs": [], "targets": []}},
            "request",
            "dataset.inputs",
            "at least 1 item",
        ),
        (
            {"dataset": {"inputs": [[]], "targets": [1]}},
            "problem",
            "dataset.inputs",
            "at least one input",
        ),
        (
            {"dataset": {"inputs": [[1.0]], "targets": [0]}},
            "request",
            "dataset.targets.0",
            "map 0 to -1",
        ),
        (
            {"dataset": {"inputs": [[1.0]], "targets": [2]}},
            "request",
            "dataset.targets.0",
            "should be -1 or 1",
        ),
        (
            {**SCALAR, "initial_weights": [0.0, 1.0]},
            "problem",
            "initial_weights",
            "needs 1 weights",
        ),
        ({**SCALAR, "learning_rate": 0}, "request", "learning_rate", "greater than 0"),
        ({**SCALAR, "learning_rate": -1}, "request", "learning_rate", "greater than 0"),
        ({**SCALAR, "steps": 0}, "request", "steps", "greater than or equal to 1"),
        ({**SCALAR, "steps": 1.5}, "request", "steps", "integer"),
        ({**SCALAR, "steps": "100"}, "request", "steps", "integer"),
        ({**SCALAR, "activation": "relu"}, "request", "activation", "tanh"),
        ({**SCALAR, "method": "adam"}, "request", "method", "gd"),
        ({**SCALAR, "record": {"points": 10_001}}, "request", "record.points", "10000"),
        ({**SCALAR, "colour": "blue"}, "request", "colour", "Extra inputs"),
        ({**SCALAR, "stop": {"patience": 3}}, "request", "stop.patience", "Extra inputs"),
        ({**SCALAR, "network": {"hidden": [2] * 9}}, "request", "network.hidden", "at most 8"),
        ({**SCALAR, "network": {"hidden": [257]}}, "request", "network.hidden.0", "256"),
        (
            {"dataset": {"inputs": [["1"]], "targets": [1]}},
            "request",
            "dataset.inputs.0.0",
            "number",
        ),
        (
            {"dataset": {"inputs": [[1.0]], "targets": [1], "bias": 1}},
            "request",
            "dataset.bias",
            "bool",
        ),
        (
            {**SCALAR, "order": "shuffled"},
            "request",
            "order",
            "`order` applies to method 'online' only, not to 'gd'",
        ),
        ({**SCALAR, "method": "relax"}, "request", "method", "method must be one of 'gd'"),
        (
            {**SCALAR, "method": "anneal", "temperature": -0.5},
            "request",
            "temperature",
            "greater than or equal to 0",
        ),
        ({**SCALAR, "method": "anneal"}, "request", "temperature", "Field required"),
        (
            {**SCALAR, "method": "anneal", "temperature": 1, "cooling_time": 0},
            "request",
            "cooling_time",
            "greater than 0",
        ),
        (
            {**SCALAR, "temperature": 1.0},
            "request",
            "temperature",
            "`temperature` applies to method 'anneal' only, not to 'gd'",
        ),
        (
            {"dataset": {"inputs": [[1.0]], "targets": [True]}},
            "request",
            "dataset.targets.0",
            "not a boolean",
        ),
    ],
)
def test_bad_input_is_a_422_naming_the_field(
    client: TestClient, body: dict[str, Any], kind: str, field: str, words: str
) -> None:
    r = client.post("/train", json=body)
    assert_problem(r, kind=f"invalid-{kind}", field=field, words=words)


@pytest.mark.parametrize("literal", ["NaN", "Infinity", "-Infinity", "1e400"])
def test_non_finite_literals_in_the_body_are_422(client: TestClient, literal: str) -> None:
    raw = '{"dataset": {"inputs": [[' + literal + ']], "targets": [1]}}'
    r = client.post("/train", content=raw, headers={"content-type": "application/json"})
    assert_problem(
        r,
        kind="invalid-request",
        field="dataset.inputs.0.0",
        words="finite number",
        error_type="finite_number",
    )


def json_error_position(raw: str) -> int:
    """Where the standard library's parser gives up on ``raw`` (an independent parser)."""
    with pytest.raises(json.JSONDecodeError) as info:
        json.loads(raw)
    return info.value.pos


# service/api/problems.py: a body that is not JSON is a 400 malformed-json naming the
# character where parsing fails; one that is JSON but not an object is a schema error of the
# whole body (field "", loc ["body"]): 422 invalid-request
@pytest.mark.parametrize("raw", ["{bad", '{"dataset": ', "\x00\xff"])
def test_malformed_json_is_a_400_naming_the_character(client: TestClient, raw: str) -> None:
    with pytest.raises(json.JSONDecodeError) as info:  # where an independent parser gives up
        json.loads(raw)
    r = client.post("/train", content=raw, headers={"content-type": "application/json"})
    entry = assert_problem(
        r,
        kind="malformed-json",
        field="",
        words=f"malformed JSON at character {info.value.pos}",
        error_type="json_invalid",
        status=400,
    )
    assert entry["loc"] == ["body"]


@pytest.mark.parametrize(
    ("raw", "error_type", "words"),
    [
        ("", "missing", "Field required"),
        ("[1, 2]", "model_attributes_type", "valid dictionary or object"),
        ("null", "model_attributes_type", "valid dictionary or object"),
    ],
)
def test_a_body_that_is_not_an_object_is_a_422_problem_of_the_body(
    client: TestClient, raw: str, error_type: str, words: str
) -> None:
    r = client.post("/train", content=raw, headers={"content-type": "application/json"})
    entry = assert_problem(r, kind="invalid-request", field="", words=words, error_type=error_type)
    assert entry["loc"] == ["body"]


def test_body_over_the_limit_is_413_problem(client: TestClient) -> None:
    big = json.dumps({"dataset": {"inputs": [[1.0]] * 2_000_000, "targets": [1] * 2_000_000}})
    r = client.post("/train", content=big, headers={"content-type": "application/json"})
    assert r.status_code == 413
    assert r.headers["content-type"] == "application/problem+json"
    assert "8388608 bytes" in strict_json(r.text)["detail"]


def test_work_over_the_budget_is_422_with_the_figure(client: TestClient) -> None:
    r = client.post("/train", json={**SCALAR, "steps": 10**10})
    # steps·n·m = 1e10·1·1 against the default budget of 2e9 (LEARNDYN_MAX_WORK)
    assert_problem(
        r,
        kind="limit-exceeded",
        field="steps",
        words=("steps·n·m = 10000000000·1·1 = 1e+10", "budget of 2e+09", "LEARNDYN_MAX_WORK"),
    )


def test_unknown_route_and_method_are_problems(client: TestClient) -> None:
    for method, path, status in (("GET", "/nowhere", 404), ("GET", "/train", 405)):
        r = client.request(method, path)
        assert r.status_code == status and r.headers["content-type"] == "application/problem+json"
        body = strict_json(r.text)
        assert (body["status"], body["title"]) == (status, HTTPStatus(status).phrase)
        assert body["detail"] == HTTPStatus(status).phrase  # Starlette's detail for both
    assert r.headers["allow"] == "POST"  # a 405 says which method would be accepted


def test_operations(client: TestClient) -> None:
    assert client.get("/healthz").json() == {"status": "ok"}
    assert client.get("/readyz").json()["ready"] is True
    version = client.get("/version").json()
    assert version["name"] == "learndyn" and version["api"] == "v1"
    import subprocess

    import numba

    assert version["numba"] == numba.__version__
    # run from a checkout: the commit is the checkout's HEAD, asked of git here
    head = subprocess.run(
        ["git", "rev-parse", "HEAD"], capture_output=True, text=True, cwd=Path(__file__).parent
    )
    assert version["commit"] == (head.stdout.strip() if head.returncode == 0 else None)


def test_the_cli_says_its_version(capsys: pytest.CaptureFixture[str]) -> None:
    from importlib.metadata import version as dist_version

    from service.cli import main

    with pytest.raises(SystemExit) as done:
        main(["--version"])
    assert done.value.code == 0
    assert capsys.readouterr().out == f"learndyn {dist_version('learndyn')}\n"


def test_anneal_answers_its_temperatures_and_is_reproducible(client: TestClient) -> None:
    body = {**SCALAR, "method": "anneal", "temperature": 0.5, "cooling_time": 20, "seed": 4,
            "steps": 5000, "record": {"points": 30}}  # fmt: skip
    first, again = (client.post("/train", json=body).json() for _ in range(2))
    assert first == again
    history = first["history"]
    assert len(history["temperature"]) == len(history["t"])
    assert history["temperature"][0] == 0.5
    t_last = history["t"][-1]
    assert history["temperature"][-1] == pytest.approx(0.5 / math.log(math.e + t_last / 20))
    other = client.post("/train", json={**body, "seed": 5}).json()
    assert other["weights"] != first["weights"]
    # T₀ = 0 is gd's answer, but for the temperatures it also lists (all 0)
    cold = client.post("/train", json={**body, "temperature": 0}).json()
    gd = client.post("/train", json={**SCALAR, "seed": 4, "steps": 5000,
                                     "record": {"points": 30}}).json()  # fmt: skip
    assert cold["history"].pop("temperature") == [0.0] * len(gd["history"]["t"])
    assert gd["history"].pop("temperature") is None
    assert cold == gd
