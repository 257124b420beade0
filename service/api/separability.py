"""POST /separability, and the mapping of separability facts and theory to their schemas."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body, Depends

from service.api.examples import SEPARABILITY_EXAMPLES
from service.api.limits import check_size, get_settings
from service.api.problems import PROBLEM_RESPONSES
from service.core.activations import get_activation
from service.core.problem import build_problem
from service.core.separability import Separability, test_separability
from service.core.theory import Theory
from service.schemas.separability import (
    Certificate,
    MaxMargin,
    SeparabilityRequest,
    SeparabilityResponse,
)
from service.schemas.separability import Theory as TheorySchema
from service.settings import Settings
from service.vocabulary import ActivationName

router = APIRouter(tags=["separability"])


@router.post("/separability", operation_id="separability", responses=PROBLEM_RESPONSES)
def separability(
    request: Annotated[SeparabilityRequest, Body(openapi_examples=SEPARABILITY_EXAMPLES)],
    settings: Annotated[Settings, Depends(get_settings)],
) -> SeparabilityResponse:
    """Decide linear separability, with witnesses or checkable certificates."""
    data = request.dataset
    # The activation plays no part in separability; any one builds B = diag(y)·A.
    problem = build_problem(
        data.inputs, data.targets, get_activation(ActivationName.TANH), bias=data.bias
    )
    check_size(settings, problem.n, problem.m)
    return separability_response(test_separability(problem.B))


def separability_response(facts: Separability) -> SeparabilityResponse:
    """The schema of a core :class:`Separability`."""
    cert = facts.certificate
    mm = facts.max_margin
    return SeparabilityResponse(
        n=facts.n,
        m=facts.m,
        strictly_separable=facts.strictly_separable,
        weakly_separable=facts.weakly_separable,
        rank=facts.rank,
        rows_independent=facts.rows_independent,
        separating_weights=None
        if facts.separating_weights is None
        else facts.separating_weights.tolist(),
        half_space_weights=None
        if facts.half_space_weights is None
        else facts.half_space_weights.tolist(),
        certificate=None
        if cert is None
        else Certificate(
            kind=cert.kind, multipliers=cert.multipliers.tolist(), residual=cert.residual
        ),
        max_margin=None
        if mm is None
        else MaxMargin(
            weights=mm.weights.tolist(),
            margin=mm.margin,
            support_vectors=mm.support_vectors.tolist(),
            multipliers=mm.multipliers.tolist(),
            kkt_residual=mm.kkt_residual,
        ),
        lemma_applies=facts.lemma_applies,
        lemma_explanation=facts.lemma_explanation,
    )


def theory_response(theory: Theory) -> TheorySchema:
    """The schema of a core :class:`Theory`."""
    rate = theory.predicted_log_rate
    return TheorySchema(
        separability=separability_response(theory.separability),
        lemma_applies=theory.lemma_applies,
        loss_tail=theory.loss_tail.value,
        loss_exponent=theory.loss_exponent,
        predicted_log_rate=None if rate is None else rate.tolist(),
        prediction_explanation=theory.prediction_explanation,
        angle_degrees=theory.angle_degrees,
        norm_ratio=theory.norm_ratio,
    )
