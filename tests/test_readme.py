"""The README's example request gives the answer the README shows."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

README = (Path(__file__).resolve().parents[1] / "README.md").read_text()


def _subset_matches(shown: object, real: object) -> None:
    if isinstance(shown, dict):
        assert isinstance(real, dict)
        for key, value in shown.items():
            _subset_matches(value, real[key])
    elif isinstance(shown, list):
        assert isinstance(real, list) and len(shown) == len(real)
        for a, b in zip(shown, real, strict=True):
            _subset_matches(a, b)
    elif isinstance(shown, float):
        assert real == pytest.approx(shown, rel=1e-9)
    else:
        assert shown == real


def test_readme_example_answer_is_the_real_one(client: TestClient) -> None:
    request = re.search(r"-d '\n(\{.*?\})'\n", README, re.S)
    answer = re.search(r"```json\n(\{.*?\})\n```", README, re.S)
    assert request and answer
    response = client.post("/train", json=json.loads(request.group(1)))
    assert response.status_code == 200
    _subset_matches(json.loads(answer.group(1)), response.json())


def test_ci_runs_the_readme_test_command() -> None:
    ci = (Path(__file__).resolve().parents[1] / ".ci" / "run").read_text()
    assert "python3 run.py test" in README
    assert "python3 run.py test" in ci.splitlines()[-1]
