"""POST /train."""

from __future__ import annotations

import math
from typing import Annotated

from fastapi import APIRouter, Body, Depends

from service.api.examples import TRAIN_EXAMPLES
from service.api.limits import (
    check_flow_work,
    check_record,
    check_size,
    check_work,
    get_settings,
)
from service.api.problems import PROBLEM_RESPONSES
from service.api.separability import theory_response
from service.api.train_network import Net, finish_network, prepare_network, run_network
from service.core.activations import get_activation
from service.core.descent import STOP_EXPLANATIONS, DescentResult, StopRules, run_descent
from service.core.divergence import (
    DivergenceReport,
    extrapolate,
    judge_divergence,
    time_unit,
)
from service.core.divergence import Extrapolation as ExtrapolationResult
from service.core.errors import InvalidProblem
from service.core.flow import DEFAULT_ATOL, DEFAULT_RTOL, run_flow
from service.core.problem import Problem, build_problem
from service.core.theory import predict_theory
from service.schemas import (
    Divergence,
    Extrapolation,
    History,
    Method,
    Order,
    TrainRequest,
    TrainResponse,
    Verdict,
)
from service.settings import Settings

router = APIRouter(tags=["training"])


@router.post("/train", operation_id="train", responses=PROBLEM_RESPONSES)
def train(
    request: Annotated[TrainRequest, Body(openapi_examples=TRAIN_EXAMPLES)],
    settings: Annotated[Settings, Depends(get_settings)],
) -> TrainResponse:
    """Run gradient descent and judge the weights' fate."""
    data = request.dataset
    net = prepare_network(request, settings) if request.network.hidden else None
    if net is not None:
        problem = net.perceptron  # the inputs as a perceptron: time unit, separability
    else:
        problem = build_problem(
            data.inputs, data.targets, get_activation(request.activation), bias=data.bias
        )
        check_size(settings, problem.n, problem.m)
    check_record(settings, request.record.points)
    stop = request.stop
    rules = StopRules(
        steps=request.steps,
        weight_bound=stop.weight_bound,
        step_tolerance=stop.step_tolerance,
        error_tolerance=stop.error_tolerance,
        on_classification=stop.on_classification,
    )
    if request.method is Method.FLOW:
        result = _flow(problem, request, rules, settings, net)
    else:
        for name in ("t_max", "rtol", "atol"):
            if getattr(request, name) is not None:
                raise InvalidProblem(name, "applies to method 'flow' only")
        check_work(settings, request.steps, problem.n, problem.m if net is None else net.m)
        if net is not None:
            result = run_network(net, request, rules, settings)
        else:
            result = run_descent(
                problem,
                method=request.method,
                learning_rate=request.learning_rate,
                stop=rules,
                record_points=request.record.points,
                initial=request.initial_weights,
                seed=request.seed,
                order=request.order,
                time_limit=settings.compute_seconds,
            )
    report = judge_divergence(
        result.history,
        last_step=result.last_step,
        stopped_by=result.stopped_by,
        step_tolerance=stop.step_tolerance,
        time_unit=time_unit(problem, request.learning_rate, request.method),
        monotone=request.method is not Method.ONLINE,
    )
    if net is not None:  # the log rule's error predictions are the perceptron's
        return finish_network(_response(result, report, None), net, result, request)
    response = _response(
        result, report, extrapolate(problem, result.history, report, request.extrapolate_to)
    )
    try:
        response.theory = theory_response(
            predict_theory(
                problem,
                measured_log_rate=report.log_rate,
                measured_is_logarithmic=report.verdict is Verdict.LOGARITHMIC,
            )
        )
    except InvalidProblem:  # magnitudes beyond float64 for ŵ: the run stands without theory
        response.theory = None
    return response


def _flow(
    problem: Problem,
    request: TrainRequest,
    rules: StopRules,
    settings: Settings,
    net: Net | None = None,
) -> DescentResult:
    if request.t_max is None:
        raise InvalidProblem("t_max", "method 'flow' needs t_max, the time to integrate to")
    if "steps" in request.model_fields_set:
        raise InvalidProblem("steps", "applies to gd and online; method 'flow' runs to t_max")
    if request.order is not Order.GIVEN:
        raise InvalidProblem("order", "'shuffled' applies to method 'online' only")
    check_flow_work(settings, problem.n, problem.m if net is None else net.m)
    return run_flow(
        problem,
        alpha=request.learning_rate,
        t_max=request.t_max,
        stop=rules,
        record_points=request.record.points,
        initial=request.initial_weights if net is None else net.initial,
        seed=request.seed,
        rtol=DEFAULT_RTOL if request.rtol is None else request.rtol,
        atol=DEFAULT_ATOL if request.atol is None else request.atol,
        time_limit=settings.compute_seconds,
        model=None if net is None else net.flow_model(),
    )


def _finite_or_none(value: float | None) -> float | None:
    return value if value is not None and math.isfinite(value) else None


def _divergence(report: DivergenceReport) -> Divergence:
    return Divergence(
        verdict=report.verdict,
        log_rate=None if report.log_rate is None else report.log_rate.tolist(),
        power=_finite_or_none(report.power),
        apparent_convergence=report.apparent_convergence,
        window=None if report.window is None else list(report.window),
        explanation=report.explanation,
        goodness=_finite_or_none(report.goodness),
        rate_exponent=_finite_or_none(report.rate_exponent),
    )


def _extrapolation(result: ExtrapolationResult | None) -> Extrapolation | None:
    if result is None:
        return None
    return Extrapolation(
        direction=result.direction.tolist(),
        t=result.t.tolist(),
        weights=result.weights.tolist(),
        error=result.error.tolist(),
    )


def _response(
    result: DescentResult, report: DivergenceReport, extrapolation: ExtrapolationResult | None
) -> TrainResponse:
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
        divergence=_divergence(report),
        t_final=float(h.t[-1]),
        extrapolation=_extrapolation(extrapolation),
    )
