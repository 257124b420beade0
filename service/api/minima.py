"""POST /minima."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body, Depends

from service.api.admission import ClientGone, ComputeRoute
from service.api.dependencies import get_budget
from service.api.examples import MINIMA_EXAMPLES
from service.api.mapping import minima_response
from service.api.problems import PROBLEM_RESPONSES
from service.core.budget import Budget
from service.core.queries import find_minima
from service.schemas.minima import MinimaRequest, MinimaResponse
from service.specs import minima_spec

router = APIRouter(tags=["landscape"], route_class=ComputeRoute)


@router.post("/minima", operation_id="minima", responses=PROBLEM_RESPONSES)
def minima(
    request: Annotated[MinimaRequest, Body(openapi_examples=MINIMA_EXAMPLES)],
    budget: Annotated[Budget, Depends(get_budget)],
    client_gone: ClientGone,
) -> MinimaResponse:
    """Find every local minimum of a one-weight error, at infinity included."""
    return minima_response(find_minima(minima_spec(request), budget, should_stop=client_gone))
