"""POST /minima."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body, Depends

from service.api.examples import MINIMA_EXAMPLES
from service.api.limits import check_size, get_settings
from service.api.problems import PROBLEM_RESPONSES, LimitExceeded
from service.core.activations import get_activation
from service.core.landscape import InfinityEnd, Landscape, find_critical_points, weight_column
from service.core.problem import build_problem
from service.schemas.minima import (
    CriticalPointOut,
    CurveOut,
    GlobalMinimum,
    Infinity,
    InfinityEndOut,
    LocalMinimumOut,
    MinimaRequest,
    MinimaResponse,
    SubspaceOut,
)
from service.settings import Settings
from service.vocabulary import Location

router = APIRouter(tags=["landscape"])


@router.post("/minima", operation_id="minima", responses=PROBLEM_RESPONSES)
def minima(
    request: Annotated[MinimaRequest, Body(openapi_examples=MINIMA_EXAMPLES)],
    settings: Annotated[Settings, Depends(get_settings)],
) -> MinimaResponse:
    """Find every local minimum of a one-weight error, at infinity included."""
    data = request.dataset
    problem = build_problem(
        data.inputs, data.targets, get_activation(request.activation), bias=data.bias
    )
    b = weight_column(problem)
    check_size(settings, problem.n, problem.m)
    points = request.curve.points if request.curve else None
    if points is not None and points * problem.n > settings.max_cells:
        raise LimitExceeded(
            "curve.points",
            f"points·n = {points}·{problem.n} exceeds the limit of {settings.max_cells} "
            "(LEARNDYN_MAX_CELLS); ask for fewer points",
        )
    return _response(find_critical_points(b, problem.activation, curve_points=points))


def _end(end: InfinityEnd) -> InfinityEndOut:
    return InfinityEndOut(
        error_limit=end.error_limit,
        local_min=end.local_min,
        approach=end.approach,
    )


def _response(land: Landscape) -> MinimaResponse:
    best = min(land.local_minima, key=lambda m: m.error, default=None)
    sub, curve = land.subspace, land.curve
    return MinimaResponse(
        critical_points=[
            CriticalPointOut(x=p.x, kind=p.kind, error=p.error) for p in land.critical_points
        ],
        infinity=Infinity(plus=_end(land.plus), minus=_end(land.minus)),
        local_minima=[
            LocalMinimumOut(location=m.location, x=m.x, error=m.error) for m in land.local_minima
        ],
        global_minimum=GlobalMinimum(
            error=land.global_error,
            distance=land.distance,
            location=best.location if best else Location.FINITE,
            x=best.x if best else 0.0,
        ),
        flat=land.flat,
        subspace=SubspaceOut(type=sub.type, a=sub.a, vector=list(sub.vector)) if sub else None,
        curve=CurveOut(
            scale=curve.scale,
            s=curve.s.tolist(),
            x=curve.x.tolist(),
            error=curve.error.tolist(),
            image=curve.image.tolist() if curve.image is not None else None,
        )
        if curve
        else None,
    )
