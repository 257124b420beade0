"""Studies as the routers see them: submit, look up, list, page through rows, cancel.

:class:`Studies` checks a request before anything is stored (the grid's axes and values, the
limits, and every axis value against the rules /train applies, without running), stores the
study (queued) before it answers, and hands it to the :class:`~service.studies.runner.
StudyRunner`. Its answers are plain records (:class:`StudyView`, :class:`~service.studies.
store.Row`); the router maps them to schemas.
"""

from __future__ import annotations

import json
import math
import threading
import uuid
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from service.core.analysis.census import Census
from service.core.analysis.extrapolation import LogRuleAssessment
from service.core.analysis.relaxation import Relaxation
from service.core.budget import Budget
from service.core.errors import InvalidProblem, LimitExceeded
from service.core.training import check, work
from service.limits import MAX_GRID_AXIS_VALUES
from service.schemas.studies import (
    CensusRequest,
    ExtrapolationRequest,
    RelaxationRequest,
    SweepRequest,
)
from service.settings import Settings
from service.specs import training_spec
from service.studies.census import census_of
from service.studies.census import plan as census_plan
from service.studies.extrapolation import assessment_of, check_extrapolation
from service.studies.grid import expand, point, point_count, sub_product_indices
from service.studies.relaxation import plan as relaxation_plan
from service.studies.relaxation import relaxation_of
from service.studies.runner import StudyRunner
from service.studies.store import Row, Store, StudyRecord, database_url, now
from service.vocabulary import StudyKind, StudyStatus


@dataclass(frozen=True, slots=True)
class StudyView:
    """A study with its summary: points per verdict, overall and per axis value; a census's
    minima (``census``), an extrapolation's test of the log rule (``extrapolation``), a
    relaxation's comparison (``relaxation``); None in the other kinds."""

    record: StudyRecord
    verdicts: dict[str, int]
    per_axis: dict[str, dict[str, dict[str, int]]]
    census: Census | None = None
    extrapolation: LogRuleAssessment | None = None
    relaxation: Relaxation | None = None


class Studies:
    """The studies of this service (one per process; see the module docstring)."""

    def __init__(self, settings: Settings, budget: Budget) -> None:
        self.settings = settings
        self.budget = budget
        self.store = Store(database_url(settings.data_dir, settings.database_url))
        self.runner = StudyRunner(self.store, settings, budget)
        self._summaries: dict[tuple[str, int], Summary] = {}
        self._lock = threading.Lock()
        self.runner.resume()

    def close(self) -> None:
        self.runner.close()
        self.store.close()

    def submit(
        self, request: SweepRequest | CensusRequest | ExtrapolationRequest | RelaxationRequest
    ) -> StudyView:
        """Check, store (queued) and start a sweep, a census, an extrapolation or a
        relaxation."""
        spec = request.model_dump(mode="json", exclude_unset=True)
        if isinstance(request, CensusRequest | RelaxationRequest):
            runs = request.starts
            if isinstance(request, RelaxationRequest):
                runs *= len(set(request.temperatures)) + 1
            if runs > self.settings.max_study_points:
                raise LimitExceeded(
                    "starts",
                    f"{runs} runs ({request.starts} starts per method) exceed the limit of "
                    f"{self.settings.max_study_points} (LEARNDYN_MAX_STUDY_POINTS)",
                )
            if isinstance(request, CensusRequest):
                base, axes = census_plan(request)
            else:
                base, axes = relaxation_plan(request)
            spec["base"] = base
        else:
            axes = expand(
                request,
                max_points=self.settings.max_study_points,
                axis_limit=MAX_GRID_AXIS_VALUES,
            )
            base = request.base.model_dump(mode="json", exclude_unset=True)
        census = isinstance(request, CensusRequest | RelaxationRequest)  # top-level fields
        try:
            total_work = self._check_points(base, axes)
        except InvalidProblem as error:  # a census names its fields at the top level
            if not census:
                raise
            field = error.field.removeprefix("base.")
            named = "starts" if field.startswith("grid") else field
            raise type(error)(named, error.message) from None
        named = "starts" if census else "grid"
        if isinstance(request, ExtrapolationRequest):
            spec["factors"] = request.factors
            runs_to_t = total_work
            total_work = check_extrapolation(base, axes, request.factors, self.budget)
            if runs_to_t <= self.settings.max_study_work:
                named = "factors"  # the runs to T alone would fit
        if total_work > self.settings.max_study_work:
            raise LimitExceeded(
                named,
                f"the study's work Σ steps·n·m = {total_work:.3g} exceeds the limit of "
                f"{self.settings.max_study_work:.3g} (LEARNDYN_MAX_STUDY_WORK); ask for fewer "
                "points or steps" + (", or smaller factors" if named == "factors" else ""),
            )
        record = StudyRecord(
            id=uuid.uuid4().hex,
            kind=request.kind.value,
            name=request.name,
            spec=spec,
            axes=axes,
            status=StudyStatus.QUEUED.value,
            total=point_count(axes),
            done=0,
            failed=0,
            created=now(),
        )
        self.store.add_study(record)
        self.runner.start(record.id)
        return self._view(record)

    def _check_points(self, base: dict[str, Any], axes: dict[str, list[Any]]) -> int:
        """Check the base and every axis value (each with the others at their first value)
        as /train would, without running; return the study's total work Σ steps·n·m."""
        first = {name: values[0] for name, values in axes.items()}
        seen: set[str] = set()
        # the first point, then each axis value with the others at their first
        varied = [{**first, name: value} for name, values in axes.items() for value in values]
        for params in [first, *varied]:
            key = json.dumps(params, sort_keys=True)
            if key in seen:
                continue
            seen.add(key)
            index = _index_of(axes, params)
            spec = training_spec(point(base, axes, index).request)  # GridError names its own
            try:
                check(spec, self.budget)
            except InvalidProblem as error:  # named as the study request names it
                head = error.field.split(".")[0]
                where = f"grid.{head}" if head in axes else f"base.{error.field}"
                raise type(error)(where, f"point {index}: {error.message}") from None
        # the work varies only along the axes that change steps or sizes: sum over those
        sizing = [n for n in axes if n in ("steps", "dataset", "network", "method", "bias")]
        repeat = math.prod(len(v) for n, v in axes.items() if n not in sizing)
        total = 0
        for index in sub_product_indices(axes, sizing):
            total += work(training_spec(point(base, axes, index).request))
        return total * repeat

    def record(self, study_id: str) -> StudyRecord | None:
        """The study's record alone: status and progress, without the summary."""
        return self.store.study(study_id)

    def get(self, study_id: str) -> StudyView | None:
        record = self.store.study(study_id)
        return None if record is None else self._view(record)

    def page(self, offset: int, limit: int) -> tuple[list[StudyView], int]:
        records, total = self.store.studies(offset, limit)
        return [self._view(r) for r in records], total

    def outcomes(self, study_id: str) -> list[tuple[dict[str, Any], str | None]]:
        """(params, verdict) of every finished point (verdict None: the point failed)."""
        return self.store.verdict_counts(study_id)

    def rows(self, study_id: str, offset: int, limit: int) -> tuple[list[Row], int]:
        return self.store.rows(study_id, offset, limit)

    def tested_rows(self, study_id: str) -> list[Row]:
        """Every finished row of an extrapolation (each with its test of the log rule)."""
        return self.store.extrapolations(study_id)

    def cancel(self, study_id: str) -> StudyView | None:
        """Cancel a queued or running study (a finished one stays as it is)."""
        if self.store.study(study_id) is None:
            return None
        self.runner.cancel(study_id)
        return self.get(study_id)

    def _view(self, record: StudyRecord) -> StudyView:
        if record.kind == StudyKind.CENSUS:
            return StudyView(record=record, verdicts={}, per_axis={}, census=self.census(record))
        if record.kind == StudyKind.EXTRAPOLATION:
            assessment = self.extrapolation(record)
            return StudyView(record=record, verdicts={}, per_axis={}, extrapolation=assessment)
        if record.kind == StudyKind.RELAXATION:
            compared = self.relaxation(record)
            return StudyView(record=record, verdicts={}, per_axis={}, relaxation=compared)
        verdicts: Counter[str] = Counter()
        per_axis: dict[str, dict[str, Counter[str]]] = defaultdict(lambda: defaultdict(Counter))
        for params, verdict in self.outcomes(record.id):
            name = verdict or "failed"
            verdicts[name] += 1
            for axis, value in params.items():
                per_axis[axis][json.dumps(value)][name] += 1
        return StudyView(
            record=record,
            verdicts=dict(verdicts),
            per_axis={a: {v: dict(c) for v, c in values.items()} for a, values in per_axis.items()},
        )

    def census(self, record: StudyRecord) -> Census:
        """The census of the rows finished so far, computed once per count of rows."""
        found = self._summary(
            record,
            lambda: census_of(record.spec["base"], record.total, self.store.endpoints(record.id)),
        )
        assert isinstance(found, Census)
        return found

    def extrapolation(self, record: StudyRecord) -> LogRuleAssessment:
        """The extrapolation's test of the log rule over the rows finished so far, computed
        once per count of rows."""
        spec = record.spec
        found = self._summary(
            record,
            lambda: assessment_of(spec["base"], spec["factors"], self.tested_rows(record.id)),
        )
        assert isinstance(found, LogRuleAssessment)
        return found

    def relaxation(self, record: StudyRecord) -> Relaxation:
        """gd against annealing over the rows finished so far, computed once per count of
        rows."""

        def compute() -> Relaxation:
            rows, _ = self.store.rows(record.id, 0, max(1, record.total))
            data = [(r.index, r.params, r.error, r.verdict, r.seconds, r.endpoint) for r in rows]
            return relaxation_of(record.spec["base"], record.spec, data)

        found = self._summary(record, compute)
        assert isinstance(found, Relaxation)
        return found

    def _summary(self, record: StudyRecord, compute: Callable[[], Summary]) -> Summary:
        key = (record.id, record.done)
        with self._lock:
            found = self._summaries.get(key)
        if found is None:
            found = compute()
            with self._lock:
                if len(self._summaries) >= SUMMARY_CACHE:
                    self._summaries.pop(next(iter(self._summaries)))
                self._summaries[key] = found
        return found


Summary = Census | LogRuleAssessment | Relaxation
"""A study's summary that is computed from its rows (a sweep's is counted in SQL)."""

SUMMARY_CACHE = 32
"""How many census or extrapolation summaries (study, rows done) are kept: a census's
polishes and differentiates every minimum, an extrapolation's reads every row's predicted and
actual weights, so a study's is computed once per new rows, not per look."""


def _index_of(axes: dict[str, list[Any]], params: dict[str, Any]) -> int:
    """The row-major index of the point with these values (each one of its axis)."""
    index = 0
    for name, values in axes.items():
        index = index * len(values) + values.index(params[name])
    return index
