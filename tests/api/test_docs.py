"""/docs and /redoc are self-contained, the description states the conventions, and every
named request example of every operation is valid and gets 200."""

from __future__ import annotations

import copy
import math
import re
from typing import Any

import pytest
from fastapi.testclient import TestClient
from jsonschema import Draft202012Validator

from service.api.docs import ASSETS_DIR, REDOC_BUNDLE, REDOC_LOGO_URL
from service.app import create_app
from service.settings import Settings
from tests.conftest import strict_json

SCHEMA = create_app(Settings()).openapi()
METHODS = ("get", "put", "post", "delete", "patch")


def operations(schema: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    """(method, path, operation) for every operation of an OpenAPI schema."""
    return [
        (method, path, op)
        for path, item in schema["paths"].items()
        for method, op in item.items()
        if method in METHODS
    ]


def examples(schema: dict[str, Any]) -> list[tuple[str, str, str, dict[str, Any]]]:
    """(method, path, name, example) for every named JSON request example."""
    return [
        (method, path, name, example)
        for method, path, op in operations(schema)
        for name, example in op.get("requestBody", {})
        .get("content", {})
        .get("application/json", {})
        .get("examples", {})
        .items()
    ]


def validator(schema: dict[str, Any], subschema: dict[str, Any]) -> Draft202012Validator:
    """A JSON Schema 2020-12 validator of ``subschema`` whose ``#/components/...`` refs
    resolve in ``schema`` (OpenAPI 3.1 schemas are JSON Schema 2020-12)."""
    root = {**subschema, "components": schema["components"]}
    Draft202012Validator.check_schema(root)
    return Draft202012Validator(root)


def test_every_operation_with_a_body_has_named_examples() -> None:
    with_body = [(m, p) for m, p, op in operations(SCHEMA) if "requestBody" in op]
    assert ("post", "/train") in with_body
    named = {(m, p) for m, p, _, _ in examples(SCHEMA)}
    assert set(with_body) <= named, f"operations without a named example: {set(with_body) - named}"
    for _, _, name, example in examples(SCHEMA):
        assert example["summary"] and example["description"] and "value" in example, name


def test_the_paper_log_rule_is_a_named_train_example() -> None:
    train = {name: ex["value"] for m, p, name, ex in examples(SCHEMA) if p == "/train"}
    log_rule = train["log_rule"]
    assert log_rule["dataset"] == {"inputs": [[1.0]], "targets": [1]}
    assert log_rule["activation"] == "tanh"


@pytest.mark.parametrize(
    ("method", "path", "name", "example"),
    examples(SCHEMA),
    ids=[f"{m.upper()} {p} {n}" for m, p, n, _ in examples(SCHEMA)],
)
def test_named_example_is_valid_and_succeeds(
    client: TestClient, method: str, path: str, name: str, example: dict[str, Any]
) -> None:
    op = SCHEMA["paths"][path][method]
    request_schema = op["requestBody"]["content"]["application/json"]["schema"]
    errors = list(validator(SCHEMA, request_schema).iter_errors(example["value"]))
    assert not errors, [e.message for e in errors]

    response = client.request(method.upper(), path, json=example["value"])
    success = min(code for code in op["responses"] if code.startswith("2"))  # 200, or 202
    assert response.status_code == int(success), response.text
    declared = op["responses"][success]["content"]
    if "application/json" not in declared:  # an image: of a declared type, not empty
        image_format = example["value"].get("format", "svg")
        expected = {"svg": "image/svg+xml", "png": "image/png"}[image_format]
        assert response.headers["content-type"] == expected and expected in declared
        assert len(response.content) > 1000
        return
    body = strict_json(response.text)
    response_schema = declared["application/json"]["schema"]
    errors = list(validator(SCHEMA, response_schema).iter_errors(body))
    assert not errors, [e.message for e in errors]


def test_the_example_validator_rejects_a_broken_example() -> None:
    """The check above can fail: an unknown field, a target of 0 as a string, no dataset."""
    request_schema = SCHEMA["paths"]["/train"]["post"]["requestBody"]["content"][
        "application/json"
    ]["schema"]
    check = validator(SCHEMA, request_schema)
    good = {name: ex["value"] for m, p, name, ex in examples(SCHEMA) if p == "/train"}["log_rule"]
    assert check.is_valid(good)
    for mutate in (
        lambda v: v.update(learning_rat=0.1),
        lambda v: v["dataset"].update(targets=["1"]),
        lambda v: v.pop("dataset"),
        lambda v: v.update(steps=0.5),
    ):
        broken = copy.deepcopy(good)
        mutate(broken)
        assert not check.is_valid(broken), broken


def test_description_states_the_conventions() -> None:
    text = SCHEMA["info"]["description"]
    for needle in (
        "E(x) = Σ_i (θ(A_i·x) − y_i)²",
        "no factor 1/2",
        "B = diag(y)·A",
        "t counts steps",
        "2e^(−2z)",  # tanh's tail
        "2e^(−z)",  # logistic's
        "(2/π)/z",  # arctan's
        "e^(−z²)/(z√π)",  # erf's
    ):
        assert needle in text, needle
    for activation in ("tanh", "logistic", "arctan", "erf"):
        assert f"`{activation}`" in text


@pytest.mark.parametrize("page", ["/docs", "/redoc"])
def test_docs_page_loads_only_from_the_service(client: TestClient, page: str) -> None:
    response = client.get(page)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    policy = response.headers["content-security-policy"]
    assert "default-src 'self'" in policy and "http" not in policy
    urls = re.findall(r"""(?:src|href|url|spec-url)\s*[=:]\s*["']([^"']+)["']""", response.text)
    assert len(urls) >= 2, urls
    for url in urls:
        assert url.startswith("/") and not url.startswith("//"), f"{page} loads {url}"
        assert client.get(url).status_code == 200, url
    assert "cdn" not in response.text.lower() and "fonts.googleapis" not in response.text


def test_redoc_bundle_is_served_without_its_cdn_logo(client: TestClient) -> None:
    original = (ASSETS_DIR / REDOC_BUNDLE).read_text(encoding="utf-8")
    assert REDOC_LOGO_URL in original  # fails when a new ReDoc moves the logo: look again
    served = client.get(f"/docs-assets/{REDOC_BUNDLE}")
    assert served.status_code == 200
    assert served.headers["content-type"].startswith("text/javascript")
    assert "cdn.redoc.ly" not in served.text
    assert len(served.text) == pytest.approx(len(original), rel=1e-3)


def test_train_examples_show_what_their_descriptions_claim(client: TestClient) -> None:
    """log_rule: t·Δx → 1/4 (x ≈ (1/4)·log(64ηt) from ẋ ≈ 16η·e^(−4x)). polynomial_tail:
    ẋ ≈ 2η·(2/π)²/x³ for arctan, so x⁴/t → 8η·(2/π)²."""
    train = {name: ex["value"] for m, p, name, ex in examples(SCHEMA) if p == "/train"}

    log_rule = strict_json(client.post("/train", json=train["log_rule"]).text)
    assert log_rule["history"]["t"][-1] == train["log_rule"]["steps"]
    assert log_rule["history"]["t_delta"][-1][0] == pytest.approx(0.25, rel=0.03)

    tail = train["polynomial_tail"]
    answer = strict_json(client.post("/train", json=tail).text)
    x, t = answer["weights"][0], answer["steps"]
    eta = tail["learning_rate"]
    assert x**4 / t == pytest.approx(8 * eta * (2 / math.pi) ** 2, rel=0.06)
