"""POST /separability."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body, Depends

from service.api.admission import ClientGone, ComputeRoute
from service.api.dependencies import get_budget
from service.api.examples import SEPARABILITY_EXAMPLES
from service.api.mapping import separability_response
from service.api.problems import PROBLEM_RESPONSES
from service.core.budget import Budget
from service.core.queries import decide_separability
from service.schemas.separability import SeparabilityRequest, SeparabilityResponse

router = APIRouter(tags=["separability"], route_class=ComputeRoute)


@router.post("/separability", operation_id="separability", responses=PROBLEM_RESPONSES)
def separability(
    request: Annotated[SeparabilityRequest, Body(openapi_examples=SEPARABILITY_EXAMPLES)],
    budget: Annotated[Budget, Depends(get_budget)],
    client_gone: ClientGone,
) -> SeparabilityResponse:
    """Decide linear separability, with witnesses or checkable certificates."""
    data = request.dataset
    facts = decide_separability(
        data.inputs, data.targets, bias=data.bias, budget=budget, should_stop=client_gone
    )
    return separability_response(facts)
