"""A census through the client and the CLI: the request is checked locally with the service's
own models (the field named as the service names it), a census study's answer parses into
its summary, and ``learndyn study`` prints the minima."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from clients import LocalValidationError
from clients.base import study_request
from service.cli import _print_summary
from service.schemas.studies import CensusRequest, CensusSummary, Progress, Study, SweepRequest

CENSUS = {
    "kind": "census",
    "dataset": {"inputs": [[1.0], [3.0]], "targets": [1, -1]},
    "starts": 8,
    "init": 3.0,
}


def test_a_census_request_is_built_and_checked_locally() -> None:
    request = study_request(CENSUS, {})
    assert isinstance(request, CensusRequest) and request.starts == 8
    sweep = {"kind": "sweep", "base": {"dataset": CENSUS["dataset"]}, "grid": {"seed": [0]}}
    assert isinstance(study_request(sweep, {}), SweepRequest)
    with pytest.raises(LocalValidationError) as info:
        study_request({**CENSUS, "starts": 0}, {})
    assert [e.field for e in info.value.errors] == ["starts"]
    with pytest.raises(LocalValidationError) as info:
        study_request({**CENSUS, "kind": "cens"}, {})
    assert [e.field for e in info.value.errors] == ["kind"]
    with pytest.raises(LocalValidationError) as info:
        study_request({**CENSUS, "grid": {}}, {})  # a sweep's field in a census
    assert [e.field for e in info.value.errors] == ["grid"]


SUMMARY = {
    "minima": [
        {"location": "finite", "error": 1.6449232446759916, "hits": 5, "basin_fraction": 0.625,
         "weights": [-0.1811740875163922], "gradient_norm": 0.0,
         "hessian_eigenvalues": [18.08615202233965], "degenerate": False,
         "symmetric_copies": 1},
        {"location": "infinity", "error": 4.0, "hits": 2, "basin_fraction": 0.25,
         "direction": [1.0], "finite_part": [0.0], "diverging": [0], "outputs": [1.0, -1.0],
         "symmetric_copies": 1},
    ],
    "global_error": 1.6449232446759916, "starts": 8, "identified": 7, "unresolved": 1,
    "unresolved_reasons": {"verdict undetermined": 1}, "saddles": [], "distinct": 2,
    "singletons": 0, "doubletons": 1, "estimated_total": 2.0, "estimated_interval": [2.0, 2.0],
    "coverage": 1.0, "symmetries_merged": True,
}  # fmt: skip


def test_a_census_study_parses_and_prints_its_minima(capsys: pytest.CaptureFixture[str]) -> None:
    study = Study.model_validate(
        {
            "id": "0" * 32, "kind": "census", "name": "Figure 2", "status": "done",
            "progress": Progress(done=8, total=8, failed=0).model_dump(),
            "created": datetime(2026, 1, 1, tzinfo=UTC), "started": None, "finished": None,
            "axes": {"initial_weights": [[0.5]] * 8}, "summary": SUMMARY,
        }
    )  # fmt: skip
    assert isinstance(study.summary, CensusSummary)
    assert study.summary.minima[1].outputs == [1.0, -1.0]
    _print_summary(study)
    out = capsys.readouterr().out
    assert "study " + "0" * 32 + " (Figure 2) done: 8 of 8 points" in out
    assert "1.64492" in out and "x = -0.181174" in out and "d = 1" in out
    assert "2 distinct (0 hit once, 1 twice) of 7 identified runs, 1 unresolved" in out
    assert "coverage 1.000" in out
