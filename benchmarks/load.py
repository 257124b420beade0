"""Load run on loopback: 2 uvicorn workers, a mix of small /train, /minima and /separability.

    .venv/bin/python benchmarks/load.py [--seconds 60] [--clients 8]

Starts ``learndyn serve --workers 2`` on a free loopback port, sends requests from
``--clients`` threads for ``--seconds`` seconds (bounded: it stops by itself), and prints
throughput, latency percentiles and the count of each status code. 503s are the deliberate
answers of a saturated service (with Retry-After); any other 5xx is a failure.
"""

from __future__ import annotations

import argparse
import collections
import itertools
import os
import socket
import statistics
import subprocess
import sys
import threading
import time

import httpx

REQUESTS = [
    ("/train", {"dataset": {"inputs": [[1.0]], "targets": [1]}, "steps": 20_000}),
    (
        "/train",
        {
            "dataset": {
                "inputs": [[2, 1], [1, 3], [-1, -1], [-2, 0.5], [0.5, -2]],
                "targets": [1, 1, -1, -1, -1],
            },
            "method": "online",
            "steps": 5_000,
        },
    ),
    ("/minima", {"dataset": {"inputs": [[1.0], [-3.0]], "targets": [1, 1]}}),
    ("/minima", {"dataset": {"inputs": [[1.0], [-10.0], [0.5]], "targets": [1, 1, -1]},
                 "activation": "arctan"}),
    (
        "/separability",
        {"dataset": {"inputs": [[1, 1], [1, -1], [-1, 1], [-1, -1]], "targets": [-1, 1, 1, -1],
                     "bias": True}},
    ),
    ("/separability", {"dataset": {"inputs": [[2, 1], [1, 3], [-1, -1]], "targets": [1, 1, -1]}}),
]  # fmt: skip


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--clients", type=int, default=8)
    args = parser.parse_args()

    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = {**os.environ, "LEARNDYN_WORKERS": "2", "LEARNDYN_PORT": str(port)}
    server = subprocess.Popen(
        [sys.executable, "-m", "service", "serve"], env=env, stdout=subprocess.DEVNULL
    )
    try:
        deadline = time.monotonic() + 300
        while True:
            try:
                if httpx.get(f"{url}/readyz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if server.poll() is not None or time.monotonic() > deadline:
                print("the server did not start")
                return 1
            time.sleep(0.2)
        time.sleep(2.0)  # let the second worker finish its warm-up too

        statuses: collections.Counter[str] = collections.Counter()
        latencies: list[float] = []
        lock = threading.Lock()
        end = time.monotonic() + args.seconds
        mix = itertools.cycle(REQUESTS)

        def client() -> None:
            with httpx.Client(base_url=url, timeout=60) as http:
                while time.monotonic() < end:
                    with lock:
                        path, body = next(mix)
                    t0 = time.perf_counter()
                    try:
                        status = str(http.post(path, json=body).status_code)
                    except httpx.TransportError as exc:
                        status = type(exc).__name__
                    elapsed = time.perf_counter() - t0
                    with lock:
                        statuses[status] += 1
                        latencies.append(elapsed)

        threads = [threading.Thread(target=client) for _ in range(args.clients)]
        started = time.monotonic()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        wall = time.monotonic() - started
    finally:
        server.terminate()
        server.wait(timeout=60)

    total = sum(statuses.values())
    q = statistics.quantiles(latencies, n=100)
    print(f"load: {args.clients} clients, 2 workers, {wall:.1f} s, {total} requests")
    print(f"throughput {total / wall:.1f} req/s; latency p50 {q[49] * 1e3:.1f} ms, "
          f"p99 {q[98] * 1e3:.1f} ms, max {max(latencies) * 1e3:.1f} ms")  # fmt: skip
    print("status counts:", dict(sorted(statuses.items())))
    failures = {s: c for s, c in statuses.items() if not s.isdigit() or (s >= "500" and s != "503")}
    print("unexpected:", failures or "none")
    return 1 if failures else 0


if __name__ == "__main__":
    raise SystemExit(main())
