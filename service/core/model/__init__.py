"""What E is: the activations, the perceptron problem and nets with hidden layers.

Rule: imports nothing from :mod:`service.core.engine` or :mod:`service.core.analysis`.

* :mod:`~service.core.model.activations` — the one registry of sigmoids θ with θ′, θ″, the
  stable complement 1 − θ, the tail and the compiled kernels' code of each;
* :mod:`~service.core.model.problem` — a dataset reduced to B = diag(y)·[A | 1]: E, ∇E, the
  margins, the accuracy, the initial weights and the time unit τ;
* :mod:`~service.core.model.network` — a net's layout, its initial weights and the numpy
  reference backpropagation;
* :mod:`~service.core.model.models` — either model: ``Model``, its initial point, margins and E;
* :mod:`~service.core.model.norms` — norms without overflow.
"""

from service.core.model.activations import ACTIVATIONS, Activation, get_activation
from service.core.model.models import (
    Model,
    initial_point,
    inputs_as_perceptron,
    model_accuracy,
    model_error,
    model_margins,
)
from service.core.model.network import NetworkProblem, build_network_problem
from service.core.model.norms import vector_norm
from service.core.model.problem import (
    PerceptronProblem,
    build_problem,
    error,
    error_and_gradient,
    initial_weights,
    time_unit,
)

__all__ = [
    "ACTIVATIONS",
    "Activation",
    "Model",
    "NetworkProblem",
    "PerceptronProblem",
    "build_network_problem",
    "build_problem",
    "error",
    "error_and_gradient",
    "get_activation",
    "initial_point",
    "initial_weights",
    "inputs_as_perceptron",
    "model_accuracy",
    "model_error",
    "model_margins",
    "time_unit",
    "vector_norm",
]
