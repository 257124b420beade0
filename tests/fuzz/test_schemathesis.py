"""Schemathesis (v4) against the in-process app: every operation, every check.

Two apps: the default one, whose schema is exactly the committed ``openapi.json``
(tests/test_openapi.py checks that), and one with an API key, whose schema declares the
bearer scheme (schemathesis then also checks that requests without it get 401). Both have a
small work budget so that generated requests stay quick; requests over it get 422.

One check is configured: a request the schema allows may still break a rule that JSON
Schema cannot state, and the service then answers 422 naming the rule. So
``positive_data_acceptance`` accepts 2xx and 422 — and 404 on the routes of one study, whose
ids a generator cannot know; every other check runs as shipped. The 422 is then held to
account: a schema-valid request refused must be refused by one of the rules of
:data:`UNSTATABLE` (a rule of the mathematics or a limit, never the schema's own validation),
naming its field. The apps keep their studies in
a temporary directory, with limits that keep an accepted study to a few tiny runs.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.config import SchemathesisConfig
from schemathesis.generation.meta import GenerationMode, ParameterLocation

from service.app import create_app
from service.settings import Settings

DATA = tempfile.mkdtemp(prefix="learndyn-fuzz-")
LIMITS = {
    "max_work": 20_000,
    "max_cells": 20_000,
    "data_dir": DATA,
    "study_workers": 1,
    "max_study_points": 4,
    "max_study_work": 20_000,
}
KEY = "fuzz-key"
OPEN_APP = create_app(Settings(**LIMITS))  # type: ignore[arg-type]
KEYED_APP = create_app(Settings(api_key=KEY, **LIMITS))  # type: ignore[arg-type]

committed = json.loads((Path(__file__).resolve().parents[2] / "openapi.json").read_text())
CONFIG = SchemathesisConfig.from_dict(
    {
        "checks": {"positive_data_acceptance": {"expected-statuses": ["2xx", "422"]}},
        "operations": [
            {
                "include-path-regex": "^/(figures/)?studies/\\{study_id\\}",
                "checks": {
                    "positive_data_acceptance": {"expected-statuses": ["2xx", "404", "422"]}
                },
            }
        ],
    }
)
open_schema = schemathesis.openapi.from_dict(committed, config=CONFIG)
open_schema.app = OPEN_APP
keyed_schema = schemathesis.openapi.from_asgi("/openapi.json", KEYED_APP, config=CONFIG)

UNSTATABLE = {
    "dataset.inputs": "rows of one length; the work, cells and flow budgets (n·m products)",
    "dataset.targets": "one target per row",
    "initial_weights": "m weights, or the net's layout's count",
    "steps": "the work budget steps·n·m",
    "t_max": "the horizon in natural units, t_max·α·‖B‖₂², within [1e-9, 1e30]",
    "learning_rate": "the flow's horizon in natural units (α·t_max·‖B‖₂²)",
    "network.hidden": "the net's weights within the cells budget and the answer's numbers",
    "record.points": "recorded times × weights within the answer's and the trajectory's limits",
    "curve.points": "/minima: curve points × n within the cells budget",
    "atol": "the flow: tolerances LSODA can meet on this problem",
    "dataset": "/minima: one weight (m = 1)",
    "grid": "the product of the axes within the points and work limits",
    "starts": "a census: its runs within the study's points and work limits",
    "factors": "an extrapolation: c·T within the steps, t_max and work limits of one run, "
    "whole steps apart, and every run within the study's work limit",
    "method": "an extrapolation: gd, online or flow (the log rule extrapolates no other)",
}
"""Fields whose rules JSON Schema cannot state, with the rule; a study names them under
``base.`` or ``grid.`` (a grid value is checked by /train's rules)."""


def fits_the_schema(case: schemathesis.Case) -> bool:
    meta = case.meta
    if meta is None or meta.generation.mode is not GenerationMode.POSITIVE:
        return False
    return not any(c.mode.is_negative for c in meta.components.values())


def check_refusal(case: schemathesis.Case, response: Any) -> None:
    """A schema-valid request refused with 422 names a rule of UNSTATABLE."""
    if response.status_code != 422 or not fits_the_schema(case):
        return
    problem = response.json()
    assert problem["type"] in (
        "urn:learndyn:invalid-problem",
        "urn:learndyn:limit-exceeded",
    ), f"a schema-valid request refused by the schema's own validation: {problem}"
    for error in problem.get("errors") or []:
        field = error["field"]
        head = field.removeprefix("base.").removeprefix("grid.")
        known = any(head == f or head.startswith(f + ".") for f in UNSTATABLE)
        assert known or field.startswith("grid."), f"an undocumented rule: {problem}"


FUZZ = settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))


@open_schema.parametrize()
@FUZZ
def test_every_operation_conforms(case: schemathesis.Case) -> None:
    check_refusal(case, case.call_and_validate())


@pytest.mark.slow  # 80 s; the same fuzz as above with the key added (python3 run.py test --slow)
@keyed_schema.parametrize()
@FUZZ
def test_every_operation_conforms_with_a_key(case: schemathesis.Case) -> None:
    # the key is added unless the case is about the headers themselves (a negative case that
    # drops or garbles Authorization must reach the service as generated, and get its 401)
    headers = case.meta.components.get(ParameterLocation.HEADER) if case.meta else None
    negative = headers is not None and headers.mode is GenerationMode.NEGATIVE
    response = case.call_and_validate(
        headers=None if negative else {"Authorization": f"Bearer {KEY}"}
    )
    check_refusal(case, response)
