"""The committed openapi.json is the app's schema, and says what the contract says."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from service.app import create_app
from service.settings import Settings

ROOT = Path(__file__).resolve().parents[1]


def test_committed_schema_equals_the_apps() -> None:
    committed = json.loads((ROOT / "openapi.json").read_text())
    assert committed == create_app(Settings()).openapi(), (
        "openapi.json drifted: run `.venv/bin/learndyn openapi > openapi.json`"
    )


def test_cli_prints_the_same_schema() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "service.cli", "openapi"], capture_output=True, text=True, check=True
    )
    assert json.loads(out.stdout) == create_app(Settings()).openapi()


def test_errors_are_documented_as_problem_json() -> None:
    schema = create_app(Settings()).openapi()
    responses = schema["paths"]["/train"]["post"]["responses"]
    for status in ("400", "413", "422", "500"):
        assert "application/problem+json" in responses[status]["content"], status
    assert set(schema["components"]["schemas"]["Problem"]["required"]) >= {
        "title",
        "status",
        "detail",
    }
