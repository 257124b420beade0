"""Compile the kernel (or load it from its cache) before the first request needs it."""

from __future__ import annotations

import numpy as np

from service.core.engine.descent import CompiledModel, run_descent
from service.core.engine.run import StopRules, state_stop
from service.core.model.activations import get_activation
from service.core.model.network import build_network_problem
from service.core.model.problem import build_problem
from service.vocabulary import Method, Order


def warm_up() -> None:
    """Run gd and shuffled online once on a tiny perceptron and a tiny 2-1-1 net.

    The activation, the model, the method, the order and the blocked switch are run-time
    arguments of one compiled kernel, so these runs compile everything a request can use
    (a few seconds from source; a fraction of a second from the cache).
    """
    tanh = get_activation("tanh")
    inputs, targets = [[1.0, -0.5], [0.25, 2.0]], [1, -1]
    models = (
        build_problem(inputs, targets, tanh),
        build_network_problem(inputs, targets, tanh, hidden=[1], bias=True),
    )
    for model in models:
        for method, order in ((Method.GD, Order.GIVEN), (Method.ONLINE, Order.SHUFFLED)):
            run_descent(
                model, method=method, learning_rate=0.1, stop=StopRules(steps=3),
                record_points=2, seed=0, order=order,
            )  # fmt: skip
        compiled = CompiledModel(model)
        x = np.zeros(model.m)
        state_stop(StopRules(steps=1), x, compiled.error_and_gradient(x)[0], compiled.margins(x))
