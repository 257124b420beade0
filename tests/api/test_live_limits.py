"""Limits that need a real server: the wall-time cap, saturation, health under load, SIGTERM."""

from __future__ import annotations

import signal
import statistics
import threading
import time

import httpx
import pytest

from tests.conftest import serve, strict_json

LONG = {"dataset": {"inputs": [[1.0]], "targets": [1]}, "steps": 10**9, "record": {"points": 10}}
"""A scalar run that would take minutes; the wall-time cap stops it."""


def post_in_background(url: str, results: list[httpx.Response]) -> threading.Thread:
    def send() -> None:
        results.append(httpx.post(f"{url}/train", json=LONG, timeout=60))

    thread = threading.Thread(target=send)
    thread.start()
    return thread


def test_the_wall_time_cap_answers_504_with_a_problem() -> None:
    with serve({"LEARNDYN_COMPUTE_SECONDS": "0.5"}) as (url, _):
        started = time.monotonic()
        r = httpx.post(f"{url}/train", json=LONG, timeout=30)
        elapsed = time.monotonic() - started
    assert r.status_code == 504
    assert r.headers["content-type"] == "application/problem+json"
    body = strict_json(r.text)
    assert "0.5 s" in body["detail"] and "of 1000000000 steps" in body["detail"]
    assert body["type"] == "urn:learndyn:time-limit"
    assert 0.5 <= elapsed < 5.0


def test_saturation_answers_503_with_retry_after_and_health_stays_fast() -> None:
    env = {
        "LEARNDYN_COMPUTE_SLOTS": "2",
        "LEARNDYN_QUEUE_SECONDS": "0.3",
        "LEARNDYN_COMPUTE_SECONDS": "6",
        "LEARNDYN_RETRY_AFTER": "7",
    }
    with serve(env) as (url, _):
        results: list[httpx.Response] = []
        busy = [post_in_background(url, results) for _ in range(2)]
        time.sleep(1.0)  # both slots taken
        started = time.monotonic()
        third = httpx.post(f"{url}/train", json=LONG, timeout=30)
        waited = time.monotonic() - started
        latencies = []
        with httpx.Client(base_url=url) as client:
            client.get("/healthz")  # open the connection
            for path in ["/healthz", "/readyz"] * 15:
                t0 = time.perf_counter()
                assert client.get(path).status_code == 200
                latencies.append(time.perf_counter() - t0)
        for thread in busy:
            thread.join()
    assert third.status_code == 503
    assert third.headers["retry-after"] == "7"
    assert strict_json(third.text)["status"] == 503
    assert 0.3 <= waited < 2.0
    assert max(latencies) < 0.050, f"health latencies {sorted(latencies)[-3:]}"
    print(f"health under load: median {statistics.median(latencies) * 1e3:.2f} ms")
    assert [r.status_code for r in results] == [504, 504]


def test_sigterm_lets_a_running_computation_answer_then_exits_0() -> None:
    with serve({"LEARNDYN_COMPUTE_SECONDS": "2"}) as (url, process):
        results: list[httpx.Response] = []
        running = post_in_background(url, results)
        time.sleep(0.5)
        process.send_signal(signal.SIGTERM)
        time.sleep(0.3)
        with pytest.raises(httpx.TransportError):
            httpx.get(f"{url}/healthz", timeout=2)  # no longer accepting
        running.join()
        assert process.wait(timeout=30) == 0
    assert [r.status_code for r in results] == [504]  # it ran to its deadline and answered
