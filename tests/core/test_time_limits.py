"""The wall-time limit stops descent between kernel chunks and the flow between evaluations."""

from __future__ import annotations

import pytest

from service.core.engine.descent import run_descent
from service.core.engine.flow import run_flow
from service.core.engine.run import StopRules
from service.core.errors import TimeLimitExceeded
from service.core.model.activations import get_activation
from service.core.model.problem import build_problem
from service.vocabulary import Method

SCALAR = build_problem([[1.0]], [1], get_activation("tanh"))


def test_descent_past_its_time_limit_raises_with_its_progress() -> None:
    with pytest.raises(TimeLimitExceeded) as info:
        run_descent(
            SCALAR,
            method=Method.GD,
            learning_rate=0.1,
            stop=StopRules(steps=10**9),
            record_points=10,
            time_limit=1e-9,
        )
    reached = int(info.value.progress.split()[1])
    assert 0 < reached < 10**9 and "of 1000000000 steps" in info.value.progress


def test_descent_within_its_time_limit_is_unaffected() -> None:
    kw = {"method": Method.GD, "learning_rate": 0.1, "stop": StopRules(steps=1000)}
    a = run_descent(SCALAR, record_points=10, time_limit=60.0, **kw)  # type: ignore[arg-type]
    b = run_descent(SCALAR, record_points=10, **kw)  # type: ignore[arg-type]
    assert a.weights[0] == b.weights[0] and a.steps == 1000


def test_flow_past_its_time_limit_raises() -> None:
    with pytest.raises(TimeLimitExceeded, match="of t_max = 1e"):
        run_flow(
            SCALAR, alpha=1.0, t_max=1e12, stop=StopRules(steps=1), record_points=10,
            time_limit=1e-9,
        )  # fmt: skip
