"""One order of precedence for the stop rules, in every engine.

The precedence is defined once (:data:`service.core.engine.run.PRECEDENCE`); the compiled
kernel inlines the state rules in its step loop for speed and the flow integrator turns them
into solver events. Here one constructed case, where several rules hold at the same moment,
is driven through every engine — gd and online, for the perceptron and for a net, and the
flow — and each must name the same winner; removing the winner must hand the stop to the
next rule in the order.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import pytest

from service.core.engine.descent import run_descent
from service.core.engine.flow import run_flow
from service.core.engine.run import PRECEDENCE, RunResult, StopRules
from service.core.model.activations import get_activation
from service.core.model.models import Model, model_error, model_margins
from service.core.model.network import build_network_problem
from service.core.model.problem import build_problem
from service.vocabulary import Method, Order, StopReason

STATE_RULES = [StopReason.ERROR_TOLERANCE, StopReason.CLASSIFIED, StopReason.WEIGHT_BOUND]


def test_the_state_rules_are_ordered_as_documented() -> None:
    assert PRECEDENCE == (
        StopReason.NON_FINITE,
        StopReason.ERROR_TOLERANCE,
        StopReason.CLASSIFIED,
        StopReason.WEIGHT_BOUND,
        StopReason.STEP_TOLERANCE,
        StopReason.STEPS,
        StopReason.T_MAX,
    )


def rules(active: list[StopReason], steps: int, **values: float) -> StopRules:
    """Stop rules with only the ``active`` ones set, to the given values."""
    return StopRules(
        steps=steps,
        error_tolerance=values["error"] if StopReason.ERROR_TOLERANCE in active else None,
        on_classification=StopReason.CLASSIFIED in active,
        weight_bound=values["bound"] if StopReason.WEIGHT_BOUND in active else None,
        step_tolerance=values["step"] if StopReason.STEP_TOLERANCE in active else None,
    )


PERCEPTRON = build_problem([[1.0]], [1], get_activation("tanh"))
# a 1-1-1 net without biases: out = θ(w2·θ(w1·u)), weights (w1, w2)
NET = build_network_problem([[1.0]], [1], get_activation("tanh"), hidden=[1])

Runner = Callable[[Model, StopRules, list[float]], RunResult]


def descent(method: Method) -> Runner:
    def run(model: Model, stop: StopRules, x0: list[float]) -> RunResult:
        order = Order.SHUFFLED if method is Method.ONLINE else Order.GIVEN
        return run_descent(
            model, method=method, learning_rate=10.0, stop=stop, record_points=5,
            initial=x0, seed=1, order=order,
        )  # fmt: skip

    return run


def flow(model: Model, stop: StopRules, x0: list[float]) -> RunResult:
    return run_flow(model, alpha=1.0, t_max=1e3, stop=stop, record_points=5, initial=x0)


ENGINES: dict[str, Runner] = {
    "gd": descent(Method.GD),
    "online": descent(Method.ONLINE),
    "flow": flow,
}


def held_by(model: Model, x: np.ndarray, error: float, bound: float) -> set[StopReason]:
    """The state rules that hold at x, decided here from the model's numpy E and margins."""
    held = set()
    if model_error(model, x) <= error:
        held.add(StopReason.ERROR_TOLERANCE)
    if bool(np.all(model_margins(model, x) > 0.0)):
        held.add(StopReason.CLASSIFIED)
    if float(np.max(np.abs(x))) >= bound:
        held.add(StopReason.WEIGHT_BOUND)
    return held


@pytest.mark.parametrize("engine", sorted(ENGINES))
@pytest.mark.parametrize(("model", "x0"), [(PERCEPTRON, [3.0]), (NET, [3.0, 4.0])])
def test_at_t0_every_engine_names_the_same_winner(
    engine: str, model: Model, x0: list[float]
) -> None:
    # at x0 every state rule holds: E is tiny, every margin is positive, |x| is large
    values = {"error": 0.1, "bound": 2.0, "step": 1e9}
    assert held_by(model, np.asarray(x0), values["error"], values["bound"]) == set(STATE_RULES)
    for k, winner in enumerate(STATE_RULES):
        result = ENGINES[engine](model, rules(STATE_RULES[k:], 1000, **values), x0)
        assert result.stopped_by is winner, (engine, k)
        assert result.steps == 0  # the state rules are checked before the first step


# From these starts one step with η = 10 lands where every state rule holds, and the step is
# shorter than the step tolerance: E(x_1) ≤ 0.05, all margins > 0, max|x_1| ≥ 5, ‖Δx‖ < 100.
# x_0 breaks all of them (the test checks both states independently).
MID_RUN = [(PERCEPTRON, [-0.1]), (NET, [1.0, -0.1])]
ALL_RULES = [*STATE_RULES, StopReason.STEP_TOLERANCE]


@pytest.mark.parametrize("method", [Method.GD, Method.ONLINE])
@pytest.mark.parametrize(("model", "x0"), MID_RUN)
def test_after_a_step_the_kernel_keeps_the_order(
    method: Method, model: Model, x0: list[float]
) -> None:
    values = {"error": 0.05, "bound": 5.0, "step": 100.0}
    run = descent(method)
    free = run(model, StopRules(steps=1), x0)
    x1 = free.weights
    assert held_by(model, np.asarray(x0), values["error"], values["bound"]) == set()
    assert held_by(model, x1, values["error"], values["bound"]) == set(STATE_RULES)
    assert math.isfinite(free.last_step) and free.last_step < values["step"]
    for k, winner in enumerate(ALL_RULES):
        result = run(model, rules(ALL_RULES[k:], 1000, **values), x0)
        assert result.stopped_by is winner, (method, k)
        assert result.steps == 1
        np.testing.assert_array_equal(result.weights, x1)


# From these starts ‖∇E(x_0)‖ > 2 (2·(1 − θ(z))·θ'(z)·h with z ≈ −0.1 and h = 1 or
# tanh(100) = 1), so a step of η = 1e308 overflows.
WILD = [
    (PERCEPTRON, [-0.1]),
    (build_network_problem([[100.0]], [1], get_activation("tanh"), hidden=[1]), [1.0, -0.1]),
]


@pytest.mark.parametrize("method", [Method.GD, Method.ONLINE])
@pytest.mark.parametrize(("model", "x0"), WILD)
def test_non_finite_comes_before_every_rule(method: Method, model: Model, x0: list[float]) -> None:
    # the first step overflows: the run ends at x0 whatever else was asked
    result = run_descent(
        model, method=method, learning_rate=1e308, initial=x0, record_points=2,
        stop=rules(ALL_RULES, 1000, error=0.05, bound=5.0, step=100.0),
    )  # fmt: skip
    assert result.stopped_by is StopReason.NON_FINITE and result.steps == 0
    np.testing.assert_array_equal(result.weights, x0)
