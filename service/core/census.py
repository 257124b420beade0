"""The census use case: K runs of one /train spec from K starts, each identified, then
counted (:mod:`service.core.analysis.census`).

A study worker calls :func:`identified_run` for each of its starts (a /train run from
``initial_weights`` = the start — run again longer when its verdict is undetermined — and the
run's endpoint); :func:`census` does the whole census
in one process (the reference a study must equal, and what the tests run).

The starts are a scrambled Sobol sequence (``scipy.stats.qmc.Sobol``, Owen scrambling from
``seed``) over the box [−a, a]^m, a = ``half_width`` (default ±0.5, the range /train draws
initial weights from): the first K points of the 2^⌈log₂ K⌉ that keep Sobol's balance, so
any K is allowed and the first K of a larger census are the same starts.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import replace

import numpy as np
from scipy.stats import qmc

from service.core.analysis.census import Census, Endpoint, identify, summarize
from service.core.budget import Budget
from service.core.errors import InvalidProblem, SolverFailed, TimeLimitExceeded
from service.core.model.activations import Array
from service.core.model.problem import INITIAL_WEIGHT_RANGE
from service.core.training import TrainingReport, TrainingSpec, model_of, train, work
from service.limits import MAX_STEPS, MAX_T_MAX
from service.vocabulary import Method, Verdict

DEFAULT_HALF_WIDTH = INITIAL_WEIGHT_RANGE
"""The default box of the starts: [−0.5, 0.5]^m, where /train draws its initial weights."""


def census_starts(m: int, count: int, half_width: float, seed: int) -> Array:
    """``count`` starts in [−half_width, half_width]^m, rows of a scrambled Sobol sequence."""
    if count < 1:
        raise InvalidProblem("starts", f"at least one start is needed; got {count}")
    sobol = qmc.Sobol(d=m, scramble=True, seed=np.random.default_rng([seed, 1]))
    unit = sobol.random_base2(max(0, math.ceil(math.log2(count))))[:count]
    return np.asarray(half_width * (2.0 * unit - 1.0), dtype=np.float64)


def identified_run(
    spec: TrainingSpec,
    budget: Budget,
    should_stop: Callable[[], bool] | None = None,
    *,
    extend: bool = True,
) -> tuple[TrainingReport, Endpoint]:
    """The /train run of ``spec`` (its start in ``initial_weights``) and what it found.

    With ``extend``, a run whose verdict is ``undetermined`` is run once more, longer
    (:func:`longer`), so that as many runs as the budget allows reach their verdict; the
    report is the longer run's then (its ``steps`` say so). (A relaxation study does not
    extend: its methods must share one step budget.)"""
    report = train(spec, budget, should_stop=should_stop)
    if extend and report.divergence.verdict is Verdict.UNDETERMINED:
        more = longer(spec, report, budget)
        if more is not None:
            spec, report = more, train(more, budget, should_stop=should_stop)
    run = report.run
    endpoint = identify(model_of(spec), run.weights, run.error, report.divergence, run.trajectory)
    return report, endpoint


EXTENSION = 10
"""An undetermined run is run again for this many times its steps (or t_max), or to the
verdict's own ``steps_to_decide`` when that is more."""


def longer(spec: TrainingSpec, report: TrainingReport, budget: Budget) -> TrainingSpec | None:
    """``spec`` run longer (see :data:`EXTENSION`), within the budget's work per run and the
    limits on steps and t_max; None when it cannot be longer."""
    if spec.method is Method.FLOW:
        assert spec.t_max is not None
        t_max = min(spec.t_max * EXTENSION, MAX_T_MAX)
        return None if t_max <= spec.t_max else replace(spec, t_max=t_max)
    undetermined = report.divergence.undetermined
    wanted = spec.stop.steps * EXTENSION
    if undetermined is not None and undetermined.steps_to_decide is not None:
        wanted = max(wanted, math.ceil(undetermined.steps_to_decide))
    per_step = work(spec) // spec.stop.steps
    steps = min(wanted, MAX_STEPS, budget.max_work // max(1, per_step))
    if steps <= spec.stop.steps:
        return None
    return replace(spec, stop=replace(spec.stop, steps=steps))


def census(spec: TrainingSpec, starts: Array, budget: Budget) -> Census:
    """The census of ``spec`` from every row of ``starts``, in this process (a run the
    budget refuses or that fails counts as unresolved)."""
    endpoints: list[tuple[int, Endpoint | None]] = []
    for index, start in enumerate(starts):
        try:
            from_start = replace(spec, initial_weights=[float(w) for w in start], seed=None)
            endpoints.append((index, identified_run(from_start, budget)[1]))
        except (InvalidProblem, TimeLimitExceeded, SolverFailed):
            endpoints.append((index, None))
    return summarize(model_of(spec), endpoints, len(starts))
