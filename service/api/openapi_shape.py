"""The OpenAPI schema as generated clients need it: what FastAPI generates, then three fixes.

1. Errors: every error response declares ``application/problem+json`` (the media type the
   service sends) with the ``Problem`` schema and a recorded example
   (:mod:`service.api.recorded`), and no other media type (FastAPI adds the route's own,
   ``application/json`` or ``text/event-stream``, which the service never sends for errors).
   Successful JSON answers get their recorded example too, in place of one stitched from
   per-field examples.
2. Authentication: the bearer scheme is always declared. With no ``LEARNDYN_API_KEY`` it is
   optional on every route but the operations' (``security: [{}, {HTTPBearer: []}]``, and a
   401 declared), so a client generated from the committed schema can send a key to a
   service that requires one; with a key set it is required (FastAPI's own declaration).
3. Figures: their 200 answers (``image/svg+xml`` or ``image/png``, as ``format`` asks) are
   binary strings (``format: binary``).
4. Bounds: pydantic writes a bound it applies after a validator (our ``Count``, which takes
   ``1e6`` as 1000000, then ``Field(ge=1)``) under its own name, ``ge``, which JSON Schema
   ignores (pydantic issue #11576, open); such bounds are renamed ``minimum``,
   ``exclusiveMinimum``, ``maximum``, ``exclusiveMaximum``, so the schema states them.
"""

from __future__ import annotations

from http import HTTPStatus
from typing import Any

from fastapi import FastAPI

from service.api.guards import BEARER
from service.api.ops import router as ops_router
from service.api.problems import PROBLEM_JSON
from service.api.recorded import recorded_answers

PROBLEM_SCHEMA = {"$ref": "#/components/schemas/Problem"}
IMAGE_TYPES = ("image/svg+xml", "image/png")
OPEN_ROUTES_TAGS = frozenset(str(t) for t in ops_router.tags)
"""Operations with these tags (health, readiness, version) never need a key."""


def install_openapi_shape(app: FastAPI, *, key_required: bool) -> None:
    """Make ``app.openapi()`` return FastAPI's schema with the fixes of the module docstring."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = shape(generate(), key_required=key_required)
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def shape(schema: dict[str, Any], *, key_required: bool) -> dict[str, Any]:
    """``schema`` with the fixes of the module docstring (changed in place, and returned)."""
    answers = recorded_answers()
    for path, operations in schema.get("paths", {}).items():
        for method, operation in operations.items():
            responses: dict[str, Any] = operation.get("responses", {})
            open_route = OPEN_ROUTES_TAGS & set(operation.get("tags", ()))
            if not key_required and not open_route:
                operation["security"] = [{}, {BEARER.scheme_name: []}]
                responses.setdefault("401", _problem_response(401))
            for status, response in responses.items():
                key = f"{method.upper()} {path} {status}"
                _shape_response(response, key, status, answers)
    _json_schema_bounds(schema)
    if not key_required:
        schemes = schema.setdefault("components", {}).setdefault("securitySchemes", {})
        schemes[BEARER.scheme_name] = BEARER.model.model_dump(
            mode="json", by_alias=True, exclude_none=True
        )
    return schema


BOUNDS = {"ge": "minimum", "gt": "exclusiveMinimum", "le": "maximum", "lt": "exclusiveMaximum"}
"""pydantic's names of bounds → JSON Schema's."""


def _json_schema_bounds(node: Any) -> None:
    """Rename pydantic's bounds in every numeric schema under ``node`` (fix 4)."""
    if isinstance(node, dict):
        if node.get("type") in ("integer", "number"):
            for ours, theirs in BOUNDS.items():
                if ours in node:
                    node[theirs] = node.pop(ours)
        for value in node.values():
            _json_schema_bounds(value)
    elif isinstance(node, list):
        for value in node:
            _json_schema_bounds(value)


def _problem_response(status: int) -> dict[str, Any]:
    return {"description": HTTPStatus(status).phrase, "content": {PROBLEM_JSON: {}}}


def _shape_response(
    response: dict[str, Any], key: str, status: str, answers: dict[str, Any]
) -> None:
    content: dict[str, Any] = response.get("content", {})
    if PROBLEM_JSON in content:  # FastAPI also put Problem under the route's own media type
        problem: dict[str, Any] = {"schema": PROBLEM_SCHEMA}
        example = answers.get(key, _any_of_status(answers, status))
        if example is not None:
            problem["example"] = example
        response["content"] = {PROBLEM_JSON: problem}
        return
    if "application/json" in content and key in answers:
        content["application/json"]["example"] = answers[key]
    for media in IMAGE_TYPES:
        if media in content:
            content[media] = {"schema": {"type": "string", "format": "binary"}}


def _any_of_status(answers: dict[str, Any], status: str) -> Any:
    """The first recorded answer of ``status`` (any operation's), or None."""
    return next((v for k, v in answers.items() if k.rsplit(" ", 1)[1] == status), None)
