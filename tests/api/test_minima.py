"""POST /minima in process: the paper's cases, the 422 for m ≠ 1, invariances, JSON."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from fastapi.testclient import TestClient

from service.app import create_app
from service.settings import Settings
from tests.conftest import strict_json
from tests.problems import assert_problem


def post(client: TestClient, body: Any) -> tuple[int, Any]:
    r = client.post("/minima", json=body)
    return r.status_code, strict_json(r.text)


def ask(inputs: list[float], targets: list[int], **extra: Any) -> dict[str, Any]:
    return {"dataset": {"inputs": [[u] for u in inputs], "targets": targets}, **extra}


def test_figure_2_case_tanh_type_3(client: TestClient) -> None:
    # u = (1, 3), y = (1, −1): b = (1, −3), the paper's type 3 with a = 3
    status, body = post(client, ask([1.0, 3.0], [1, -1], curve={"points": 51}))
    assert status == 200
    kinds = [(p["kind"], round(p["x"], 6)) for p in body["critical_points"]]
    assert kinds == [("min", -0.181174), ("max", 0.809004)]
    assert body["infinity"]["plus"] == {"error_limit": 4.0, "local_min": True, "approach": "above"}
    assert body["infinity"]["minus"]["local_min"] is False
    assert [m["location"] for m in body["local_minima"]] == ["finite", "+inf"]
    assert body["local_minima"][1]["x"] is None
    g = body["global_minimum"]
    assert g["error"] == pytest.approx(1.6449232, abs=5e-8)
    assert g["distance"] == pytest.approx(math.sqrt(g["error"]), rel=1e-15)
    assert body["subspace"] == {"type": 3, "a": 3.0, "vector": [1.0, -3.0]}
    assert body["flat"] is False
    curve = body["curve"]
    assert len(curve["x"]) == len(curve["error"]) == len(curve["image"]) == 51
    x = np.array(curve["x"])
    np.testing.assert_allclose(
        curve["error"], (1 - np.tanh(x)) ** 2 + (1 - np.tanh(-3 * x)) ** 2, rtol=1e-12
    )


def test_type_1_and_type_2(client: TestClient) -> None:
    _, one = post(client, ask([0.0, 1.0], [1, 1]))
    assert one["critical_points"] == [] and one["subspace"]["type"] == 1
    assert one["local_minima"] == [{"location": "+inf", "x": None, "error": 1.0}]
    assert one["global_minimum"]["distance"] == 1.0
    _, two = post(client, ask([1.0, 2.0], [1, 1]))
    assert two["critical_points"] == [] and two["subspace"] == {
        "type": 2,
        "a": 2.0,
        "vector": [1.0, 2.0],
    }
    assert two["global_minimum"] == {"error": 0.0, "distance": 0.0, "location": "+inf", "x": None}
    _, zero = post(client, ask([1.0, 0.0], [1, 1]))
    assert zero["critical_points"] == [] and zero["global_minimum"]["distance"] == 1.0
    assert zero["subspace"]["a"] == 0.0


def test_flat_and_type_0(client: TestClient) -> None:
    status, body = post(client, ask([0.0, 0.0], [1, -1]))
    assert status == 200 and body["flat"] is True
    assert body["subspace"] == {"type": 0, "a": None, "vector": [0.0, 0.0]}
    assert body["global_minimum"]["error"] == 2.0
    assert body["infinity"]["plus"]["approach"] == "constant"


@pytest.mark.parametrize(
    "dataset",
    [
        {"inputs": [[1.0, 2.0], [3.0, 1.0]], "targets": [1, -1]},
        {"inputs": [[1.0], [3.0]], "targets": [1, -1], "bias": True},
    ],
)
def test_more_than_one_weight_is_a_422_that_points_to_train(
    client: TestClient, dataset: dict[str, Any]
) -> None:
    r = client.post("/minima", json={"dataset": dataset})
    assert_problem(
        r, kind="invalid-problem", field="dataset.inputs", words=("m = 2 weights", "use /train")
    )


@pytest.mark.parametrize(
    ("body", "kind", "field", "words"),
    [
        (ask([1.0], [2]), "request", "dataset.targets.0", "Input should be -1 or 1"),
        (ask([1.0], [1], activation="relu"), "request", "activation", "'tanh'"),
        (
            ask([1.0], [1], curve={"points": 2}),
            "request",
            "curve.points",
            "greater than or equal to 3",
        ),
        (ask([1.0], [1], extra=1), "request", "extra", "Extra inputs are not permitted"),
    ],
)
def test_bad_requests_are_422_naming_the_field(
    client: TestClient, body: dict[str, Any], kind: str, field: str, words: str
) -> None:
    assert_problem(
        client.post("/minima", json=body), kind=f"invalid-{kind}", field=field, words=words
    )


def test_curve_work_is_limited() -> None:
    with TestClient(create_app(Settings(max_cells=1000))) as small:
        r = small.post("/minima", json=ask([1.0] * 10, [1] * 10, curve={"points": 101}))
    # points·n = 101·10 = 1010 > 1000
    assert_problem(
        r,
        kind="limit-exceeded",
        field="curve.points",
        words=("points·n = 101·10", "limit of 1000", "LEARNDYN_MAX_CELLS"),
    )


def test_invariances_through_the_api(client: TestClient) -> None:
    rng = np.random.default_rng(3)
    u = rng.uniform(-2.0, 2.0, 7).tolist()
    y = rng.choice([-1, 1], 7).tolist()
    _, base = post(client, ask(u, y, activation="arctan"))
    # flipping the sign of one input together with its target: the same B
    u2, y2 = list(u), list(y)
    u2[2], y2[2] = -u2[2], -y2[2]
    _, flipped = post(client, ask(u2, y2, activation="arctan"))
    assert flipped == base
    # swapping examples
    order = [6, 5, 4, 3, 2, 1, 0]
    _, swapped = post(
        client, ask([u[i] for i in order], [y[i] for i in order], activation="arctan")
    )
    assert [p["kind"] for p in swapped["critical_points"]] == [
        p["kind"] for p in base["critical_points"]
    ]
    assert [p["x"] for p in swapped["critical_points"]] == pytest.approx(
        [p["x"] for p in base["critical_points"]], rel=1e-12
    )
    # scaling inputs by c > 0 scales x by 1/c
    _, scaled = post(client, ask([4.0 * v for v in u], y, activation="arctan"))
    xs = [4.0 * p["x"] for p in scaled["critical_points"]]
    assert xs == pytest.approx([p["x"] for p in base["critical_points"]], rel=1e-9)
    assert scaled["global_minimum"]["error"] == pytest.approx(base["global_minimum"]["error"])


def test_schema_declares_the_route_and_its_errors() -> None:
    schema = create_app(Settings()).openapi()
    responses = schema["paths"]["/minima"]["post"]["responses"]
    assert "application/problem+json" in responses["422"]["content"]
    fields = schema["components"]["schemas"]["MinimaResponse"]["properties"]
    assert {"critical_points", "infinity", "local_minima", "global_minimum", "flat"} <= set(fields)


def test_readme_minima_example(client: TestClient) -> None:
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    section = readme.split("## Local minima of a one-weight problem", 1)[1]
    request = section.split("-d '\n", 1)[1].split("'\n", 1)[0]
    status, body = post(client, json.loads(request))
    assert status == 200
    got = [(p["kind"], round(p["x"], 7), round(p["error"], 7)) for p in body["critical_points"]]
    assert got == [("min", -0.1811741, 1.6449232), ("max", 0.8090037, 4.0478807)]
    assert "min x = -0.1811741 (E = 1.6449232)" in section
    assert "max x = 0.8090037 (E = 4.0478807)" in section
    assert [m["location"] for m in body["local_minima"]] == ["finite", "+inf"]
    assert {"type": 3, "a": 3.0}.items() <= body["subspace"].items()
