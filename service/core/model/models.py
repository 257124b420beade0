"""The two models E can be: the perceptron and a net with hidden layers.

``Model = PerceptronProblem | NetworkProblem``. Every engine and every analysis takes either;
the functions here answer, for either, the questions that do not depend on how the weights
move: where a run starts, what E and the margins are, how many examples are classified.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from service.core.model.activations import Array
from service.core.model.network import (
    NetworkProblem,
    initial_network_weights,
    margins,
    network_error_and_gradient,
)
from service.core.model.problem import (
    PerceptronProblem,
    build_problem,
    error_and_gradient,
    initial_weights,
)

Model = PerceptronProblem | NetworkProblem
"""A perceptron (B, θ) or a net with hidden layers (A, y, θ, layout)."""


def initial_point(model: Model, given: Sequence[float] | None, seed: int | None) -> Array:
    """x_0: ``given`` (checked), else drawn from ``seed``; else zeros for the perceptron and
    the draw of :data:`~service.core.model.network.DEFAULT_SEED` for a net (zero weights of a
    net are a saddle)."""
    if isinstance(model, NetworkProblem):
        return initial_network_weights(model, given, seed)
    return initial_weights(model, given, seed)


def model_margins(model: Model, x: Array) -> Array:
    """z_i: B_i·x for the perceptron, y_i·a_out(u^i) for a net (numpy)."""
    if isinstance(model, NetworkProblem):
        return margins(model, x)
    with np.errstate(over="ignore", invalid="ignore"):
        return np.asarray(model.B @ x, dtype=np.float64)


def model_accuracy(model: Model, x: Array) -> float:
    """Fraction of examples with margin z_i > 0."""
    return float(np.mean(model_margins(model, x) > 0.0))


def model_error_and_gradient(model: Model, x: Array) -> tuple[float, Array]:
    """E(x) and ∇E(x) in numpy (NaN for E when a margin overflows)."""
    with np.errstate(over="ignore", invalid="ignore"):
        if isinstance(model, NetworkProblem):
            return network_error_and_gradient(model, x)
        return error_and_gradient(model, x)


def model_error(model: Model, x: Array) -> float:
    """E(x), NaN when a margin overflows (numpy)."""
    return model_error_and_gradient(model, x)[0]


def inputs_as_perceptron(model: Model) -> PerceptronProblem:
    """The perceptron on the same inputs, targets and bias: a net's time unit τ and the
    separability facts of its data are those of this problem."""
    if isinstance(model, NetworkProblem):
        return build_problem(
            model.A.tolist(), model.y.tolist(), model.activation, bias=model.layout.bias
        )
    return model
