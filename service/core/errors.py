"""The core's exceptions: a problem that cannot be posed as given, and a computation stopped.

Not converging, diverging, overflowing or a theory float64 cannot hold are never exceptions:
those are states of a result (``StopReason``, the verdict, ``TrainingReport.theory_note``).
``InvalidProblem`` means the input itself breaks a rule, and its message names the field and
the rule, so the service can answer 422 with it as is; ``LimitExceeded`` is the same for a
figure over the limits of the service. ``TimeLimitExceeded`` is a computation stopped at its
wall-time deadline. ``SolverFailed`` is a numerical solver the core relies on failing on a
problem it should solve: a fault of the computation, not of the input (the service answers
500, naming the solver).
"""

from __future__ import annotations


class InvalidProblem(ValueError):
    """The input breaks a rule. ``field`` is a dotted request path, e.g. ``dataset.inputs``."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


class LimitExceeded(InvalidProblem):
    """A request figure is over the limits of the service (the budget the service was given,
    see :class:`service.core.budget.Budget`); ``field`` names it."""


class Cancelled(Exception):
    """A computation stopped between two chunks because its caller asked it to (a study
    cancelled by DELETE). Not a property of the problem; nothing of the run is kept."""


class TimeLimitExceeded(Exception):
    """A computation ran past its wall-time deadline and was stopped between two chunks.

    Not a property of the problem: the same request with less work, or a larger limit,
    completes. ``seconds`` is the limit and ``progress`` says how far the run got, e.g.
    "after 2000000 of 1000000000 steps".
    """

    def __init__(self, seconds: float, progress: str) -> None:
        super().__init__(
            f"the computation was stopped at its wall-time limit of {seconds:g} s, {progress}; "
            "ask for less (or raise LEARNDYN_COMPUTE_SECONDS)"
        )
        self.seconds = seconds
        self.progress = progress


class SolverFailed(Exception):
    """A solver the core calls (``solver``, e.g. "HiGHS") failed on a problem that is
    well-posed by construction (a feasible, bounded linear program), so no answer can be given.

    Not an :class:`InvalidProblem`: the input broke no rule, and the same request may succeed
    with another solver version. ``message`` says which problem failed and the solver's own
    report.
    """

    def __init__(self, solver: str, message: str) -> None:
        super().__init__(f"{solver} failed: {message}")
        self.solver = solver
        self.message = message
