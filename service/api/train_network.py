"""POST /train for nets with hidden layers (``network.hidden`` not empty): the pieces
:mod:`service.api.train` calls around the shared path (validation, divergence, response)."""

from __future__ import annotations

import math
from dataclasses import dataclass

from service.api.limits import check_size
from service.api.separability import theory_response
from service.core.activations import get_activation
from service.core.descent import DescentResult, StopRules
from service.core.divergence import DivergenceReport, time_unit
from service.core.errors import InvalidProblem
from service.core.flow import FlowModel
from service.core.net_descent import (
    LayerSummary,
    NetworkModel,
    judge_layers,
    run_network_descent,
    summarise_layers,
)
from service.core.network import (
    DEFAULT_SEED,
    NetworkProblem,
    build_network_problem,
    initial_network_weights,
)
from service.core.problem import Problem, build_problem
from service.core.theory import predict_theory
from service.schemas import Method, TrainRequest, TrainResponse
from service.schemas.separability import Theory
from service.schemas.train import Layer
from service.settings import Settings

PERCEPTRON_ONLY = (
    "this net has hidden layers: Sontag's Lemma (no bounded trajectory on weakly separable "
    "data) and the max-margin prediction log_rate = ŵ/k concern the single-layer perceptron "
    "only, so no log_rate is predicted; the separability facts above are those of the "
    "inputs as a perceptron would see them"
)
"""What the theory block says for a net with hidden layers."""


@dataclass(frozen=True, slots=True)
class Net:
    """A validated net request: the net, the same inputs as a perceptron problem (for the
    time unit and the separability facts), and the initial weights with their seed."""

    problem: NetworkProblem
    perceptron: Problem
    initial: list[float]
    seed: int | None

    @property
    def m(self) -> int:
        """Number of weights."""
        return self.problem.m

    def flow_model(self) -> FlowModel:
        """The net as the flow integrator's model (backprop gradient, no Hessian)."""
        model = NetworkModel(self.problem)
        return FlowModel(
            m=model.m, error_and_gradient=model.error_and_gradient, margins=model.margins
        )


def prepare_network(request: TrainRequest, settings: Settings) -> Net:
    """Validate the dataset and the widths, check the size, draw the initial weights."""
    if request.extrapolate_to is not None:
        raise InvalidProblem(
            "extrapolate_to",
            "applies to the perceptron (network.hidden empty): the log rule's error "
            "predictions use the single-layer E",
        )
    data = request.dataset
    activation = get_activation(request.activation)
    problem = build_network_problem(
        data.inputs, data.targets, activation, hidden=request.network.hidden, bias=data.bias
    )
    check_size(settings, problem.n, problem.m)
    perceptron = build_problem(data.inputs, data.targets, activation, bias=data.bias)
    x0 = initial_network_weights(problem, request.initial_weights, request.seed)
    seed = None
    if request.initial_weights is None:
        seed = DEFAULT_SEED if request.seed is None else request.seed
    return Net(problem=problem, perceptron=perceptron, initial=x0.tolist(), seed=seed)


def run_network(
    net: Net, request: TrainRequest, rules: StopRules, settings: Settings
) -> DescentResult:
    """gd or online backprop from the net's initial weights."""
    return run_network_descent(
        net.problem,
        method=request.method,
        learning_rate=request.learning_rate,
        stop=rules,
        record_points=request.record.points,
        initial=net.initial,
        seed=request.seed,
        order=request.order,
        time_limit=settings.compute_seconds,
    ).result


def finish_network(
    response: TrainResponse, net: Net, result: DescentResult, request: TrainRequest
) -> TrainResponse:
    """Add the per-layer figures and verdicts, the seed, and the perceptron-only theory."""
    h = result.history
    reports = judge_layers(
        net.problem.layout,
        h,
        last_step=result.last_step,
        stopped_by=result.stopped_by,
        step_tolerance=request.stop.step_tolerance,
        time_unit=time_unit(net.perceptron, request.learning_rate, request.method),
        monotone=request.method is not Method.ONLINE,
    )
    summaries = summarise_layers(net.problem.layout, result.weights, h)
    response.layers = [_layer(s, r) for s, r in zip(summaries, reports, strict=True)]
    response.initial_seed = net.seed
    response.theory = network_theory(net.perceptron)
    return response


def network_theory(perceptron: Problem) -> Theory | None:
    """The inputs' separability facts, with no prediction: the theory is the perceptron's."""
    try:
        theory = theory_response(predict_theory(perceptron, measured_log_rate=None))
    except InvalidProblem:  # magnitudes beyond float64 for ŵ: the run stands without theory
        return None
    return theory.model_copy(
        update={
            "predicted_log_rate": None,
            "angle_degrees": None,
            "norm_ratio": None,
            "prediction_explanation": PERCEPTRON_ONLY,
        }
    )


def _finite_or_none(value: float | None) -> float | None:
    return value if value is not None and math.isfinite(value) else None


def _layer(summary: LayerSummary, report: DivergenceReport) -> Layer:
    return Layer(
        index=summary.index,
        inputs=summary.inputs,
        units=summary.units,
        start=summary.start,
        stop=summary.stop,
        weights=summary.weights.tolist(),
        bias=None if summary.bias is None else summary.bias.tolist(),
        t_delta=None if summary.t_delta is None else summary.t_delta.tolist(),
        t_delta_norm=_finite_or_none(summary.t_delta_norm),
        t_delta_drift=_finite_or_none(summary.t_delta_drift),
        log_rate=None if report.log_rate is None else report.log_rate.tolist(),
        verdict=report.verdict,
    )
