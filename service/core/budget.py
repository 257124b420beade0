"""What one request may cost: the limits the service runs with, checked before any work.

A :class:`Budget` is the configurable part of the limits table (``LEARNDYN_MAX_CELLS``,
``LEARNDYN_MAX_WORK``, ``LEARNDYN_MAX_RECORD_POINTS``, ``LEARNDYN_COMPUTE_SECONDS``; the
fixed bounds are in :mod:`service.limits`). Each check raises
:class:`~service.core.errors.LimitExceeded` naming the request field and the setting.
"""

from __future__ import annotations

from dataclasses import dataclass

from service.core.errors import LimitExceeded
from service.limits import (
    DEFAULT_COMPUTE_SECONDS,
    DEFAULT_MAX_CELLS,
    DEFAULT_MAX_RECORD_POINTS,
    DEFAULT_MAX_WORK,
    FLOW_EVALUATIONS,
)


@dataclass(frozen=True, slots=True)
class Budget:
    """The limits of one computation.

    ``max_cells`` bounds n·m (after the bias column; a net's m counts all its weights),
    ``max_work`` bounds steps·n·m (and the flow's cost model), ``max_record_points`` the
    recorded times, ``compute_seconds`` the wall time (None: unlimited).
    """

    max_cells: int = DEFAULT_MAX_CELLS
    max_work: int = DEFAULT_MAX_WORK
    max_record_points: int = DEFAULT_MAX_RECORD_POINTS
    compute_seconds: float | None = DEFAULT_COMPUTE_SECONDS

    def check_size(self, n: int, m: int) -> None:
        """n·m must not exceed ``max_cells``."""
        if n * m > self.max_cells:
            raise LimitExceeded(
                "dataset.inputs",
                f"n·m = {n}·{m} = {n * m} exceeds the limit of {self.max_cells} "
                "(LEARNDYN_MAX_CELLS)",
            )

    def check_record(self, points: int) -> None:
        """record.points must not exceed ``max_record_points``."""
        if points > self.max_record_points:
            raise LimitExceeded(
                "record.points",
                f"record.points = {points} exceeds the limit of {self.max_record_points} "
                "(LEARNDYN_MAX_RECORD_POINTS)",
            )

    def check_curve(self, points: int, n: int) -> None:
        """A landscape's curve samples: points·n must not exceed ``max_cells``."""
        if points * n > self.max_cells:
            raise LimitExceeded(
                "curve.points",
                f"points·n = {points}·{n} exceeds the limit of {self.max_cells} "
                "(LEARNDYN_MAX_CELLS); ask for fewer points",
            )

    def check_work(self, steps: int, n: int, m: int) -> None:
        """steps·n·m must not exceed ``max_work``."""
        work = steps * n * m
        if work > self.max_work:
            raise LimitExceeded(
                "steps",
                f"steps·n·m = {steps}·{n}·{m} = {work:.3g} exceeds the work budget of "
                f"{self.max_work:.3g} (LEARNDYN_MAX_WORK); ask for fewer steps",
            )

    def check_flow_work(self, n: int, m: int) -> None:
        """The flow's cost model, ``FLOW_EVALUATIONS·n·m·(m + 1)`` (gradients and
        Jacobians), must not exceed ``max_work``."""
        work = FLOW_EVALUATIONS * n * m * (m + 1)
        if work > self.max_work:
            raise LimitExceeded(
                "dataset.inputs",
                f"method 'flow' costs about {FLOW_EVALUATIONS}·n·m·(m+1) = {work:.3g}, over "
                f"the work budget of {self.max_work:.3g} (LEARNDYN_MAX_WORK); use fewer "
                "weights or method 'gd'",
            )
