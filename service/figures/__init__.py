"""Figures: the service's results drawn with matplotlib (Agg, no display).

This package sits beside ``service.api``: it turns response models of ``service.schemas``
(a /train or /minima answer) into SVG or PNG bytes. ``service.core`` never imports it, so the
numerics stay free of matplotlib.

* :func:`render_train`: error, weights and t·(w(t+1) − w(t)) against log t, with the
  divergence verdict in the caption (the paper's Figure 5 statistic).
* :func:`render_minima`: E(x) over the whole (compactified) line with its extrema and its
  limits at ±∞ (Figures 1–2), and for n = 2 the image curve TV in [−1, 1]² with e and the
  nearest point of clos TV (Figures 3–4).
* :func:`render_study`: a study's phase diagram, the verdict as a colour over the two
  largest axes of its grid (:mod:`service.figures.studies` documents the colours).
* :mod:`service.figures.paper`: the requests and captions of the paper's five figures.
* :mod:`service.figures.weights`: a run's weights named and coloured by the layer they belong
  to (``w₅ bias→h₁`` in ``layer 1 (inputs→hidden): w₁…w₆``).

Countable marks: in SVG output every extremum of E carries an element id starting with
``extremum-`` (``extremum-min-0``, ``extremum-max-1``, ``extremum-min-plus-inf``, …), the
limits at ±∞ ``limit-plus`` / ``limit-minus``, and in the image panel ``point-e``,
``nearest-point`` and ``distance``; in a phase diagram the cells are ``phase-diagram``, the
hatching under unfinished cells ``not-finished``, and each legend entry ``verdict-<name>``; in
a run's figure each weight's lines are ``weights-<j>`` and ``t-delta-<j>`` (j its 0-based index
in the flat vector) and a net's legend, grouped by layer, is ``weights-legend``.
"""

from service.figures.canvas import MAX_FIGURE_BYTES, FigureTooLarge, encode
from service.figures.landscape import draw_minima, render_minima
from service.figures.studies import (
    VERDICT_COLOURS,
    PhaseCells,
    StudySnapshot,
    draw_study,
    phase_cells,
    render_study,
)
from service.figures.training import draw_train, render_train

__all__ = [
    "MAX_FIGURE_BYTES",
    "VERDICT_COLOURS",
    "FigureTooLarge",
    "PhaseCells",
    "StudySnapshot",
    "draw_minima",
    "draw_study",
    "draw_train",
    "encode",
    "phase_cells",
    "render_minima",
    "render_study",
    "render_train",
]
