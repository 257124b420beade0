"""POST /figures/train and POST /figures/minima: the /train and /minima requests plus a format.

The answers are images, not JSON: ``image/svg+xml`` or ``image/png``.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, TypeAdapter

from service.schemas.common import StrictModel
from service.schemas.minima import MinimaRequest
from service.schemas.train import (
    FLOW_TAG,
    GD_TAG,
    METHOD_DISCRIMINATOR,
    ONLINE_TAG,
    FlowRequest,
    GdRequest,
    OnlineRequest,
)
from service.vocabulary import ImageFormat

FORMAT_DESCRIPTION = (
    "The image encoding: svg (image/svg+xml, the default; text drawn as paths, so it looks "
    "the same everywhere) or png (image/png, 100 dpi)."
)


class ImageFormatField(StrictModel):
    """The ``format`` field of a figure request."""

    format: ImageFormat = Field(
        default=ImageFormat.SVG, description=FORMAT_DESCRIPTION, examples=["svg"]
    )


class FigureGdRequest(GdRequest, ImageFormatField):
    """A /train request of method gd, answered with its figure."""


class FigureOnlineRequest(OnlineRequest, ImageFormatField):
    """A /train request of method online, answered with its figure."""


class FigureFlowRequest(FlowRequest, ImageFormatField):
    """A /train request of method flow, answered with its figure."""


FigureTrainRequest = Annotated[
    Annotated[FigureGdRequest, GD_TAG]
    | Annotated[FigureOnlineRequest, ONLINE_TAG]
    | Annotated[FigureFlowRequest, FLOW_TAG],
    METHOD_DISCRIMINATOR,
]
"""A /train request plus ``format``, answered with error, weights and t·Δw against log t
(Figure 5); its variants are /train's (see :data:`~service.schemas.train.TrainRequest`)."""

FIGURE_TRAIN_REQUEST: TypeAdapter[FigureTrainRequest] = TypeAdapter(FigureTrainRequest)


class FigureMinimaRequest(MinimaRequest, ImageFormatField):
    """A /minima request, answered with E(x) over the whole line (Figures 1–2) and, for n = 2,
    the image curve TV in [−1, 1]² (Figures 3–4)."""


class PaperFigureQuery(StrictModel):
    """The query of GET /figures/paper/{number}; unknown parameters are refused."""

    format: ImageFormat = Field(
        default=ImageFormat.SVG, description=FORMAT_DESCRIPTION, examples=["png"]
    )


MEDIA_TYPES: dict[ImageFormat, str] = {
    ImageFormat.SVG: "image/svg+xml",
    ImageFormat.PNG: "image/png",
}
"""The content type of each format."""
