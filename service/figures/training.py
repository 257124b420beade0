"""A training run drawn against log t: error, weights and t·(w(t+1) − w(t)).

The weights are named and coloured by the layer they belong to (:mod:`service.figures.weights`):
a net's legend has one column per layer, headed by the layer and its weights. An answer with
``record.weights = "norms"`` holds each layer's norm instead of every weight: then one line per
layer is drawn (‖w₁…w₆‖₂, and the norm of the layer's t·Δw), under the same legend. The last
panel is the statistic of the paper's Figure 5: if the weights grow like
w(t) ≈ a + b·log t (the "log rule"), then t·(w(t+1) − w(t)) ≈ t·ẇ(t) → b, a constant, while the
steps w(t+1) − w(t) ≈ b/t vanish. Converging weights send it to 0. The caption states the
request's parameters and the /train answer's divergence verdict.
"""

from __future__ import annotations

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from service.figures.canvas import caption, encode, new_figure, thin
from service.figures.weights import (
    WeightGroup,
    colours,
    drawn,
    norm_groups,
    weight_groups,
    weight_layout,
)
from service.schemas.train import TrainRequest, TrainResponse
from service.vocabulary import ImageFormat, RecordWeights

MAX_WEIGHT_LINES = 10  # tab10 has ten colours; the paper's 2-2-1 net has nine weights
"""At most this many weights are drawn (the first ones of each layer, see
:func:`service.figures.weights.drawn`); the caption says so."""


LEGEND_WIDTH = 2.6
"""Inches added to the figure's width for the legend of a net's layers, beside the panels."""


def render_train(
    request: TrainRequest,
    response: TrainResponse,
    image_format: ImageFormat,
    *,
    note: str = "",
    panels: tuple[str, ...] = ("error", "weights", "t_delta"),
) -> bytes:
    """The run of ``request`` answered by ``response`` as SVG or PNG bytes."""
    return encode(lambda: draw_train(request, response, note=note, panels=panels), image_format)


def draw_train(
    request: TrainRequest,
    response: TrainResponse,
    *,
    note: str = "",
    panels: tuple[str, ...] = ("error", "weights", "t_delta"),
) -> Figure:
    """The figure of :func:`render_train`; ``panels`` picks and orders the panels."""
    h = response.history
    t = np.asarray(h.t, dtype=np.float64)
    later = t > 0  # log t: t = 0 has no place on the axis
    keep = np.flatnonzero(later)[thin(int(later.sum()))]
    m = len(response.weights)
    norms = request.record.weights is RecordWeights.NORMS
    layout = weight_layout(request)
    # the columns of history.weights: every weight, or (norms) one per layer
    width = layout.layers if norms else m
    groups = norm_groups(layout) if norms else drawn(weight_groups(layout), MAX_WEIGHT_LINES)
    shown = [w.index for g in groups for w in g.weights]
    by_layer = len(groups) > 1 and bool({"weights", "t_delta"} & set(panels))
    figure = new_figure(8.0 + (LEGEND_WIDTH if by_layer else 0.0), 2.3 + 2.6 * len(panels))
    axes = figure.subplots(len(panels), 1, sharex=True, squeeze=False)[:, 0]
    lines: dict[int, Line2D] = {}
    for ax, panel in zip(axes, panels, strict=True):
        if panel == "error":
            _error_panel(ax, t[keep], np.asarray(h.error, dtype=np.float64)[keep])
        elif panel == "weights":
            weights = np.asarray(h.weights, dtype=np.float64).reshape(len(t), width)
            lines = _lines(ax, t[keep], weights[keep][:, shown], groups, gid="weights")
            ax.set_ylabel("‖w_layer(t)‖₂" if norms else "weights w_j(t)")
            ax.set_title("Weights: each layer's norm" if norms else "Weights")
        elif panel == "t_delta":
            lines = _lines(ax, t[keep], _t_delta(h.t_delta, keep, shown), groups, gid="t-delta")
            ax.axhline(0.0, color="0.5", lw=0.8)
            ax.set_ylabel("‖t·Δw_layer‖₂" if norms else "t·(w_j(t+1) − w_j(t))")
            ax.set_title("t·Δw: constant under the log rule, → 0 when converging (Figure 5)")
        else:
            raise ValueError(f"unknown panel {panel!r}")
        ax.set_xscale("log")
    if by_layer:
        _layer_legend(figure, groups, lines)
    axes[-1].set_xlabel(_time_label(request.method.value))
    drawn_note = _NORMS_NOTE if norms else _drawn_note(groups, len(shown), m)
    caption(figure, note + _caption(request, response) + drawn_note)
    return figure


def _t_delta(rows: list[list[float] | None], keep: np.ndarray, shown: list[int]) -> np.ndarray:
    """The recorded t·Δw of the weights ``shown`` at the times ``keep`` (NaN where none)."""
    values = [[r[j] for j in shown] if r is not None else [np.nan] * len(shown) for r in rows]
    return np.array([values[i] for i in keep], dtype=np.float64).reshape(len(keep), len(shown))


def _time_label(method: str) -> str:
    unit = {"gd": "steps", "online": "passes over the data"}.get(method, "time of the flow")
    return f"t ({unit}) — log scale"


def _error_panel(ax: Axes, t: np.ndarray, error: np.ndarray) -> None:
    ax.plot(t, error, color="tab:blue", lw=1.5, gid="error")
    if error.size and float(error.min()) > 0 and float(error.max()) > 10 * float(error.min()):
        ax.set_yscale("log")
    ax.set_ylabel("error E(w(t))")
    ax.set_title("Error")


def _lines(
    ax: Axes, t: np.ndarray, values: np.ndarray, groups: tuple[WeightGroup, ...], *, gid: str
) -> dict[int, Line2D]:
    """One line per weight of ``groups`` (``values`` has their columns, in order), its gid
    ``<gid>-<flat index>``, coloured and labelled by layer, biases dashed; by flat index.
    A one-layer run (the perceptron) gets its legend here, a net's is the figure's. With
    norms the index is the layer's."""
    colour = colours(groups)
    lines = {}
    for column, w in enumerate(w for g in groups for w in g.weights):
        (lines[w.index],) = ax.plot(
            t,
            values[:, column],
            lw=1.4,
            ls="--" if w.bias else "-",
            color=colour[w.index],
            label=w.label,
            gid=f"{gid}-{w.index}",
        )
    if len(groups) == 1:
        ax.legend(loc="best", fontsize=8, ncols=min(4, len(lines)))
    return lines


def _layer_legend(
    figure: Figure, groups: tuple[WeightGroup, ...], lines: dict[int, Line2D]
) -> None:
    """The figure's legend, right of the panels: each layer's title (in bold), then its
    weights."""
    handles: list[Line2D] = []
    labels: list[str] = []
    for group in groups:
        handles += [Line2D([], [], linestyle="none")] + [lines[w.index] for w in group.weights]
        labels += [group.title] + [w.label for w in group.weights]
    legend = figure.legend(handles, labels, loc="outside right upper", fontsize=8)
    legend.set_gid("weights-legend")
    for text in legend.get_texts():
        if text.get_text() in {g.title for g in groups}:
            text.set_fontweight("bold")


_NORMS_NOTE = (
    " Each line is one layer's norm (record.weights 'norms'): ‖w‖₂ of its weights, and of its "
    "part of t·Δw."
)


def _drawn_note(groups: tuple[WeightGroup, ...], shown: int, m: int) -> str:
    if shown == m:
        return ""
    if len(groups) == 1:
        return f" The first {shown} of {m} weights are drawn."
    return f" {shown} of {m} weights are drawn: the first ones of each layer."


def _caption(request: TrainRequest, response: TrainResponse) -> str:
    d = request.dataset
    n, m = len(d.inputs), len(response.weights)
    hidden = getattr(request.network, "hidden", [])
    layers = f", hidden layers {list(hidden)}" if hidden else ""
    start = (
        "given initial weights"
        if request.initial_weights is not None
        else f"seed {request.seed}"
        if request.seed is not None
        else f"seed {response.initial_seed} (the default)"
        if response.initial_seed is not None  # a net's weights are drawn: zero is a saddle
        else "zero initial weights"
    )
    verdict = response.divergence
    return (
        f"θ = {request.activation.value}, n = {n}, m = {m} weights"
        f"{' (bias last)' if d.bias else ''}{layers}; method {request.method.value}, "
        f"learning rate {request.learning_rate:g}, {start}; ran t = {response.steps} "
        f"(stopped by {response.stopped_by.value}); final E = {response.error:.4g}, "
        f"accuracy {response.accuracy:.3g}. Verdict: {verdict.verdict.value} — "
        f"{verdict.explanation}"
        + "".join(f" Warning ({w.code.value}): {w.message}" for w in response.warnings)
    )
