"""An extrapolation study drawn: the log rule's predicted weights against the actual ones,
over log t.

Left panel, ‖w‖₂ against t (log scale): for each point whose verdict at T was logarithmic,
a solid line from its weights at T through the actual weights of its runs to c·T (dots), and
a dashed line from the same start through the log rule's predictions ŵ(c·T) = w(T) + b·ln c
(open circles), both in the colour of the point's activation. For one weight (the paper's
scalar example) the prediction is a straight line in log t, and the gap between the two
lines is the log rule's error. A point the log rule does not apply to (its verdict at T is
not logarithmic) is a grey cross at (T, ‖w(T)‖₂); at most :data:`MAX_POINTS` points are
drawn (the first, by index).

Right panel, log-log: per activation, the median relative weight error
‖ŵ − w(c·T)‖₂/‖w(c·T)‖₂ over its logarithmic points against c, with a dotted horizontal line
at the 1% under which the log rule *predicts well*.

Activation colours: tanh blue, logistic orange, arctan green, erf red (matplotlib's first
four ``tab10`` colours).

Countable marks in SVG output: ``extrapolation-actual-<i>`` and
``extrapolation-predicted-<i>`` (point i's lines, i its index in the grid),
``extrapolation-not-applicable`` (the grey crosses), ``extrapolation-error-<activation>``
(the median errors) and ``extrapolation-good`` (the 1% line).

The module takes plain data (:class:`ExtrapolationSnapshot`); it never reads the store.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from service.core.analysis.extrapolation import GOOD_WEIGHT_ERROR, LogRuleAssessment, PointCheck
from service.core.model.norms import vector_norm
from service.figures.canvas import caption, encode, new_figure
from service.figures.studies import base_summary
from service.schemas.train import TrainRequest
from service.vocabulary import ActivationName, ImageFormat

ACTIVATION_COLOURS: dict[str, str] = {
    ActivationName.TANH.value: "#1f77b4",
    ActivationName.LOGISTIC.value: "#ff7f0e",
    ActivationName.ARCTAN.value: "#2ca02c",
    ActivationName.ERF.value: "#d62728",
}
NOT_APPLICABLE_COLOUR = "#7f7f7f"

MAX_POINTS = 200
"""Points drawn at most in the left panel (the first, by index)."""


@dataclass(frozen=True, slots=True)
class ExtrapolationPoint:
    """One finished point: its index, its activation, its weights at T and its test."""

    index: int
    activation: str
    weights: Sequence[float]
    check: PointCheck


@dataclass(frozen=True, slots=True)
class ExtrapolationSnapshot:
    """An extrapolation study as its figure needs it: plain data, no store."""

    study_id: str
    name: str | None
    status: str
    base: TrainRequest
    axes: dict[str, list[object]]
    points: Sequence[ExtrapolationPoint]
    assessment: LogRuleAssessment
    total: int


def render_extrapolation(snapshot: ExtrapolationSnapshot, image_format: ImageFormat) -> bytes:
    """The figure of ``snapshot`` as SVG or PNG bytes."""
    return encode(lambda: draw_extrapolation(snapshot), image_format)


def _norm(values: object) -> float:
    return vector_norm(np.asarray(values, dtype=np.float64))


def draw_extrapolation(snapshot: ExtrapolationSnapshot) -> Figure:
    """The figure of :func:`render_extrapolation`."""
    figure = new_figure(11.0, 4.8)
    left, right = figure.subplots(1, 2, width_ratios=(3, 2))
    crosses: list[tuple[float, float]] = []
    for p in snapshot.points[:MAX_POINTS]:
        start = (p.check.t, _norm(p.weights))
        if not p.check.applicable:
            crosses.append(start)
            continue
        colour = ACTIVATION_COLOURS.get(p.activation, "black")
        compared = [c for c in p.check.comparisons if c.actual_weights is not None]
        actual = [start, *((c.t, _norm(c.actual_weights)) for c in compared)]
        predicted = [start, *((c.t, _norm(c.predicted_weights)) for c in p.check.comparisons)]
        left.plot(*zip(*actual, strict=True), "-o", color=colour, ms=4, lw=1.2,
                  gid=f"extrapolation-actual-{p.index}")  # fmt: skip
        left.plot(*zip(*predicted, strict=True), "--o", color=colour, ms=5, lw=1.0,
                  mfc="none", gid=f"extrapolation-predicted-{p.index}")  # fmt: skip
    if crosses:
        left.plot(*zip(*crosses, strict=True), "x", color=NOT_APPLICABLE_COLOUR, ms=7,
                  ls="none", gid="extrapolation-not-applicable")  # fmt: skip
    left.set_xscale("log")
    left.set_xlabel("t (log scale)")
    left.set_ylabel("‖w‖₂")
    left.set_title("actual weights (solid) and the log rule's (dashed)")
    _errors(right, snapshot.assessment)
    seen = {p.activation for p in snapshot.points[:MAX_POINTS] if p.check.applicable}
    handles = [
        Line2D([], [], color=colour, marker="o", label=name)
        for name, colour in ACTIVATION_COLOURS.items()
        if name in seen
    ]
    if crosses:
        handles.append(Line2D([], [], color=NOT_APPLICABLE_COLOUR, marker="x", ls="none",
                              label="not logarithmic at T"))  # fmt: skip
    if handles:
        left.legend(handles=handles, fontsize=8, loc="upper left")
    caption(figure, _caption(snapshot), width=140)
    return figure


def _errors(ax: Axes, assessment: LogRuleAssessment) -> None:
    """Median relative weight error against c, per activation, and the 1% line."""
    drawn = False
    for name, group in assessment.activations.items():
        pairs = [
            (f.factor, f.weight_error_median)
            for f in group.factors
            if f.weight_error_median is not None and f.weight_error_median > 0
        ]
        if not pairs:
            continue
        drawn = True
        ax.plot(*zip(*pairs, strict=True), "-o", color=ACTIVATION_COLOURS.get(name, "black"),
                label=f"{name}: {group.fit.value.replace('_', ' ')}",
                gid=f"extrapolation-error-{name}")  # fmt: skip
    ax.axhline(GOOD_WEIGHT_ERROR, color="0.3", ls=":", lw=1, gid="extrapolation-good")
    ax.set_xscale("log")
    ax.set_yscale("log")
    if assessment.factors:
        ax.set_xlim(min(assessment.factors) / 1.5, max(assessment.factors) * 1.5)
    ax.set_xlabel("c (log scale)")
    ax.set_ylabel("median ‖ŵ − w‖₂ / ‖w‖₂ at c·T")
    ax.set_title(f"the log rule's error (dotted: {GOOD_WEIGHT_ERROR:.0%})")
    if drawn:
        ax.legend(fontsize=8, loc="upper left")


def _caption(snapshot: ExtrapolationSnapshot) -> str:
    who = f"“{snapshot.name}” ({snapshot.study_id})" if snapshot.name else snapshot.study_id
    overall = snapshot.assessment.overall
    factors = ", ".join(f"{c:g}" for c in snapshot.assessment.factors)
    shown = len(snapshot.points)
    cut = f" (the first {MAX_POINTS} drawn)" if shown > MAX_POINTS else ""
    return (
        f"Extrapolation study {who}, {snapshot.status}: {shown} of {snapshot.total} points "
        f"finished{cut}, {overall.applicable} logarithmic at T. Base /train request: "
        f"{base_summary(snapshot.base, frozenset(snapshot.axes))}. Factors c: {factors}. "
        "The log rule predicts w(c·T) = w(T) + b·ln c from each logarithmic run to T; the "
        "runs to c·T say how well."
    )
