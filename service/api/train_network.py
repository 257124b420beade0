"""POST /train for nets with hidden layers (``network.hidden`` not empty)."""

from __future__ import annotations

import math

from service.api.limits import check_size, check_work
from service.api.separability import theory_response
from service.core.activations import get_activation
from service.core.descent import STOP_EXPLANATIONS, StopRules
from service.core.errors import InvalidProblem
from service.core.net_descent import LayerSummary, run_network_descent, summarise_layers
from service.core.network import build_network_problem
from service.core.problem import build_problem
from service.core.theory import predict_theory
from service.schemas import Divergence, History, TrainRequest, TrainResponse, Verdict
from service.schemas.train import Layer
from service.settings import Settings

PERCEPTRON_ONLY = (
    "this net has hidden layers: Sontag's Lemma (no bounded trajectory on weakly separable "
    "data) and the max-margin prediction log_rate = ŵ/k concern the single-layer perceptron "
    "only, so no log_rate is predicted; the separability facts above are those of the "
    "inputs as a perceptron would see them"
)
"""What the theory block says for a net with hidden layers."""


def train_network(request: TrainRequest, settings: Settings) -> TrainResponse:
    """Run gd or online backprop on a net with hidden layers and map the result."""
    data = request.dataset
    activation = get_activation(request.activation)
    problem = build_network_problem(
        data.inputs, data.targets, activation, hidden=request.network.hidden, bias=data.bias
    )
    check_size(settings, problem.n, problem.m)
    check_work(settings, request.steps, problem.n, problem.m)
    stop = request.stop
    run = run_network_descent(
        problem,
        method=request.method,
        learning_rate=request.learning_rate,
        stop=StopRules(
            steps=request.steps,
            weight_bound=stop.weight_bound,
            step_tolerance=stop.step_tolerance,
            error_tolerance=stop.error_tolerance,
            on_classification=stop.on_classification,
        ),
        record_points=request.record.points,
        initial=request.initial_weights,
        seed=request.seed,
        order=request.order,
        time_limit=settings.compute_seconds,
    )
    result = run.result
    h = result.history
    response = TrainResponse(
        weights=result.weights.tolist(),
        error=result.error,
        steps=result.steps,
        stopped_by=result.stopped_by,
        stop_explanation=STOP_EXPLANATIONS[result.stopped_by],
        accuracy=result.accuracy,
        last_step=_finite_or_none(result.last_step),
        gradient_norm=result.gradient_norm,
        history=History(
            t=h.t.tolist(),
            error=h.error.tolist(),
            weights=h.weights.tolist(),
            t_delta=[row.tolist() if all(map(math.isfinite, row)) else None for row in h.t_delta],
        ),
        divergence=Divergence(
            verdict=Verdict.UNDETERMINED,
            apparent_convergence=False,
            explanation="the divergence analysis is not available in this version",
        ),
        layers=[_layer(s) for s in summarise_layers(problem.layout, result.weights, h)],
        initial_seed=run.seed,
    )
    try:
        perceptron = build_problem(data.inputs, data.targets, activation, bias=data.bias)
        theory = theory_response(predict_theory(perceptron, measured_log_rate=None))
    except InvalidProblem:  # magnitudes beyond float64 for ŵ: the run stands without theory
        return response
    response.theory = theory.model_copy(
        update={
            "predicted_log_rate": None,
            "angle_degrees": None,
            "norm_ratio": None,
            "prediction_explanation": PERCEPTRON_ONLY,
        }
    )
    return response


def _finite_or_none(value: float | None) -> float | None:
    return value if value is not None and math.isfinite(value) else None


def _layer(summary: LayerSummary) -> Layer:
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
        log_rate=None if summary.log_rate is None else summary.log_rate.tolist(),
    )
