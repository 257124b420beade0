"""A census as a study (issue 19): POST /studies with ``kind: census`` runs its K starts on the
Dask cluster and answers the same census as the in-process one, row by row and minimum by
minimum; bad requests get a 422 naming the census's own field.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest
from fastapi.testclient import TestClient

from service.app import create_app
from service.core.analysis.census import Census
from service.core.budget import Budget
from service.core.census import census, census_starts
from service.core.engine.run import StopRules
from service.core.training import TrainingSpec
from service.settings import Settings
from tests.conftest import wait_until_ready
from tests.studies.support import all_rows, submit, wait_until_ended

FIGURE_2 = {"inputs": [[1.0], [3.0]], "targets": [1, -1]}
CENSUS = {
    "kind": "census",
    "name": "Figure 2",
    "dataset": FIGURE_2,
    "starts": 24,
    "init": 3.0,
    "steps": 100_000,
    "seed": 5,
}


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    settings = Settings(
        data_dir=str(tmp_path_factory.mktemp("census")),
        study_workers=2,
        max_study_points=1000,
    )
    with TestClient(create_app(settings)) as c:
        wait_until_ready(c)
        yield c


def in_process() -> Census:
    spec = TrainingSpec(
        inputs=FIGURE_2["inputs"], targets=FIGURE_2["targets"], stop=StopRules(steps=100_000)
    )
    return census(spec, census_starts(1, 24, 3.0, 5), Budget())


def test_a_census_study_equals_the_census_in_one_process(client: TestClient) -> None:
    location = submit(client, CENSUS)
    ended = wait_until_ended(client, location, 120)
    assert ended["status"] == "done" and ended["kind"] == "census"
    expected = in_process()
    summary: dict[str, Any] = ended["summary"]
    assert summary["distinct"] == expected.distinct == 2
    assert summary["starts"] == 24
    assert summary["identified"] == expected.identified
    assert summary["unresolved"] == expected.unresolved
    assert summary["global_error"] == expected.minima[0].error
    for got, want in zip(summary["minima"], expected.minima, strict=True):
        assert got["location"] == want.location.value
        assert got["hits"] == want.hits
        assert got["error"] == want.error
        assert got["basin_fraction"] == want.hits / 24
        if want.weights is not None:
            assert got["weights"] == [float(w) for w in want.weights]
            assert got["hessian_eigenvalues"][0] > 0 and got["degenerate"] is False
        else:
            assert got["direction"] == [1.0] and got["diverging"] == [0]
    # the starts are the axis, and each row is its run from its start, with its location
    starts = census_starts(1, 24, 3.0, 5)
    assert ended["axes"]["initial_weights"] == starts.tolist()
    rows = all_rows(client, location)
    assert [r["params"]["initial_weights"] for r in rows] == starts.tolist()
    located = {m: [] for m in ("finite", "infinity", "unresolved")}  # type: dict[str, list[int]]
    for r in rows:
        located[r["location"]].append(r["index"])
    finite = next(m for m in expected.minima if m.weights is not None)
    assert sorted(located["finite"]) == sorted(finite.members)
    # a row is the /train answer from its start
    first = rows[0]
    answer = client.post(
        "/train",
        json={"dataset": FIGURE_2, "steps": 100_000, "initial_weights": starts[0].tolist()},
    ).json()
    assert (
        first["weights"] == answer["weights"]
        and first["verdict"] == answer["divergence"]["verdict"]
    )
    # the CSV has the location column
    csv = client.get(f"{location}/results", params={"format": "csv"}).text.splitlines()
    assert "location" in csv[0].split(",") and len(csv) == 25


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"method": "flow", "steps": 10}, "steps"),
        ({"method": "flow", "steps": None}, "t_max"),
        ({"t_max": 10.0}, "t_max"),
        ({"init": 0}, "init"),
        ({"init": -1.0}, "init"),
        ({"starts": 0}, "starts"),
        ({"starts": 1001}, "starts"),  # over the service's LEARNDYN_MAX_STUDY_POINTS
        ({"steps": 10**12}, "steps"),  # over the work limit of one run
        ({"network": {"hidden": [0]}}, "network.hidden.0"),
        ({"kind": "censuses"}, "kind"),
        ({"grid": {"seed": [1]}}, "grid"),  # a sweep's field
    ],
)
def test_bad_census_requests_get_422_naming_the_field(
    client: TestClient, change: dict[str, Any], field: str
) -> None:
    r = client.post("/studies", json={**CENSUS, **change})
    assert r.status_code == 422, r.text
    problem = r.json()
    assert r.headers["content-type"] == "application/problem+json"
    assert field in [e["field"] for e in problem["errors"]], problem


def test_a_census_of_a_net_counts_symmetric_copies_once(client: TestClient) -> None:
    body = {
        "kind": "census",
        "dataset": {"inputs": [[-1, -1], [-1, 1], [1, -1], [1, 1]], "targets": [-1, 1, 1, -1],
                    "bias": True},
        "network": {"hidden": [2]},
        "starts": 16,
        "init": 1.0,
        "steps": 100_000,
    }  # fmt: skip
    ended = wait_until_ended(client, submit(client, body), 120)
    assert ended["status"] == "done"
    best = ended["summary"]["minima"][0]
    assert best["location"] == "infinity" and best["error"] < 1e-6
    assert best["symmetric_copies"] == 8
    assert np.all(np.asarray(best["outputs"]) > 1 - 1e-6)
    assert sum(m["error"] < 1e-6 for m in ended["summary"]["minima"]) == 1
