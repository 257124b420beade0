"""A census drawn: the minima its runs found, and the starts that led to each.

A census (:mod:`service.core.analysis.census`) runs /train from K starts spread over the box
[−a, a]^m and clusters the endpoints into distinct minima, finite or at infinity. Its figure
depends on m, the number of weights:

* **m = 2**: the box itself. The background is E(w) over [−L, L]², L = :data:`VIEW_MARGIN`·a
  (so that the starts on the box's edge are inside the view), on a
  :data:`MAP_POINTS` × :data:`MAP_POINTS` grid, shaded light (low E) to dark (high E) with
  its level lines. Each start is a dot coloured by the minimum its run reached — the colours
  *are* the basins as the census sampled them — and grey when its run found none
  (unresolved, failed, or not finished yet). Each finite minimum is a star at its weights
  (when inside the view); each minimum at infinity an arrow along its direction d from its
  finite part f (the ray f + s·d, s → ∞, that its runs follow; from the centre when f is
  outside the view) to the edge of the view; saddles the census met are black crosses.
* **otherwise**: one horizontal bar per minimum, lowest error at the top, its length the
  basin fraction hits/K, labelled by its error and where it is (finite, or ∞ at infinity),
  in the same colours; grey bars below for the unresolved runs and those not finished.

Minimum k (0-based, in the census's order: lowest error first) has colour
``MINIMUM_COLOURS[k % 9]`` (matplotlib's ``tab10`` without its grey, which is kept for runs
that found no minimum). The legend and the bars write a minimum's error as ``E = `` and
:data:`ERROR_FORMAT`, and its basin as a percentage of all K starts. The caption says how
complete the census is: runs finished, identified and unresolved, the distinct minima, the
Chao1 estimate of all minima with its 95% interval, and the Good–Turing coverage.

Countable marks in SVG output: ``census-map`` (the shading of E), ``census-basin-<k>`` (the
dots of minimum k's starts), ``census-unresolved`` (the grey dots), ``census-minimum-<k>``
(minimum k's star, or its arrow at infinity), ``census-saddle-<j>``, and in the bar chart
``census-bar-<k>``, ``census-bar-unresolved`` and ``census-bar-not-finished``.

The module takes plain data (:class:`CensusSnapshot`); it never reads the store.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from matplotlib import colormaps
from matplotlib.axes import Axes
from matplotlib.colors import ListedColormap
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import FancyArrowPatch, Patch

from service.core.analysis.census import Census, Minimum
from service.core.model.activations import Array
from service.core.model.models import model_error
from service.core.training import model_of
from service.figures.canvas import caption, encode, new_figure
from service.figures.studies import base_summary
from service.figures.weights import superscript, weight_groups, weight_layout
from service.schemas.train import TrainRequest
from service.specs import training_spec
from service.vocabulary import EndpointLocation, ImageFormat

MINIMUM_COLOURS: tuple[str, ...] = (
    "#1f77b4",
    "#ff7f0e",
    "#2ca02c",
    "#d62728",
    "#9467bd",
    "#8c564b",
    "#e377c2",
    "#bcbd22",
    "#17becf",
)
"""The colour of minimum k is ``MINIMUM_COLOURS[k % 9]``: ``tab10`` without its grey."""

NO_MINIMUM_COLOUR = "#b4b4b4"
"""The dots and bars of runs that found no minimum."""

ERROR_FORMAT = ".4g"
"""How a minimum's error is written in the legend, the bar labels and the caption."""

VIEW_MARGIN = 1.15
"""The map spans [−L, L]², L = this times the box's half-width a."""

MAP_POINTS = 120
"""E is evaluated on this many points per axis of the map (14,400 in all: some 0.2 s for a
perceptron, 0.5 s for a net, both measured)."""

MAP_LEVELS = 16
"""Filled levels of E on the map."""

MAX_LEGEND_MINIMA = 10
"""The map's legend names at most this many minima (the lowest); it says how many more."""

MAX_BARS = 30
"""The bar chart draws at most this many minima (the lowest); the caption says how many more."""

_SHADES = ListedColormap(colormaps["Greys"](np.linspace(0.03, 0.55, 256)), name="census-E")
"""Light greys for low E, mid greys for high E: the basin colours stay legible on top."""


@dataclass(frozen=True, slots=True)
class CensusSnapshot:
    """A census study as its figure needs it: plain data, no store.

    ``base`` is the /train request every run shares, ``starts`` the K × m starts in index
    order (row k is run k's start, the index ``Minimum.members`` refer to) and
    ``half_width`` a, the box [−a, a]^m they were drawn from; ``total`` is K.
    """

    study_id: str
    name: str | None
    status: str
    base: TrainRequest
    census: Census
    starts: Array
    half_width: float
    total: int


@dataclass(frozen=True, slots=True)
class ErrorMap:
    """E on the grid ``axis`` × ``axis`` over [−``limit``, ``limit``]²: ``error[i, j]`` is E
    at (w₁, w₂) = (axis[j], axis[i]) (NaN where a margin overflows)."""

    axis: Array
    error: Array
    limit: float


def error_map(snapshot: CensusSnapshot, points: int = MAP_POINTS) -> ErrorMap:
    """E over the view of a census with m = 2 (see the module docstring)."""
    model = model_of(training_spec(snapshot.base))
    if model.m != 2:
        raise ValueError(f"error_map: the model has m = {model.m} weights, the map needs 2")
    limit = VIEW_MARGIN * snapshot.half_width
    axis = np.linspace(-limit, limit, points)
    error = np.empty((points, points))
    for i, w2 in enumerate(axis):
        for j, w1 in enumerate(axis):
            error[i, j] = model_error(model, np.array([w1, w2]))
    return ErrorMap(axis=axis, error=error, limit=limit)


def render_census(snapshot: CensusSnapshot, image_format: ImageFormat) -> bytes:
    """The census of ``snapshot`` as SVG or PNG bytes (E is computed before the rendering
    lock is taken)."""
    landscape = error_map(snapshot) if _weights(snapshot) == 2 else None
    return encode(lambda: _draw(snapshot, landscape), image_format)


def draw_census(snapshot: CensusSnapshot) -> Figure:
    """The figure of :func:`render_census`."""
    return _draw(snapshot, error_map(snapshot) if _weights(snapshot) == 2 else None)


def minimum_colour(k: int) -> str:
    """The colour of minimum ``k`` (0-based, lowest error first)."""
    return MINIMUM_COLOURS[k % len(MINIMUM_COLOURS)]


def error_label(error: float) -> str:
    """A minimum's error as the figure writes it."""
    return f"E = {error:{ERROR_FORMAT}}"


def minimum_label(minimum: Minimum) -> str:
    """A minimum's legend entry: its error, where it is, its basin."""
    where = "finite" if minimum.location is EndpointLocation.FINITE else "at infinity"
    copies = f", {minimum.symmetric_copies} copies" if minimum.symmetric_copies > 1 else ""
    return f"{error_label(minimum.error)}, {where}, basin {minimum.basin_fraction:.1%}{copies}"


def _weights(snapshot: CensusSnapshot) -> int:
    return int(snapshot.starts.shape[1]) if snapshot.starts.ndim == 2 else 0


def _finished(census: Census) -> int:
    """Runs finished so far: each is in a minimum or unresolved (saddles are unresolved)."""
    return census.identified + census.unresolved


def _draw(snapshot: CensusSnapshot, landscape: ErrorMap | None) -> Figure:
    if landscape is not None:
        figure = new_figure(10.5, 7.0)
        ax = figure.subplots()
        _draw_map(figure, ax, snapshot, landscape)
        what = "the minima of E and the starts of their basins"
    else:
        shown = min(len(snapshot.census.minima), MAX_BARS)
        figure = new_figure(9.0, min(10.0, 3.4 + 0.32 * (shown + 2)))
        ax = figure.subplots()
        _draw_bars(ax, snapshot)
        what = "the minima found, lowest error first, by basin"
    ax.set_title(f"{_title(snapshot)}: {what}")
    caption(figure, _caption(snapshot, landscape), width=130)
    return figure


# --- m = 2: the map ------------------------------------------------------------------------


def _draw_map(figure: Figure, ax: Axes, snapshot: CensusSnapshot, landscape: ErrorMap) -> None:
    census = snapshot.census
    limit = landscape.limit
    error = np.ma.masked_invalid(landscape.error)
    low, high = float(error.min()), float(error.max())
    if np.ma.count(error) and high - low > 1e-12 * (1.0 + abs(high)):
        levels = np.linspace(low, high, MAP_LEVELS + 1)
        axis = landscape.axis
        filled = ax.contourf(axis, axis, error, levels=levels, cmap=_SHADES, zorder=0)
        filled.set_gid("census-map")
        ax.contour(axis, axis, error, levels=levels, colors="0.35", linewidths=0.4, zorder=1)
        bar = figure.colorbar(filled, ax=ax, shrink=0.85, pad=0.02)
        bar.set_label("E(w)")
    size = float(np.clip(3000.0 / max(len(snapshot.starts), 1), 6.0, 40.0))
    found = np.zeros(len(snapshot.starts), dtype=bool)
    handles: list[Line2D | Patch] = []
    for k, minimum in enumerate(census.minima):
        colour = minimum_colour(k)
        members = _members(minimum, len(snapshot.starts))
        found[members] = True
        if members:
            ax.scatter(
                snapshot.starts[members, 0], snapshot.starts[members, 1], s=size, c=colour,
                edgecolors="black", linewidths=0.4, zorder=3, gid=f"census-basin-{k}",
            )  # fmt: skip
        _mark_minimum(ax, k, minimum, limit)
        if k < MAX_LEGEND_MINIMA:
            marker = "*" if minimum.location is EndpointLocation.FINITE else r"$\rightarrow$"
            handles.append(
                Line2D(
                    [], [], ls="none", marker=marker, ms=11, color=colour, mec="black",
                    mew=0.4 if minimum.location is EndpointLocation.FINITE else 0.0,
                    label=minimum_label(minimum) + _outside(minimum, limit),
                )
            )  # fmt: skip
    if len(census.minima) > MAX_LEGEND_MINIMA:
        more = len(census.minima) - MAX_LEGEND_MINIMA
        handles.append(Patch(facecolor="white", edgecolor="white", label=f"… {more} more minima"))
    lost = np.flatnonzero(~found)
    if lost.size:
        ax.scatter(
            snapshot.starts[lost, 0], snapshot.starts[lost, 1], s=size, c=NO_MINIMUM_COLOUR,
            edgecolors="0.3", linewidths=0.4, zorder=3, gid="census-unresolved",
        )  # fmt: skip
        handles.append(
            Line2D(
                [], [], ls="none", marker="o", ms=6, color=NO_MINIMUM_COLOUR, mec="0.3",
                mew=0.4, label=_no_minimum_label(snapshot),
            )
        )  # fmt: skip
    for j, saddle in enumerate(census.saddles):
        if saddle.weights is not None and _inside(saddle.weights, limit):
            ax.plot(
                [saddle.weights[0]], [saddle.weights[1]], ls="none", marker="x", ms=9, mew=2,
                color="black", zorder=4, gid=f"census-saddle-{j}",
            )  # fmt: skip
    if census.saddles:
        handles.append(
            Line2D(
                [], [], ls="none", marker="x", ms=8, mew=2, color="black",
                label=f"saddle{'s' if len(census.saddles) > 1 else ''} (runs counted unresolved)",
            )
        )  # fmt: skip
    half = snapshot.half_width
    ax.plot(
        [-half, half, half, -half, -half], [-half, -half, half, half, -half],
        ls=":", color="0.25", lw=0.8, zorder=2,
    )  # fmt: skip
    ax.set_xlim(-limit, limit)
    ax.set_ylim(-limit, limit)
    ax.set_aspect("equal")
    ax.grid(False)
    names = [
        w.label for group in weight_groups(weight_layout(snapshot.base)) for w in group.weights
    ]
    ax.set_xlabel(names[0])
    ax.set_ylabel(names[1])
    if handles:
        figure.legend(
            handles=handles, loc="outside right upper", fontsize=8,
            title=f"minima ({census.distinct}) and starts ({snapshot.total})",
        )  # fmt: skip


def _members(minimum: Minimum, count: int) -> list[int]:
    """The starts whose run found ``minimum`` (indices past the starts are ignored)."""
    return [i for i in minimum.members if 0 <= i < count]


def _inside(point: Array, limit: float) -> bool:
    return bool(np.all(np.abs(point) <= limit))


def _outside(minimum: Minimum, limit: float) -> str:
    w = minimum.weights
    if minimum.location is EndpointLocation.FINITE and w is not None and not _inside(w, limit):
        return f" (at ({w[0]:.3g}, {w[1]:.3g}), outside the view)".replace("-", "−")
    return ""


def _mark_minimum(ax: Axes, k: int, minimum: Minimum, limit: float) -> None:
    """A star at a finite minimum; an arrow to the edge along a minimum at infinity."""
    colour = minimum_colour(k)
    if minimum.location is EndpointLocation.FINITE:
        w = minimum.weights
        if w is not None and _inside(w, limit):
            ax.plot(
                [w[0]], [w[1]], ls="none", marker="*", ms=17, color=colour, mec="black",
                mew=0.8, zorder=5, gid=f"census-minimum-{k}",
            )  # fmt: skip
        return
    d, f = minimum.direction, minimum.finite_part
    if d is None or not np.any(d):
        return
    edge = 0.97 * limit
    tail = f if f is not None and _inside(f, 0.9 * limit) else np.zeros(2)
    # the ray tail + s·d leaves the square |w_j| ≤ edge at the smallest positive s
    s = min(float((np.sign(d[j]) * edge - tail[j]) / d[j]) for j in range(2) if d[j] != 0.0)
    tip = tail + max(s, 0.0) * d
    ax.add_patch(
        FancyArrowPatch(
            (float(tail[0]), float(tail[1])), (float(tip[0]), float(tip[1])),
            arrowstyle="-|>", mutation_scale=18, color=colour, lw=2.2, zorder=5,
            gid=f"census-minimum-{k}",
        )
    )  # fmt: skip


def _no_minimum_label(snapshot: CensusSnapshot) -> str:
    census = snapshot.census
    pending = snapshot.total - _finished(census)
    label = f"unresolved ({census.unresolved})"
    if pending > 0:
        label += f" or not finished ({pending})"
    return label


# --- other m: the bars ---------------------------------------------------------------------


def _draw_bars(ax: Axes, snapshot: CensusSnapshot) -> None:
    census = snapshot.census
    total = max(snapshot.total, 1)
    shown = census.minima[:MAX_BARS]
    pending = snapshot.total - _finished(census)
    labels: list[str] = []
    for k, minimum in enumerate(shown):
        where = "finite" if minimum.location is EndpointLocation.FINITE else "∞"
        copies = f", ×{minimum.symmetric_copies}" if minimum.symmetric_copies > 1 else ""
        labels.append(f"{error_label(minimum.error)} ({where}{copies})")
        ax.barh(
            k, minimum.basin_fraction, color=minimum_colour(k), edgecolor="0.2", lw=0.5,
            gid=f"census-bar-{k}",
        )  # fmt: skip
        _bar_count(ax, k, minimum.hits, minimum.basin_fraction)
    rows = len(shown)
    others = [("unresolved", census.unresolved, ""), ("not finished", pending, "///")]
    for name, count, hatch in others:
        if count <= 0 and not (name == "unresolved" and rows == 0):
            continue
        ax.barh(
            rows, count / total, color=NO_MINIMUM_COLOUR, edgecolor="0.3", lw=0.5, hatch=hatch,
            gid=f"census-bar-{name.replace(' ', '-')}",
        )  # fmt: skip
        _bar_count(ax, rows, count, count / total)
        labels.append(name)
        rows += 1
    ax.set_yticks(range(rows), labels)
    ax.set_ylim(rows - 0.4, -0.6)  # lowest error at the top
    widest = max([m.basin_fraction for m in shown] + [max(census.unresolved, pending) / total])
    widest = max(widest, 0.05)
    ax.set_xlim(0.0, min(1.0, widest * 1.25 + 0.02))
    ax.set_xlabel(
        f"basin fraction: runs that reached the minimum / K starts (K = {snapshot.total})"
    )
    ax.grid(True, axis="x")
    ax.grid(False, axis="y")


def _bar_count(ax: Axes, row: int, hits: int, fraction: float) -> None:
    ax.annotate(
        f"{hits} run{'s' if hits != 1 else ''} ({fraction:.1%})", (fraction, row),
        xytext=(4, 0), textcoords="offset points", va="center", fontsize=8,
    )  # fmt: skip


# --- words ---------------------------------------------------------------------------------


def _title(snapshot: CensusSnapshot) -> str:
    return f"Census “{snapshot.name}”" if snapshot.name else f"Census {snapshot.study_id[:8]}…"


def _reasons(reasons: dict[str, int]) -> str:
    return "; ".join(f"{why}: {count}" for why, count in sorted(reasons.items()))


def _caption(snapshot: CensusSnapshot, landscape: ErrorMap | None) -> str:
    census = snapshot.census
    who = f"“{snapshot.name}” ({snapshot.study_id})" if snapshot.name else snapshot.study_id
    low, high = census.estimated_interval
    m = _weights(snapshot)
    parts = [
        f"Census {who}, {snapshot.status}: {_finished(census)} of {snapshot.total} runs "
        f"finished, {census.identified} in a minimum, {census.unresolved} unresolved"
        + (f" ({_reasons(census.unresolved_reasons)})." if census.unresolved_reasons else "."),
        f"{census.distinct} distinct minim{'um' if census.distinct == 1 else 'a'} found; "
        f"estimated total (Chao1) {census.estimated_total:.3g}, 95% interval "
        f"[{low:.3g}, {high:.3g}]; coverage (Good–Turing) {census.coverage:.1%}.",
    ]
    if census.saddles:
        parts.append(f"{len(census.saddles)} saddle(s) reached, counted unresolved.")
    if not census.symmetries_merged:
        parts.append("Symmetric copies not merged (too many).")
    if landscape is not None:
        parts.append(
            "Shading: E over the view; dots: the starts, coloured by the minimum their run "
            "reached; stars: finite minima; arrows: minima at infinity, along their direction; "
            "dotted square: the box of the starts."
        )
    elif len(census.minima) > MAX_BARS:
        parts.append(f"The {MAX_BARS} lowest of {len(census.minima)} minima drawn.")
    parts.append(
        f"Starts: scrambled Sobol over [−a, a]{superscript(m)}, a = {snapshot.half_width:g}. "
        f"Each run: {base_summary(snapshot.base, frozenset({'initial_weights'}))}."
    )
    return " ".join(parts)


def starts_array(starts: Sequence[Sequence[float]]) -> Array:
    """The starts of a census (K lists of m weights) as a K × m array."""
    return np.asarray(starts, dtype=np.float64).reshape(len(starts), -1)
