"""An extrapolation as a study: a sweep's grid whose points each test the log rule.

The points are a sweep's (:mod:`service.studies.grid`: the base /train request with the
grid's values in place; an empty grid is the base alone), so a row's figures are POST /train's
answer for the point's request, run to T. The worker runs each point with
:func:`service.core.extrapolation.extrapolation_run` (the run to T, then the runs to c·T when
the verdict at T is logarithmic) and adds the point's test of the log rule to the row
(:func:`check_json`, stored as JSON text like a census's endpoint). The summary reads the
tests of the rows finished so far back (:func:`check_of`) and groups them by activation
(:func:`assessment_of`).

Before a study is stored, :func:`check_extrapolation` refuses a grid whose runs to c·T break
a limit (naming ``factors``, or the grid or base field that sets the method) and returns the
study's work: the run to T and every run to c·T of every point.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from service.core.analysis.extrapolation import (
    Comparison,
    LogRuleAssessment,
    PointCheck,
    summarize,
)
from service.core.budget import Budget
from service.core.errors import InvalidProblem
from service.core.extrapolation import check_longer_runs, extrapolation_work
from service.schemas.train import TRAIN_REQUEST
from service.specs import training_spec
from service.studies.grid import point, sub_product_indices
from service.studies.store import Row
from service.vocabulary import StopReason, Verdict

UNSIZED_AXES = ("seed", "initial_weights", "order")
"""Axes that change neither a run's limits nor its work: the checks take their first value."""


def check_extrapolation(
    base: dict[str, Any], axes: dict[str, list[Any]], factors: list[float], budget: Budget
) -> int:
    """Check the runs to c·T of every combination of the axes that may change their limits
    (the others at their first value), as /train would check them, without running; return
    the study's work Σ over the points of (the run to T + the runs to c·T)."""
    sizing = [name for name in axes if name not in UNSIZED_AXES]
    repeat = math.prod(len(v) for n, v in axes.items() if n not in sizing)
    total = 0
    for index in sub_product_indices(axes, sizing):
        spec = training_spec(point(base, axes, index).request)
        try:
            check_longer_runs(spec, factors, budget)
        except InvalidProblem as error:  # named as the study request names it
            head = error.field.split(".")[0]
            if error.field == "factors":
                where = "factors"
            else:
                where = f"grid.{head}" if head in axes else f"base.{error.field}"
            raise type(error)(where, f"point {index}: {error.message}") from None
        total += extrapolation_work(spec, factors)
    return total * repeat


def check_json(check: PointCheck) -> dict[str, Any]:
    """A point's test of the log rule as JSON (Python's float repr keeps every bit; a figure
    that is not finite is null)."""
    return {
        "t": check.t,
        "verdict": check.verdict.value,
        "applicable": check.applicable,
        "reason": check.reason,
        "comparisons": [_comparison_json(c) for c in check.comparisons],
    }


def _comparison_json(c: Comparison) -> dict[str, Any]:
    return {
        "factor": c.factor,
        "t": c.t,
        "predicted_weights": _floats(c.predicted_weights),
        "predicted_error": c.predicted_error,
        "weights": None if c.actual_weights is None else _floats(c.actual_weights),
        "error": c.actual_error,
        "weight_error": c.weight_error,
        "error_difference": c.error_difference,
        "error_relative": c.error_relative,
        "verdict": None if c.verdict is None else c.verdict.value,
        "stopped_by": None if c.stopped_by is None else c.stopped_by.value,
        "failure": c.failure,
    }


def _floats(values: Any) -> list[float | None]:
    return [float(v) if math.isfinite(v) else None for v in np.asarray(values, dtype=float)]


def check_of(data: dict[str, Any]) -> PointCheck:
    """The test of :func:`check_json`'s JSON."""
    return PointCheck(
        t=data["t"],
        verdict=Verdict(data["verdict"]),
        applicable=data["applicable"],
        reason=data.get("reason"),
        comparisons=tuple(_comparison_of(c) for c in data["comparisons"]),
    )


def _comparison_of(data: dict[str, Any]) -> Comparison:
    weights, verdict, stop = data.get("weights"), data.get("verdict"), data.get("stopped_by")
    return Comparison(
        factor=data["factor"],
        t=data["t"],
        predicted_weights=_array(data["predicted_weights"]),
        predicted_error=data.get("predicted_error"),
        actual_weights=None if weights is None else _array(weights),
        actual_error=data.get("error"),
        weight_error=data.get("weight_error"),
        error_difference=data.get("error_difference"),
        error_relative=data.get("error_relative"),
        verdict=None if verdict is None else Verdict(verdict),
        stopped_by=None if stop is None else StopReason(stop),
        failure=data.get("failure"),
    )


def _array(values: list[float | None]) -> Any:
    return np.array([math.nan if v is None else v for v in values], dtype=np.float64)


def activations_of(base: dict[str, Any], rows: list[Row]) -> list[str]:
    """The activation of each row's point: the grid's value, else the base request's."""
    default = TRAIN_REQUEST.validate_python(base).activation.value
    return [str(row.params.get("activation", default)) for row in rows]


def assessment_of(base: dict[str, Any], factors: list[float], rows: list[Row]) -> LogRuleAssessment:
    """The assessment of the rows finished so far (a failed point has no test), each
    grouped under its activation."""
    tests = [None if row.extrapolation is None else check_of(row.extrapolation) for row in rows]
    return summarize(factors, list(zip(activations_of(base, rows), tests, strict=True)))
