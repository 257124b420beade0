"""What a Dask worker runs: a batch of a sweep's points, each through the core's ``train``
(a census's identifies its endpoint, an extrapolation's also runs to c·T).

The task function :func:`run_batch` is importable at module level (Dask's worker processes
start with ``spawn``), takes plain data (the base request as JSON, the expanded axes, the
indices, the budget) and returns plain rows; it never touches the database or HTTP. A point's
row is what POST /train answers for the point's request — the same validation
(:class:`~service.schemas.train.TrainRequest`), the same translation (:mod:`service.specs`),
the same core call — so its weights agree to the last bit.

Cancellation is cooperative: ``should_stop`` (a :class:`distributed.Event` named after the
study, set by DELETE) is asked between points and, through the engine, between the kernel's
chunks; a cancelled batch returns the rows finished before.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from service.core.analysis.census import Endpoint
from service.core.budget import Budget
from service.core.census import identified_run
from service.core.errors import Cancelled, InvalidProblem, SolverFailed, TimeLimitExceeded
from service.core.extrapolation import extrapolation_run, longer_runs
from service.core.training import TrainingReport, TrainingSpec, train, work
from service.limits import FLOW_EVALUATIONS
from service.specs import training_spec
from service.studies.census import endpoint_json
from service.studies.extrapolation import check_json
from service.studies.grid import point, point_params
from service.studies.relaxation import endpoint_with_errors
from service.studies.store import Row
from service.vocabulary import Method

BATCH_SECONDS = 0.25
"""A task holds points worth about this much compute: a task costs the scheduler about
1-3 ms, so batches keep the overhead per point far below the run of a short point."""

CANCEL_POLL_SECONDS = 0.25
"""How often a running batch asks the scheduler whether its study was cancelled: a round
trip through the scheduler each, so not too often (DELETE must stop a study within 2 s)."""

MULTIPLY_ADDS_PER_SECOND = 2e8
"""The kernel's speed on large problems, for the batch estimate."""
SECONDS_PER_STEP = 7e-8
"""The least cost of a step, whatever n·m (measured: 1.4e7 steps/s at n·m = 1)."""
SECONDS_PER_ANSWER = 1e-3
"""The cost of a point besides its steps: the verdict, the theory's LP, the row."""


def estimated_seconds(spec: TrainingSpec, factors: list[float] | None = None) -> float:
    """About how long the point of ``spec`` runs (for sizing batches, not a limit); with
    ``factors`` (an extrapolation), its runs to c·T too."""
    if factors:
        longer = longer_runs(spec, factors)
        return estimated_seconds(spec) + sum(estimated_seconds(long) for long in longer)
    steps = FLOW_EVALUATIONS if spec.method is Method.FLOW else spec.stop.steps
    return steps * SECONDS_PER_STEP + work(spec) / MULTIPLY_ADDS_PER_SECOND + SECONDS_PER_ANSWER


def warm_worker(cache_dir: str | None) -> str:
    """Compile (or load) the kernel on a worker, with the service's cache directory."""
    from service.core.engine import kernel
    from service.core.engine.warmup import warm_up

    kernel.configure_cache(cache_dir)
    warm_up()
    return str(kernel.kernels().cache_dir)


def row_of(
    index: int,
    params: dict[str, Any],
    report: TrainingReport,
    seconds: float,
    endpoint: Endpoint | None = None,
    extrapolation: dict[str, Any] | None = None,
) -> Row:
    """A study row from a /train report (and a census run's endpoint, or an extrapolation
    point's test of the log rule as JSON)."""
    run, divergence = report.run, report.divergence
    log_rate = divergence.log_rate
    return Row(
        index=index,
        params=params,
        verdict=divergence.verdict.value,
        error=_finite(run.error),
        accuracy=run.accuracy,
        stopped_by=run.stopped_by.value,
        steps=run.steps,
        log_rate_norm=None if log_rate is None else _finite(math.sqrt(float(log_rate @ log_rate))),
        apparent_convergence=divergence.apparent_convergence,
        weights=[float(w) for w in run.weights],
        seconds=seconds,
        endpoint=None if endpoint is None else endpoint_json(endpoint),
        extrapolation=extrapolation,
    )


def _finite(value: float) -> float | None:
    return value if math.isfinite(value) else None


def failed_row(index: int, params: dict[str, Any], failure: str, seconds: float) -> Row:
    return Row(
        index=index,
        params=params,
        verdict=None,
        error=None,
        accuracy=None,
        stopped_by=None,
        steps=None,
        log_rate_norm=None,
        apparent_convergence=None,
        weights=None,
        seconds=seconds,
        failure=failure,
    )


def run_points(
    base: dict[str, Any],
    axes: dict[str, list[Any]],
    indices: list[int],
    budget: Budget,
    should_stop: Callable[[], bool] | None = None,
    identify: bool = False,
    factors: list[float] | None = None,
    relax: bool = False,
) -> list[Row]:
    """Run the points ``indices`` of the grid, in order; stop early (keeping what finished)
    when ``should_stop()`` says so. With ``identify`` (a census), each row carries its run's
    endpoint; with ``factors`` (an extrapolation), its test of the log rule; with ``relax``
    (a relaxation), its endpoint (the run not extended) and its recorded E."""
    rows = []
    for index in indices:
        if should_stop is not None and should_stop():
            break
        start = time.perf_counter()
        try:
            p = point(base, axes, index)
            spec = training_spec(p.request)
            endpoint = extrapolation = None
            endpoint_data: dict[str, Any] | None = None
            if identify:
                report, endpoint = identified_run(spec, budget, should_stop)
            elif relax:
                report, found = identified_run(spec, budget, should_stop, extend=False)
                extrapolation = None
                endpoint_data = endpoint_with_errors(found, report.run.trajectory)
            elif factors:
                report, tested = extrapolation_run(spec, factors, budget, should_stop)
                extrapolation = check_json(tested)
            else:
                report = train(spec, budget, should_stop=should_stop)
        except Cancelled:
            break
        except (InvalidProblem, TimeLimitExceeded, SolverFailed) as error:  # GridError too
            rows.append(
                failed_row(
                    index, point_params(axes, index), str(error), time.perf_counter() - start
                )
            )
            continue
        seconds = time.perf_counter() - start
        row = row_of(index, p.params, report, seconds, endpoint, extrapolation)
        if endpoint_data is not None:
            row = replace(row, endpoint=endpoint_data)
        rows.append(row)
    return rows


def run_batch(
    base: dict[str, Any],
    axes: dict[str, list[Any]],
    indices: list[int],
    budget: tuple[int, int, int, float | None, int, int],
    cancel_event: str | None,
    identify: bool = False,
    factors: list[float] | None = None,
    relax: bool = False,
) -> list[Row]:
    """The Dask task: :func:`run_points` with the study's cancel event (a
    :class:`distributed.Event` named ``cancel_event``) as ``should_stop``."""
    should_stop = None
    if cancel_event is not None:
        from distributed import Event

        flag = Event(cancel_event)
        last = [0.0, False]

        def should_stop() -> bool:
            # ask the scheduler at most every CANCEL_POLL_SECONDS (a round trip each)
            moment = time.monotonic()
            if moment - last[0] > CANCEL_POLL_SECONDS:
                last[0], last[1] = moment, bool(flag.is_set())
            return bool(last[1])

    return run_points(base, axes, indices, Budget(*budget), should_stop, identify, factors, relax)
