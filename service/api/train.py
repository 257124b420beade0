"""POST /train."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body, Depends

from service.api.admission import ClientGone, ComputeRoute
from service.api.dependencies import get_budget
from service.api.examples import TRAIN_EXAMPLES
from service.api.mapping import train_response
from service.api.problems import PROBLEM_RESPONSES
from service.core.budget import Budget
from service.core.training import train as run_training
from service.schemas import TrainRequest, TrainResponse
from service.specs import training_spec

router = APIRouter(tags=["training"], route_class=ComputeRoute)


@router.post("/train", operation_id="train", responses=PROBLEM_RESPONSES)
def train(
    request: Annotated[TrainRequest, Body(openapi_examples=TRAIN_EXAMPLES)],
    budget: Annotated[Budget, Depends(get_budget)],
    client_gone: ClientGone,
) -> TrainResponse:
    """Run gradient descent and judge the weights' fate."""
    return train_response(run_training(training_spec(request), budget, should_stop=client_gone))
