"""A training run drawn against log t: error, weights and t·(w(t+1) − w(t)).

The last panel is the statistic of the paper's Figure 5: if the weights grow like
w(t) ≈ a + b·log t (the "log rule"), then t·(w(t+1) − w(t)) ≈ t·ẇ(t) → b, a constant, while the
steps w(t+1) − w(t) ≈ b/t vanish. Converging weights send it to 0. The caption states the
request's parameters and the /train answer's divergence verdict.
"""

from __future__ import annotations

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from service.figures.canvas import caption, encode, new_figure, thin
from service.schemas.train import TrainRequest, TrainResponse
from service.vocabulary import ImageFormat

MAX_WEIGHT_LINES = 10  # tab10 has ten colours; the paper's 2-2-1 net has nine weights
"""At most this many weights are drawn (the first ones); the caption says so."""


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
    shown = min(m, MAX_WEIGHT_LINES)
    figure = new_figure(8.0, 2.3 + 2.6 * len(panels))
    axes = figure.subplots(len(panels), 1, sharex=True, squeeze=False)[:, 0]
    for ax, panel in zip(axes, panels, strict=True):
        if panel == "error":
            _error_panel(ax, t[keep], np.asarray(h.error, dtype=np.float64)[keep])
        elif panel == "weights":
            weights = np.asarray(h.weights, dtype=np.float64).reshape(len(t), m)
            _lines(ax, t[keep], weights[keep, :shown], "w", gid="weights")
            ax.set_ylabel("weights w_j(t)")
            ax.set_title("Weights")
        elif panel == "t_delta":
            rows = [h.t_delta[i] for i in keep]
            td = np.array([r[:shown] if r is not None else [np.nan] * shown for r in rows])
            _lines(ax, t[keep], td.reshape(len(keep), shown), "t·Δw", gid="t-delta")
            ax.axhline(0.0, color="0.5", lw=0.8)
            ax.set_ylabel("t·(w_j(t+1) − w_j(t))")
            ax.set_title("t·Δw: constant under the log rule, → 0 when converging (Figure 5)")
        else:
            raise ValueError(f"unknown panel {panel!r}")
        ax.set_xscale("log")
    axes[-1].set_xlabel(_time_label(request.method.value))
    extra = f" The first {shown} of {m} weights are drawn." if shown < m else ""
    caption(figure, note + _caption(request, response) + extra)
    return figure


def _time_label(method: str) -> str:
    unit = {"gd": "steps", "online": "passes over the data"}.get(method, "time of the flow")
    return f"t ({unit}) — log scale"


def _error_panel(ax: Axes, t: np.ndarray, error: np.ndarray) -> None:
    ax.plot(t, error, color="tab:blue", lw=1.5, gid="error")
    if error.size and float(error.min()) > 0 and float(error.max()) > 10 * float(error.min()):
        ax.set_yscale("log")
    ax.set_ylabel("error E(w(t))")
    ax.set_title("Error")


def _lines(ax: Axes, t: np.ndarray, values: np.ndarray, name: str, *, gid: str) -> None:
    for j in range(values.shape[1]):
        ax.plot(t, values[:, j], lw=1.4, label=f"{name}{_sub(j + 1)}", gid=f"{gid}-{j}")
    if values.shape[1] > 0:
        ax.legend(loc="best", fontsize=8, ncols=min(4, values.shape[1]))


def _sub(j: int) -> str:
    return str(j).translate(str.maketrans("0123456789", "₀₁₂₃₄₅₆₇₈₉"))


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
