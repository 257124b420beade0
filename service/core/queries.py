"""The /minima and /separability use cases, one call each (as :mod:`service.core.training` is
for /train): validate the data within a budget, then analyse before one wall-time deadline
(``budget.start(should_stop)`` when the call starts, unless the caller gives one; a
``should_stop()`` that turns True — the client has gone — cancels the call at the next check,
:class:`~service.core.errors.Cancelled`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from service.core.analysis.landscape import Landscape, find_critical_points, weight_column
from service.core.analysis.separability import Separability, test_separability
from service.core.budget import Budget
from service.core.deadline import Deadline
from service.core.model.activations import get_activation
from service.core.model.problem import build_problem
from service.vocabulary import ActivationName


@dataclass(frozen=True, slots=True)
class MinimaSpec:
    """A /minima request as plain data: a one-weight dataset (m = 1 after the bias), θ, and
    how many samples of E to return (None: no curve)."""

    inputs: Sequence[Sequence[float]]
    targets: Sequence[float]
    bias: bool = False
    activation: str = "tanh"
    curve_points: int | None = None


def find_minima(
    spec: MinimaSpec,
    budget: Budget,
    *,
    should_stop: Callable[[], bool] | None = None,
    deadline: Deadline | None = None,
) -> Landscape:
    """Every local minimum of a one-weight E, at infinity included, with E sampled when asked
    (see :func:`service.core.analysis.landscape.find_critical_points`)."""
    deadline = budget.start(should_stop) if deadline is None else deadline
    problem = build_problem(
        spec.inputs, spec.targets, get_activation(spec.activation), bias=spec.bias
    )
    b = weight_column(problem)
    budget.check_size(problem.n, problem.m)
    if spec.curve_points is not None:
        budget.check_curve(spec.curve_points, problem.n)
    return find_critical_points(
        b, problem.activation, curve_points=spec.curve_points, deadline=deadline
    )


def decide_separability(
    inputs: Sequence[Sequence[float]],
    targets: Sequence[float],
    *,
    bias: bool,
    budget: Budget,
    should_stop: Callable[[], bool] | None = None,
    deadline: Deadline | None = None,
) -> Separability:
    """Strict and weak separability of B = diag(y)·[A | 1], with witnesses or certificates
    (see :func:`service.core.analysis.separability.test_separability`)."""
    deadline = budget.start(should_stop) if deadline is None else deadline
    # The activation plays no part in separability; any one builds B = diag(y)·A.
    problem = build_problem(inputs, targets, get_activation(ActivationName.TANH), bias=bias)
    budget.check_size(problem.n, problem.m)
    return test_separability(problem.B, deadline=deadline)
