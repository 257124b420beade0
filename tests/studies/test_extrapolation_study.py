"""An extrapolation as a study (issue 20): POST /studies with ``kind: extrapolation`` tests the
log rule at every point of a grid on the Dask cluster.

The acceptance: on the scalar tanh example (one input 1, target +1, η = 0.1), predicting
10⁶ steps from 10⁴, the weight's relative error is below 1%, checked against a plain Python
descent (not the service's kernel); for arctan (a power law) and erf (sub-logarithmic) the
answer says the log rule does not apply. A row is POST /train's answer for the point's
request, run to T, with the log rule's predictions at c·T its ``extrapolation``; bad
requests get a 422 naming ``factors``. The study's figure draws the predicted against the
actual weights over log t.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from service.app import create_app
from service.settings import Settings
from tests.api.test_figures import PNG_MAGIC, SVG_NS, svg_tree
from tests.conftest import wait_until_ready
from tests.core.test_extrapolation_study import flow_weight, scalar_descent
from tests.studies.support import all_rows, assert_row_is_train, bits, submit, wait_until_ended

BASE = {"dataset": {"inputs": [[1.0]], "targets": [1]}, "learning_rate": 0.1, "steps": 10_000}
STUDY = {
    "kind": "extrapolation",
    "name": "log rule",
    "base": BASE,
    "grid": {"activation": ["tanh", "arctan", "erf"]},
    "factors": [100, 10],  # sorted by the service
}


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    settings = Settings(
        data_dir=str(tmp_path_factory.mktemp("extrapolation")),
        study_workers=2,
        max_study_points=1000,
    )
    with TestClient(create_app(settings)) as c:
        wait_until_ready(c)
        yield c


@pytest.fixture(scope="module")
def ended(client: TestClient) -> tuple[str, dict[str, Any]]:
    location = submit(client, STUDY)
    return location, wait_until_ended(client, location, 120)


def test_tanh_predicts_within_one_percent_and_arctan_is_flagged(
    client: TestClient, ended: tuple[str, dict[str, Any]]
) -> None:
    location, study = ended
    assert study["status"] == "done" and study["kind"] == "extrapolation", study
    summary = study["summary"]
    assert summary["factors"] == [10.0, 100.0] and summary["good_weight_error"] == 0.01
    tanh = summary["activations"]["tanh"]
    assert (tanh["points"], tanh["applicable"], tanh["log_rule"]) == (1, 1, "predicts_well")
    assert tanh["verdicts"] == {"logarithmic": 1}
    # the acceptance, against an independent descent: 10⁶ steps predicted from 10⁴
    x_T, x_1e5, x_1e6 = scalar_descent(0.1, (10_000, 100_000, 1_000_000))
    rows = {r["params"]["activation"]: r for r in all_rows(client, location)}
    test = rows["tanh"]["extrapolation"]
    assert test["applicable"] and test["t"] == 10_000 and test["reason"] is None
    ten, hundred = test["comparisons"]
    for comparison, x in ((ten, x_1e5), (hundred, x_1e6)):
        assert comparison["weights"][0] == pytest.approx(x, rel=1e-9)
        expected = abs(comparison["predicted_weights"][0] - x) / x
        assert comparison["weight_error"] == pytest.approx(expected, rel=1e-6)
        assert comparison["verdict"] == "logarithmic" and comparison["failure"] is None
    assert hundred["t"] == 1_000_000 and hundred["weight_error"] < 0.01
    assert tanh["factors"][1]["weight_error_median"] == hundred["weight_error"]
    assert tanh["factors"][1]["error_relative_max"] == hundred["error_relative"]
    # arctan and erf: no logarithmic growth, no prediction, no runs to c·T
    for activation, verdict in (("arctan", "power_law"), ("erf", "sub_logarithmic")):
        group = summary["activations"][activation]
        assert group["log_rule"] == "not_applicable" and group["applicable"] == 0
        assert group["verdicts"] == {verdict: 1} and verdict in group["explanation"]
        test = rows[activation]["extrapolation"]
        assert not test["applicable"] and test["comparisons"] == []
        assert verdict in test["reason"]
    assert summary["overall"]["points"] == 3 and summary["overall"]["applicable"] == 1
    assert math.isclose(rows["tanh"]["weights"][0], x_T, rel_tol=1e-10)


def test_a_row_is_the_train_answer_to_t_with_the_log_rule_at_ct(
    client: TestClient, ended: tuple[str, dict[str, Any]]
) -> None:
    location, _ = ended
    for row in all_rows(client, location):
        request = {**BASE, **row["params"], "extrapolate_to": [1e5, 1e6]}
        answer = client.post("/train", json=request).json()
        assert_row_is_train(row, answer)
        predicted = answer["extrapolation"]
        if predicted is None:
            continue
        for comparison, weights, error in zip(
            row["extrapolation"]["comparisons"], predicted["weights"], predicted["error"],
            strict=True,
        ):  # fmt: skip
            assert bits(comparison["predicted_weights"]) == bits(weights)
            assert comparison["predicted_error"] == error
    csv = client.get(f"{location}/results", params={"format": "csv"}).text.splitlines()
    header = csv[0].split(",")
    assert header[-5:] == [
        "applicable", "weight_error_10", "error_relative_10", "weight_error_100",
        "error_relative_100",
    ]  # fmt: skip
    assert len(csv) == 4


def test_the_cli_prints_the_log_rule_per_activation(
    ended: tuple[str, dict[str, Any]], capsys: pytest.CaptureFixture[str]
) -> None:
    from service.cli import _print_summary
    from service.schemas.studies import ExtrapolationSummary, Study

    study = Study.model_validate(ended[1])
    assert isinstance(study.summary, ExtrapolationSummary)
    _print_summary(study)
    out = capsys.readouterr().out
    assert "tanh: predicts well" in out
    assert "arctan: not applicable" in out and "power_law" in out
    assert "erf: not applicable" in out and "sub_logarithmic" in out


def test_a_flow_of_the_base_alone(client: TestClient) -> None:
    body = {
        "kind": "extrapolation",
        "base": {"dataset": BASE["dataset"], "method": "flow", "t_max": 1e4},
        "factors": [10],
    }
    study = wait_until_ended(client, submit(client, body), 60)
    assert study["status"] == "done" and study["axes"] == {}, study
    assert study["summary"]["activations"]["tanh"]["log_rule"] == "predicts_well"
    (row,) = all_rows(client, f"/studies/{study['id']}")
    (comparison,) = row["extrapolation"]["comparisons"]
    assert comparison["t"] == 1e5 and comparison["stopped_by"] == "t_max"
    assert comparison["weights"][0] == pytest.approx(flow_weight(1e5, 0.1), rel=1e-6)


@pytest.mark.parametrize(
    "change",
    [
        {"factors": [1]},
        {"factors": [0.5, 10]},
        {"factors": []},
        {"factors": [2, 3, 4, 5, 6, 7, 8]},
        {"factors": [1e7]},  # 10¹¹ steps: over MAX_STEPS
        {"factors": [1e6]},  # 10¹⁰ steps: over the work of one run (LEARNDYN_MAX_WORK)
        {"base": {**BASE, "steps": 1}, "factors": [1.2, 1.4]},  # both round to 1 step
        {"base": {"dataset": BASE["dataset"], "method": "flow", "t_max": 1e14}, "factors": [100]},
        # 1000 points of 1.111·10⁹: over LEARNDYN_MAX_STUDY_WORK, though the runs to T fit
        {"base": {**BASE, "steps": 10**6}, "grid": {"seed": {"range": [0, 1000]}},
         "factors": [10, 100, 1000]},
    ],
)  # fmt: skip
def test_bad_factors_get_422_naming_factors(client: TestClient, change: dict[str, Any]) -> None:
    r = client.post("/studies", json={**STUDY, **change})
    assert r.status_code == 422, r.text
    assert r.headers["content-type"] == "application/problem+json"
    fields = [e["field"] for e in r.json()["errors"]]
    assert any(f == "factors" or f.startswith("factors.") for f in fields), r.json()


def test_other_bad_requests_name_their_field(client: TestClient) -> None:
    r = client.post("/studies", json={**STUDY, "grid": {"colour": ["red"]}})
    assert r.status_code == 422 and "grid.colour" in [e["field"] for e in r.json()["errors"]]
    r = client.post("/studies", json={**STUDY, "starts": 3})  # a census's field
    assert r.status_code == 422 and "starts" in [e["field"] for e in r.json()["errors"]]
    annealed = {**BASE, "method": "anneal", "temperature": 0.1}  # noise: no log rule
    r = client.post("/studies", json={**STUDY, "base": annealed})
    assert r.status_code == 422 and "base.method" in [e["field"] for e in r.json()["errors"]]


def test_the_figure_draws_predicted_against_actual_weights(
    client: TestClient, ended: tuple[str, dict[str, Any]]
) -> None:
    location, study = ended
    rows = {r["params"]["activation"]: r["index"] for r in all_rows(client, location)}
    r = client.get(f"/figures{location}", params={"format": "svg"})
    assert r.status_code == 200 and r.headers["content-type"].startswith("image/svg+xml")
    root = svg_tree(r.content)
    found = {e.attrib["id"]: e for e in root.iter() if "id" in e.attrib}
    tanh = rows["tanh"]
    for name in (f"extrapolation-actual-{tanh}", f"extrapolation-predicted-{tanh}",
                 "extrapolation-error-tanh", "extrapolation-good"):  # fmt: skip
        assert name in found, sorted(found)
    for name in ("arctan", "erf"):  # no line: the log rule does not apply
        assert f"extrapolation-actual-{rows[name]}" not in found
        assert f"extrapolation-error-{name}" not in found
    crosses = found["extrapolation-not-applicable"]
    assert len([e for e in crosses.iter() if e.tag == f"{SVG_NS}use"]) == 2  # arctan, erf
    png = client.get(f"/figures{location}", params={"format": "png"})
    assert png.status_code == 200 and png.content.startswith(PNG_MAGIC)
