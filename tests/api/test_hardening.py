"""Authentication, CORS, request ids and access logs, and error bodies without internals."""

from __future__ import annotations

import json
import logging

import pytest
from fastapi.testclient import TestClient

from service.app import create_app
from service.settings import Settings
from tests.conftest import strict_json

SCALAR = {"dataset": {"inputs": [[1.0]], "targets": [1]}, "steps": 10}


@pytest.fixture(scope="module")
def keyed() -> TestClient:
    with TestClient(create_app(Settings(api_key="k3y"))) as c:
        yield c  # type: ignore[misc]


@pytest.mark.parametrize(
    "authorization", [None, "Bearer wrong", "Bearer k3yy", "Basic k3y", "k3y", "Bearer "]
)
def test_compute_needs_the_key_when_one_is_set(
    keyed: TestClient, authorization: str | None
) -> None:
    headers = {} if authorization is None else {"authorization": authorization}
    r = keyed.post("/train", json=SCALAR, headers=headers)
    assert r.status_code == 401
    assert r.headers["content-type"] == "application/problem+json"
    assert r.headers["www-authenticate"] == "Bearer"
    assert "k3y" not in r.text


def test_the_right_key_opens_compute_and_the_rest_stays_open(keyed: TestClient) -> None:
    r = keyed.post("/train", json=SCALAR, headers={"authorization": "Bearer k3y"})
    assert r.status_code == 200
    for path in ("/healthz", "/readyz", "/version", "/openapi.json"):
        assert keyed.get(path).status_code == 200, path


def test_no_key_no_auth(client: TestClient) -> None:
    assert client.post("/train", json=SCALAR).status_code == 200
    schema = client.get("/openapi.json").json()
    assert "401" not in schema["paths"]["/train"]["post"]["responses"]


def test_cors_is_closed_by_default_and_configurable(client: TestClient) -> None:
    preflight = {
        "origin": "http://example.test",
        "access-control-request-method": "POST",
        "access-control-request-headers": "content-type",
    }
    r = client.options("/train", headers=preflight)
    assert "access-control-allow-origin" not in r.headers
    r = client.post("/train", json=SCALAR, headers={"origin": "http://example.test"})
    assert "access-control-allow-origin" not in r.headers
    with TestClient(create_app(Settings(cors_origins=("http://example.test",)))) as open_cors:
        r = open_cors.options("/train", headers=preflight)
        assert r.status_code == 200
        assert r.headers["access-control-allow-origin"] == "http://example.test"
        r = open_cors.options("/train", headers={**preflight, "origin": "http://other.test"})
        assert r.headers.get("access-control-allow-origin") != "http://other.test"


def test_request_id_is_returned_and_logged_as_json(
    client: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger="learndyn.access"):
        r = client.post("/train", json=SCALAR, headers={"x-request-id": "abc-123"})
        fresh = client.get("/healthz")
        client.post("/train", json={"dataset": {}})
    assert r.headers["x-request-id"] == "abc-123"
    assert len(fresh.headers["x-request-id"]) == 32
    lines = [
        json.loads(rec.getMessage()) for rec in caplog.records if rec.name == "learndyn.access"
    ]
    assert [(x["method"], x["path"], x["status"]) for x in lines] == [
        ("POST", "/train", 200),
        ("GET", "/healthz", 200),
        ("POST", "/train", 422),
    ]
    assert lines[0]["request_id"] == "abc-123" and lines[0]["duration_ms"] >= 0
    assert lines[1]["request_id"] == fresh.headers["x-request-id"]


def test_a_server_error_carries_no_trace_or_path() -> None:
    app = create_app(Settings())

    @app.get("/boom")
    def boom() -> None:
        raise RuntimeError("secret /work/main/service/core/descent.py line 42")

    with TestClient(app, raise_server_exceptions=False) as c:
        r = c.get("/boom")
    assert r.status_code == 500
    assert r.headers["content-type"] == "application/problem+json"
    body = strict_json(r.text)
    assert body["status"] == 500 and body["title"] == "Internal Server Error"
    assert "secret" not in r.text and "Traceback" not in r.text and ".py" not in r.text
    assert r.headers["x-request-id"]


@pytest.mark.parametrize(
    "raw",
    [
        "[" * 10_000 + "]" * 10_000,
        '{"dataset": ' * 5000 + "1" + "}" * 5000,
        '{"dataset": {"inputs": [[1e400]], "targets": [1]}}',
        '{"dataset": {"inputs": [[1]], "targets": [1]}, "steps": 1e400}',
        '{"dataset": {"inputs": [[1]], "targets": [1]}, "steps": 99999999999999999999999999}',
        '{"dataset": {"inputs": "[[1]]", "targets": [1]}}',
        '{"dataset": {"inputs": [[true]], "targets": [1]}}',
        '{"dataset": {"inputs": [[1]], "targets": ["1"]}}',
        '{"dataset": {"inputs": [[1]], "targets": [1]}, "learning_rate": "0.1"}',
        '{"dataset": {"inputs": [[1]], "targets": [1]}, "record": {"points": -1}}',
        '{"dataset": {"inputs": [[1]], "targets": [1]}, "seed": -1}',
        '{"dataset": {"inputs": [[1]], "targets": [1]}, "initial_weights": [1e308, 1e308]}',
        '{"dataset": {"inputs": [' + ",".join(["[1]"] * 1_000_000) + '], "targets": [1]}}',
        '{"dataset": {"inputs": [[' + ",".join(["1"] * 1_000_000) + ']], "targets": [1]}}',
        "\x00\xff",
        '"just a string"',
        '{"dataset": {"inputs": [[1]], "targets": [1]}, "dataset": 3}',
    ],
)
def test_hostile_bodies_get_4xx_never_500(client: TestClient, raw: str) -> None:
    r = client.post("/train", content=raw.encode(), headers={"content-type": "application/json"})
    assert 400 <= r.status_code < 500, r.text[:300]
    assert r.headers["content-type"] == "application/problem+json"
    assert client.get("/healthz").status_code == 200


@pytest.mark.parametrize(
    ("settings", "body", "field", "figures"),
    [
        (
            Settings(max_cells=6),
            {"dataset": {"inputs": [[1.0]] * 7, "targets": [1] * 7}},
            "dataset.inputs",
            ("7·1 = 7", "limit of 6", "LEARNDYN_MAX_CELLS"),
        ),
        (
            Settings(max_work=1000),
            {**SCALAR, "steps": 1001},
            "steps",
            ("1001·1·1 = 1e+03", "budget of 1e+03", "LEARNDYN_MAX_WORK"),
        ),
        (
            Settings(max_record_points=50),
            {**SCALAR, "record": {"points": 51}},
            "record.points",
            ("record.points = 51", "limit of 50", "LEARNDYN_MAX_RECORD_POINTS"),
        ),
    ],
)
def test_each_limit_is_a_422_with_the_figure(
    settings: Settings, body: dict[str, object], field: str, figures: tuple[str, ...]
) -> None:
    with TestClient(create_app(settings)) as c:
        for path in (
            ("/train", "/minima", "/separability") if field == "dataset.inputs" else ("/train",)
        ):
            r = c.post(path, json=body)
            assert r.status_code == 422, (path, r.text)
            answer = strict_json(r.text)
            assert answer["errors"][0]["field"] == field
            for figure in figures:
                assert figure in answer["detail"], (figure, answer["detail"])
