"""Requests (pydantic schemas) as the core's plain specs: the one translation, shared by the
routers and the study workers (which run the core with no web framework).
"""

from __future__ import annotations

from service.core.engine.run import StopRules
from service.core.queries import MinimaSpec
from service.core.training import TrainingSpec
from service.schemas.minima import MinimaRequest
from service.schemas.train import AnnealRequest, FlowRequest, OnlineRequest, TrainRequest
from service.vocabulary import Order

FLOW_STEPS = 10_000
"""The flow has no step budget (it runs to t_max); its stop rules carry this placeholder."""


def training_spec(request: TrainRequest) -> TrainingSpec:
    """The request as the core's :class:`TrainingSpec`."""
    stop = request.stop
    data = request.dataset
    flow = request if isinstance(request, FlowRequest) else None
    anneal = request if isinstance(request, AnnealRequest) else None
    steps = FLOW_STEPS if isinstance(request, FlowRequest) else request.steps
    return TrainingSpec(
        inputs=data.inputs,
        targets=data.targets,
        bias=data.bias,
        activation=request.activation,
        hidden=tuple(request.network.hidden),
        method=request.method,
        learning_rate=request.learning_rate,
        steps_given="steps" in request.model_fields_set,
        stop=StopRules(
            steps=steps,
            weight_bound=stop.weight_bound,
            step_tolerance=stop.step_tolerance,
            error_tolerance=stop.error_tolerance,
            on_classification=stop.on_classification,
        ),
        initial_weights=request.initial_weights,
        seed=request.seed,
        order=request.order if isinstance(request, OnlineRequest) else Order.GIVEN,
        record_points=request.record.points,
        record_weights=request.record.weights,
        t_max=None if flow is None else flow.t_max,
        rtol=None if flow is None else flow.rtol,
        atol=None if flow is None else flow.atol,
        extrapolate_to=request.extrapolate_to,
        temperature=None if anneal is None else anneal.temperature,
        cooling_time=None if anneal is None else anneal.cooling_time,
    )


def minima_spec(request: MinimaRequest) -> MinimaSpec:
    """The request as the core's :class:`MinimaSpec`."""
    data = request.dataset
    return MinimaSpec(
        inputs=data.inputs,
        targets=data.targets,
        bias=data.bias,
        activation=request.activation,
        curve_points=request.curve.points if request.curve else None,
    )
