"""A study drawn as a phase diagram: the verdict of each point as a colour over its grid.

The diagram spans the grid's two largest axes (the ones with the most values; ties go to the
axis the request names first), the largest on the horizontal axis; a study of one axis is a
strip. When the grid has more axes, a cell stands for every point that shares its two values,
and shows the most common verdict among those finished (a tie goes to the verdict listed
first in :data:`VERDICT_COLOURS`); the caption names the axes folded so. A cell with no
finished point yet is left blank and hatched. Points whose run failed count as ``failed``.

Each verdict has one fixed colour, the same in every diagram:

=================  =========  ===================================================
verdict            colour     why
=================  =========  ===================================================
converging         green      the weights tend to a limit
logarithmic        blue       the paper's log rule, w ≈ a + b·log t
sub_logarithmic    pale cyan  slower than log t
power_law          orange     ‖w‖ ~ t^p
linear             red        ‖w‖ ~ t
unstable           purple     the steps grow (learning rate too large)
stalled            brown      stopped in floating point, gradient not zero
undetermined       grey       the run is too short, or the rate has not settled
failed             black      the run was refused or failed (no verdict)
(not finished)     hatched    no point of the cell has finished yet
=================  =========  ===================================================

Tick labels are the grid's values: numbers to three significant digits (``%.3g``), names as
they are, lists and objects as compact JSON (cut to :data:`MAX_TICK_CHARS`). The points of a
``log_range`` axis are evenly spaced in log, so its cells are drawn evenly spaced: that axis
is on a log scale, and its label says so. At most :data:`MAX_TICKS` values are labelled per
axis (every k-th when there are more).

The module takes plain data (:class:`StudySnapshot`: the axes, the base request and the
finished points' (params, verdict)); it never reads the store.
"""

from __future__ import annotations

import json
import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from matplotlib.axes import Axes
from matplotlib.colors import to_rgba
from matplotlib.figure import Figure
from matplotlib.patches import Patch, Rectangle

from service.figures.canvas import caption, encode, new_figure
from service.schemas.train import TrainRequest
from service.vocabulary import ImageFormat, Method, Verdict

FAILED = "failed"
"""The category of a point whose run was refused or failed (its verdict is null)."""

VERDICT_COLOURS: dict[str, str] = {
    Verdict.CONVERGING.value: "#2ca02c",
    Verdict.LOGARITHMIC.value: "#1f77b4",
    Verdict.SUB_LOGARITHMIC.value: "#9edae5",
    Verdict.POWER_LAW.value: "#ff7f0e",
    Verdict.LINEAR.value: "#d62728",
    Verdict.UNSTABLE.value: "#9467bd",
    Verdict.STALLED.value: "#8c564b",
    Verdict.UNDETERMINED.value: "#c7c7c7",
    FAILED: "#000000",
}
"""The fixed colour of each verdict (see the module docstring); the order breaks ties."""

PENDING_HATCH = "///"
"""The hatching of a cell with no finished point."""

MAX_TICKS = 25
"""At most this many values are labelled on an axis."""

MAX_TICK_CHARS = 18
"""Tick labels (JSON of lists and objects) are cut to this length."""

_RANK = {name: k for k, name in enumerate(VERDICT_COLOURS)}


@dataclass(frozen=True, slots=True)
class StudySnapshot:
    """A study as the phase diagram needs it: plain data, no store.

    ``outcomes`` holds one ``(params, verdict)`` per finished point, ``params`` mapping each
    axis to the point's value and ``verdict`` null for a failed run.
    """

    study_id: str
    name: str | None
    status: str
    base: TrainRequest
    axes: dict[str, list[Any]]
    log_axes: frozenset[str]
    outcomes: Sequence[tuple[dict[str, Any], str | None]]
    total: int


@dataclass(frozen=True, slots=True)
class PhaseCells:
    """The cells of a phase diagram.

    ``verdicts[i][j]`` is the verdict shown at value ``i`` of ``y_axis`` and value ``j`` of
    ``x_axis`` (null: no point finished); ``y_axis`` is null for a strip. ``folded`` are the
    other axes, over which a cell takes the most common verdict, and ``counts`` the finished
    points per verdict (failed ones under ``"failed"``).
    """

    x_axis: str
    y_axis: str | None
    folded: tuple[str, ...]
    verdicts: list[list[str | None]]
    counts: dict[str, int]


def phase_cells(
    axes: dict[str, list[Any]], outcomes: Sequence[tuple[dict[str, Any], str | None]]
) -> PhaseCells:
    """The cells over the two largest axes of ``axes`` (see the module docstring)."""
    if not axes:
        raise ValueError("phase_cells: a study has at least one axis")
    shown = sorted(axes, key=lambda name: -len(axes[name]))[:2]  # stable: ties in order
    x_axis = shown[0]
    y_axis = shown[1] if len(shown) > 1 else None
    x_index = _positions(axes[x_axis])
    y_index = _positions(axes[y_axis]) if y_axis is not None else {}
    tallies: dict[tuple[int, int], Counter[str]] = {}
    counts: Counter[str] = Counter()
    for params, verdict in outcomes:
        name = verdict if verdict is not None else FAILED
        if name not in _RANK:
            raise ValueError(f"phase_cells: unknown verdict {name!r}")
        i = y_index[_key(params[y_axis])] if y_axis is not None else 0
        j = x_index[_key(params[x_axis])]
        tallies.setdefault((i, j), Counter())[name] += 1
        counts[name] += 1
    rows = len(axes[y_axis]) if y_axis is not None else 1
    verdicts: list[list[str | None]] = [[None] * len(axes[x_axis]) for _ in range(rows)]
    for (i, j), tally in tallies.items():
        verdicts[i][j] = min(tally, key=lambda v: (-tally[v], _RANK[v]))
    return PhaseCells(
        x_axis=x_axis,
        y_axis=y_axis,
        folded=tuple(name for name in axes if name not in shown),
        verdicts=verdicts,
        counts={name: counts[name] for name in VERDICT_COLOURS if counts[name]},
    )


def _key(value: Any) -> str:
    return json.dumps(value, sort_keys=True)


def _positions(values: list[Any]) -> dict[str, int]:
    return {_key(v): k for k, v in enumerate(values)}


def render_study(snapshot: StudySnapshot, image_format: ImageFormat) -> bytes:
    """The phase diagram of ``snapshot`` as SVG or PNG bytes."""
    return encode(lambda: draw_study(snapshot), image_format)


def draw_study(snapshot: StudySnapshot) -> Figure:
    """The figure of :func:`render_study`."""
    cells = phase_cells(snapshot.axes, snapshot.outcomes)
    columns = len(cells.verdicts[0])
    rows = len(cells.verdicts)
    height = 3.0 if cells.y_axis is None else min(9.0, 3.6 + 0.22 * rows)
    figure = new_figure(9.0, height)
    ax = figure.subplots()
    pending = sum(v is None for row in cells.verdicts for v in row)
    if pending:
        ax.add_patch(
            Rectangle(
                (-0.5, -0.5), columns, rows, facecolor="white", edgecolor="0.6",
                hatch=PENDING_HATCH, lw=0, zorder=0, gid="not-finished",
            )
        )  # fmt: skip
    image = np.zeros((rows, columns, 4))
    for i, row in enumerate(cells.verdicts):
        for j, verdict in enumerate(row):
            if verdict is not None:  # else transparent: the hatching shows through
                image[i, j] = to_rgba(VERDICT_COLOURS[verdict])
    ax.imshow(
        image, origin="lower", interpolation="none", aspect="auto", zorder=1,
        extent=(-0.5, columns - 0.5, -0.5, rows - 0.5), gid="phase-diagram",
    )  # fmt: skip
    _cell_borders(ax, columns, rows)
    _ticks(ax, "x", cells.x_axis, snapshot)
    if cells.y_axis is not None:
        _ticks(ax, "y", cells.y_axis, snapshot)
    else:
        ax.set_yticks([])
    ax.set_title(f"{_title(snapshot)}: the divergence verdict at each point of the grid")
    _legend(figure, cells, pending, snapshot.total - len(snapshot.outcomes))
    caption(figure, _caption(snapshot, cells, pending), width=130)
    return figure


def _cell_borders(ax: Axes, columns: int, rows: int) -> None:
    """Thin white lines between cells, while there are few enough to see them."""
    ax.grid(False)
    if columns <= 60:
        ax.set_xticks(np.arange(columns + 1) - 0.5, minor=True)
        ax.grid(which="minor", axis="x", color="white", lw=0.8, alpha=1.0)
    if rows <= 60:
        ax.set_yticks(np.arange(rows + 1) - 0.5, minor=True)
        ax.grid(which="minor", axis="y", color="white", lw=0.8, alpha=1.0)
    ax.tick_params(which="minor", length=0)
    ax.set_axisbelow(False)


def _ticks(ax: Axes, which: str, axis: str, snapshot: StudySnapshot) -> None:
    values = snapshot.axes[axis]
    stride = max(1, math.ceil(len(values) / MAX_TICKS))
    positions = list(range(0, len(values), stride))
    labels = [tick_label(values[k]) for k in positions]
    slanted = max(len(label) for label in labels) * len(labels) > 72  # else they overlap
    if which == "x":
        ax.set_xticks(
            positions, labels, rotation=45 if slanted else 0, ha="right" if slanted else "center"
        )
        ax.set_xlabel(_axis_label(axis, values, snapshot.log_axes))
    else:
        ax.set_yticks(positions, labels)
        ax.set_ylabel(_axis_label(axis, values, snapshot.log_axes))


def tick_label(value: Any) -> str:
    """A grid value as a tick label (see the module docstring)."""
    if isinstance(value, bool) or value is None:
        return json.dumps(value)
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return f"{value:.3g}"
    if isinstance(value, str):
        return value
    text = json.dumps(value, separators=(",", ":"))
    return text if len(text) <= MAX_TICK_CHARS else text[: MAX_TICK_CHARS - 1] + "…"


def _axis_label(axis: str, values: list[Any], log_axes: frozenset[str]) -> str:
    count = f"{len(values)} value{'s' if len(values) != 1 else ''}"
    if axis in log_axes:
        return f"{axis} (log scale, {count})"
    return f"{axis} ({count})"


def _legend(figure: Figure, cells: PhaseCells, pending: int, unfinished: int) -> None:
    handles = [
        Patch(facecolor=VERDICT_COLOURS[name], edgecolor="0.3", lw=0.5, label=f"{name} ({count})")
        for name, count in cells.counts.items()
    ]
    gids = [f"verdict-{name}" for name in cells.counts]
    if pending:
        handles.append(
            Patch(
                facecolor="white", edgecolor="0.6", hatch=PENDING_HATCH,
                label=f"not finished ({unfinished})",
            )
        )  # fmt: skip
        gids.append("verdict-not-finished")
    legend = figure.legend(
        handles=handles, loc="outside right upper", title="verdict (points)", fontsize=8
    )
    for handle, gid in zip(legend.legend_handles, gids, strict=True):
        if handle is not None:
            handle.set_gid(gid)


def _title(snapshot: StudySnapshot) -> str:
    return f"Study “{snapshot.name}”" if snapshot.name else f"Study {snapshot.study_id[:8]}…"


def _caption(snapshot: StudySnapshot, cells: PhaseCells, pending: int) -> str:
    done = len(snapshot.outcomes)
    failed = cells.counts.get(FAILED, 0)
    grid = " × ".join(
        f"{axis} ({len(values)}{', log_range' if axis in snapshot.log_axes else ''})"
        for axis, values in snapshot.axes.items()
    )
    who = f"“{snapshot.name}” ({snapshot.study_id})" if snapshot.name else snapshot.study_id
    text = (
        f"Study {who}, {snapshot.status}: {done} of "
        f"{snapshot.total} points finished ({failed} failed). Base /train request: "
        f"{base_summary(snapshot.base, frozenset(snapshot.axes))}. Grid: {grid}. "
        "Colour: the divergence verdict of each point."
    )
    if cells.folded:
        per_cell = math.prod(len(snapshot.axes[a]) for a in cells.folded)
        text += (
            f" Each cell shows the most common verdict over the other axes "
            f"({', '.join(cells.folded)}; {per_cell} points per cell, ties to the verdict "
            "listed first)."
        )
    if pending:
        text += " Hatched cells: no point finished yet."
    return text


def base_summary(base: TrainRequest, varied: frozenset[str]) -> str:
    """The base request in a line; the fields the grid varies are said to vary."""

    def field(name: str, text: str) -> str:
        return f"{name} varied" if name in varied else text

    data = base.dataset
    inputs = len(data.inputs[0]) if data.inputs else 0
    hidden = list(base.network.hidden)
    if base.method is Method.FLOW:
        length = field("t_max", f"t_max {base.t_max:g}" if base.t_max is not None else "t_max")
    else:
        length = field("steps", f"{base.steps} steps")
    start = (
        "given initial weights"
        if base.initial_weights is not None
        else f"seed {base.seed}"
        if base.seed is not None
        else "default initial weights"
    )
    parts = [
        field("activation", f"θ = {base.activation.value}"),
        field(
            "dataset",
            f"n = {len(data.inputs)} example{'s' if len(data.inputs) != 1 else ''} of "
            f"{inputs} input{'s' if inputs != 1 else ''}" + (" + bias" if data.bias else ""),
        ),
        field("network", f"hidden layers {hidden}" if hidden else "perceptron"),
        field("method", f"method {base.method.value}"),
        field("learning_rate", f"learning rate {base.learning_rate:g}"),
        length,
        "seed varied"
        if "seed" in varied
        else "initial_weights varied"
        if "initial_weights" in varied
        else start,
    ]
    return ", ".join(parts)
