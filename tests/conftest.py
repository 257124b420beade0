"""Shared fixtures: an in-process client of a fresh app."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from service.app import create_app
from service.settings import Settings


@pytest.fixture(scope="module")
def client() -> Iterator[TestClient]:
    with TestClient(create_app(Settings())) as c:
        wait_until_ready(c)
        yield c


def wait_until_ready(client: TestClient, timeout: float = 300.0) -> None:
    """Poll /readyz until the start-up warm-up (kernel compilation) has finished."""
    deadline = time.monotonic() + timeout
    while client.get("/readyz").status_code != 200:
        assert time.monotonic() < deadline, "not ready after the warm-up timeout"
        time.sleep(0.02)


def strict_json(text: str) -> Any:
    """Parse JSON, failing on NaN, Infinity and -Infinity (which real JSON cannot carry)."""

    def reject(token: str) -> Any:
        raise AssertionError(f"non-finite number {token} in JSON body")

    return json.loads(text, parse_constant=reject)
