"""Per-layer figures of a net's run: each layer's verdict and its share of the last step.

Near the end of a run the lower layers barely move (Kung and Hwang, quoted in the paper's §1).
:func:`layer_trajectories` splits a run's trajectory by layer, :func:`judge_layers` runs the
divergence verdict on each part (the verdict judges any set of weights from their recorded
trajectory), and :func:`summarise_layers` splits the final weights, the final t·Δw and its
drift over the last decade of t.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from service.core.analysis.divergence import DivergenceReport, judge_divergence
from service.core.engine.recorder import Trajectory
from service.core.model.activations import Array
from service.core.model.network import Layout
from service.core.model.norms import vector_norm
from service.vocabulary import StopReason


def layer_trajectories(layout: Layout, trajectory: Trajectory) -> list[Trajectory]:
    """The trajectory of each layer's weights alone (its columns of ``weights`` and
    ``t_delta``; ``t`` and ``error`` shared), in layer order.

    The per-layer divergence verdict is the divergence engine run on each of these (the
    engine judges any set of weights from their recorded trajectory).
    """
    starts = layout.starts
    return [
        Trajectory(
            t=trajectory.t,
            error=trajectory.error,
            weights=trajectory.weights[:, starts[k] : starts[k + 1]],
            t_delta=trajectory.t_delta[:, starts[k] : starts[k + 1]],
        )
        for k in range(layout.layers)
    ]


def judge_layers(
    layout: Layout,
    trajectory: Trajectory,
    *,
    last_step: float,
    stopped_by: StopReason,
    step_tolerance: float | None = None,
    time_unit: float = 1.0,
    monotone: bool = True,
) -> list[DivergenceReport]:
    """The divergence engine's verdict on each layer's weights alone (see
    :func:`service.core.analysis.divergence.judge_divergence`; the arguments are the whole run's).

    A layer's last step is its share of the final step, ‖t·Δw_layer(t_end)‖ / t_end (for
    flow, its share of ‖ẋ‖), or the whole run's when that is not available.
    """
    t_end = float(trajectory.t[-1]) if len(trajectory.t) else 0.0
    reports = []
    for part in layer_trajectories(layout, trajectory):
        final = part.t_delta[-1] if len(part.t) else np.empty(0)
        own = last_step
        if t_end > 0 and np.isfinite(final).all() and math.isfinite(last_step):
            own = vector_norm(final) / t_end
        reports.append(
            judge_divergence(
                part,
                last_step=own,
                stopped_by=stopped_by,
                step_tolerance=step_tolerance,
                time_unit=time_unit,
                monotone=monotone,
            )
        )
    return reports


@dataclass(frozen=True, slots=True)
class LayerSummary:
    """One layer's share of a run.

    ``t_delta`` is the layer's final t·Δw; ``t_delta_norm`` its norm; ``t_delta_drift`` is
    max over recorded t in [t_end/10, t_end] of ‖t·Δw(t) − t·Δw(t_end)‖₂ / ‖t·Δw(t_end)‖₂
    (how far the statistic of Figure 5 moved over the last decade; None when the last
    decade has fewer than two samples, a non-finite row, or a zero final norm);
    """

    index: int
    inputs: int
    units: int
    start: int
    stop: int
    weights: Array
    bias: Array | None
    t_delta: Array | None
    t_delta_norm: float | None
    t_delta_drift: float | None


def summarise_layers(layout: Layout, weights: Array, trajectory: Trajectory) -> list[LayerSummary]:
    """Split a run's final weights and t·Δw by layer."""
    out: list[LayerSummary] = []
    t = trajectory.t
    last = len(t) - 1
    decade = [k for k in range(len(t)) if t[k] >= t[last] / 10.0] if last >= 0 else []
    for index, (W, c) in enumerate(layout.unflatten(np.asarray(weights, dtype=np.float64))):
        start, stop = layout.starts[index], layout.starts[index + 1]
        td = trajectory.t_delta[:, start:stop]
        final = td[last] if last >= 0 and np.isfinite(td[last]).all() else None
        norm = vector_norm(final) if final is not None else None
        drift: float | None = None
        rows = td[decade] if decade else td[:0]
        if final is not None and norm and len(decade) >= 2 and np.isfinite(rows).all():
            drift = max(vector_norm(row - final) for row in rows) / norm
        out.append(
            LayerSummary(
                index=index,
                inputs=layout.widths[index],
                units=layout.widths[index + 1],
                start=start,
                stop=stop,
                weights=W.copy(),
                bias=None if c is None else c.copy(),
                t_delta=final,
                t_delta_norm=norm,
                t_delta_drift=drift,
            )
        )
    return out
