"""Measure the backprop kernel of nets with hidden layers and print the figures.

    .venv/bin/python benchmarks/bench_hidden.py

1. Steps per second of ``run_descent`` (gd, tanh, biases) on XOR at 2-2-1, 2-8-1
   and 2-8-8-1, best of 5 runs of 10^6 steps (after a compiling run). Target at 2-2-1:
   ≥ 10^6 steps/s.
2. POST /train in process (TestClient) for the paper's Figure 5 request (2-2-1, 10^6 steps),
   wall time at the client, best of 3. Target: ≥ 10^6 steps/s end to end.
3. Online passes per second at 2-2-1, and the numpy reference backprop's steps per second
   (a per-step numpy loop, 10^4 steps) for comparison.
4. Figure 5 over seeds 0–19: how many reach zero classification error after 10^6 steps,
   and the output layer's drift of t·Δw over the last decade.
"""

from __future__ import annotations

import time

import numpy as np
from fastapi.testclient import TestClient

from service.app import create_app
from service.core.analysis.layers import summarise_layers
from service.core.engine.descent import run_descent
from service.core.engine.run import StopRules
from service.core.model.activations import get_activation
from service.core.model.network import (
    NetworkProblem,
    build_network_problem,
    network_error_and_gradient,
)
from service.settings import Settings
from service.vocabulary import Method

XOR_INPUTS = [[1.0, 1.0], [1.0, -1.0], [-1.0, 1.0], [-1.0, -1.0]]
XOR_TARGETS = [-1, 1, 1, -1]
STEPS = 1_000_000


def xor(hidden: list[int]) -> NetworkProblem:
    return build_network_problem(
        XOR_INPUTS, XOR_TARGETS, get_activation("tanh"), hidden=hidden, bias=True
    )


def best_rate(problem: NetworkProblem, method: Method, steps: int, repeats: int = 5) -> float:
    run_descent(
        problem, method=method, learning_rate=0.05, stop=StopRules(steps=10), record_points=5
    )
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        run_descent(
            problem, method=method, learning_rate=0.05, stop=StopRules(steps=steps),
            record_points=200, seed=0,
        )  # fmt: skip
        best = min(best, time.perf_counter() - start)
    return steps / best


def numpy_rate(problem: NetworkProblem, steps: int = 10_000) -> float:
    x = np.random.default_rng([0, 0]).uniform(-0.5, 0.5, size=problem.m)
    start = time.perf_counter()
    for _ in range(steps):
        x = x - 0.05 * network_error_and_gradient(problem, x)[1]
    return steps / (time.perf_counter() - start)


def main() -> None:
    print("1. run_descent, gd, tanh with biases, XOR, 10^6 steps (best of 5)")
    for hidden in ([2], [8], [8, 8]):
        rate = best_rate(xor(hidden), Method.GD, STEPS)
        label = "-".join(map(str, [2, *hidden, 1]))
        print(f"   {label:8s} {rate / 1e6:6.2f} M steps/s")

    print("2. POST /train, Figure 5 request (2-2-1, 10^6 steps), in process, best of 3")
    body = {
        "dataset": {"inputs": XOR_INPUTS, "targets": XOR_TARGETS, "bias": True},
        "network": {"hidden": [2]},
        "learning_rate": 0.05,
        "steps": STEPS,
        "seed": 0,
    }
    with TestClient(create_app(Settings())) as client:
        while client.get("/readyz").status_code != 200:
            time.sleep(0.05)
        best = float("inf")
        for _ in range(3):
            start = time.perf_counter()
            r = client.post("/train", json=body)
            best = min(best, time.perf_counter() - start)
            assert r.status_code == 200, r.text
    print(f"   {best:.3f} s per request: {STEPS / best / 1e6:.2f} M steps/s end to end")

    print("3. online passes and the numpy reference")
    print(f"   online 2-2-1   {best_rate(xor([2]), Method.ONLINE, STEPS, 3) / 1e6:6.2f} M passes/s")
    print(f"   numpy gd 2-2-1 {numpy_rate(xor([2])) / 1e3:6.1f} k steps/s")

    print("4. Figure 5 over seeds 0-19 (2-2-1 tanh, gd 0.05, 10^6 steps)")
    reached = []
    problem = xor([2])
    for seed in range(20):
        result = run_descent(
            problem, method=Method.GD, learning_rate=0.05, stop=StopRules(steps=STEPS),
            record_points=200, seed=seed,
        )  # fmt: skip
        layers = summarise_layers(problem.layout, result.weights, result.trajectory)
        drift = layers[-1].t_delta_drift
        print(
            f"   seed {seed:2d}: accuracy {result.accuracy:.2f}, E {result.error:.3g}, output "
            f"drift {'-' if drift is None else f'{drift:.4f}'}"
        )
        if result.accuracy == 1.0:
            reached.append(seed)
    print(f"   zero classification error: {len(reached)} of 20 seeds {reached}")


if __name__ == "__main__":
    main()
