"""One wall-time deadline for a whole computation, fixed when it starts and passed down.

A request's computation — a /train run with all its analysis (the verdicts, the theory's
linear programs, the per-layer figures), a /minima landscape, a /separability test — gets
one :class:`Deadline`, ``LEARNDYN_COMPUTE_SECONDS`` after it starts
(:meth:`service.core.budget.Budget.start`, called once by the use case,
:func:`service.core.training.train` and :mod:`service.core.queries`). Every long loop of the
core takes that deadline and checks it between the units of work it cannot interrupt: a chunk
of the compiled kernel, a right-hand side evaluation of the flow, a chunk of a landscape scan,
a root refinement, one least-squares, NNLS or SVD solve of the separability test. HiGHS gets
the time that remains as its own ``time_limit``. Past the deadline the check raises
:class:`~service.core.errors.TimeLimitExceeded` saying how far the computation got, so a
computation stops within one such unit of its deadline. The longest is the SVD that gives the
rank of B in the separability test (and /train's theory): 0.6 s for a 2000×500 B, but 7-11 s
for the largest square B an 8 MB body can carry (1800×1800 entries −1, 0, 1), measured on the
2-core test machine under load; LAPACK cannot be interrupted, and a thread left running past
its answer would hold a core the compute slots no longer count.

The clock is :func:`time.monotonic`: a change of the wall clock moves no deadline.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass

from service.core.errors import TimeLimitExceeded


@dataclass(frozen=True, slots=True)
class Deadline:
    """The moment a computation must stop, on :func:`time.monotonic`'s clock.

    ``seconds`` is the limit it was set with (for the message); ``expires`` the clock's
    reading past which :meth:`check` raises. :data:`NO_DEADLINE` never expires.
    """

    seconds: float
    expires: float

    @classmethod
    def after(cls, seconds: float | None) -> Deadline:
        """The deadline ``seconds`` from now; :data:`NO_DEADLINE` for None (no limit)."""
        if seconds is None or math.isinf(seconds):
            return NO_DEADLINE
        return cls(seconds, time.monotonic() + seconds)

    @property
    def limited(self) -> bool:
        """Whether the deadline ever expires."""
        return math.isfinite(self.expires)

    def remaining(self) -> float:
        """Seconds left, 0 once passed (∞ without a limit)."""
        return max(0.0, self.expires - time.monotonic())

    def check(self, progress: str | Callable[[], str]) -> None:
        """Raise :class:`TimeLimitExceeded` if the deadline has passed; ``progress`` (or what
        it returns, computed only then) says how far the computation got, e.g. "after 2000
        of 1000000000 steps"."""
        if time.monotonic() > self.expires:
            said = progress() if callable(progress) else progress
            raise TimeLimitExceeded(self.seconds, said)


NO_DEADLINE = Deadline(math.inf, math.inf)
"""The deadline of a computation without a wall-time limit."""
