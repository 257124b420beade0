"""POST /figures/train and POST /figures/minima: the /train and /minima requests plus a format.

The answers are images, not JSON: ``image/svg+xml`` or ``image/png``.
"""

from __future__ import annotations

from pydantic import Field

from service.schemas.common import StrictModel
from service.schemas.minima import MinimaRequest
from service.schemas.train import TrainRequest
from service.vocabulary import ImageFormat

FORMAT_DESCRIPTION = (
    "The image encoding: svg (image/svg+xml, the default; text drawn as paths, so it looks "
    "the same everywhere) or png (image/png, 100 dpi)."
)


class FigureTrainRequest(TrainRequest):
    """A /train request, answered with error, weights and t·Δw against log t (Figure 5)."""

    format: ImageFormat = Field(
        default=ImageFormat.SVG, description=FORMAT_DESCRIPTION, examples=["svg"]
    )


class FigureMinimaRequest(MinimaRequest):
    """A /minima request, answered with E(x) over the whole line (Figures 1–2) and, for n = 2,
    the image curve TV in [−1, 1]² (Figures 3–4)."""

    format: ImageFormat = Field(
        default=ImageFormat.SVG, description=FORMAT_DESCRIPTION, examples=["svg"]
    )


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
