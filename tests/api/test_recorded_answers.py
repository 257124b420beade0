"""The response examples of the schema are the service's real answers (service/recording.py)."""

from __future__ import annotations

import math
from typing import Any

from service.api.recorded import recorded_answers
from service.app import create_app
from service.recording import RECORDINGS, record
from service.settings import Settings


def same(a: Any, b: Any) -> bool:
    """Equal JSON; floats to 1e-12 relative (the kernel is compiled for the host CPU)."""
    if isinstance(a, float) or isinstance(b, float):
        return (
            isinstance(a, int | float)
            and isinstance(b, int | float)
            and math.isclose(a, b, rel_tol=1e-12, abs_tol=1e-300)
        )
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    return bool(a == b)


def test_the_recorded_answers_are_what_the_service_answers_now() -> None:
    recorded = recorded_answers()
    fresh = record()
    assert list(fresh) == [r.key for r in RECORDINGS] == list(recorded)
    for key in recorded:
        assert same(fresh[key], recorded[key]), (
            f"{key} changed: run `python -m service.recording` and regenerate openapi.json"
        )


def test_the_schema_shows_the_recorded_answers() -> None:
    schema = create_app(Settings()).openapi()
    for key, answer in recorded_answers().items():
        method, path, status = key.split(" ")
        content = schema["paths"][path][method.lower()]["responses"][status]["content"]
        media = "application/json" if status.startswith("2") else "application/problem+json"
        assert content[media]["example"] == answer, key


def test_the_200_examples_are_consistent_answers() -> None:
    """The /minima example: a finite minimum has its x (the stitched example had x: null)."""
    minima = recorded_answers()["POST /minima 200"]
    assert minima["critical_points"] and all(p["x"] is not None for p in minima["critical_points"])
    train = recorded_answers()["POST /train 200"]
    assert train["steps"] == 10_000 and len(train["history"]["t"]) == len(train["history"]["error"])
