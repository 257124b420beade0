"""What the layers around the routes answer: a refused CORS preflight as problem+json, and the
connection limits in /version."""

from __future__ import annotations

import resource

from fastapi.testclient import TestClient

from service import limits
from service.app import create_app
from service.settings import Settings
from tests.conftest import strict_json


def test_a_refused_cors_preflight_is_problem_json() -> None:
    settings = Settings(cors_origins=("http://example.test",))
    with TestClient(create_app(settings)) as client:
        r = client.options(
            "/train",
            headers={
                "origin": "http://other.test",
                "access-control-request-method": "POST",
                "access-control-request-headers": "content-type, x-secret",
            },
        )
    assert r.status_code == 400
    assert r.headers["content-type"] == "application/problem+json"
    body = strict_json(r.text)
    assert (body["status"], body["title"]) == (400, "Bad Request")
    assert body["detail"] == "Disallowed CORS origin, headers (allowed: LEARNDYN_CORS_ORIGINS)"
    assert "access-control-allow-origin" not in r.headers
    assert r.headers["access-control-allow-methods"] == "GET, POST"  # Starlette's headers kept


def test_version_reports_this_process_connection_limits() -> None:
    settings = Settings(max_connections=123, header_seconds=3.5, body_seconds=7.0)
    with TestClient(create_app(settings)) as client:
        reported = client.get("/version").json()["connections"]
    descriptors = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
    spare = descriptors - limits.FD_RESERVE
    cap = min(123, spare - min(limits.MAX_BACKLOG, spare // 2))
    assert reported == {
        "file_descriptors": descriptors,
        "max_connections": cap,
        "header_seconds": 3.5,
        "body_seconds": 7.0,
        "keepalive_seconds": limits.DEFAULT_KEEPALIVE_SECONDS,
        "shutdown_seconds": limits.DEFAULT_SHUTDOWN_SECONDS,
    }
