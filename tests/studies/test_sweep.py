"""POST /studies (sweep) in process: rows equal /train, summary, CSV, list, SSE, cancel, errors.

One app for the module (a LocalCluster of two worker processes costs seconds to start), with
small study limits so the limit checks need no big grid. Every wait has a deadline.
"""

from __future__ import annotations

import csv
import io
import itertools
import json
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from service.app import create_app
from service.settings import Settings
from tests.conftest import strict_json, wait_until_ready
from tests.problems import assert_problem
from tests.studies.support import (
    all_rows,
    assert_progress_then_end,
    assert_row_is_train,
    bits,
    events,
    point_request,
    study,
    submit,
    wait_until_ended,
)

# The LocalCluster's scheduler serves HTTP (metrics, health) on 127.0.0.1:8787; when a
# cluster of another test run on this machine holds that port, it warns and moves to another,
# and tornado leaks the socket of the failed bind (unbound: laddr 0.0.0.0:0). Neither is the
# service's doing.
pytestmark = [
    pytest.mark.filterwarnings("ignore:Port 8787 is already in use:UserWarning"),
    pytest.mark.filterwarnings(
        r"ignore:Exception ignored in. <socket.socket fd=\d+, [^>]*laddr=\('0.0.0.0', 0\)>"
        ":pytest.PytestUnraisableExceptionWarning"
    ),
]

MAX_POINTS = 40
"""LEARNDYN_MAX_STUDY_POINTS of the module's app."""
MAX_STUDY_WORK = 10**9
"""LEARNDYN_MAX_STUDY_WORK of the module's app: above the cancel test's 8.004e8."""

BASE = {"dataset": {"inputs": [[1.0], [3.0]], "targets": [1, -1]}, "steps": 20_000}
"""B = (1, −3): not separable, so every run has a finite minimum to approach (or overshoot)."""
GRID = {
    "learning_rate": {"log_range": [0.01, 1.0, 3]},
    "seed": {"range": [0, 3]},
    "activation": ["tanh", "logistic"],
}
SWEEP = {"kind": "sweep", "name": "rate × seed × activation", "base": BASE, "grid": GRID}

SCALAR = {"dataset": {"inputs": [[1.0]], "targets": [1]}}
"""n = m = 1, separable: the weight grows like log t, each step costs one multiply-add."""
TINY = {"kind": "sweep", "base": {**SCALAR, "steps": 10}, "grid": {"seed": [0]}}
"""A study that takes milliseconds."""

ENDED = 120.0
"""Seconds any study of this module may take (the first one also starts the cluster)."""


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    settings = Settings(
        data_dir=str(tmp_path_factory.mktemp("studies")),
        study_workers=2,
        max_study_points=MAX_POINTS,
        max_study_work=MAX_STUDY_WORK,
    )
    with TestClient(create_app(settings)) as c:
        wait_until_ready(c)
        yield c


@pytest.fixture(scope="module")
def finished_sweep(client: TestClient) -> tuple[str, dict[str, Any], list[dict[str, Any]]]:
    """(location, study, rows) of SWEEP, run to its end."""
    location = submit(client, SWEEP)
    ended = wait_until_ended(client, location, ENDED)
    return location, ended, all_rows(client, location)


def test_every_row_equals_the_train_answer_for_its_point(
    client: TestClient, finished_sweep: tuple[str, dict[str, Any], list[dict[str, Any]]]
) -> None:
    _, ended, rows = finished_sweep
    assert ended["status"] == "done", ended
    assert ended["progress"] == {"done": 18, "total": 18, "failed": 0}
    assert ended["name"] == SWEEP["name"] and ended["detail"] is None
    assert ended["created"] <= ended["started"] <= ended["finished"]
    # the grid, expanded independently: log_range ends exact, range excludes its stop
    rates = ended["axes"]["learning_rate"]
    assert rates[0] == 0.01 and rates[2] == 1.0 and rates[1] == pytest.approx(0.1, rel=1e-15)
    assert ended["axes"] == {"learning_rate": rates, "seed": [0, 1, 2], **{
        "activation": ["tanh", "logistic"]}}  # fmt: skip
    # row-major, the first axis slowest; every index once
    expected = [
        {"learning_rate": r, "seed": s, "activation": a}
        for r, s, a in itertools.product(rates, [0, 1, 2], ["tanh", "logistic"])
    ]
    assert [row["index"] for row in rows] == list(range(18))
    assert [row["params"] for row in rows] == expected
    for row in rows:
        r = client.post("/train", json=point_request(BASE, row["params"]))
        assert r.status_code == 200, r.text
        assert_row_is_train(row, strict_json(r.text))


def test_the_summary_counts_the_rows_verdicts(
    finished_sweep: tuple[str, dict[str, Any], list[dict[str, Any]]],
) -> None:
    _, ended, rows = finished_sweep
    summary = ended["summary"]
    assert summary["verdicts"] == dict(Counter(row["verdict"] for row in rows))
    assert sum(summary["verdicts"].values()) == len(rows) and summary["failed"] == 0
    for axis in GRID:
        per_value: dict[str, Counter[str]] = {}
        for row in rows:
            per_value.setdefault(json.dumps(row["params"][axis]), Counter())[row["verdict"]] += 1
        assert summary["per_axis"][axis] == {v: dict(c) for v, c in per_value.items()}, axis


def test_csv_has_the_header_and_one_line_per_row(
    client: TestClient, finished_sweep: tuple[str, dict[str, Any], list[dict[str, Any]]]
) -> None:
    location, _, rows = finished_sweep
    r = client.get(f"{location}/results", params={"format": "csv"})
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    header, *lines = list(csv.reader(io.StringIO(r.text)))
    assert header == [
        "index", "learning_rate", "seed", "activation", "verdict", "error", "accuracy",
        "stopped_by", "steps", "log_rate_norm", "apparent_convergence", "seconds", "weights",
        "failure",
    ]  # fmt: skip
    assert len(lines) == len(rows) == 18
    for line, row in zip(lines, rows, strict=True):
        cell = dict(zip(header, line, strict=True))
        assert int(cell["index"]) == row["index"]
        assert float(cell["learning_rate"]) == row["params"]["learning_rate"]
        assert int(cell["seed"]) == row["params"]["seed"]
        assert cell["activation"] == row["params"]["activation"]
        assert cell["verdict"] == row["verdict"] and cell["stopped_by"] == row["stopped_by"]
        assert float(cell["error"]) == row["error"] and int(cell["steps"]) == row["steps"]
        assert bits(json.loads(cell["weights"])) == bits(row["weights"])
        assert cell["failure"] == ""
    # a page of the CSV is the same page of rows
    page = client.get(f"{location}/results", params={"format": "csv", "offset": 5, "limit": 4})
    header_again, *some = list(csv.reader(io.StringIO(page.text)))
    assert header_again == header and [int(line[0]) for line in some] == [5, 6, 7, 8]


def test_studies_are_listed_newest_first(client: TestClient) -> None:
    locations = [submit(client, {**TINY, "name": f"list {k}"}) for k in range(3)]
    for location in locations:
        assert wait_until_ended(client, location, ENDED)["status"] == "done"
    r = client.get("/studies", params={"limit": 100})
    assert r.status_code == 200, r.text
    listed = strict_json(r.text)
    created = [s["created"] for s in listed["studies"]]
    assert created == sorted(created, reverse=True)
    assert listed["total"] == len(listed["studies"]) >= 3
    ids = [s["id"] for s in listed["studies"]]
    mine = [location.rsplit("/", 1)[1] for location in locations]
    assert [i for i in ids if i in mine] == mine[::-1]
    # the newest is first on a page of one, too
    first = strict_json(client.get("/studies", params={"limit": 1}).text)["studies"]
    assert [s["id"] for s in first] == [ids[0]]


def test_events_stream_progress_with_rising_done_then_one_end(client: TestClient) -> None:
    # 8 points of 10^7 steps (~1 s each on a worker, measured): batches of 2, so several
    # progress events arrive before the end
    slow = {
        "kind": "sweep",
        "base": {**SCALAR, "steps": 10**7, "record": {"points": 20}},
        "grid": {"learning_rate": {"log_range": [0.05, 0.5, 4]}, "seed": {"range": [0, 2]}},
    }
    location = submit(client, slow)
    started = time.monotonic()
    with client.stream("GET", f"{location}/events") as r:
        assert r.status_code == 200
        assert r.headers["content-type"].startswith("text/event-stream")
        stream = list(events(r.iter_lines()))
    assert time.monotonic() - started < ENDED
    done = assert_progress_then_end(stream, total=8)
    assert len(done) >= 3 and done[-1] == 8, done
    assert stream[-1][1]["status"] == "done"
    assert stream[-1][1] == study(client, location)
    # an ended study: its final progress, then the end, at once
    with client.stream("GET", f"{location}/events") as r:
        again = list(events(r.iter_lines()))
    assert [name for name, _ in again] == ["progress", "end"]
    assert again[0][1] == {"done": 8, "total": 8, "failed": 0}


def test_cancel_ends_a_running_study_at_once_and_keeps_its_finished_rows(
    client: TestClient,
) -> None:
    # steps is the slowest axis: points 0-3 are quick (10^5 steps), points 4-7 take ~14 s
    # each (2·10^8 steps, measured at ~1.4·10^7 steps/s), so once 4 rows are stored both
    # workers are inside a long point
    long = {
        "kind": "sweep",
        "base": {**SCALAR, "record": {"points": 20}},
        "grid": {"steps": [10**5, 2 * 10**8], "seed": {"range": [0, 4]}},
    }
    location = submit(client, long)
    deadline = time.monotonic() + ENDED
    while (running := study(client, location))["progress"]["done"] < 4:
        assert running["status"] in ("queued", "running"), running
        assert time.monotonic() < deadline, running
        time.sleep(0.05)
    assert running["status"] == "running" and running["progress"]["done"] == 4, running
    time.sleep(0.5)  # well inside the long points
    before = all_rows(client, location)
    assert [row["index"] for row in before] == [0, 1, 2, 3]

    asked = time.monotonic()
    r = client.delete(location)
    assert r.status_code == 200, r.text
    while (cancelled := study(client, location))["status"] != "cancelled":
        assert time.monotonic() - asked < 2.0, cancelled
        time.sleep(0.01)
    took = time.monotonic() - asked
    assert strict_json(r.text)["status"] == "cancelled"
    assert cancelled["finished"] is not None
    print(f"cancelled within {took * 1e3:.0f} ms")

    # the workers stop at their next kernel chunk: a small study after it runs at once,
    # where an uncancelled long point would hold both workers for another ~10 s
    quick = submit(client, {**TINY, "grid": {"seed": {"range": [0, 4]}}})
    assert wait_until_ended(client, quick, 5.0)["status"] == "done"
    freed = time.monotonic() - asked
    print(f"a new study done {freed:.2f} s after the cancel")

    time.sleep(1.0)
    after = study(client, location)
    assert after["status"] == "cancelled", after
    assert after["progress"] == {"done": 4, "total": 8, "failed": 0}, after
    kept = all_rows(client, location)
    assert kept == before  # finished rows stay, no row of a point cut short is added
    # DELETE again: a cancelled study stays as it is
    again = client.delete(location)
    assert again.status_code == 200 and strict_json(again.text)["status"] == "cancelled"


BAD_SWEEPS = {
    "unknown axis": (
        {"grid": {"momentum": [0.9]}},
        "invalid-problem", "grid.momentum", "unknown axis",
    ),
    "empty axis": ({"grid": {"seed": []}}, "invalid-problem", "grid.seed", "at least one value"),
    "log_range count 0": (
        {"grid": {"learning_rate": {"log_range": [0.1, 1.0, 0]}}},
        "invalid-request", "grid.learning_rate.LogRange.log_range.2", "greater than or equal to 1",
    ),
    "range with stop < start (empty)": (
        {"grid": {"seed": {"range": [5, 2]}}},
        "invalid-problem", "grid.seed", "at least one value",
    ),
    "more points than LEARNDYN_MAX_STUDY_POINTS": (
        {"grid": {"seed": {"range": [0, MAX_POINTS + 1]}}},
        "invalid-problem", "grid", ("41 points", "LEARNDYN_MAX_STUDY_POINTS"),
    ),
    "more work than LEARNDYN_MAX_STUDY_WORK": (
        {"base": {**SCALAR, "steps": 2 * 10**8}, "grid": {"seed": {"range": [0, 6]}}},
        "limit-exceeded", "grid", ("1.2e+09", "LEARNDYN_MAX_STUDY_WORK"),
    ),
    "a grid value /train's schema refuses": (
        {"grid": {"learning_rate": [0.1, -1.0]}},
        "invalid-problem", "grid.learning_rate", "greater than 0",
    ),
    "a base /train's schema refuses (learning_rate -1)": (
        {"base": {**BASE, "learning_rate": -1}},
        "invalid-request", "base.learning_rate", "greater than 0",
    ),
    "a base /train's schema refuses (targets 0/1)": (
        {"base": {**BASE, "dataset": {"inputs": [[1.0], [3.0]], "targets": [0, 1]}}},
        "invalid-request", "base.dataset.targets.0", "map 0 to -1",
    ),
    "a base /train's rules refuse (ragged rows)": (
        {"base": {**BASE, "dataset": {"inputs": [[1.0], [3.0, 1.0]], "targets": [1, -1]}}},
        "invalid-problem", "base.dataset.inputs", "row 1 has 2",
    ),
    "a grid value /train's schema refuses (targets 0/1)": (
        {"grid": {"dataset": [{"inputs": [[1.0], [3.0]], "targets": [0, 1]}]}},
        "invalid-problem", "grid.dataset", "map 0 to -1",
    ),
    "a grid value giving a flow point no t_max": (
        {"grid": {"method": ["flow"]}},
        "invalid-problem", "base.t_max", "Field required",
    ),
    "a base over /train's work limit": (
        {"base": {**SCALAR, "steps": 3 * 10**9}},
        "limit-exceeded", "base.steps", "LEARNDYN_MAX_WORK",
    ),
}  # fmt: skip


@pytest.mark.parametrize(("change", "kind", "field", "words"), BAD_SWEEPS.values(), ids=BAD_SWEEPS)
def test_a_bad_sweep_is_422_naming_the_field(
    client: TestClient, change: dict[str, Any], kind: str, field: str, words: str | tuple[str, ...]
) -> None:
    listed = strict_json(client.get("/studies").text)["total"]
    body = {"kind": "sweep", "base": BASE, "grid": {"seed": [0]}, **change}
    r = client.post("/studies", json=body)
    assert_problem(r, kind=kind, field=field, words=words)
    assert "location" not in r.headers
    assert strict_json(client.get("/studies").text)["total"] == listed  # nothing stored


@pytest.mark.parametrize(
    ("method", "suffix"),
    [("GET", ""), ("GET", "/results"), ("GET", "/results?format=csv"), ("GET", "/events"),
     ("DELETE", "")],
)  # fmt: skip
def test_an_unknown_study_is_a_404_problem(client: TestClient, method: str, suffix: str) -> None:
    unknown = uuid.uuid4().hex
    r = client.request(method, f"/studies/{unknown}{suffix}")
    assert r.status_code == 404, r.text
    assert r.headers["content-type"] == "application/problem+json"
    body = strict_json(r.text)
    assert body["status"] == 404 and body["title"] == "Not Found"
    assert unknown in body["detail"]
