"""Log-spaced recording of a run, in storage fixed before the run starts.

Logarithmic divergence shows on a log-t axis, so a run of T steps is sampled at t = 0 and at
up to ``points`` integer times spread evenly in log t over [1, T], T itself included. If the
run stops early at some t < T, that t is recorded as the last point. Storage is allocated
once for ``len(schedule) + 1`` rows: memory is bounded by ``points``, never by T.

At each recorded t the recorder keeps E(x_t), x_t and ``t·(x_{t+1} − x_t)`` (the paper's
Figure 5 statistic; its rows are NaN where the next iterate was not finite).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from service.core.errors import InvalidProblem
from service.core.model.activations import Array


def recorded_times(steps: int, points: int) -> int:
    """How many times a run of ``steps`` steps records with ``points`` (t = 0 included): the
    length of :func:`record_schedule`, and the most rows its trajectory has."""
    return min(points, steps) + 1


def record_schedule(steps: int, points: int) -> NDArray[np.int64]:
    """Sorted distinct times: 0, then exactly min(points, steps) integers in [1, steps].

    Each time is the next point of a geometric progression from the previous one to
    ``steps`` with the points that remain, rounded, and at least one more than the previous:
    every step is recorded while log spacing would be finer than 1, then the spacing is
    geometric. ``steps`` is always the last time.
    """
    if steps <= 0:
        raise InvalidProblem("steps", "must be at least 1")
    if points <= 0:
        raise InvalidProblem("record.points", "must be at least 1")
    count = recorded_times(steps, points) - 1
    times = np.zeros(count + 1, dtype=np.int64)
    t = 0
    for k in range(1, count + 1):
        remaining = count - k + 1
        ratio = (steps / max(t, 1)) ** (1.0 / remaining)
        t = min(max(t + 1, round(max(t, 1) * ratio)), steps - remaining + 1)
        times[k] = t
    return times


@dataclass(frozen=True, slots=True)
class Trajectory:
    """Recorded samples of a run; rows align with ``t``.

    ``t`` are step counts (gd, online) or times (flow); ``weights`` and ``t_delta`` are
    len(t)×m; a ``t_delta`` row is NaN where the next iterate was not finite.
    """

    t: Array
    error: Array
    weights: Array
    t_delta: Array


class Recorder:
    """The buffers of a run's samples, allocated once for the times of a schedule (see
    :func:`record_schedule`) plus the final time.

    The compiled kernel fills :attr:`buffers` in place and says how many rows it wrote.
    """

    __slots__ = ("schedule", "_t", "_error", "_weights", "_t_delta")

    def __init__(self, schedule: NDArray[np.int64], m: int) -> None:
        capacity = len(schedule) + 1
        self.schedule = schedule
        self._t = np.empty(capacity, dtype=np.float64)
        self._error = np.empty(capacity, dtype=np.float64)
        self._weights = np.empty((capacity, m), dtype=np.float64)
        self._t_delta = np.empty((capacity, m), dtype=np.float64)

    @property
    def buffers(self) -> tuple[NDArray[np.int64], Array, Array, Array, Array]:
        """(schedule, t, error, weights, t_delta): the kernel's ``records`` argument."""
        return self.schedule, self._t, self._error, self._weights, self._t_delta

    def trajectory(self, size: int) -> Trajectory:
        """The first ``size`` samples, as copies."""
        k = size
        return Trajectory(
            t=self._t[:k].copy(),
            error=self._error[:k].copy(),
            weights=self._weights[:k].copy(),
            t_delta=self._t_delta[:k].copy(),
        )
