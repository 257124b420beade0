"""A relaxation study as a grid: temperatures × starts, every run identified and its E kept.

The /train request every run shares (``base``) is ``method: "anneal"`` with the study's
dataset, activation, network, steps, learning rate and cooling time; the grid has two axes,
``temperature`` (0 — which is gd to the last bit — then each T₀ asked for) and ``start``
(pairs of a census start, :func:`service.core.census.census_starts`, and the seed of that
start's noise, ``seed·K + k``; see :data:`service.studies.grid.START_AXIS`). So each row is
the /train answer for its point, and the worker adds the run's endpoint with its recorded E
(:func:`endpoint_with_errors`). The summary identifies the minima from the gd runs'
endpoints (a census of them; an annealing run ends where its last noise left it), then
compares the methods (:mod:`service.core.analysis.relaxation`).
"""

from __future__ import annotations

from typing import Any

from service.core.analysis.census import Endpoint, summarize
from service.core.analysis.relaxation import Relaxation, RelaxationRun, compare
from service.core.engine.recorder import Trajectory
from service.core.training import model_of
from service.schemas.studies import RelaxationRequest
from service.schemas.train import TRAIN_REQUEST
from service.specs import training_spec
from service.studies.census import endpoint_json, endpoint_of, model_fields, starts_for
from service.studies.grid import START_AXIS
from service.vocabulary import Method


def plan(request: RelaxationRequest) -> tuple[dict[str, Any], dict[str, list[Any]]]:
    """The /train request every run shares (as JSON) and the two axes."""
    base: dict[str, Any] = {
        **model_fields(request),
        "method": Method.ANNEAL.value,
        "steps": request.steps,
        "temperature": 0.0,
        "cooling_time": request.cooling_time,
    }
    starts = starts_for(base, request)
    pairs = [
        {"initial_weights": start, "seed": request.seed * request.starts + k}
        for k, start in enumerate(starts)
    ]
    temperatures = [0.0, *sorted(set(request.temperatures))]
    return base, {"temperature": temperatures, START_AXIS: pairs}


def endpoint_with_errors(end: Endpoint, trajectory: Trajectory) -> dict[str, Any]:
    """The endpoint as JSON with the run's recorded t and E (for the steps to the minimum)."""
    return {**endpoint_json(end), "t": trajectory.t.tolist(), "errors": trajectory.error.tolist()}


def relaxation_of(
    base: dict[str, Any],
    spec: dict[str, Any],
    rows: list[tuple[int, dict[str, Any], float | None, str | None, float, dict[str, Any] | None]],
) -> Relaxation:
    """The comparison over the rows finished so far: (index, params, final E, verdict,
    seconds, endpoint JSON)."""
    model = model_of(training_spec(TRAIN_REQUEST.validate_python(base)))
    # the minima from the gd runs' endpoints: an annealing run ends where its last noise left
    # it, near a minimum but not at one
    found = [
        (index, None if e is None else endpoint_of(e))
        for index, params, _, _, _, e in rows
        if float(params["temperature"]) == 0.0
    ]
    census = summarize(model, found, max(1, len(rows)))
    minima_errors = [m.error for m in census.minima]
    given = spec.get("global_error")
    if given is not None:  # E* as given; the minima above it still set E₂
        minima_errors = [e for e in minima_errors if e > float(given)]
    runs = [
        RelaxationRun(
            temperature=float(params["temperature"]),
            error=error,
            verdict=verdict,
            t=[] if e is None else e.get("t", []),
            errors=[] if e is None else e.get("errors", []),
            seconds=seconds,
        )
        for _, params, error, verdict, seconds, e in rows
    ]
    if given is not None:
        return compare(runs, minima_errors, lowest=float(given))
    return compare(runs, minima_errors)
