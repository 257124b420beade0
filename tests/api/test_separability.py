"""POST /separability and /train's theory block, checked from the JSON alone as a client would."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from service.app import create_app
from service.settings import Settings
from tests.conftest import strict_json
from tests.problems import assert_problem

EXAMPLE = {
    "inputs": [[2, 1], [1, 3], [-1, -1], [-2, 0.5], [0.5, -2]],
    "targets": [1, 1, -1, -1, -1],
}


def post(client: TestClient, path: str, body: Any) -> tuple[int, Any]:
    r = client.post(path, json=body)
    return r.status_code, strict_json(r.text)


def rows_of_b(dataset: dict[str, Any]) -> list[list[float]]:
    """B = diag(y)·[A | 1] in plain Python: the client's own arithmetic."""
    out = []
    for row, y in zip(dataset["inputs"], dataset["targets"], strict=True):
        full = [*row, 1.0] if dataset.get("bias") else list(row)
        out.append([y * a for a in full])
    return out


def dot(u: list[float], v: list[float]) -> float:
    return sum(a * b for a, b in zip(u, v, strict=True))


def check_certificate(dataset: dict[str, Any], cert: dict[str, Any]) -> None:
    """Gordan: λ ≥ 0, λ ≠ 0, Bᵀλ = 0; Stiemke: also every λ_i > 0 (all to 1e-9)."""
    B = rows_of_b(dataset)
    lam = cert["multipliers"]
    assert len(lam) == len(B)
    assert all(x >= 0.0 for x in lam) and sum(lam) > 0.5
    if cert["kind"] == "stiemke":
        assert all(x > 0.0 for x in lam)
    for j in range(len(B[0])):
        assert abs(sum(lam[i] * B[i][j] for i in range(len(B)))) <= 1e-9
    assert 0.0 <= cert["residual"] <= 1e-9


def check_answer(dataset: dict[str, Any], body: dict[str, Any]) -> None:
    B = rows_of_b(dataset)
    if body["strictly_separable"]:
        w = body["separating_weights"]
        assert min(dot(b, w) for b in B) >= 1.0 - 1e-9
        mm = body["max_margin"]
        assert mm["kkt_residual"] <= 1e-8 and body["certificate"] is None
        for i in mm["support_vectors"]:
            assert dot(B[i], mm["weights"]) == pytest.approx(1.0, abs=1e-9)
    else:
        assert body["max_margin"] is None and body["separating_weights"] is None
        check_certificate(dataset, body["certificate"])
        expected = "gordan" if body["weakly_separable"] else "stiemke"
        assert body["certificate"]["kind"] == expected
    if body["weakly_separable"]:
        z = [dot(b, body["half_space_weights"]) for b in B]
        assert min(z) >= -1e-12 and max(z) > 1e-6
    assert body["lemma_applies"] == body["weakly_separable"]


@pytest.mark.parametrize(
    ("dataset", "strict", "weak"),
    [
        (EXAMPLE, True, True),
        ({"inputs": [[0, 0], [1, 2], [-1, 1]], "targets": [1, 1, -1]}, False, True),
        ({"inputs": [[1, 2], [-1, -2], [3, -1]], "targets": [1, 1, 1]}, False, True),
        (
            {"inputs": [[0, 0], [1, 1], [0, 1], [1, 0]], "targets": [-1, -1, 1, 1], "bias": True},
            False,
            False,
        ),
        ({"inputs": [[0.0]], "targets": [1]}, False, False),
        ({"inputs": [[5.0]], "targets": [-1]}, True, True),
        ({"inputs": [[1, 1], [1, 1], [1, 1]], "targets": [1, 1, -1]}, False, False),
        ({"inputs": [[1, 1], [1, 1], [2, 0]], "targets": [1, -1, 1]}, False, True),
        ({"inputs": [[1, 0, 2, 0, 1], [0, 1, 0, 1, 1]], "targets": [1, -1]}, True, True),
    ],
)
def test_booleans_and_client_checks(
    client: TestClient, dataset: dict[str, Any], strict: bool, weak: bool
) -> None:
    status, body = post(client, "/separability", {"dataset": dataset})
    assert status == 200
    assert (body["strictly_separable"], body["weakly_separable"]) == (strict, weak)
    check_answer(dataset, body)


def test_example_answer(client: TestClient) -> None:
    status, body = post(client, "/separability", {"dataset": EXAMPLE})
    assert status == 200
    assert body["max_margin"]["weights"] == pytest.approx([2 / 3, 2 / 3], abs=1e-14)
    assert body["max_margin"]["support_vectors"] == [3, 4]
    assert body["rank"] == 2 and body["rows_independent"] is False and body["n"] == 5


def test_bad_input_names_the_field(client: TestClient) -> None:
    r = client.post("/separability", json={"dataset": {"inputs": [[1, 2], [3]], "targets": [1, 1]}})
    assert_problem(
        r,
        kind="invalid-problem",
        field="dataset.inputs",
        words=("same length", "row 0 has 2 entries, row 1 has 1"),
    )
    # separability does not depend on θ, so /separability has no activation to set
    r = client.post("/separability", json={"dataset": EXAMPLE, "activation": "tanh"})
    assert_problem(
        r, kind="invalid-request", field="activation", words="Extra inputs are not permitted"
    )


def test_train_reports_theory(client: TestClient) -> None:
    status, body = post(client, "/train", {"dataset": EXAMPLE, "steps": 10})
    assert status == 200
    th = body["theory"]
    assert th["loss_tail"] == "exponential" and th["loss_exponent"] == 4.0
    assert th["predicted_log_rate"] == pytest.approx([1 / 6, 1 / 6], abs=1e-14)
    assert th["lemma_applies"] is True and th["separability"]["strictly_separable"] is True
    status, body = post(client, "/train", {"dataset": EXAMPLE, "activation": "arctan", "steps": 1})
    th = body["theory"]
    assert th["predicted_log_rate"] is None and "polynomial" in th["prediction_explanation"]


def test_extreme_magnitudes_answer_or_name_the_field(client: TestClient) -> None:
    # Constraints 1e-60·w₁ ≥ 1 and 1e60·w₂ ≥ 1 are independent: ŵ = (1e60, 1e-60).
    data = {"inputs": [[1e-60, 0.0], [0.0, 1e60]], "targets": [1, 1]}
    status, body = post(client, "/separability", {"dataset": data})
    assert status == 200 and body["strictly_separable"]
    assert body["max_margin"]["weights"] == pytest.approx([1e60, 1e-60], rel=1e-12)
    assert body["max_margin"]["multipliers"] == pytest.approx([1e120, 1e-120], rel=1e-12)
    # rows 600 decades apart: ŵ ~ 1e300 and its multipliers ~ ŵ² would overflow
    data = {"inputs": [[1e-300], [1e300]], "targets": [1, 1]}
    r = client.post("/separability", json={"dataset": data})
    assert_problem(
        r,
        kind="invalid-problem",
        field="dataset.inputs",
        words=("within a factor of about 1e144", "rescale the inputs"),
    )
    data = {"inputs": [[1e300, 1e300], [-1e300, 1e300], [0.0, -1e300]], "targets": [1, 1, 1]}
    status, body = post(client, "/separability", {"dataset": data})
    assert status == 200 and not body["weakly_separable"]
    check_certificate(
        {"inputs": [[1, 1], [-1, 1], [0, -1]], "targets": [1, 1, 1]}, body["certificate"]
    )


def test_size_limit_applies() -> None:
    with TestClient(create_app(Settings(max_cells=9))) as small:
        r = small.post("/separability", json={"dataset": EXAMPLE})
    assert_problem(  # EXAMPLE has n·m = 5·2 = 10 cells
        r,
        kind="limit-exceeded",
        field="dataset.inputs",
        words=("n·m = 5·2 = 10", "limit of 9", "LEARNDYN_MAX_CELLS"),
    )


def test_train_without_representable_theory_still_answers(client: TestClient) -> None:
    body = {"dataset": {"inputs": [[1e-300], [1e300]], "targets": [1, 1]}, "steps": 5}
    status, answer = post(client, "/train", body)
    assert status == 200 and answer["theory"] is None


def test_train_theory_compares_the_measured_log_rate_with_w_hat_over_4(
    client: TestClient,
) -> None:
    """Issue 4's acceptance run through /train: the service's own measured log_rate (from the
    divergence engine) against ŵ/4, ŵ = (2/3, 2/3) for this set (closed form)."""
    body = {
        "dataset": {
            "inputs": [[2, 1], [1, 3], [-1, -1], [-2, 0.5], [0.5, -2]],
            "targets": [1, 1, -1, -1, -1],
        },
        "activation": "tanh",
        "learning_rate": 0.05,
        "steps": 10**6,
    }
    status, answer = post(client, "/train", body)
    assert status == 200
    assert answer["divergence"]["verdict"] == "logarithmic"
    theory = answer["theory"]
    assert theory["predicted_log_rate"] == pytest.approx([1 / 6, 1 / 6], rel=1e-9)
    assert theory["angle_degrees"] < 5.0
    assert abs(theory["norm_ratio"] - 1.0) < 0.10
