"""POST /figures/train, POST /figures/minima, GET /figures/paper/{number} and
GET /figures/studies/{study_id}: images.

Each route makes the core call /train or /minima makes, maps the result to the same answer
(:mod:`service.api.mapping`) and hands it to :mod:`service.figures`; the study's figure reads
the study from the app's studies (as the /studies routes do) and hands plain data over: a
sweep's phase diagram (:mod:`service.figures.studies`), a census's minima and the starts
of their basins (:mod:`service.figures.census`), an extrapolation's predicted against
actual weights (:mod:`service.figures.extrapolation`), or a relaxation's success rates per
method (:mod:`service.figures.relaxation`).
Routes are plain ``def``: the computation and the rendering run in the worker thread pool,
never on the event loop.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Path, Query, Request
from fastapi.responses import Response
from starlette.exceptions import HTTPException

from service.api.admission import ClientGone, ComputeRoute
from service.api.dependencies import get_budget
from service.api.examples import FIGURE_MINIMA_EXAMPLES, FIGURE_TRAIN_EXAMPLES
from service.api.mapping import minima_response, train_response
from service.api.problems import PROBLEM_RESPONSES, problem_responses
from service.core.budget import Budget
from service.core.census import DEFAULT_HALF_WIDTH
from service.core.errors import LimitExceeded
from service.core.queries import find_minima
from service.core.training import train
from service.figures import (
    FigureTooLarge,
    StudySnapshot,
    render_minima,
    render_study,
    render_train,
)
from service.figures.census import CensusSnapshot, render_census, starts_array
from service.figures.extrapolation import (
    ExtrapolationPoint,
    ExtrapolationSnapshot,
    render_extrapolation,
)
from service.figures.paper import paper_figure
from service.figures.relaxation import RelaxationSetup, RelaxationSnapshot, render_relaxation
from service.schemas.figures import (
    MEDIA_TYPES,
    FigureMinimaRequest,
    FigureTrainRequest,
    PaperFigureQuery,
)
from service.schemas.minima import CurveRequest, MinimaRequest
from service.schemas.train import TRAIN_REQUEST
from service.specs import minima_spec, training_spec
from service.studies.extrapolation import activations_of, check_of
from service.studies.jobs import Studies, StudyView
from service.vocabulary import ImageFormat, StudyKind

router = APIRouter(prefix="/figures", tags=["figures"], route_class=ComputeRoute)

DEFAULT_CURVE_POINTS = 801
"""Samples of E(x) drawn when the /figures/minima request asks for none."""

IMAGE_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "The figure: image/svg+xml or image/png, as the format asks.",
        "content": {
            MEDIA_TYPES[ImageFormat.SVG]: {"schema": {"type": "string"}},
            MEDIA_TYPES[ImageFormat.PNG]: {
                "schema": {"type": "string", "contentMediaType": "image/png"}
            },
        },
    },
    **PROBLEM_RESPONSES,
}


def _image(render: Callable[[], bytes], image_format: ImageFormat) -> Response:
    try:
        content = render()
    except FigureTooLarge as error:
        raise LimitExceeded("format", str(error)) from None
    return Response(content, media_type=MEDIA_TYPES[image_format])


@router.post(
    "/train", operation_id="figure_train", response_class=Response, responses=IMAGE_RESPONSES
)
def figure_train(
    request: Annotated[FigureTrainRequest, Body(openapi_examples=FIGURE_TRAIN_EXAMPLES)],
    budget: Annotated[Budget, Depends(get_budget)],
    client_gone: ClientGone,
) -> Response:
    """Draw a /train run: error, weights and t·Δw against log t, with the verdict."""
    answer = train_response(train(training_spec(request), budget, should_stop=client_gone))
    return _image(lambda: render_train(request, answer, request.format), request.format)


@router.post(
    "/minima", operation_id="figure_minima", response_class=Response, responses=IMAGE_RESPONSES
)
def figure_minima(
    request: Annotated[FigureMinimaRequest, Body(openapi_examples=FIGURE_MINIMA_EXAMPLES)],
    budget: Annotated[Budget, Depends(get_budget)],
) -> Response:
    """Draw a /minima landscape: E(x) with its extrema and, for n = 2, the image curve TV."""
    if request.curve is None:
        request = request.model_copy(update={"curve": CurveRequest(points=DEFAULT_CURVE_POINTS)})
    answer = minima_response(find_minima(minima_spec(request), budget))
    return _image(lambda: render_minima(answer, request.activation, request.format), request.format)


@router.get(
    "/paper/{number}",
    operation_id="figure_paper",
    response_class=Response,
    responses=IMAGE_RESPONSES,
)
def figure_paper(
    number: Annotated[int, Path(ge=1, le=5, description="The figure of the paper, 1 to 5.")],
    budget: Annotated[Budget, Depends(get_budget)],
    query: Annotated[PaperFigureQuery, Query()],
) -> Response:
    """Redraw one of the paper's Figures 1–5, its parameters stated in the caption."""
    return _image(lambda: _paper(number, query.format, budget), query.format)


@lru_cache(maxsize=16)
def _paper(number: int, image_format: ImageFormat, budget: Budget) -> bytes:
    """The figures are deterministic: each is computed once per format and budget."""
    recipe = paper_figure(number)
    if isinstance(recipe.request, MinimaRequest):
        landscape = minima_response(find_minima(minima_spec(recipe.request), budget))
        return render_minima(
            landscape,
            recipe.request.activation,
            image_format,
            note=recipe.note,
            panels=recipe.panels,
        )
    run = train_response(train(training_spec(recipe.request), budget))
    return render_train(recipe.request, run, image_format, note=recipe.note, panels=recipe.panels)


@router.get(
    "/studies/{study_id}",
    operation_id="figure_study",
    response_class=Response,
    responses={**IMAGE_RESPONSES, **problem_responses(404)},  # a GET: no 415 to expect
)
def figure_study(
    study_id: Annotated[str, Path(pattern=r"^[0-9a-f]{32}$", description="The study's id.")],
    request: Request,
    query: Annotated[PaperFigureQuery, Query()],
) -> Response:
    """Draw a study: a sweep's phase diagram, a census's minima with their basins, or an
    extrapolation's predicted against actual weights."""
    studies = _studies(request)
    view = studies.get(study_id)
    if view is None:
        raise HTTPException(404, f"no study {study_id}")
    if view.record.kind == StudyKind.CENSUS:
        census = _census_snapshot(view)
        return _image(lambda: render_census(census, query.format), query.format)
    if view.record.kind == StudyKind.EXTRAPOLATION:
        tested = _extrapolation_snapshot(studies, view)
        return _image(lambda: render_extrapolation(tested, query.format), query.format)
    if view.record.kind == StudyKind.RELAXATION:
        relaxed = _relaxation_snapshot(view)
        return _image(lambda: render_relaxation(relaxed, query.format), query.format)
    sweep = _study_snapshot(studies, view)
    return _image(lambda: render_study(sweep, query.format), query.format)


def _studies(request: Request) -> Studies:
    opener: Callable[[], Studies] = request.app.state.studies  # as the /studies routes
    return opener()


def _study_snapshot(studies: Studies, view: StudyView) -> StudySnapshot:
    """A sweep as plain data: its record's spec and axes, and its finished points."""
    record = view.record
    grid: dict[str, Any] = record.spec.get("grid", {})
    return StudySnapshot(
        study_id=record.id,
        name=record.name,
        status=record.status,
        base=TRAIN_REQUEST.validate_python(record.spec["base"]),
        axes=record.axes,
        log_axes=frozenset(a for a, v in grid.items() if isinstance(v, dict) and "log_range" in v),
        outcomes=studies.outcomes(record.id),
        total=record.total,
    )


def _extrapolation_snapshot(studies: Studies, view: StudyView) -> ExtrapolationSnapshot:
    """An extrapolation as plain data: its finished points (weights at T and tests) and its
    assessment."""
    record = view.record
    assert view.extrapolation is not None, "an extrapolation's view carries its assessment"
    rows = [r for r in studies.tested_rows(record.id) if r.extrapolation and r.weights]
    activations = activations_of(record.spec["base"], rows)
    return ExtrapolationSnapshot(
        study_id=record.id,
        name=record.name,
        status=record.status,
        base=TRAIN_REQUEST.validate_python(record.spec["base"]),
        axes=record.axes,
        points=[
            ExtrapolationPoint(
                index=r.index,
                activation=activation,
                weights=r.weights or [],
                check=check_of(r.extrapolation or {}),
            )
            for r, activation in zip(rows, activations, strict=True)
        ],
        assessment=view.extrapolation,
        total=record.total,
    )


def _relaxation_snapshot(view: StudyView) -> RelaxationSnapshot:
    """A relaxation as plain data: its comparison of the methods and what its runs share."""
    record = view.record
    assert view.relaxation is not None, "a relaxation's view carries its comparison"
    spec, base = record.spec, record.spec["base"]
    half_width = spec.get("init")
    return RelaxationSnapshot(
        study_id=record.id,
        name=record.name,
        status=record.status,
        relaxation=view.relaxation,
        total=record.total,
        setup=RelaxationSetup(
            starts=len(record.axes["start"]),
            weights=len(record.axes["start"][0]["initial_weights"]),
            half_width=DEFAULT_HALF_WIDTH if half_width is None else float(half_width),
            steps=int(base["steps"]),
            learning_rate=float(base["learning_rate"]),
            cooling_time=float(base["cooling_time"]),
        ),
    )


def _census_snapshot(view: StudyView) -> CensusSnapshot:
    """A census as plain data: its runs' shared request, its starts and its minima."""
    record = view.record
    assert view.census is not None, "a census study's view carries its census"
    half_width = record.spec.get("init")
    return CensusSnapshot(
        study_id=record.id,
        name=record.name,
        status=record.status,
        base=TRAIN_REQUEST.validate_python(record.spec["base"]),
        census=view.census,
        starts=starts_array(record.axes["initial_weights"]),
        half_width=DEFAULT_HALF_WIDTH if half_width is None else float(half_width),
        total=record.total,
    )
