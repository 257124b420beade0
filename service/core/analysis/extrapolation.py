"""The log rule put to the test: its prediction from T against the run to c·T, per point and
over a study (the paper's last open question: "can it be usefully employed to extrapolate
from limited learning?").

A point is a /train run to T (steps for gd and online, t_max for the flow) whose verdict is
``logarithmic``; the log rule (:mod:`service.core.analysis.log_rule`) predicts from it the
weights at c·T, ``ŵ = w(T) + b·ln c``, and E there, Ê = E(ŵ). The same run taken to c·T
(the same start and everything else; runs are deterministic) gives the actual w(c·T) and
E(c·T). :func:`compare` measures

* the relative weight error ``‖ŵ − w(c·T)‖₂ / ‖w(c·T)‖₂``;
* E's absolute error ``|Ê − E(c·T)|`` and its relative error ``|Ê − E(c·T)| / E(c·T)``.
  E → 0 on separable data (for the scalar tanh example E(t) ≈ 1/(8ηt)), so the relative
  error is the meaningful one, and it is about 4× the weights' absolute error there
  (E ∝ e^(−4w)); it is null when E(c·T) is 0 (underflowed), and the absolute error says
  the rest.

A point whose verdict at T is not logarithmic has no prediction: the log rule does not
apply, and its longer runs are not run (:class:`PointCheck` says why).

:func:`summarize` groups the points by activation (and all together): how many were
logarithmic at T, and per factor the median and largest errors over those. The log rule
*predicts well* for a group when its median relative weight error is below
:data:`GOOD_WEIGHT_ERROR` at every factor, *drifts* otherwise, and is *not applicable* when
no point of the group was logarithmic at T (the verdicts seen say what the weights did
instead: arctan's power law, erf's sub-logarithmic growth).

Measured on the scalar example (one input 1, target +1, η = 0.1, T = 10⁴ steps from 0): the
fitted b is 0.2575 where the asymptote is ¼ (the local slope t·ẇ approaches ¼ from above as
O(t^(−1/2))), so the rule overshoots slowly: tanh's weight errors are 0.39%, 0.74% and 1.02%
at c = 10, 100, 1000 (E's 5%, 11%, 17%); logistic's 0.97%, 1.8%, 2.4%.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

import numpy as np

from service.core.model.activations import Array
from service.core.model.norms import vector_norm
from service.vocabulary import StopReason, Verdict

GOOD_WEIGHT_ERROR = 0.01
"""The log rule predicts well when the median relative weight error is below this (1%) at
every factor."""


class LogRuleFit(StrEnum):
    """How the log rule did for a group of points (see the module docstring)."""

    PREDICTS_WELL = "predicts_well"
    DRIFTS = "drifts"
    NOT_APPLICABLE = "not_applicable"


@dataclass(frozen=True, slots=True)
class Comparison:
    """The log rule's prediction at c·T against the run to c·T.

    ``t`` is c·T as run (steps rounded to whole steps); ``failure`` says why there is no
    actual run to compare with (then every actual figure and every error is None). An error
    is None where it is not a finite number.
    """

    factor: float
    t: float
    predicted_weights: Array
    predicted_error: float | None
    actual_weights: Array | None = None
    actual_error: float | None = None
    weight_error: float | None = None
    error_difference: float | None = None
    error_relative: float | None = None
    verdict: Verdict | None = None
    stopped_by: StopReason | None = None
    failure: str | None = None


@dataclass(frozen=True, slots=True)
class PointCheck:
    """One point's test of the log rule: the run to T (``t``, its ``verdict``) and, when the
    rule applies, one :class:`Comparison` per factor; else ``reason`` says why not (and
    ``comparisons`` is empty: the longer runs were not run)."""

    t: float
    verdict: Verdict
    applicable: bool
    comparisons: tuple[Comparison, ...] = ()
    reason: str | None = None


@dataclass(frozen=True, slots=True)
class FactorErrors:
    """The errors at one factor over the applicable points of a group (None: none compared)."""

    factor: float
    compared: int
    weight_error_median: float | None
    weight_error_max: float | None
    error_relative_median: float | None
    error_relative_max: float | None
    error_difference_max: float | None


@dataclass(frozen=True, slots=True)
class GroupAssessment:
    """How the log rule did on a group of points (one activation, or all of them)."""

    points: int
    failed: int
    applicable: int
    verdicts: dict[Verdict, int]
    factors: tuple[FactorErrors, ...]
    fit: LogRuleFit
    explanation: str


@dataclass(frozen=True, slots=True)
class LogRuleAssessment:
    """A study's test of the log rule: per activation (in the order the points first name
    it) and over every point."""

    factors: tuple[float, ...]
    activations: dict[str, GroupAssessment]
    overall: GroupAssessment


def compare(
    factor: float,
    t: float,
    predicted_weights: Array,
    predicted_error: float,
    actual_weights: Array,
    actual_error: float,
    *,
    verdict: Verdict | None = None,
    stopped_by: StopReason | None = None,
) -> Comparison:
    """The log rule's prediction (ŵ, Ê) at t = c·T against the actual run there (w, E).

    Returns the relative weight error ``‖ŵ − w‖₂/‖w‖₂`` (None when w = 0), E's absolute
    error ``|Ê − E|`` and relative error ``|Ê − E|/E`` (0 when both are 0, None when only
    E = 0); a figure that is not finite is None.
    """
    predicted = np.asarray(predicted_weights, dtype=np.float64)
    actual = np.asarray(actual_weights, dtype=np.float64)
    if predicted.shape != actual.shape:
        raise ValueError(
            f"compare: predicted_weights has shape {predicted.shape}, actual_weights "
            f"{actual.shape}; they must agree"
        )
    scale = vector_norm(actual)
    weight_error = vector_norm(predicted - actual) / scale if scale > 0 else None
    difference = abs(predicted_error - actual_error)
    if actual_error > 0:
        relative: float | None = difference / actual_error
    else:
        relative = 0.0 if difference == 0 else None
    return Comparison(
        factor=factor,
        t=t,
        predicted_weights=predicted,
        predicted_error=_finite(predicted_error),
        actual_weights=actual,
        actual_error=_finite(actual_error),
        weight_error=_finite(weight_error),
        error_difference=_finite(difference),
        error_relative=_finite(relative),
        verdict=verdict,
        stopped_by=stopped_by,
    )


def _finite(value: float | None) -> float | None:
    return value if value is not None and math.isfinite(value) else None


def summarize(
    factors: Sequence[float], points: Sequence[tuple[str, PointCheck | None]]
) -> LogRuleAssessment:
    """The assessment of the points finished so far: (activation, check; None for a point
    whose run to T failed), grouped by activation (see the module docstring)."""
    by_activation: dict[str, list[PointCheck | None]] = {}
    for activation, check in points:
        by_activation.setdefault(activation, []).append(check)
    return LogRuleAssessment(
        factors=tuple(factors),
        activations={a: _group(factors, checks) for a, checks in by_activation.items()},
        overall=_group(factors, [check for _, check in points]),
    )


def _group(factors: Sequence[float], checks: Sequence[PointCheck | None]) -> GroupAssessment:
    finished = [c for c in checks if c is not None]
    verdicts: dict[Verdict, int] = {}
    for check in finished:
        verdicts[check.verdict] = verdicts.get(check.verdict, 0) + 1
    applicable = [c for c in finished if c.applicable]
    errors = tuple(_factor_errors(k, factor, applicable) for k, factor in enumerate(factors))
    fit, explanation = _fit(errors, verdicts, len(applicable))
    return GroupAssessment(
        points=len(checks),
        failed=len(checks) - len(finished),
        applicable=len(applicable),
        verdicts=dict(sorted(verdicts.items(), key=lambda item: list(Verdict).index(item[0]))),
        factors=errors,
        fit=fit,
        explanation=explanation,
    )


def _factor_errors(k: int, factor: float, applicable: Sequence[PointCheck]) -> FactorErrors:
    found = [c.comparisons[k] for c in applicable if k < len(c.comparisons)]
    weight = [c.weight_error for c in found if c.weight_error is not None]
    relative = [c.error_relative for c in found if c.error_relative is not None]
    difference = [c.error_difference for c in found if c.error_difference is not None]
    return FactorErrors(
        factor=factor,
        compared=sum(c.failure is None for c in found),
        weight_error_median=statistics.median(weight) if weight else None,
        weight_error_max=max(weight) if weight else None,
        error_relative_median=statistics.median(relative) if relative else None,
        error_relative_max=max(relative) if relative else None,
        error_difference_max=max(difference) if difference else None,
    )


def _fit(
    errors: Sequence[FactorErrors], verdicts: dict[Verdict, int], applicable: int
) -> tuple[LogRuleFit, str]:
    """The group's fit and a sentence that says why."""
    if applicable == 0:
        seen = ", ".join(f"{v.value} {n}" for v, n in verdicts.items()) or "none finished"
        return LogRuleFit.NOT_APPLICABLE, (
            f"no point was logarithmic at T (verdicts: {seen}): the log rule does not apply"
        )
    missing = [e.factor for e in errors if e.weight_error_median is None]
    if missing:
        return LogRuleFit.DRIFTS, (
            "no run to c·T could be compared at c = " + ", ".join(f"{c:g}" for c in missing)
        )
    worst = max(errors, key=lambda e: e.weight_error_median or 0.0)
    median = worst.weight_error_median or 0.0
    if median < GOOD_WEIGHT_ERROR:
        return LogRuleFit.PREDICTS_WELL, (
            f"the median relative weight error is below {GOOD_WEIGHT_ERROR:.0%} at every "
            f"factor (at most {median:.3%}, at c = {worst.factor:g})"
        )
    return LogRuleFit.DRIFTS, (
        f"the median relative weight error reaches {median:.3%} at c = {worst.factor:g}, "
        f"over {GOOD_WEIGHT_ERROR:.0%}"
    )
