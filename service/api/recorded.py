"""Response examples for the docs, recorded from the service itself: the answers of
``recorded_answers.json`` beside this module, which :mod:`service.recording` writes (each keyed
``"<METHOD> <path template> <status>"``) and the OpenAPI schema shows
(:mod:`service.api.openapi_shape`)."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

RECORDED_ANSWERS = Path(__file__).with_name("recorded_answers.json")


@cache
def recorded_answers() -> dict[str, Any]:
    """The answers of ``recorded_answers.json`` (see the module docstring)."""
    answers: dict[str, Any] = json.loads(RECORDED_ANSWERS.read_text(encoding="utf-8"))
    return answers
