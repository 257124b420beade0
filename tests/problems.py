"""A named assertion for problem+json error answers (the shape of ``service/api/problems.py``).

A 422 is only half an answer: the test must also say which field is named and which rule it
broke. ``assert_problem`` checks the whole RFC 9457 body once, so that tests state just the
field, the kind of error and the words of the rule.
"""

from __future__ import annotations

from http import HTTPStatus
from typing import Any

import httpx

from tests.conftest import strict_json

KINDS = ("invalid-request", "invalid-problem", "limit-exceeded", "malformed-json")
"""``invalid-request``: the body does not fit the schema (pydantic's message and type);
``invalid-problem``: a rule of the mathematics; ``limit-exceeded``: a figure over the limits
table — these two carry the core's message, and ``detail`` is ``"<field>: <message>"``;
``malformed-json`` (400): the body is not JSON, ``detail`` is the message and why."""


def assert_problem(
    response: httpx.Response,
    *,
    kind: str,
    field: str,
    words: str | tuple[str, ...],
    error_type: str | None = None,
    status: int = 422,
) -> dict[str, Any]:
    """Assert ``response`` is a problem+json ``status`` of ``kind`` whose ``errors`` name
    ``field`` with a message containing every one of ``words``; return that error entry.

    ``field`` is the dotted path (``""`` for the whole body); ``error_type`` is the entry's
    ``type`` (pydantic's for ``invalid-request``, else ``invalid_problem``/``limit_exceeded``).
    """
    assert kind in KINDS, kind
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body = strict_json(response.text)
    assert body["status"] == status and body["title"] == HTTPStatus(status).phrase
    assert body["type"] == f"urn:learndyn:{kind}", body
    named = [e for e in body["errors"] if e["field"] == field]
    assert len(named) == 1, (field, body["errors"])
    entry: dict[str, Any] = named[0]
    loc = [str(part) for part in entry["loc"]]
    assert ".".join(loc[1:] if loc[0] == "body" else loc) == field, entry
    for word in (words,) if isinstance(words, str) else words:
        assert word, "an empty string is in every message: name the rule's words"
        assert word in entry["message"], (word, entry["message"])
    if kind == "invalid-request":
        head, _, fields = body["detail"].partition(" (")
        assert head == "the request does not fit the schema", body["detail"]
        assert (field or "body") in fields.removesuffix(")").split(", "), body["detail"]
    elif kind == "malformed-json":
        assert body["detail"] == f"{entry['message']}: the body is not a JSON document"
    else:
        assert entry["type"] == kind.replace("-", "_")
        assert body["detail"] == f"{field}: {entry['message']}"
    if error_type is not None:
        assert entry["type"] == error_type, entry
    return entry
