"""Is relaxation worth it? gd against annealing on the same starts and budget, counted.

The runs of a relaxation study are gd (``anneal`` at T₀ = 0, which is gd to the last bit)
and ``anneal`` at one or more temperatures T₀, each from the same K starts with the same
step budget. A run *ends in the global minimum* when its final error is at most

    E* + ½·(E₂ − E*)

E* the global minimum's error — given (e.g. from a census), else the lowest of the minima the
gd runs found (:mod:`service.core.analysis.census` identifies their endpoints) and of every
run's final error (an annealing run may end lower than any gd run's minimum) — and E₂ the
least minimum above E* (so a success is closer to the global minimum's error than to any
other's; with no minimum above E* known, E* + :data:`LONE_MINIMUM_MARGIN`·(1 + E*)). An
annealing run's final weights still carry the noise of its last temperature, so its error is
read with this margin, not as an identified endpoint.

Per method (gd, and anneal at each T₀): the ``success_rate`` with its Wilson 95% interval,
the quantiles of the final error, the mean of the first recorded t at which a successful run's
error was within the margin (``mean_steps_to_global``: the history is log-spaced, so this is
an upper bound within a factor of the record's spacing; over the successful runs only, so the
easy starts weigh in it), the verdict counts and the mean wall time of a run (measured, for
information). Every method runs the same steps on the same problem, so the same compute as
the budget counts it (steps·n·m; an annealing step costs about 1.4× a gd step in the kernel,
``benchmarks/bench_anneal.py``): the *winner* is the best annealing temperature when its
Wilson interval lies above gd's, gd when its interval lies above every temperature's;
otherwise no method wins at this K.
The answer depends on the runs alone, never on the machine's timing.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

LONE_MINIMUM_MARGIN = 0.05
"""The margin (relative to 1 + E*) when only one minimum is known."""
Z95 = 1.959963984540054
"""The standard normal's 97.5% quantile: two-sided 95% intervals."""
QUANTILES = (0.1, 0.5, 0.9)


@dataclass(frozen=True, slots=True)
class RelaxationRun:
    """One run as the analysis needs it: T₀ (0: gd), its final error and verdict, its
    recorded (t, E) history, its wall time."""

    temperature: float
    error: float | None
    verdict: str | None
    t: Sequence[float]
    errors: Sequence[float]
    seconds: float


@dataclass(frozen=True, slots=True)
class MethodOutcome:
    """How one method did over its K runs (see the module docstring)."""

    method: str
    temperature: float
    runs: int
    successes: int
    success_rate: float
    interval: tuple[float, float]
    error_quantiles: list[float]
    mean_steps_to_global: float | None
    verdicts: dict[str, int]
    mean_seconds: float


@dataclass(frozen=True, slots=True)
class Relaxation:
    """The relaxation study's answer: E*, the margin, each method's outcome, the winner."""

    global_error: float | None
    threshold: float | None
    methods: list[MethodOutcome]
    winner: str | None
    explanation: str


def wilson(successes: int, n: int, z: float = Z95) -> tuple[float, float]:
    """Wilson's score interval for a binomial rate (Wilson 1927): (p̂ + z²/2n ± z·√(p̂(1−p̂)/n +
    z²/4n²))/(1 + z²/n); (0, 1) for n = 0."""
    if n == 0:
        return 0.0, 1.0
    p = successes / n
    centre = p + z * z / (2 * n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    scale = 1 + z * z / n
    return max(0.0, (centre - half) / scale), min(1.0, (centre + half) / scale)


def success_threshold(
    minima_errors: Sequence[float], final_errors: Sequence[float] = ()
) -> tuple[float | None, float | None]:
    """(E*, E* + ½·(E₂ − E*)) from the minima's errors and the runs' final errors (see the
    module docstring); (None, None) when there is neither."""
    known = [e for e in (*minima_errors, *final_errors) if math.isfinite(e)]
    if not known:
        return None, None
    best = min(known)
    above = [e for e in minima_errors if e > best + 1e-9 * (1.0 + abs(best))]
    if not above:
        return best, best + LONE_MINIMUM_MARGIN * (1.0 + abs(best))
    return best, best + 0.5 * (min(above) - best)


def method_name(temperature: float) -> str:
    return "gd" if temperature == 0.0 else f"anneal T0={temperature:g}"


def compare(
    runs: Sequence[RelaxationRun], minima_errors: Sequence[float], lowest: float | None = None
) -> Relaxation:
    """The outcome of every method (grouped by T₀, gd first) and the winner; ``lowest`` is
    E* when given (then the runs' final errors do not set it)."""
    finals = [] if lowest is not None else [r.error for r in runs if r.error is not None]
    best, threshold = success_threshold(
        minima_errors if lowest is None else [lowest, *minima_errors], finals
    )
    outcomes = []
    for temperature in sorted({r.temperature for r in runs}):
        group = [r for r in runs if r.temperature == temperature]
        outcomes.append(_outcome(temperature, group, threshold))
    winner, explanation = _winner(outcomes)
    return Relaxation(
        global_error=best,
        threshold=threshold,
        methods=outcomes,
        winner=winner,
        explanation=explanation,
    )


def _outcome(
    temperature: float, group: Sequence[RelaxationRun], threshold: float | None
) -> MethodOutcome:
    finished = [r for r in group if r.error is not None and math.isfinite(r.error)]
    won = [r for r in finished if threshold is not None and (r.error or 0.0) <= threshold]
    errors = np.array([r.error for r in finished], dtype=float)
    reached = [_first_within(r, threshold) for r in won]
    reached_t = [t for t in reached if t is not None]
    n = len(group)
    seconds = float(np.mean([r.seconds for r in group])) if group else 0.0
    rate = len(won) / n if n else 0.0
    return MethodOutcome(
        method=method_name(temperature),
        temperature=temperature,
        runs=n,
        successes=len(won),
        success_rate=rate,
        interval=wilson(len(won), n),
        error_quantiles=[float(np.quantile(errors, q)) for q in QUANTILES] if len(errors) else [],
        mean_steps_to_global=float(np.mean(reached_t)) if reached_t else None,
        verdicts=dict(Counter(r.verdict or "failed" for r in group)),
        mean_seconds=seconds,
    )


def _first_within(run: RelaxationRun, threshold: float | None) -> float | None:
    if threshold is None:
        return None
    for t, e in zip(run.t, run.errors, strict=True):
        if e <= threshold:
            return float(t)
    return None


def _winner(outcomes: Sequence[MethodOutcome]) -> tuple[str | None, str]:
    """gd against the best annealing temperature: the one whose Wilson interval lies above
    the other's (for gd: above every temperature's) wins; None (and why) otherwise."""
    gd = next((o for o in outcomes if o.temperature == 0.0), None)
    hot = [o for o in outcomes if o.temperature > 0.0]
    if gd is None or not hot:
        return None, "gd and annealing are not both in the study: nothing to compare"
    best = max(hot, key=lambda o: (o.success_rate, -o.temperature))
    versus = f"{best.successes} of {best.runs} against gd's {gd.successes} of {gd.runs}"
    if best.interval[0] > gd.interval[1]:
        return best.method, (
            f"{best.method} reaches the global minimum in {versus}, with the same steps; the "
            "95% intervals are apart"
        )
    if gd.interval[0] > max(o.interval[1] for o in hot):
        return gd.method, (
            f"gd reaches the global minimum in {gd.successes} of {gd.runs}, above every "
            f"temperature's 95% interval (best {best.method}: {best.successes} of {best.runs})"
        )
    return None, (
        f"no method wins at this K: the 95% intervals overlap (best {best.method}, {versus}); "
        "more starts would tell"
    )
