"""Authentication, CORS, request ids and access logs, and error bodies without internals."""

from __future__ import annotations

import json
import logging

import pytest
from fastapi.testclient import TestClient

from service.app import create_app
from service.settings import Settings
from tests.conftest import strict_json, wait_until_ready
from tests.problems import assert_problem

SCALAR = {"dataset": {"inputs": [[1.0]], "targets": [1]}, "steps": 10}


@pytest.fixture(scope="module")
def keyed() -> TestClient:
    with TestClient(create_app(Settings(api_key="k3y"))) as c:
        wait_until_ready(c)  # /readyz is 503 until the kernel warm-up has finished
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
    """Without a key no request needs one; the schema declares the bearer optional."""
    assert client.post("/train", json=SCALAR).status_code == 200
    keyed = client.post("/train", json=SCALAR, headers={"authorization": "Bearer x"})
    assert keyed.status_code == 200
    schema = client.get("/openapi.json").json()
    assert schema["paths"]["/train"]["post"]["security"] == [{}, {"HTTPBearer": []}]


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
        assert r.status_code == 400  # Starlette refuses a preflight from an unlisted origin
        assert "access-control-allow-origin" not in r.headers


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


ONE = '{"dataset": {"inputs": [[1]], "targets": [1]}'
MILLION = 1_000_000
REQUEST, RULE, LIMIT = "invalid-request", "invalid-problem", "limit-exceeded"


@pytest.mark.parametrize(
    ("raw", "kind", "field", "words"),
    [
        # nested past the JSON parser's recursion limit: valid JSON it cannot read, a 400
        ("[" * 10_000 + "]" * 10_000, None, None, "error parsing the body"),
        ('{"dataset": ' * 5000 + "1" + "}" * 5000, None, None, "error parsing the body"),
        ('{"dataset": {"inputs": [[1e400]], "targets": [1]}}', REQUEST,
         "dataset.inputs.0.0", "finite number"),
        (ONE + ', "steps": 1e400}', REQUEST, "steps", "valid integer"),
        (ONE + ', "steps": 99999999999999999999999999}', REQUEST, "steps",
         "less than or equal to 10000000000"),
        ('{"dataset": {"inputs": "[[1]]", "targets": [1]}}', REQUEST, "dataset.inputs",
         "valid list"),
        ('{"dataset": {"inputs": [[true]], "targets": [1]}}', REQUEST, "dataset.inputs.0.0",
         "valid number"),
        ('{"dataset": {"inputs": [[1]], "targets": ["1"]}}', REQUEST, "dataset.targets.0",
         "-1 or 1"),
        (ONE + ', "learning_rate": "0.1"}', REQUEST, "learning_rate", "valid number"),
        (ONE + ', "record": {"points": -1}}', REQUEST, "record.points",
         "greater than or equal to 1"),
        (ONE + ', "seed": -1}', REQUEST, "seed", "greater than or equal to 0"),
        (ONE + ', "initial_weights": [1e308, 1e308]}', RULE, "initial_weights",
         "needs 1 weights; got 2"),
        ('{"dataset": {"inputs": [' + ",".join(["[1]"] * MILLION) + '], "targets": [1]}}',
         RULE, "dataset.targets", f"{MILLION} rows, 1 targets"),
        # 10^4 default steps · n·m = 10^4·1·10^6 = 1e10 > the default work budget 2e9
        ('{"dataset": {"inputs": [[' + ",".join(["1"] * MILLION) + ']], "targets": [1]}}',
         LIMIT, "steps", ("= 1e+10", "work budget of 2e+09")),
        ('"just a string"', REQUEST, "", "valid dictionary or object"),
        # a repeated key is refused, not resolved to the last value (service/api/json_body.py)
        (ONE + ', "dataset": 3}', REQUEST, "dataset", "`dataset` appears 2 times"),
    ],
)  # fmt: skip
def test_hostile_bodies_get_a_4xx_naming_the_rule_never_500(
    client: TestClient,
    raw: str,
    kind: str | None,
    field: str | None,
    words: str | tuple[str, ...],
) -> None:
    r = client.post("/train", content=raw.encode(), headers={"content-type": "application/json"})
    if kind is None:
        assert r.status_code == 400, r.text[:300]
        assert r.headers["content-type"] == "application/problem+json"
        body = strict_json(r.text)
        assert (body["status"], body["title"], body["type"]) == (400, "Bad Request", "about:blank")
        assert words in body["detail"]
    else:
        assert field is not None
        assert_problem(r, kind=kind, field=field, words=words)
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
            assert_problem(r, kind="limit-exceeded", field=field, words=figures)
