"""POST /minima on n = 10^4 examples: wall time of the core and of the whole request.

    .venv/bin/python benchmarks/bench_minima.py

Inputs span six decades (|u| = 10^U(−3, 3)) with random signs and targets; the target is
under 1 s per answer.
"""

from __future__ import annotations

import time

import numpy as np
from fastapi.testclient import TestClient

from service.app import create_app
from service.core.analysis.landscape import find_critical_points
from service.core.model.activations import ACTIVATIONS
from service.settings import Settings
from service.vocabulary import ActivationName

N = 10_000


def best_of(repeats: int, fn: object) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()  # type: ignore[operator]
        times.append(time.perf_counter() - start)
    return min(times)


def cpu_of(fn: object) -> float:
    """CPU seconds of one run (robust to other processes sharing the machine)."""
    start = time.process_time()
    fn()  # type: ignore[operator]
    return time.process_time() - start


def main() -> None:
    rng = np.random.default_rng(0)
    u = rng.choice([-1.0, 1.0], N) * 10.0 ** rng.uniform(-3.0, 3.0, N)
    y = rng.choice([-1, 1], N)
    body = {"dataset": {"inputs": [[v] for v in u.tolist()], "targets": y.tolist()}}
    print(f"n = {N}, |u| spanning six decades; wall time best of 3 runs")
    with TestClient(create_app(Settings())) as client:
        for name in ActivationName:
            b = y * u
            core = best_of(3, lambda: find_critical_points(b, ACTIVATIONS[name]))  # noqa: B023
            cpu = cpu_of(lambda: find_critical_points(b, ACTIVATIONS[name]))  # noqa: B023

            def request() -> None:
                r = client.post("/minima", json={**body, "activation": name.value})  # noqa: B023
                assert r.status_code == 200, r.text

            full = best_of(3, request)
            land = find_critical_points(b, ACTIVATIONS[name])
            verdict = "ok" if full < 1.0 else "OVER 1 s"
            print(
                f"{name.value:9s} core {core:6.3f} s ({cpu:5.3f} s CPU)   request {full:6.3f} s   "
                f"{len(land.critical_points)} critical points   {verdict}"
            )


if __name__ == "__main__":
    main()
