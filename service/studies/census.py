"""A census as a study: its starts as the one axis of a grid, its endpoints on the rows.

A census request becomes a sweep the runner already knows how to run: the /train request of
every run (``base``: the census's dataset, activation, network, method, steps or t_max and
learning rate; validated by the /train schema, its errors named as the census names the
field) and one axis, ``initial_weights``, whose values are the K starts
(:func:`service.core.census.census_starts`). So a census row is the /train answer from its
start, as a sweep row is, and the worker adds the run's identified endpoint
(:func:`endpoint_json`). The summary clusters the endpoints of the rows finished so far
(:func:`service.core.analysis.census.summarize`).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from pydantic import ValidationError

from service.core.analysis.census import Census, Endpoint, summarize
from service.core.census import DEFAULT_HALF_WIDTH, census_starts
from service.core.errors import InvalidProblem
from service.core.training import model_of
from service.schemas.studies import CensusRequest, RelaxationRequest
from service.schemas.train import TRAIN_REQUEST, without_method_tag
from service.specs import training_spec
from service.vocabulary import EndpointLocation, Method

DEFAULT_CENSUS_STEPS = 100_000
"""The step budget of a gd census run when the request names none: 5 decades, enough for
the verdicts on small problems at η = 0.1."""

AXIS = "initial_weights"
"""The census's one axis: the starts."""


def model_fields(request: CensusRequest | RelaxationRequest) -> dict[str, Any]:
    """The /train fields of the model a census or a relaxation runs on (as JSON)."""
    return {
        "dataset": request.dataset.model_dump(mode="json", exclude_unset=True),
        "activation": request.activation.value,
        "network": request.network.model_dump(mode="json"),
        "learning_rate": request.learning_rate,
    }


def starts_for(
    base: dict[str, Any], request: CensusRequest | RelaxationRequest
) -> list[list[float]]:
    """The request's K starts over its box, for the model of ``base``."""
    m = model_of(training_spec(TRAIN_REQUEST.validate_python(base))).m
    half_width = DEFAULT_HALF_WIDTH if request.init is None else request.init
    starts: list[list[float]] = census_starts(m, request.starts, half_width, request.seed).tolist()
    return starts


def plan(request: CensusRequest) -> tuple[dict[str, Any], dict[str, list[Any]]]:
    """The /train request every run shares (as JSON) and the axis of starts."""
    base: dict[str, Any] = {**model_fields(request), "method": request.method.value}
    if request.method is Method.FLOW:
        if request.steps is not None:
            raise InvalidProblem("steps", "a flow census runs to t_max; steps is gd's")
        if request.t_max is None:
            raise InvalidProblem("t_max", "a flow census needs t_max, the time of each run")
        base["t_max"] = request.t_max
    else:
        if request.t_max is not None:
            raise InvalidProblem("t_max", "a gd census runs for steps; t_max is the flow's")
        base["steps"] = DEFAULT_CENSUS_STEPS if request.steps is None else request.steps
    try:
        TRAIN_REQUEST.validate_python(base)  # named as the census names its fields
    except ValidationError as error:
        first = error.errors()[0]
        raise InvalidProblem(
            ".".join(str(p) for p in without_method_tag(first["loc"])) or "method", first["msg"]
        ) from None
    return base, {AXIS: starts_for(base, request)}


def endpoint_json(end: Endpoint) -> dict[str, Any]:
    """An endpoint as JSON (Python's float repr keeps every bit)."""
    return {
        "location": end.location.value,
        "weights": None if end.weights is None else end.weights.tolist(),
        "direction": None if end.direction is None else end.direction.tolist(),
        "error": end.error,
        "outputs": None if end.outputs is None else end.outputs.tolist(),
        "why": end.why,
    }


def endpoint_of(data: dict[str, Any]) -> Endpoint:
    """The endpoint of :func:`endpoint_json`'s JSON."""
    weights, direction, outputs = data.get("weights"), data.get("direction"), data.get("outputs")
    return Endpoint(
        location=EndpointLocation(data["location"]),
        weights=None if weights is None else np.asarray(weights, dtype=np.float64),
        direction=None if direction is None else np.asarray(direction, dtype=np.float64),
        error=data.get("error"),
        outputs=None if outputs is None else np.asarray(outputs, dtype=np.float64),
        why=data.get("why"),
    )


def census_of(
    base: dict[str, Any], starts: int, endpoints: list[tuple[int, dict[str, Any] | None]]
) -> Census:
    """The census of the rows finished so far: (index, endpoint as JSON, None for a run that
    failed)."""
    model = model_of(training_spec(TRAIN_REQUEST.validate_python(base)))
    found = [(index, None if e is None else endpoint_of(e)) for index, e in endpoints]
    return summarize(model, found, starts)
