"""The paper's log rule (§3, last paragraphs), used to extrapolate from limited learning.

When the weights are in logarithmic growth mode, w(t) ≈ a + b·ln t, "it is possible to
extrapolate their limiting values": ``w(T) = w(t_end) + b·ln(T/t_end)`` with b the fitted
``log_rate`` of the divergence verdict, anchored at the last recorded weights, and E evaluated
at the predicted weights.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from service.core.analysis.divergence import DivergenceReport
from service.core.engine.recorder import Trajectory
from service.core.errors import InvalidProblem
from service.core.model.activations import Array
from service.core.model.models import Model, model_error
from service.vocabulary import Verdict

DEFAULT_FACTORS = (10.0, 1000.0)
"""Without ``times``, the log rule predicts at these multiples of the last recorded t."""


@dataclass(frozen=True, slots=True)
class LogRulePrediction:
    """The log rule: ``w(T) = w(t_end) + b·ln(T/t_end)`` at later times T.

    ``direction`` is ``b/‖b‖``; ``weights`` is len(t)×m; ``error`` is E at those weights.
    """

    direction: Array
    t: Array
    weights: NDArray[np.float64]
    error: Array


def extrapolate(
    model: Model,
    trajectory: Trajectory,
    report: DivergenceReport,
    times: Sequence[float] | None = None,
) -> LogRulePrediction | None:
    """The log rule (paper §3, last paragraphs): where logarithmic weights will be later.

    ``w(T) = w(t_end) + b·ln(T/t_end)`` with b the fitted ``log_rate``, anchored at the last
    recorded weights; E is evaluated at the predicted weights. ``times`` default to
    ``10·t_end`` and ``1000·t_end``. None unless the verdict is logarithmic.
    """
    if report.verdict is not Verdict.LOGARITHMIC or report.log_rate is None:
        return None
    t_end = float(trajectory.t[-1])
    default = [factor * t_end for factor in DEFAULT_FACTORS]
    T = np.asarray(default if times is None else times, dtype=float)
    if not (np.isfinite(T).all() and (T > 0).all()):
        raise InvalidProblem("extrapolate_to", "every time must be a finite number > 0")
    b = report.log_rate
    norm = float(np.linalg.norm(b))
    direction = b / norm if norm > 0 else np.zeros_like(b)
    weights = trajectory.weights[-1][None, :] + np.log(T / t_end)[:, None] * b[None, :]
    errors = np.array([model_error(model, row) for row in weights])
    return LogRulePrediction(direction=direction, t=T, weights=weights, error=errors)
