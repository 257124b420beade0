"""Figures: the service's results drawn with matplotlib (Agg, no display).

This package sits beside ``service.api``: it turns response models of ``service.schemas``
(a /train or /minima answer) into SVG or PNG bytes. ``service.core`` never imports it, so the
numerics stay free of matplotlib.

* :func:`render_train`: error, weights and t·(w(t+1) − w(t)) against log t, with the
  divergence verdict in the caption (the paper's Figure 5 statistic).
* :func:`render_minima`: E(x) over the whole (compactified) line with its extrema and its
  limits at ±∞ (Figures 1–2), and for n = 2 the image curve TV in [−1, 1]² with e and the
  nearest point of clos TV (Figures 3–4).
* :mod:`service.figures.paper`: the requests and captions of the paper's five figures.

Countable marks: in SVG output every extremum of E carries an element id starting with
``extremum-`` (``extremum-min-0``, ``extremum-max-1``, ``extremum-min-plus-inf``, …), the
limits at ±∞ ``limit-plus`` / ``limit-minus``, and in the image panel ``point-e``,
``nearest-point`` and ``distance``.
"""

from service.figures.canvas import MAX_FIGURE_BYTES, FigureTooLarge, encode
from service.figures.landscape import draw_minima, render_minima
from service.figures.training import draw_train, render_train

__all__ = [
    "MAX_FIGURE_BYTES",
    "FigureTooLarge",
    "draw_minima",
    "draw_train",
    "encode",
    "render_minima",
    "render_train",
]
