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
computation stops within one such unit of its deadline. The longest are the separability
test's dense solves on the largest square B an 8 MB body can carry (1800×1800 entries −1, 0,
1; 2-core test machine, unloaded): the rank's SVD 1.0 s, the first round of the hard margin's
NNLS 5.1 s — so a 1 s deadline answered after 4.7 s there, and 12 s on a loaded machine.
LAPACK and scipy's NNLS cannot be interrupted, and a thread left running past its answer
would hold a core the compute slots no longer count.

The same checks are where a computation whose caller has gone stops: a deadline may carry the
caller's ``should_stop`` (a route's "has the client disconnected?"), and :meth:`Deadline.check`
raises :class:`~service.core.errors.Cancelled` once it says so — so an abandoned /minima or
/separability, and /train's analysis after its run, free their compute slot within one unit of
work, as the kernel's chunks do for the run itself.

The clock is :func:`time.monotonic`: a change of the wall clock moves no deadline.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, replace

from service.core.errors import Cancelled, TimeLimitExceeded


@dataclass(frozen=True, slots=True)
class Deadline:
    """The moment a computation must stop, on :func:`time.monotonic`'s clock.

    ``seconds`` is the limit it was set with (for the message); ``expires`` the clock's
    reading past which :meth:`check` raises. :data:`NO_DEADLINE` never expires.
    ``should_stop``, when given, is asked by every :meth:`check`: True means the caller has
    gone and the computation is cancelled.
    """

    seconds: float
    expires: float
    should_stop: Callable[[], bool] | None = None

    @classmethod
    def after(
        cls, seconds: float | None, should_stop: Callable[[], bool] | None = None
    ) -> Deadline:
        """The deadline ``seconds`` from now (never, for None), checking ``should_stop``."""
        if seconds is None or math.isinf(seconds):
            return (
                NO_DEADLINE
                if should_stop is None
                else replace(NO_DEADLINE, should_stop=should_stop)
            )
        return cls(seconds, time.monotonic() + seconds, should_stop)

    @property
    def limited(self) -> bool:
        """Whether the deadline ever expires."""
        return math.isfinite(self.expires)

    def remaining(self) -> float:
        """Seconds left, 0 once passed (∞ without a limit)."""
        return max(0.0, self.expires - time.monotonic())

    def check(self, progress: str | Callable[[], str]) -> None:
        """Raise :class:`~service.core.errors.Cancelled` if ``should_stop()`` says so, else
        :class:`TimeLimitExceeded` if the deadline has passed; ``progress`` (or what it
        returns, computed only then) says how far the computation got, e.g. "after 2000 of
        1000000000 steps"."""
        if self.should_stop is not None and self.should_stop():
            raise Cancelled(f"cancelled {_said(progress)}")
        if time.monotonic() > self.expires:
            raise TimeLimitExceeded(self.seconds, _said(progress))


def _said(progress: str | Callable[[], str]) -> str:
    return progress() if callable(progress) else progress


NO_DEADLINE = Deadline(math.inf, math.inf)
"""The deadline of a computation without a wall-time limit."""
