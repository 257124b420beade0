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


def test_every_error_response_is_problem_json_with_its_schema() -> None:
    """No error response declares application/json (the service never sends it) and each
    declares the Problem schema under application/problem+json."""
    schema = create_app(Settings()).openapi()
    seen = 0
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            for status, response in operation["responses"].items():
                if int(status) < 400 or path == "/readyz":  # its 503 is the Readiness answer
                    continue
                content = response["content"]
                assert list(content) == ["application/problem+json"], (method, path, status)
                problem = content["application/problem+json"]
                assert problem["schema"] == {"$ref": "#/components/schemas/Problem"}
                if status in ("400", "401", "404", "415", "422"):
                    assert problem["example"]["status"] == int(status), (method, path, status)
                seen += 1
    assert seen > 50


def test_the_bearer_scheme_is_declared_optional_without_a_key_and_required_with_one() -> None:
    open_schema = create_app(Settings()).openapi()
    keyed = create_app(Settings(api_key="k")).openapi()
    for schema in (open_schema, keyed):
        assert schema["components"]["securitySchemes"]["HTTPBearer"] == {
            "type": "http",
            "scheme": "bearer",
            "description": "Required when LEARNDYN_API_KEY is set.",
        }
    for path, operations in open_schema["paths"].items():
        for method, operation in operations.items():
            guarded = path not in ("/healthz", "/readyz", "/version")
            expected = [{}, {"HTTPBearer": []}] if guarded else None
            assert operation.get("security") == expected, (method, path)
            assert ("401" in operation["responses"]) is guarded
            if guarded:
                keyed_operation = keyed["paths"][path][method]
                assert keyed_operation["security"] == [{"HTTPBearer": []}]
                assert keyed_operation["responses"]["401"] == operation["responses"]["401"]


def test_figures_answer_binary_strings() -> None:
    schema = create_app(Settings()).openapi()
    for path in ("/figures/train", "/figures/minima", "/figures/paper/{number}"):
        for operation in schema["paths"][path].values():
            content = operation["responses"]["200"]["content"]
            assert set(content) == {"image/svg+xml", "image/png"}
            for media in content.values():
                assert media["schema"] == {"type": "string", "format": "binary"}


def test_train_is_one_variant_per_method() -> None:
    """/train's body is oneOf gd, online, flow, anneal; each variant holds its method's fields
    only."""
    schema = create_app(Settings()).openapi()
    body = schema["paths"]["/train"]["post"]["requestBody"]["content"]["application/json"]
    refs = [v["$ref"].rsplit("/", 1)[1] for v in body["schema"]["oneOf"]]
    assert refs == ["GdRequest", "OnlineRequest", "FlowRequest", "AnnealRequest"]
    variants = {name: schema["components"]["schemas"][name] for name in refs}
    own = {name: set(v["properties"]) for name, v in variants.items()}
    common = set.intersection(*own.values())
    assert own["GdRequest"] - common == {"steps"}
    assert own["OnlineRequest"] - common == {"steps", "order"}
    assert own["FlowRequest"] - common == {"t_max", "rtol", "atol"}
    assert own["AnnealRequest"] - common == {"steps", "temperature", "cooling_time"}
    assert "t_max" in variants["FlowRequest"]["required"]
    assert "temperature" in variants["AnnealRequest"]["required"]
    temperature = variants["AnnealRequest"]["properties"]["temperature"]
    assert temperature["minimum"] == 0
    assert variants["AnnealRequest"]["properties"]["cooling_time"]["exclusiveMinimum"] == 0
    assert "method" in variants["OnlineRequest"]["required"]
    assert "method" not in variants["GdRequest"].get("required", [])  # gd is the default
    for variant in variants.values():
        assert variant["additionalProperties"] is False
    targets = schema["components"]["schemas"]["Dataset"]["properties"]["targets"]
    assert targets["items"]["enum"] == [-1, 1]


def test_every_bound_is_stated_in_json_schema_terms() -> None:
    """No pydantic-named bound (ge, le, gt, lt) is left, and the counts' bounds are stated."""
    text = json.dumps(create_app(Settings()).openapi())
    for name in ("ge", "le", "gt", "lt"):
        assert f'"{name}":' not in text, name
    schemas = create_app(Settings()).openapi()["components"]["schemas"]
    steps = schemas["GdRequest"]["properties"]["steps"]
    assert (steps["minimum"], steps["maximum"]) == (1, 10**10)
    assert schemas["Network"]["properties"]["hidden"]["items"] == {
        "type": "integer",
        "minimum": 1,
        "maximum": 256,
    }
    assert schemas["CurveRequest"]["properties"]["points"]["minimum"] == 3
    assert schemas["LogRange"]["properties"]["log_range"]["prefixItems"][2]["minimum"] == 1
