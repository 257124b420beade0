"""Gradient flow to t = 10^12 on a 5-example 2-D separable set: prints the wall time.

The acceptance figure of issue 3 is < 1 s per run (the paper's log growth needs 10^12 units
of time to show a dozen decades; descent would need 10^12 steps). Run with
``.venv/bin/python benchmarks/bench_flow.py``.
"""

from __future__ import annotations

import statistics
import time

from service.core.analysis.divergence import judge_divergence
from service.core.engine.flow import run_flow
from service.core.engine.run import StopRules
from service.core.model.activations import get_activation
from service.core.model.problem import build_problem, time_unit
from service.vocabulary import Method

INPUTS = [[1.0, 2.0], [2.0, 1.0], [-1.0, -1.5], [-2.0, -0.5], [0.5, 1.0]]
TARGETS = [1, 1, -1, -1, 1]
T_MAX = 1e12
REPEATS = 5


def main() -> None:
    problem = build_problem(INPUTS, TARGETS, get_activation("tanh"))
    times = []
    for _ in range(REPEATS):
        start = time.perf_counter()
        result = run_flow(
            problem, alpha=1.0, t_max=T_MAX, stop=StopRules(steps=1), record_points=200
        )
        report = judge_divergence(
            result.trajectory,
            last_step=result.last_step,
            stopped_by=result.stopped_by,
            time_unit=time_unit(problem, 1.0, Method.FLOW),
        )
        times.append(time.perf_counter() - start)
    print(f"flow to t = {T_MAX:.0e}, 5 examples, m = 2, tanh, 200 recorded points")
    print(f"  right-hand side evaluations: {result.steps}")
    print(f"  verdict: {report.verdict}, log_rate = {report.log_rate}")
    print(
        f"  wall time (integrate + judge): median {statistics.median(times):.3f} s, "
        f"max {max(times):.3f} s over {REPEATS} runs (target < 1 s)"
    )


if __name__ == "__main__":
    main()
