"""Admission before work, in process (issue 21, items 3 and 4).

The app is driven at the ASGI level, so a test sees what the server would: whether the body
was ever asked for (``reads``), and what was sent. The key and the compute slot are decided
before the body is read; a large body is parsed and validated in a worker thread with the
very answers FastAPI gives when it parses the body itself; a client that disconnects stops
its computation within a kernel chunk, frees its slot and is logged 499.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import anyio
import pytest
from fastapi.testclient import TestClient

from service.api import admission
from service.app import create_app
from service.settings import Settings
from service.slots import ComputeSlots
from tests.conftest import wait_until_ready

KEY = "k3y"
SCALAR = {"dataset": {"inputs": [[1.0]], "targets": [1]}, "steps": 10}
LONG = {
    "dataset": {"inputs": [[1.0]], "targets": [1]},
    "steps": 4 * 10**8,
    "record": {"points": 10},
}
"""A scalar run of 4·10⁸ steps: tens of seconds if nothing stops it."""


@dataclass
class Exchange:
    """What the app did with one request: the receive calls that delivered body, and the
    answer sent."""

    reads: int = 0
    status: int = 0
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""
    seconds: float = 0.0

    def json(self) -> Any:
        return json.loads(self.body)


def exchange(
    client: TestClient,
    method: str,
    path: str,
    body: bytes = b"",
    *,
    headers: dict[str, str] | None = None,
    disconnect_after: float | None = None,
    gone_before_body: bool = False,
) -> Exchange:
    """Send one request to ``client``'s app on its event loop. The body arrives in 64 KiB
    messages; then the client disconnects after ``disconnect_after`` seconds (None: stays
    until the answer), or at once, before any body, with ``gone_before_body``."""
    seen = Exchange()
    chunks = [body[i : i + 65536] for i in range(0, len(body), 65536)] or [b""]
    sent_head = {"content-length": str(len(body)), **(headers or {})}
    scope = {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.4"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [(k.lower().encode(), v.encode()) for k, v in sent_head.items()],
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 8000),
        "state": {},
    }

    async def receive() -> dict[str, Any]:
        if gone_before_body:
            return {"type": "http.disconnect"}
        if chunks:
            seen.reads += 1
            chunk = chunks.pop(0)
            return {"type": "http.request", "body": chunk, "more_body": bool(chunks)}
        if disconnect_after is None:
            await anyio.sleep_forever()
        await anyio.sleep(disconnect_after)
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            seen.status = message["status"]
            seen.headers = {k.decode(): v.decode() for k, v in message["headers"]}
        elif message["type"] == "http.response.body":
            seen.body += message.get("body", b"")

    async def run() -> None:
        started = time.perf_counter()
        await client.app(scope, receive, send)
        seen.seconds = time.perf_counter() - started

    assert client.portal is not None
    client.portal.call(run)
    return seen


def post(
    client: TestClient, path: str, document: Any, *, key: str | None = None, **kw: Any
) -> Exchange:
    headers = {"content-type": "application/json"}
    if key is not None:
        headers["authorization"] = f"Bearer {key}"
    return exchange(client, "POST", path, json.dumps(document).encode(), headers=headers, **kw)


@pytest.fixture(scope="module")
def slots_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("slots")


@pytest.fixture(scope="module")
def keyed(tmp_path_factory: pytest.TempPathFactory, slots_dir: Path) -> Iterator[TestClient]:
    """A keyed app with one compute slot, whose lock file the tests can take from outside as
    another worker process would."""
    settings = Settings(
        api_key=KEY,
        compute_slots=1,
        queue_seconds=0.3,
        retry_after=7,
        slots_dir=str(slots_dir),
        data_dir=str(tmp_path_factory.mktemp("data")),
    )
    with TestClient(create_app(settings)) as c:
        wait_until_ready(c)
        yield c


@pytest.mark.parametrize("path", ["/train", "/separability", "/figures/train", "/studies"])
@pytest.mark.parametrize("authorization", [None, "Bearer wrong", "Basic k3y"])
def test_a_wrong_key_is_refused_before_the_body_is_read(
    keyed: TestClient, path: str, authorization: str | None
) -> None:
    headers = {"content-type": "application/json"}
    if authorization is not None:
        headers["authorization"] = authorization
    seen = exchange(keyed, "POST", path, b'{"dataset": ' + b" " * 200_000 + b"}", headers=headers)
    assert seen.status == 401, seen.body
    assert seen.reads == 0
    assert seen.headers["www-authenticate"] == "Bearer"
    assert seen.headers["content-type"] == "application/problem+json"
    assert seen.json()["detail"].startswith("this endpoint needs 'Authorization: Bearer <key>'")


def test_the_right_key_reads_the_body(keyed: TestClient) -> None:
    seen = post(keyed, "/train", SCALAR, key=KEY)
    assert (seen.status, seen.reads) == (200, 1)
    assert seen.json()["steps"] == 10
    seen = post(keyed, "/studies", {"kind": "sweep"}, key=KEY)  # read, and refused on its merits
    assert (seen.status, seen.reads) == (422, 1)


def test_a_full_house_is_refused_before_the_body_is_read(
    keyed: TestClient, slots_dir: Path
) -> None:
    other_worker = ComputeSlots(1, str(slots_dir))  # the same lock file, another open file
    slot = other_worker.try_acquire()
    assert slot is not None
    try:
        seen = post(keyed, "/train", SCALAR, key=KEY)
        studies = post(keyed, "/studies", {"kind": "sweep"}, key=KEY)  # no slot needed
    finally:
        other_worker.release(slot)
    assert (seen.status, seen.reads) == (503, 0)
    assert seen.headers["retry-after"] == "7"
    assert seen.json()["detail"] == "all 1 compute slots are busy; retry after 7 s"
    assert 0.3 <= seen.seconds < 1.5  # LEARNDYN_QUEUE_SECONDS, then the answer
    assert studies.status == 422
    assert post(keyed, "/train", SCALAR, key=KEY).status == 200  # the slot is back


def test_a_slot_freed_by_another_process_is_taken_within_the_poll(
    keyed: TestClient, slots_dir: Path
) -> None:
    other_worker = ComputeSlots(1, str(slots_dir))
    slot = other_worker.try_acquire()
    assert slot is not None
    timer = threading.Timer(0.15, other_worker.release, args=(slot,))
    timer.start()
    seen = post(keyed, "/train", SCALAR, key=KEY)
    timer.join()
    assert seen.status == 200  # else 503 after the queue's 0.3 s
    # queued until the release at 0.15 s (the timer started a little before the request)
    assert 0.1 <= seen.seconds < 0.3 + 0.5


def test_a_disconnected_client_stops_its_run_and_frees_its_slot(
    keyed: TestClient, slots_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger="learndyn.access"):
        seen = post(keyed, "/train", LONG, key=KEY, disconnect_after=0.3)
    assert seen.status == 499
    assert seen.json()["type"] == "urn:learndyn:client-closed-request"
    assert seen.json()["title"] == "Client Closed Request"
    # 4·10⁸ steps take ~25 s; the run stops at the chunk after the disconnect (~0.1 s)
    assert 0.3 <= seen.seconds < 2.0, seen.seconds
    other_worker = ComputeSlots(1, str(slots_dir))
    slot = other_worker.try_acquire()
    assert slot is not None, "the slot was not released"
    other_worker.release(slot)
    logged = [json.loads(r.getMessage()) for r in caplog.records if r.name == "learndyn.access"]
    assert [(x["path"], x["status"]) for x in logged] == [("/train", 499)]


def test_a_figure_run_stops_too(keyed: TestClient) -> None:
    seen = post(keyed, "/figures/train", {**LONG, "format": "svg"}, key=KEY, disconnect_after=0.3)
    assert seen.status == 499
    assert 0.3 <= seen.seconds < 2.0, seen.seconds


def test_an_answer_finished_after_the_client_left_is_499(keyed: TestClient) -> None:
    separable = {"dataset": {"inputs": [[1.0], [-1.0]], "targets": [1, -1]}}
    assert post(keyed, "/separability", separable, key=KEY).status == 200
    assert post(keyed, "/separability", separable, key=KEY, disconnect_after=0).status == 499


def test_a_client_gone_before_its_body_is_499(keyed: TestClient) -> None:
    seen = post(keyed, "/train", SCALAR, key=KEY, gone_before_body=True)
    assert seen.status == 499
    assert post(keyed, "/train", SCALAR, key=KEY).status == 200  # its slot was released


def rows(n: int) -> list[list[float]]:
    return [[round(0.001 * i - 1.5, 3), 1.0] for i in range(n)]


LARGE = {"dataset": {"inputs": rows(6000), "targets": [1, -1] * 3000}, "steps": 10}
"""A valid /train body of ~100 KB: over OFF_LOOP_BYTES."""


def bad_target() -> dict[str, Any]:
    body = json.loads(json.dumps(LARGE))
    body["dataset"]["targets"][5000] = "1"
    return body


def misspelt() -> dict[str, Any]:
    body = json.loads(json.dumps(LARGE))
    body["stpes"] = body.pop("steps")
    return body


@pytest.mark.parametrize(
    "document",
    [
        json.dumps(LARGE),
        json.dumps(bad_target()),
        json.dumps(misspelt()),
        json.dumps(LARGE)[:-2],  # malformed: cut short
        json.dumps({**LARGE, "dataset": {**LARGE["dataset"], "inputs": rows(5999)}}),  # ragged
    ],
    ids=["valid", "bad-target", "misspelt", "malformed", "rule"],
)
def test_a_large_body_is_parsed_in_a_thread_with_fastapis_answers(
    keyed: TestClient, monkeypatch: pytest.MonkeyPatch, document: str
) -> None:
    body = document.encode()
    assert len(body) >= admission.OFF_LOOP_BYTES
    headers = {"content-type": "application/json", "authorization": f"Bearer {KEY}"}
    threads: list[str] = []
    parse = admission._parse

    def spy(body: bytes, field: Any) -> Any:
        threads.append(threading.current_thread().name)
        return parse(body, field)

    monkeypatch.setattr(admission, "_parse", spy)
    ours = exchange(keyed, "POST", "/train", body, headers=headers)
    assert len(threads) == 1 and threads[0] != loop_thread(keyed)
    monkeypatch.setattr(admission, "OFF_LOOP_BYTES", 10**9)  # FastAPI parses it, on the loop
    theirs = exchange(keyed, "POST", "/train", body, headers=headers)
    assert len(threads) == 1
    assert (ours.status, ours.json()) == (theirs.status, theirs.json())
    assert ours.status in (200, 400, 422)


def test_a_large_body_sent_as_text_is_left_to_fastapi(keyed: TestClient) -> None:
    headers = {"content-type": "text/plain", "authorization": f"Bearer {KEY}"}
    seen = exchange(keyed, "POST", "/train", json.dumps(LARGE).encode(), headers=headers)
    assert seen.status == 415


def loop_thread(client: TestClient) -> str:
    async def name() -> str:
        return threading.current_thread().name

    assert client.portal is not None
    return client.portal.call(name)
