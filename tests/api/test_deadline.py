"""LEARNDYN_COMPUTE_SECONDS is one deadline for the whole computation (issue 21): a /separability
and a /minima that need longer than it answer 504, as /train's descent always did.

The inputs were measured on the 2-core test machine to need far longer than the 1 s limit:
without it, /separability of the 2000×400 data below answers 200 after 4.9-11.6 s (most of it
HiGHS on the half-space LP, after least-distance programming), /minima of the 300,000 examples
after 15.6 s (the scan of E' for its roots). With the limit both answer 504 after 1.5-1.6 s,
parsing the body included: they stop within one uninterruptible solve of the deadline.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from fastapi.testclient import TestClient

from service.app import create_app
from service.settings import Settings
from tests.conftest import strict_json, wait_until_ready


@pytest.fixture(scope="module")
def one_second(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    data = tmp_path_factory.mktemp("data")
    settings = Settings.from_env({"LEARNDYN_COMPUTE_SECONDS": "1", "LEARNDYN_DATA_DIR": str(data)})
    with TestClient(create_app(settings)) as c:
        wait_until_ready(c)
        yield c


def post_json(client: TestClient, path: str, body: object) -> tuple[float, dict[str, object]]:
    """Post the encoded body; the seconds to the answer (parsing included), and the problem."""
    content = json.dumps(body).encode()
    started = time.monotonic()
    r = client.post(path, content=content, headers={"content-type": "application/json"})
    elapsed = time.monotonic() - started
    assert r.status_code == 504, r.text[:300]
    assert r.headers["content-type"] == "application/problem+json"
    problem = strict_json(r.text)
    assert problem["type"] == "urn:learndyn:time-limit"
    assert "wall-time limit of 1 s" in str(problem["detail"])
    return elapsed, problem


def test_a_long_separability_test_answers_504(one_second: TestClient) -> None:
    rng = np.random.default_rng(0)
    inputs = rng.standard_normal((2000, 400)).round(2)  # 5.1 MB of JSON
    targets = np.where(rng.standard_normal(2000) > 0, 1, -1)
    body = {"dataset": {"inputs": inputs.tolist(), "targets": targets.tolist()}}
    elapsed, problem = post_json(one_second, "/separability", body)
    assert "while testing the data's separability" in str(problem["detail"])
    # measured 1.5-1.6 s: parsing the body, the deadline, at most one solve past it
    assert elapsed < 10.0


def test_a_long_landscape_answers_504(one_second: TestClient) -> None:
    rng = np.random.default_rng(1)
    magnitudes = np.exp(rng.uniform(math.log(1e-3), math.log(1e3), 300_000))
    inputs = [[float(f"{v:.6g}")] for v in magnitudes]  # distinct values: 4.7 MB of JSON
    targets = np.where(rng.random(magnitudes.size) < 0.5, 1, -1).tolist()
    elapsed, problem = post_json(
        one_second, "/minima", {"dataset": {"inputs": inputs, "targets": targets}}
    )
    assert "while finding the critical points of E" in str(problem["detail"])
    # measured 1.5 s: parsing the body, then the deadline (a chunk of the scan is 15 ms)
    assert elapsed < 8.0


def test_the_setting_is_read_from_the_environment(tmp_path: Path) -> None:
    settings = Settings.from_env(
        {"LEARNDYN_COMPUTE_SECONDS": "1", "LEARNDYN_DATA_DIR": str(tmp_path)}
    )
    assert settings.budget().compute_seconds == 1.0
    deadline = settings.budget().start()
    assert deadline.seconds == 1.0 and 0.9 < deadline.remaining() <= 1.0
