"""The errors a user makes on the way in: no JSON Content-Type, and a misspelled field."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from tests.problems import assert_problem

BODY = '{"dataset": {"inputs": [[1.0]], "targets": [1]}}'
FORM = "application/x-www-form-urlencoded"


@pytest.mark.parametrize(
    ("headers", "shown"),
    [
        (
            {"content-type": "application/x-www-form-urlencoded"},
            "application/x-www-form-urlencoded",
        ),
        ({"content-type": "text/plain"}, "text/plain"),
        ({}, "no Content-Type"),
    ],
)
def test_a_body_not_sent_as_json_is_415_saying_what_to_send(
    client: TestClient, headers: dict[str, str], shown: str
) -> None:
    # what plain `curl -d` sends: the form content type
    r = client.post("/train", content=BODY, headers=headers)
    assert r.status_code == 415
    assert r.headers["content-type"] == "application/problem+json"
    body = r.json()
    assert body["type"] == "urn:learndyn:unsupported-media-type"
    assert body["title"] == "Unsupported Media Type"
    assert body["detail"] == (
        "send the request body as JSON, with the header Content-Type: application/json "
        f"(got {shown})"
    )


def test_json_with_a_charset_is_json(client: TestClient) -> None:
    r = client.post(
        "/train", content=BODY, headers={"content-type": "application/json; charset=utf-8"}
    )
    assert r.status_code == 200


@pytest.mark.parametrize(
    ("extra", "field", "meant"),
    [
        ({"lerning_rate": 0.1}, "lerning_rate", "learning_rate"),
        ({"stop": {"weight_bnd": 3}}, "stop.weight_bnd", "weight_bound"),
        ({"record": {"point": 3}}, "record.point", "points"),
        ({"datasett": 1}, "datasett", "dataset"),
    ],
)
def test_an_unknown_field_names_the_nearest_known_one(
    client: TestClient, extra: dict[str, object], field: str, meant: str
) -> None:
    body = {"dataset": {"inputs": [[1.0]], "targets": [1]}, **extra}
    if "datasett" in extra:
        body = {"datasett": 1, "dataset": body["dataset"]}
    r = client.post("/train", json=body)
    assert_problem(
        r,
        kind="invalid-request",
        field=field,
        words=f"Extra inputs are not permitted; did you mean `{meant}`?",
        error_type="extra_forbidden",
    )


def test_no_guess_when_nothing_is_close(client: TestClient) -> None:
    r = client.post("/train", json={"dataset": {"inputs": [[1.0]], "targets": [1]}, "zzz": 1})
    entry = assert_problem(
        r, kind="invalid-request", field="zzz", words="Extra inputs are not permitted"
    )
    assert "did you mean" not in entry["message"]
