"""Studies sit behind the same bearer key as the compute routes."""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient

from service.app import create_app
from service.settings import Settings

SWEEP = {
    "kind": "sweep",
    "base": {"dataset": {"inputs": [[1.0]], "targets": [1]}, "steps": 100},
    "grid": {"seed": [0, 1]},
}


def test_every_study_route_needs_the_key(tmp_path: Path) -> None:
    app = create_app(Settings(api_key="s3cret", data_dir=str(tmp_path)))
    with TestClient(app) as client:
        study = "0" * 32
        calls = [
            ("POST", "/studies", SWEEP),
            ("GET", "/studies", None),
            ("GET", f"/studies/{study}", None),
            ("GET", f"/studies/{study}/results", None),
            ("GET", f"/studies/{study}/events", None),
            ("DELETE", f"/studies/{study}", None),
        ]
        for method, path, body in calls:
            r = client.request(method, path, json=body)
            assert r.status_code == 401, (method, path, r.status_code)
            assert r.headers["www-authenticate"] == "Bearer"
            assert r.json()["detail"].startswith("this endpoint needs 'Authorization: Bearer")
        keyed = {"Authorization": "Bearer s3cret"}
        listed = client.get("/studies", headers=keyed)
        assert listed.status_code == 200
        assert listed.json() == {"studies": [], "total": 0, "offset": 0, "limit": 100}
        missing = client.get(f"/studies/{study}", headers=keyed)
        assert missing.status_code == 404
        assert missing.headers["content-type"] == "application/problem+json"
        assert missing.json() == {
            "type": "about:blank",
            "title": "Not Found",
            "status": 404,
            "detail": f"no study {study}",
        }
