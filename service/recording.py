"""Record the answers the schema shows as examples (``service/api/recorded_answers.json``).

The schema's examples of answers are real answers: :func:`record` sends each request of
:data:`RECORDINGS` to an app made with the default settings (and, for the 401, one with an
API key) and keeps what it answers. A test records again and compares
(``tests/api/test_recorded_answers.py``); after a change to an answer,
``python -m service.recording`` writes the file anew (then regenerate openapi.json).

The answers whose cause a request cannot reproduce on demand (500, 503, 504) have none. This
module builds apps, so it sits beside :mod:`service.app`, not under :mod:`service.api`.
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass, field
from typing import Any

from service.api.examples import MINIMA_EXAMPLES, SEPARABILITY_EXAMPLES, TRAIN_EXAMPLES
from service.api.recorded import RECORDED_ANSWERS

RECORDING_KEY = "recording-key"
"""The API key of the app that records the 401."""


@dataclass(frozen=True, slots=True)
class Recording:
    """One request to record: sent as ``method`` to ``url``; documented at ``template``."""

    method: str
    template: str
    status: int
    url: str = ""
    json: Any = None
    content: bytes | None = None
    headers: dict[str, str] = field(default_factory=dict)
    keyed: bool = False

    @property
    def key(self) -> str:
        return f"{self.method} {self.template} {self.status}"


SCALAR = {"dataset": {"inputs": [[1.0]], "targets": [1]}}
NOT_A_TARGET = {"dataset": {"inputs": [[1.0]], "targets": [0]}, "learning_rate": -1}
RAGGED = {"dataset": {"inputs": [[1.0], [2.0, 3.0]], "targets": [1, -1]}}
JSON_HEADER = {"content-type": "application/json"}
RECORDINGS: tuple[Recording, ...] = (
    Recording("POST", "/train", 200, json=TRAIN_EXAMPLES["log_rule"]["value"]),
    Recording("POST", "/minima", 200, json=MINIMA_EXAMPLES["type_3_landscape"]["value"]),
    Recording(
        "POST", "/separability", 200, json=next(iter(SEPARABILITY_EXAMPLES.values()))["value"]
    ),
    Recording("POST", "/train", 422, json=NOT_A_TARGET),
    Recording("POST", "/minima", 422, json=RAGGED),
    Recording("POST", "/separability", 422, json={"dataset": {"inputs": [[1.0]]}}),
    Recording("POST", "/train", 400, content=b'{"dataset": {"inputs"', headers=JSON_HEADER),
    Recording(
        "POST",
        "/train",
        415,
        content=json.dumps(SCALAR).encode(),
        headers={"content-type": "text/plain"},
    ),
    Recording("GET", "/studies/{study_id}", 404, url="/studies/" + "0" * 32),
    Recording("POST", "/train", 401, json=SCALAR, keyed=True),
)
"""What is recorded: a 200 and a 422 of each computation, and one of each other error a
request can cause. The template's example serves every operation that declares the status."""


def record() -> dict[str, Any]:
    """Send every recording to a fresh app and keep the answers' JSON bodies."""
    from fastapi.testclient import TestClient

    from service.app import create_app
    from service.settings import Settings

    answers: dict[str, Any] = {}
    apps = {
        False: create_app(Settings()),
        True: create_app(Settings(api_key=RECORDING_KEY)),
    }
    for r in RECORDINGS:
        with TestClient(apps[r.keyed]) as client:
            answer = client.request(
                r.method, r.url or r.template, json=r.json, content=r.content, headers=r.headers
            )
        if answer.status_code != r.status:
            raise RuntimeError(f"{r.key}: the service answered {answer.status_code}")
        answers[r.key] = answer.json()
    return answers


def main() -> None:
    """Record the answers again into ``recorded_answers.json``."""
    RECORDED_ANSWERS.write_text(json.dumps(record(), indent=1) + "\n", encoding="utf-8")
    print(f"recorded {len(RECORDINGS)} answers into {RECORDED_ANSWERS}", file=sys.stderr)


if __name__ == "__main__":
    main()
