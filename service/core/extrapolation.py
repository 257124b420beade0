"""The extrapolation use case: a /train run to T, the log rule's prediction at c·T for each
factor c, and the same run taken to c·T to compare with
(:mod:`service.core.analysis.extrapolation`).

T is the spec's own horizon: its ``steps`` for gd and online (a run to c·T takes
round(c·T) steps, so c·T is a whole step), its ``t_max`` for the gradient flow (c·t_max). The
flow is allowed: the paper's log rule is about the flow's ẋ = α(1 − θ)(1 − θ²) in the first
place, and its cost does not grow with t_max. Annealing (or any method outside
:data:`EXTRAPOLATED_METHODS`) is refused: its noise is not the log rule's object.

A study worker calls :func:`extrapolation_run` for each point; :func:`longer_runs`,
:func:`check_longer_runs` and :func:`extrapolation_work` let a study refuse, before it
runs, the points whose runs to c·T break a limit (the error names ``factors``).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import replace

from service.core.analysis.extrapolation import Comparison, PointCheck, compare
from service.core.budget import Budget
from service.core.errors import InvalidProblem, LimitExceeded, SolverFailed, TimeLimitExceeded
from service.core.model.activations import Array
from service.core.training import TrainingReport, TrainingSpec, check, train, work
from service.limits import MAX_STEPS, MAX_T_MAX
from service.vocabulary import Method, StopReason

EXTRAPOLATED_METHODS = (Method.GD, Method.ONLINE, Method.FLOW)
"""The methods whose runs the log rule extrapolates (deterministic descents and the flow)."""

HORIZON_STOPS = frozenset({StopReason.STEPS, StopReason.T_MAX})
"""A run that ended for one of these reasons reached its horizon (T, or c·T)."""


def horizon(spec: TrainingSpec) -> float:
    """T: the steps of gd or online, the flow's t_max."""
    if spec.method is Method.FLOW:
        assert spec.t_max is not None  # a flow spec has its t_max (checked by the schema)
        return spec.t_max
    return float(spec.stop.steps)


def longer_runs(spec: TrainingSpec, factors: Sequence[float]) -> list[TrainingSpec]:
    """The runs of ``spec`` to c·T, one per factor (in order): round(c·T) steps, or
    t_max = c·T for the flow; everything else as ``spec``.

    Raises
    ------
    InvalidProblem
        ``method`` is not one of :data:`EXTRAPOLATED_METHODS`; ``factors`` are not finite
        and increasing from above 1, or two of them give the same whole number of steps;
        :class:`~service.core.errors.LimitExceeded` (``factors``) when c·T is over
        MAX_STEPS (or MAX_T_MAX for the flow).
    """
    if spec.method not in EXTRAPOLATED_METHODS:
        names = ", ".join(m.value for m in EXTRAPOLATED_METHODS)
        raise InvalidProblem(
            "method", f"an extrapolation runs {names}; the log rule does not extrapolate "
            f"'{spec.method.value}'",
        )  # fmt: skip
    previous = 1.0
    for factor in factors:
        if not (factor > previous and math.isfinite(factor)):
            raise InvalidProblem(
                "factors", f"each factor must be finite, > 1 and greater than the one before; "
                f"got {', '.join(f'{c:g}' for c in factors)}",
            )  # fmt: skip
        previous = factor
    T = horizon(spec)
    if spec.method is Method.FLOW:
        ends = [factor * T for factor in factors]
        if ends[-1] > MAX_T_MAX:
            raise LimitExceeded(
                "factors", f"c·t_max = {factors[-1]:g}·{T:g} = {ends[-1]:.3g} exceeds the "
                f"limit of {MAX_T_MAX:g} on t_max",
            )  # fmt: skip
        times = [T, *ends]
    else:
        steps = [round(factor * T) for factor in factors]
        if steps[-1] > MAX_STEPS:
            raise LimitExceeded(
                "factors", f"c·T = {factors[-1]:g}·{T:g} = {steps[-1]:.3g} steps exceed the "
                f"limit of {MAX_STEPS:.3g} steps",
            )  # fmt: skip
        times = [T, *map(float, steps)]
    for k in range(1, len(times)):
        if times[k] <= times[k - 1]:
            raise InvalidProblem(
                "factors", f"at T = {T:g}, c = {factors[k - 1]:g} runs to {times[k]:g}, no "
                f"longer than {times[k - 1]:g}; ask for factors further apart, or a longer T",
            )  # fmt: skip
    if spec.method is Method.FLOW:
        return [replace(spec, t_max=t, extrapolate_to=None) for t in times[1:]]
    return [
        replace(spec, stop=replace(spec.stop, steps=int(t)), steps_given=True, extrapolate_to=None)
        for t in times[1:]
    ]


def check_longer_runs(spec: TrainingSpec, factors: Sequence[float], budget: Budget) -> None:
    """Raise what the runs to c·T would raise before running, naming ``factors``: the
    longest one is checked, since every limit (steps, work, recorded times, the flow's
    horizon in natural units) grows with the horizon."""
    longest = longer_runs(spec, factors)[-1]
    try:
        check(longest, budget)
    except InvalidProblem as error:
        raise type(error)(
            "factors", f"the run to c·T = {factors[-1]:g}·{horizon(spec):g}: {error.message}"
        ) from None


def extrapolation_work(spec: TrainingSpec, factors: Sequence[float]) -> int:
    """The multiply-adds of a point as the budget counts them: the run to T and every run
    to c·T (:func:`~service.core.training.work` each)."""
    return work(spec) + sum(work(long) for long in longer_runs(spec, factors))


def extrapolation_run(
    spec: TrainingSpec,
    factors: Sequence[float],
    budget: Budget,
    should_stop: Callable[[], bool] | None = None,
) -> tuple[TrainingReport, PointCheck]:
    """The /train run of ``spec`` to T (with the log rule's prediction at each c·T) and its
    test against the runs to c·T.

    When the verdict at T is not logarithmic, or the run stopped before T (a stop rule),
    the log rule has nothing to say: the check says why and the runs to c·T are not run.
    A run to c·T that fails (time limit, solver) is a comparison with its ``failure``, and
    the longer ones are not run (they would cost more); one that stops before c·T (a stop
    rule) is a comparison with its actual figures, no errors, and its ``failure``.

    Raises what :func:`train` raises for the run to T (and ``Cancelled`` from any run).
    """
    longer = longer_runs(spec, factors)
    ends = [horizon(long) for long in longer]
    report = train(replace(spec, extrapolate_to=ends), budget, should_stop=should_stop)
    run, verdict = report.run, report.divergence.verdict
    T = float(run.trajectory.t[-1])
    prediction = report.prediction
    if prediction is None:
        reason = (
            f"the verdict at T is {verdict.value}: the log rule extrapolates logarithmic runs "
            "only, so the runs to c·T were not run"
        )
        return report, PointCheck(t=T, verdict=verdict, applicable=False, reason=reason)
    if run.stopped_by not in HORIZON_STOPS:
        reason = (
            f"the run stopped by {run.stopped_by.value} at t = {T:g}, before T: the runs to "
            "c·T would stop there too, so they were not run"
        )
        return report, PointCheck(t=T, verdict=verdict, applicable=False, reason=reason)
    comparisons: list[Comparison] = []
    failed: str | None = None
    for k, (factor, long) in enumerate(zip(factors, longer, strict=True)):
        predicted = prediction.weights[k]
        predicted_error = float(prediction.error[k])
        if failed is not None:
            comparisons.append(_not_compared(factor, ends[k], predicted, predicted_error, failed))
            continue
        try:
            actual = train(long, budget, should_stop=should_stop)
        except (InvalidProblem, TimeLimitExceeded, SolverFailed) as error:
            comparisons.append(
                _not_compared(factor, ends[k], predicted, predicted_error, str(error))
            )
            failed = f"not run: the run to c = {factor:g} failed"
            continue
        a = actual.run
        if a.stopped_by not in HORIZON_STOPS:
            t_end = float(a.trajectory.t[-1])
            comparisons.append(
                Comparison(
                    factor=factor,
                    t=ends[k],
                    predicted_weights=predicted,
                    predicted_error=_finite(predicted_error),
                    actual_weights=a.weights,
                    actual_error=_finite(a.error),
                    verdict=actual.divergence.verdict,
                    stopped_by=a.stopped_by,
                    failure=f"the run stopped by {a.stopped_by.value} at t = {t_end:g}, "
                    "before c·T: nothing to compare at c·T",
                )
            )
            continue
        comparisons.append(
            compare(
                factor,
                ends[k],
                predicted,
                predicted_error,
                a.weights,
                a.error,
                verdict=actual.divergence.verdict,
                stopped_by=a.stopped_by,
            )
        )
    return report, PointCheck(t=T, verdict=verdict, applicable=True, comparisons=tuple(comparisons))


def _not_compared(
    factor: float, t: float, predicted: Array, predicted_error: float, failure: str
) -> Comparison:
    """A factor whose run to c·T is missing: the prediction alone, and why."""
    return Comparison(
        factor=factor,
        t=t,
        predicted_weights=predicted,
        predicted_error=_finite(predicted_error),
        failure=failure,
    )


def _finite(value: float) -> float | None:
    return value if math.isfinite(value) else None
