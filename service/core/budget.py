"""What one request may cost: the limits the service runs with, checked before any work.

A :class:`Budget` is the configurable part of the limits table (``LEARNDYN_MAX_CELLS``,
``LEARNDYN_MAX_WORK``, ``LEARNDYN_MAX_RECORD_POINTS``, ``LEARNDYN_MAX_ANSWER_NUMBERS``,
``LEARNDYN_MAX_RECORDED``, ``LEARNDYN_COMPUTE_SECONDS``; the fixed bounds are in
:mod:`service.limits`). Each check raises :class:`~service.core.errors.LimitExceeded` naming
the request field and the setting; :meth:`Budget.start` fixes a computation's wall-time
deadline.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from service.core.answer import AnswerShape
from service.core.deadline import Deadline
from service.core.errors import LimitExceeded
from service.limits import (
    DEFAULT_COMPUTE_SECONDS,
    DEFAULT_MAX_ANSWER_NUMBERS,
    DEFAULT_MAX_CELLS,
    DEFAULT_MAX_RECORD_POINTS,
    DEFAULT_MAX_RECORDED,
    DEFAULT_MAX_WORK,
    FLOW_EVALUATIONS,
)
from service.vocabulary import RecordWeights


@dataclass(frozen=True, slots=True)
class Budget:
    """The limits of one computation.

    ``max_cells`` bounds n·m (after the bias column; a net's m counts all its weights),
    ``max_work`` bounds steps·n·m (and the flow's cost model), ``max_record_points`` the
    recorded times, ``compute_seconds`` the wall time of a whole computation (None:
    unlimited), ``max_answer_numbers`` the numbers of a /train answer's arrays and
    ``max_recorded`` the recorded times × weights a run keeps (see
    :mod:`service.core.answer`).
    """

    max_cells: int = DEFAULT_MAX_CELLS
    max_work: int = DEFAULT_MAX_WORK
    max_record_points: int = DEFAULT_MAX_RECORD_POINTS
    compute_seconds: float | None = DEFAULT_COMPUTE_SECONDS
    max_answer_numbers: int = DEFAULT_MAX_ANSWER_NUMBERS
    max_recorded: int = DEFAULT_MAX_RECORDED

    def start(self, should_stop: Callable[[], bool] | None = None) -> Deadline:
        """The deadline of a computation starting now: ``compute_seconds`` from now, asking
        ``should_stop`` at each check. A use case calls this once and passes the deadline to
        every loop and solver it runs."""
        return Deadline.after(self.compute_seconds, should_stop)

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

    def check_answer(
        self, shape: AnswerShape, detail: RecordWeights, *, weights_field: str
    ) -> None:
        """The trajectory a run keeps (recorded times × weights) must not exceed
        ``max_recorded``, nor the numbers of its answer with ``detail`` (see
        :class:`~service.core.answer.AnswerShape`) ``max_answer_numbers``.

        The error names ``record.points`` and says what would fit (fewer points; for the
        answer, ``record.weights = "norms"``); or ``weights_field``, the request field that
        sets the weights, when nothing but fewer weights would.
        """
        if shape.recorded > self.max_recorded:
            what = (
                f"a run of {shape.weights} weights recording up to {shape.rows} times keeps "
                f"{shape.rows}·{shape.weights} = {shape.recorded} numbers of each of x_t and "
                f"t·Δx_t in memory, over the limit of {self.max_recorded} "
                "(LEARNDYN_MAX_RECORDED), whatever record.weights (the verdicts read every weight)"
            )
            rows = self.max_recorded // shape.weights  # t = 0 is one of them
            if rows >= 2:
                raise LimitExceeded("record.points", f"{what}; ask for at most {rows - 1} points")
            raise LimitExceeded(weights_field, f"{what}; use fewer weights")
        numbers = shape.numbers(detail)
        if numbers <= self.max_answer_numbers:
            return
        what = (
            f"the answer would carry {numbers} numbers (up to {shape.rows} recorded times × "
            f"{shape.per_row(detail)}, and {shape.fixed(detail)} in the other arrays of the "
            f"weights), over the limit of {self.max_answer_numbers} "
            "(LEARNDYN_MAX_ANSWER_NUMBERS, about 15 MB of JSON)"
        )
        hints = []
        rows = self._rows_within(shape, detail)
        if rows >= 2:
            hints.append(f"fewer record.points (at most {rows - 1})")
        if detail is RecordWeights.ALL:
            norms = shape.numbers(RecordWeights.NORMS)
            rows = self._rows_within(shape, RecordWeights.NORMS)
            if norms <= self.max_answer_numbers:
                hints.append(
                    'record.weights "norms" (each layer\'s norm instead of every weight: '
                    f"{norms} numbers)"
                )
            elif rows >= 2:
                hints.append(f'record.weights "norms" with at most {rows - 1} points')
        if hints:
            raise LimitExceeded("record.points", f"{what}; ask for {' or '.join(hints)}")
        raise LimitExceeded(
            weights_field,
            f'{what}; even with record.weights "norms" and one recorded point the final '
            f"weights alone are {shape.weights} numbers: use fewer weights",
        )

    def _rows_within(self, shape: AnswerShape, detail: RecordWeights) -> int:
        """The most recorded times (t = 0 included) whose answer stays within the limit."""
        return (self.max_answer_numbers - shape.fixed(detail)) // shape.per_row(detail)
