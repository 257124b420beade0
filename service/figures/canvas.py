"""The drawing surface: a matplotlib Figure on the Agg canvas, encoded to SVG or PNG bytes.

matplotlib's global state (rcParams, the font cache, the text layout cache) is not
thread-safe, and the service renders in worker threads, so every figure is built and encoded
under one lock; pyplot (which keeps global figure managers) is never imported. The fonts are
DejaVu Sans and DejaVu Sans Mono, which ship inside matplotlib: a fresh machine needs no
system fonts. SVG text is written as paths, so a viewer needs no fonts either.
"""

from __future__ import annotations

import io
import textwrap
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import matplotlib

matplotlib.use("Agg")  # no display, whatever MPLBACKEND says

from matplotlib.backends.backend_agg import FigureCanvasAgg  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from service.vocabulary import ImageFormat  # noqa: E402

MAX_FIGURE_BYTES = 8 * 1024 * 1024
"""An encoded figure above this is refused (:class:`FigureTooLarge`)."""

MAX_LINE_POINTS = 2_000
"""Each plotted line is thinned to at most this many vertices (keeps SVG output small)."""

MAX_CAPTION_CHARS = 700
"""Captions are cut to this length."""

DPI = 100
"""PNG resolution: a figure of w × h inches is 100·w × 100·h pixels."""

_STYLE: dict[str, Any] = {
    "font.family": "DejaVu Sans",
    "mathtext.fontset": "dejavusans",
    "svg.fonttype": "path",
    "svg.hashsalt": "learndyn",  # deterministic SVG ids
    "axes.grid": True,
    "grid.alpha": 0.3,
    "font.size": 9,
}

_LOCK = threading.Lock()


class FigureTooLarge(ValueError):
    """The encoded figure exceeds :data:`MAX_FIGURE_BYTES`."""


@contextmanager
def _style() -> Iterator[None]:
    with _LOCK, matplotlib.rc_context(_STYLE):  # type: ignore[arg-type]
        yield


def encode(draw: Callable[[], Figure], image_format: ImageFormat) -> bytes:
    """Build a figure with ``draw()`` and encode it, all under the rendering lock.

    Raises :class:`FigureTooLarge` if the bytes exceed :data:`MAX_FIGURE_BYTES`.
    """
    with _style():
        figure = draw()
        FigureCanvasAgg(figure)
        buffer = io.BytesIO()
        if image_format is ImageFormat.SVG:
            figure.savefig(buffer, format="svg", metadata={"Date": None})
        else:
            figure.savefig(buffer, format="png", dpi=DPI, metadata={"Software": None})
    data = buffer.getvalue()
    if len(data) > MAX_FIGURE_BYTES:
        raise FigureTooLarge(
            f"the {image_format.value} figure has {len(data)} bytes, over the limit of "
            f"{MAX_FIGURE_BYTES}; ask for fewer points or png"
        )
    return data


def new_figure(width: float, height: float) -> Figure:
    """A blank figure of ``width`` × ``height`` inches with room for a caption below."""
    return Figure(figsize=(width, height), layout="constrained")


def caption(figure: Figure, text: str, width: int = 110) -> None:
    """Write ``text`` (cut to :data:`MAX_CAPTION_CHARS`, wrapped) under the axes."""
    if len(text) > MAX_CAPTION_CHARS:
        text = text[: MAX_CAPTION_CHARS - 1] + "…"
    wrapped = "\n".join(textwrap.wrap(text, width=width))
    figure.supxlabel(wrapped, fontsize=8, ha="center", gid="caption")


def thin(length: int) -> slice:
    """A stride that keeps at most :data:`MAX_LINE_POINTS` of ``length`` samples."""
    step = max(1, -(-length // MAX_LINE_POINTS))
    return slice(None, None, step)
