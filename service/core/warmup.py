"""Run every descent path once on a tiny problem, before the first request.

The Dockerfile runs this at build time (``learndyn warmup``) as the runtime user, so that a
compiled kernel that caches its machine code on disk (``NUMBA_CACHE_DIR``) is compiled into
the image, and a fresh container neither compiles on its first request nor needs to write.
"""

from __future__ import annotations

from service.core.activations import get_activation
from service.core.descent import StopRules, run_descent
from service.core.problem import build_problem
from service.vocabulary import ActivationName, Method, Order


def warm_up(steps: int = 8) -> int:
    """Run ``steps`` steps of every method, order and activation on the two-example problem
    B = [[1], [−3]] (Sontag's type 3); return how many runs were made."""
    runs = 0
    for name in ActivationName:
        problem = build_problem([[1.0], [-3.0]], [1.0, 1.0], get_activation(name))
        for method in Method:
            orders = list(Order) if method is Method.ONLINE else [Order.GIVEN]
            for order in orders:
                run_descent(
                    problem,
                    method=method,
                    learning_rate=0.1,
                    stop=StopRules(steps=steps),
                    record_points=4,
                    seed=0,
                    order=order,
                )
                runs += 1
    return runs
