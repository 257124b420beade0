"""A JSON object of a body that names a key twice is refused with 422 naming the key, on
every route that takes a body, small (parsed on the loop) or large (parsed in a thread)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from fastapi.testclient import TestClient

from service.api.json_body import DuplicateKey, loads
from tests.conftest import strict_json
from tests.problems import assert_problem

ONE = '{"inputs": [[1.0]], "targets": [1]}'


@pytest.mark.parametrize(
    ("text", "loc", "times"),
    [
        ('{"steps": 10, "steps": 1000000000}', ("steps",), 2),
        ('{"k": 1, "k": 2, "k": 3}', ("k",), 3),
        ('{"a": [1, {"b": {"c": 1, "d": 2, "c": 3}}]}', ("a", 1, "b", "c"), 2),
        ('[{"x": 1}, {"y": 1, "y": 1}]', (1, "y"), 2),  # equal values too
        # the outer object first, though the inner one is parsed first
        ('{"a": {"x": 1, "x": 2}, "a": 3}', ("a",), 2),
        # in document order: the first of two objects with a repeated key
        ('{"p": {"u": 1, "u": 2}, "q": {"v": 1, "v": 2}}', ("p", "u"), 2),
    ],
)
def test_the_first_repeated_key_is_named_by_its_path(
    text: str, loc: tuple[Any, ...], times: int
) -> None:
    with pytest.raises(DuplicateKey) as raised:
        loads(text.encode())
    assert (raised.value.loc, raised.value.times) == (loc, times)
    assert raised.value.status_code == 422


@pytest.mark.parametrize(
    "text",
    [
        '{"dataset": ' + ONE + ', "steps": 10}',
        '[{"a": 1}, {"a": 1}, [], {}, "a", null, 1e400, -0.0]',  # equal keys in two objects
        '{"a": {"a": {"a": 1}}}',  # the same name at different depths
        '{"A": 1, "a": 2, "\\u0061b": 3, "ab ": 4}',  # names differ (case, escapes, blanks)
    ],
)
def test_bodies_without_repeated_keys_parse_as_json_loads_does(text: str) -> None:
    assert json.dumps(loads(text.encode())) == json.dumps(json.loads(text))


def test_options_are_passed_to_json_loads() -> None:
    assert loads(b'{"x": 1.5, "n": 2}', parse_float=str, parse_int=str) == {"x": "1.5", "n": "2"}


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        ("/train", '{"dataset": ' + ONE + ', "steps": 10, "steps": 1000000000}', "steps"),
        ("/train", '{"dataset": {"inputs": [[1]], "inputs": [[2]], "targets": [1]}}',
         "dataset.inputs"),
        ("/train", '{"dataset": ' + ONE + ', "stop": {"weight_bound": 1, "weight_bound": 2}}',
         "stop.weight_bound"),
        ("/minima", '{"dataset": ' + ONE + ', "dataset": ' + ONE + "}", "dataset"),
        ("/separability", '{"dataset": ' + ONE + ', "dataset": ' + ONE + "}", "dataset"),
        ("/figures/train", '{"dataset": ' + ONE + ', "steps": 1, "steps": 2}', "steps"),
        ("/studies", '{"kind": "sweep", "kind": "census"}', "kind"),
    ],
)  # fmt: skip
def test_a_repeated_key_is_a_422_naming_it(
    client: TestClient, path: str, body: str, field: str
) -> None:
    r = client.post(path, content=body, headers={"content-type": "application/json"})
    name = field.rpartition(".")[2]
    assert_problem(
        r,
        kind="invalid-request",
        field=field,
        words=(f"`{name}` appears 2 times", "name each key once"),
        error_type="duplicate_key",
    )


def test_a_large_body_parsed_off_the_loop_is_checked_too(client: TestClient) -> None:
    rows = ", ".join(["[1.0, 2.0]"] * 20_000)  # ~240 KB: parsed in a worker thread
    body = f'{{"dataset": {{"inputs": [{rows}], "targets": [{", ".join(["1"] * 20_000)}]}}, '
    body += '"learning_rate": 0.1, "learning_rate": 10}'
    assert len(body) > 200_000
    r = client.post("/train", content=body, headers={"content-type": "application/json"})
    assert_problem(
        r,
        kind="invalid-request",
        field="learning_rate",
        words="`learning_rate` appears 2 times",
        error_type="duplicate_key",
    )


@pytest.mark.parametrize("depth", [5_000, 100_000])  # parsed on the loop; in a thread
def test_a_body_nested_too_deeply_is_a_400_not_a_500(client: TestClient, depth: int) -> None:
    body = "[" * depth + "]" * depth
    r = client.post("/train", content=body, headers={"content-type": "application/json"})
    assert r.status_code == 400, r.text
    problem = strict_json(r.text)
    assert r.headers["content-type"] == "application/problem+json"
    assert (problem["status"], problem["title"]) == (400, "Bad Request")
    assert "error parsing the body" in problem["detail"]
