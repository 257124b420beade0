"""POST /train."""

from __future__ import annotations

import math
from typing import Annotated

from fastapi import APIRouter, Body, Depends

from service.api.examples import TRAIN_EXAMPLES
from service.api.limits import check_size, check_work, get_settings
from service.api.problems import PROBLEM_RESPONSES
from service.api.separability import theory_response
from service.api.train_network import train_network
from service.core.activations import get_activation
from service.core.descent import STOP_EXPLANATIONS, DescentResult, StopRules, run_descent
from service.core.errors import InvalidProblem
from service.core.problem import build_problem
from service.core.theory import predict_theory
from service.schemas import Divergence, History, TrainRequest, TrainResponse, Verdict
from service.settings import Settings

router = APIRouter(tags=["training"])


@router.post("/train", operation_id="train", responses=PROBLEM_RESPONSES)
def train(
    request: Annotated[TrainRequest, Body(openapi_examples=TRAIN_EXAMPLES)],
    settings: Annotated[Settings, Depends(get_settings)],
) -> TrainResponse:
    """Run gradient descent and judge the weights' fate."""
    if request.network.hidden:
        return train_network(request, settings)
    data = request.dataset
    problem = build_problem(
        data.inputs, data.targets, get_activation(request.activation), bias=data.bias
    )
    check_size(settings, problem.n, problem.m)
    check_work(settings, request.steps, problem.n, problem.m)
    stop = request.stop
    result = run_descent(
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
    response = _response(result)
    # The measured log_rate comes from the divergence engine (wired at merge).
    try:
        response.theory = theory_response(predict_theory(problem, measured_log_rate=None))
    except InvalidProblem:  # magnitudes beyond float64 for ŵ: the run stands without theory
        response.theory = None
    return response


def _finite_or_none(value: float) -> float | None:
    return value if math.isfinite(value) else None


def _response(result: DescentResult) -> TrainResponse:
    h = result.history
    return TrainResponse(
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
    )
