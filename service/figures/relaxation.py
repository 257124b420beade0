"""A relaxation study drawn: how often gd and annealing reach the global minimum, and where
their runs end.

A relaxation study (:mod:`service.core.analysis.relaxation`) runs gd (``anneal`` at T₀ = 0)
and ``anneal`` at each T₀ it was asked for from the same K starts with the same step budget,
and counts, per method, the runs whose final error is within the success threshold
E* + ½·(E₂ − E*). Both panels have one column per method, in the answer's order (gd first,
then T₀ ascending): the x axis is T₀ as a category, so that gd's T₀ = 0 shows beside the
others whatever their spacing (each tick names the method as the answer does, ``gd`` or
``anneal T0=…``).

* **Left**: the success rate, a dot with its Wilson 95% interval as an error bar, labelled
  (under the bar, or over it when the bar reaches down near 0) by its count
  (``successes/runs``) and the mean wall time of a run (which the winner's successes per
  second divide by).
* **Right**: the final error E of the method's runs that finished with a finite E: a bar from
  the 10% to the 90% quantile, a dot at the median; a solid line at E*, the global minimum's
  error, and a dashed line at the threshold under which a run counts as a success.

The title names the study; the caption says how many runs finished, E* and the threshold,
the winner (or that none is clear at this K) with the analysis's explanation, and what every
run shared (steps, learning rate, the cooling schedule T_t = T₀/ln(e + t/τ)).

Colours: gd black (:data:`GD_COLOUR`), the annealing runs from light to dark red as T₀ grows
(matplotlib's ``Reds`` between 0.45 and 0.95).

Countable marks in SVG output: ``relaxation-rate-<k>`` (method k's dot, k its 0-based
position in the answer) and ``relaxation-interval-<k>`` (its error bar),
``relaxation-median-<k>`` and ``relaxation-errors-<k>`` (its median and quantile bar),
``relaxation-global-error`` (the line at E*) and ``relaxation-threshold`` (the dashed line).

The module takes plain data (:class:`RelaxationSnapshot`); it never reads the store.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from matplotlib import colormaps
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from service.core.analysis.relaxation import MethodOutcome, Relaxation
from service.figures.canvas import caption, encode, new_figure
from service.figures.weights import superscript
from service.vocabulary import ImageFormat

GD_COLOUR = "#000000"
"""gd's dot, bar and tick."""

ERROR_FORMAT = ".4g"
"""How E*, the threshold and the quantiles are written in the caption and the legend."""

LABEL_ROOM = 0.2
"""A method's count goes under its error bar when the bar's lower end is at least this high,
else over it."""

ROTATE_TICKS_OVER = 5
"""With more methods than this the tick labels are turned 30° so that they do not touch."""


@dataclass(frozen=True, slots=True)
class RelaxationSetup:
    """What every run of a relaxation shares: K ``starts`` per method in the box [−a, a]^m
    (m = ``weights``, a = ``half_width``), ``steps``, η = ``learning_rate`` and
    τ = ``cooling_time``."""

    starts: int
    weights: int
    half_width: float
    steps: int
    learning_rate: float
    cooling_time: float


@dataclass(frozen=True, slots=True)
class RelaxationSnapshot:
    """A relaxation study as its figure needs it: plain data, no store.

    ``relaxation`` is the comparison over the runs finished so far, ``total`` the runs
    planned (K per method); ``setup`` (for the caption) is None when not known.
    """

    study_id: str
    name: str | None
    status: str
    relaxation: Relaxation
    total: int | None = None
    setup: RelaxationSetup | None = None


def render_relaxation(snapshot: RelaxationSnapshot, image_format: ImageFormat) -> bytes:
    """The figure of ``snapshot`` as SVG or PNG bytes."""
    return encode(lambda: draw_relaxation(snapshot), image_format)


def method_colours(methods: Sequence[MethodOutcome]) -> list[str]:
    """gd black; the annealing runs from light to dark red, in the order given."""
    heated = [m for m in methods if m.temperature > 0]
    shades = colormaps["Reds"](np.linspace(0.45, 0.95, max(len(heated), 1)))
    colours, k = [], 0
    for m in methods:
        if m.temperature > 0:
            r, g, b = (int(round(255 * c)) for c in shades[k][:3])
            colours.append(f"#{r:02x}{g:02x}{b:02x}")
            k += 1
        else:
            colours.append(GD_COLOUR)
    return colours


def draw_relaxation(snapshot: RelaxationSnapshot) -> Figure:
    """The figure of :func:`render_relaxation`."""
    relaxation = snapshot.relaxation
    methods = relaxation.methods
    figure = new_figure(11.0, 5.2)
    left, right = figure.subplots(1, 2)
    colours = method_colours(methods)
    _rates(left, methods, colours)
    _errors(right, relaxation, colours)
    for ax in (left, right):
        _method_axis(ax, methods)
    figure.suptitle(f"{_title(snapshot)}: gd against annealing, from the same starts")
    caption(figure, _caption(snapshot), width=150)
    return figure


def _method_axis(ax: Axes, methods: Sequence[MethodOutcome]) -> None:
    """One category per method, named as the answer names it; T₀ across."""
    ax.set_xticks(range(len(methods)), [m.method for m in methods], fontsize=8)
    if len(methods) > ROTATE_TICKS_OVER:
        for label in ax.get_xticklabels():
            label.set_rotation(30)
            label.set_horizontalalignment("right")
    ax.set_xlim(-0.6, max(len(methods), 1) - 0.4)
    ax.set_xlabel("method: gd (T₀ = 0), then anneal from each T₀ (ascending)")
    ax.grid(False, axis="x")


def _rates(ax: Axes, methods: Sequence[MethodOutcome], colours: Sequence[str]) -> None:
    """Each method's success rate with its Wilson 95% interval, labelled by its count."""
    for k, (m, colour) in enumerate(zip(methods, colours, strict=True)):
        low, high = m.interval
        below, above = max(m.success_rate - low, 0.0), max(high - m.success_rate, 0.0)
        bars = ax.errorbar(
            [k], [m.success_rate], yerr=[[below], [above]], fmt="o", ms=7, color=colour,
            ecolor=colour, elinewidth=1.6, capsize=5, capthick=1.6,
        )  # fmt: skip
        bars.lines[0].set_gid(f"relaxation-rate-{k}")
        bars.lines[2][0].set_gid(f"relaxation-interval-{k}")
        timed = f"\n{_duration(m.mean_seconds)}/run" if m.runs else ""
        # under the error bar, or over it when it reaches down to the axis
        under = low >= LABEL_ROOM
        ax.annotate(
            f"{m.successes}/{m.runs}{timed}", (k, low if under else high),
            xytext=(0, -6 if under else 6), textcoords="offset points", ha="center",
            va="top" if under else "bottom", fontsize=8,
        )  # fmt: skip
    ax.set_ylim(-0.04, 1.04)
    ax.set_ylabel("success rate (final E ≤ threshold)")
    ax.set_title("success rate, with its Wilson 95% interval")


def _duration(seconds: float) -> str:
    if seconds >= 1.0:
        return f"{seconds:.3g} s"
    return f"{1000.0 * seconds:.3g} ms"


def _errors(ax: Axes, relaxation: Relaxation, colours: Sequence[str]) -> None:
    """Each method's final E, 10% to 90% quantile with its median; E* and the threshold."""
    for k, (m, colour) in enumerate(zip(relaxation.methods, colours, strict=True)):
        if len(m.error_quantiles) != 3:
            continue  # no run of the method finished with a finite E
        low, median, high = m.error_quantiles
        bars = ax.errorbar(
            [k], [median], yerr=[[median - low], [high - median]], fmt="s", ms=6,
            color=colour, ecolor=colour, elinewidth=5, capsize=0, alpha=0.85,
        )  # fmt: skip
        bars.lines[0].set_gid(f"relaxation-median-{k}")
        bars.lines[2][0].set_gid(f"relaxation-errors-{k}")
    if relaxation.global_error is not None:
        ax.axhline(
            relaxation.global_error, color="#2ca02c", lw=1.4, gid="relaxation-global-error",
            label=f"E* = {relaxation.global_error:{ERROR_FORMAT}} (global minimum)",
        )  # fmt: skip
    if relaxation.threshold is not None:
        ax.axhline(
            relaxation.threshold, color="0.25", lw=1.2, ls="--", gid="relaxation-threshold",
            label=f"threshold {relaxation.threshold:{ERROR_FORMAT}} (success below)",
        )  # fmt: skip
    if relaxation.global_error is not None or relaxation.threshold is not None:
        ax.legend(fontsize=8, loc="best")
    ax.set_ylabel("final E")
    ax.set_title("final error: 10%–90% quantiles (bar) and median (square)")


def _title(snapshot: RelaxationSnapshot) -> str:
    if snapshot.name:
        return f"Relaxation “{snapshot.name}”"
    return f"Relaxation {snapshot.study_id[:8]}…"


def _caption(snapshot: RelaxationSnapshot) -> str:
    relaxation = snapshot.relaxation
    who = f"“{snapshot.name}” ({snapshot.study_id})" if snapshot.name else snapshot.study_id
    finished = sum(m.runs for m in relaxation.methods)
    planned = f" of {snapshot.total}" if snapshot.total is not None else ""
    parts = [f"Relaxation {who}, {snapshot.status}: {finished}{planned} runs finished."]
    if relaxation.global_error is None or relaxation.threshold is None:
        parts.append("No minimum identified yet: no run counts as a success.")
    else:
        parts.append(
            f"E* = {relaxation.global_error:{ERROR_FORMAT}}; a run succeeds when its final "
            f"E ≤ {relaxation.threshold:{ERROR_FORMAT}} = E* + ½·(E₂ − E*)."
        )
    winner = relaxation.winner or "none"
    parts.append(f"Winner (success rate, same steps): {winner}: {relaxation.explanation}.")
    parts.append(_shared(snapshot))
    return " ".join(parts)


def _shared(snapshot: RelaxationSnapshot) -> str:
    """What every run shared: the starts, the steps, η and the cooling schedule."""
    setup = snapshot.setup
    if setup is None:
        return "Every method runs from the same starts."
    return (
        f"Every method runs from the same K = {setup.starts} starts in "
        f"[−a, a]{superscript(setup.weights)}, a = {setup.half_width:g}, {setup.steps} "
        f"steps, η = {setup.learning_rate:g}; anneal cools as T_t = T₀/ln(e + t/τ), "
        f"τ = {setup.cooling_time:g}."
    )
