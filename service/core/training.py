"""The /train use case in one call: run, verdict, log rule, theory and per-layer figures.

:func:`train` takes a :class:`TrainingSpec` (a /train request as plain data) and a
:class:`~service.core.budget.Budget`, and returns a :class:`TrainingReport`. A router, a figure
or a study worker calls it with no web framework in sight; its domain rules live here:

* the model is the perceptron when ``hidden`` is empty, else a net with those hidden layers;
* ``flow`` integrates to ``t_max`` (and rejects ``steps`` and ``order``), ``gd`` and ``online``
  run ``steps`` (and reject ``t_max``, ``rtol`` and ``atol``);
* the verdict judges the whole run (and, for a net, each layer alone) with the time unit τ of
  the inputs as a perceptron;
* the log rule extrapolates logarithmic runs, of a perceptron or a net (every weight along its
  fitted log_rate, E the model's own at the predicted weights); a net's theory keeps the data's
  separability facts and predicts no log_rate (the Lemma and the max-margin prediction
  concern the single-layer perceptron only);
* a theory whose magnitudes float64 cannot hold is not an error: the report says so in
  ``theory_note`` and the run stands without it;
* before anything runs, the answer's size is checked against the budget
  (:meth:`~service.core.budget.Budget.check_answer`; ``record_weights`` "norms" counts each
  layer's norm, :mod:`service.core.answer`), and one wall-time deadline, fixed when
  :func:`train` starts, covers the run and every analysis after it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from service.core.analysis.divergence import DivergenceReport, judge_divergence
from service.core.analysis.layers import LayerSummary, judge_layers, summarise_layers
from service.core.analysis.log_rule import DEFAULT_FACTORS, LogRulePrediction, extrapolate
from service.core.analysis.run_warnings import RunWarning, run_warnings
from service.core.analysis.separability import (
    Separability,
    Unrepresentable,
    analyse_separability,
)
from service.core.analysis.stationarity import assess_stationarity
from service.core.analysis.theory import TheoryReport, network_theory, predict_theory
from service.core.answer import AnswerShape
from service.core.budget import Budget
from service.core.deadline import Deadline
from service.core.engine.descent import run_descent
from service.core.engine.flow import DEFAULT_ATOL, DEFAULT_RTOL, check_flow, run_flow
from service.core.engine.kernel import cooling
from service.core.engine.recorder import recorded_times
from service.core.engine.run import RunResult, StopRules
from service.core.errors import InvalidProblem
from service.core.model.activations import Array, get_activation
from service.core.model.models import Model, initial_point, inputs_as_perceptron
from service.core.model.network import (
    DEFAULT_SEED,
    Layout,
    NetworkProblem,
    build_network_problem,
)
from service.core.model.problem import PerceptronProblem, build_problem, time_unit
from service.limits import FLOW_EVALUATIONS
from service.vocabulary import Method, Order, RecordWeights, Verdict


@dataclass(frozen=True, slots=True)
class TrainingSpec:
    """A /train request as plain data (the schema's defaults already applied).

    ``steps_given`` says whether the request named ``steps`` (``flow`` rejects it);
    ``stop.steps`` is the step budget; ``record_weights`` what the answer gives of each
    per-weight array (the run records every weight either way).
    """

    inputs: Sequence[Sequence[float]]
    targets: Sequence[float]
    stop: StopRules
    bias: bool = False
    activation: str = "tanh"
    hidden: tuple[int, ...] = ()
    method: Method = Method.GD
    learning_rate: float = 0.1
    steps_given: bool = False
    initial_weights: Sequence[float] | None = None
    seed: int | None = None
    order: Order = Order.GIVEN
    record_points: int = 200
    record_weights: RecordWeights = RecordWeights.ALL
    t_max: float | None = None
    rtol: float | None = None
    atol: float | None = None
    extrapolate_to: Sequence[float] | None = None
    temperature: float | None = None
    cooling_time: float | None = None
    """``anneal``: T₀ and τ of the cooling schedule (None for the other methods)."""


@dataclass(frozen=True, slots=True)
class LayerReport:
    """One weight layer of a net: its share of the run and the verdict on its weights."""

    summary: LayerSummary
    divergence: DivergenceReport


@dataclass(frozen=True, slots=True)
class TrainingReport:
    """Everything /train answers.

    ``prediction`` is the log rule's (logarithmic perceptron runs only); ``theory`` is None
    when float64 cannot hold it, and ``theory_note`` then says why; ``warnings`` say what the
    verdict alone does not (empty when nothing is wrong); ``layers`` and
    ``initial_seed`` (the seed the weights were drawn from, None when given) are a net's.
    ``starts`` are the offsets of the weight layers in the flat vector, then m (the
    perceptron: ``(0, m)``); ``record_weights`` is the spec's, for the answer.
    ``temperature`` is an annealing run's T_t at each recorded t.
    """

    run: RunResult
    divergence: DivergenceReport
    prediction: LogRulePrediction | None
    theory: TheoryReport | None
    theory_note: str | None = None
    warnings: list[RunWarning] = field(default_factory=list)
    layers: list[LayerReport] | None = None
    initial_seed: int | None = None
    starts: tuple[int, ...] = ()
    record_weights: RecordWeights = RecordWeights.ALL
    temperature: Array | None = None
    """``anneal``: the temperature T_t at each recorded t (None for the other methods)."""


def train(
    spec: TrainingSpec,
    budget: Budget,
    *,
    should_stop: Callable[[], bool] | None = None,
    deadline: Deadline | None = None,
) -> TrainingReport:
    """Run ``spec``'s descent or flow within ``budget`` and judge the weights' fate.

    ``deadline`` (default: ``budget.start(should_stop)``, now) bounds the whole computation:
    the run, the separability facts, the verdicts and the log rule.

    Raises
    ------
    InvalidProblem
        The request breaks a rule (a field that does not apply to its method or model, bad
        data, wrong initial weights); :class:`~service.core.errors.LimitExceeded` when it is
        over ``budget``.
    TimeLimitExceeded
        The computation passed its deadline.
    Cancelled
        ``should_stop()`` (asked between the kernel's chunks, and at every check of the
        deadline the caller did not give) returned True.
    """
    deadline = budget.start(should_stop) if deadline is None else deadline
    model, perceptron = _models(spec, budget)
    _check_rules(model, perceptron, spec, budget)
    run = _run(model, spec, should_stop, deadline)
    deadline.check("after the run, before its analysis")
    tau = time_unit(perceptron, spec.learning_rate, spec.method)
    facts = analyse_separability(perceptron.B, deadline=deadline)
    # the Lemma's witness ν (B·ν ≥ 0, B·ν ≠ 0): the Lemma concerns the perceptron only
    half_space = None
    if isinstance(facts, Separability) and facts.lemma_applies and model is perceptron:
        half_space = facts.half_space_weights
    # a move of the method: η for a step, α·t for the flow's displacement over a time t
    step = spec.learning_rate * (float(run.trajectory.t[-1]) if spec.method is Method.FLOW else 1)
    stationarity = assess_stationarity(model, run.weights, step, half_space)
    # what the verdict needs of the run, for the whole run and for each layer of a net
    judged: dict[str, Any] = {
        "last_step": run.last_step,
        "stopped_by": run.stopped_by,
        "step_tolerance": spec.stop.step_tolerance,
        "time_unit": tau,
        "monotone": spec.method not in (Method.ONLINE, Method.ANNEAL),
    }
    deadline.check("after the data's separability, before the verdict")
    verdict = judge_divergence(run.trajectory, stationarity=stationarity, **judged)
    deadline.check("after the verdict")
    warnings = run_warnings(
        model,
        run.trajectory,
        run.weights,
        method=spec.method,
        learning_rate=spec.learning_rate,
    )
    if isinstance(model, NetworkProblem):
        layers = judge_layers(model.layout, run.trajectory, **judged)
        deadline.check("after the layers' verdicts")
        summaries = summarise_layers(model.layout, run.weights, run.trajectory)
        inputs_theory = network_theory(perceptron, facts)
        return TrainingReport(
            run=run,
            divergence=verdict,
            prediction=extrapolate(model, run.trajectory, verdict, spec.extrapolate_to),
            theory=inputs_theory if isinstance(inputs_theory, TheoryReport) else None,
            theory_note=inputs_theory.reason
            if isinstance(inputs_theory, Unrepresentable)
            else None,
            warnings=warnings,
            layers=[LayerReport(s, r) for s, r in zip(summaries, layers, strict=True)],
            initial_seed=_drawn_seed(spec),
            starts=model.layout.starts,
            record_weights=spec.record_weights,
            temperature=_temperatures(spec, run),
        )
    theory = predict_theory(
        perceptron,
        measured_log_rate=verdict.log_rate,
        measured_is_logarithmic=verdict.verdict is Verdict.LOGARITHMIC,
        separability=facts,
    )
    return TrainingReport(
        run=run,
        divergence=verdict,
        prediction=extrapolate(model, run.trajectory, verdict, spec.extrapolate_to),
        theory=theory if isinstance(theory, TheoryReport) else None,
        theory_note=theory.reason if isinstance(theory, Unrepresentable) else None,
        warnings=warnings,
        starts=(0, model.m),
        record_weights=spec.record_weights,
        temperature=_temperatures(spec, run),
    )


def _temperatures(spec: TrainingSpec, run: RunResult) -> Array | None:
    """An annealing run's temperature at each recorded t (None for the other methods)."""
    if spec.method is not Method.ANNEAL:
        return None
    t0 = 0.0 if spec.temperature is None else spec.temperature
    tau = 1.0 if spec.cooling_time is None else spec.cooling_time
    schedule = cooling.py_func  # the kernel's formula, in Python (nothing to compile)
    return np.array([schedule(t0, tau, float(t)) for t in run.trajectory.t])


def check(spec: TrainingSpec, budget: Budget) -> None:
    """Raise what :func:`train` would raise before it runs (the rules of the request and the
    budget), without running: a study checks its points this way before it is accepted."""
    model, perceptron = _models(spec, budget)
    _check_rules(model, perceptron, spec, budget)
    initial_point(model, spec.initial_weights, spec.seed)


def model_of(spec: TrainingSpec) -> Model:
    """The model the spec trains: a net when it has hidden layers, else the perceptron."""
    activation = get_activation(spec.activation)
    if spec.hidden:
        return build_network_problem(
            spec.inputs, spec.targets, activation, hidden=spec.hidden, bias=spec.bias
        )
    return build_problem(spec.inputs, spec.targets, activation, bias=spec.bias)


def _models(spec: TrainingSpec, budget: Budget) -> tuple[Model, PerceptronProblem]:
    """The model of the spec and the same inputs as a perceptron, within the budget."""
    model = model_of(spec)
    budget.check_size(model.n, model.m)
    perceptron = inputs_as_perceptron(model)
    budget.check_record(spec.record_points)
    return model, perceptron


def _check_rules(
    model: Model, perceptron: PerceptronProblem, spec: TrainingSpec, budget: Budget
) -> None:
    """The fields of the spec's method and its work (:func:`_check_method`), then the size of
    its answer and of its recorded trajectory, within the budget."""
    _check_method(model, spec, budget)
    budget.check_answer(
        answer_shape(spec, model, perceptron),
        spec.record_weights,
        weights_field="network.hidden" if spec.hidden else "dataset.inputs",
    )


def answer_shape(spec: TrainingSpec, model: Model, perceptron: PerceptronProblem) -> AnswerShape:
    """The sizes of the spec's answer (see :mod:`service.core.answer`): the most recorded times
    (the flow records ``record_points`` times besides t = 0, descent at most one per step),
    the log rule's times, the weights and their layers."""
    flow = spec.method is Method.FLOW
    return AnswerShape(
        weights=model.m,
        layers=model.layout.layers if isinstance(model, NetworkProblem) else 1,
        net=isinstance(model, NetworkProblem),
        rows=spec.record_points + 1
        if flow
        else recorded_times(spec.stop.steps, spec.record_points),
        times=len(DEFAULT_FACTORS if spec.extrapolate_to is None else spec.extrapolate_to),
        inputs=perceptron.m,
        annealing=spec.method is Method.ANNEAL,
    )


def _drawn_seed(spec: TrainingSpec) -> int | None:
    """The seed a net's initial weights were drawn from; None when they were given."""
    if spec.initial_weights is not None:
        return None
    return DEFAULT_SEED if spec.seed is None else spec.seed


def _check_method(model: Model, spec: TrainingSpec, budget: Budget) -> None:
    """The fields that apply to the spec's method, and its work within the budget."""
    if spec.method is not Method.ANNEAL:
        for name in ("temperature", "cooling_time"):
            if getattr(spec, name) is not None:
                raise InvalidProblem(name, "applies to method 'anneal' only")
    elif spec.temperature is None:
        raise InvalidProblem("temperature", "method 'anneal' needs a temperature T₀ ≥ 0")
    if spec.method is not Method.FLOW:
        for name in ("t_max", "rtol", "atol"):
            if getattr(spec, name) is not None:
                raise InvalidProblem(name, "applies to method 'flow' only")
        budget.check_work(spec.stop.steps, model.n, model.m)
        return
    if spec.t_max is None:
        raise InvalidProblem("t_max", "method 'flow' needs t_max, the time to integrate to")
    if spec.steps_given:
        raise InvalidProblem("steps", "applies to gd and online; method 'flow' runs to t_max")
    if spec.order is not Order.GIVEN:
        raise InvalidProblem("order", "'shuffled' applies to method 'online' only")
    budget.check_flow_work(model.n, model.m)
    check_flow(model, spec.learning_rate, spec.t_max, _rtol(spec), _atol(spec), spec.record_points)


def _rtol(spec: TrainingSpec) -> float:
    return DEFAULT_RTOL if spec.rtol is None else spec.rtol


def _atol(spec: TrainingSpec) -> float:
    return DEFAULT_ATOL if spec.atol is None else spec.atol


def work(spec: TrainingSpec) -> int:
    """The multiply-adds the spec asks for, as the budget counts them: steps·n·m for descent,
    the flow's cost model FLOW_EVALUATIONS·n·m·(m + 1) (the spec is assumed checked)."""
    n = len(spec.inputs)
    m = len(spec.inputs[0]) + (1 if spec.bias else 0)
    if spec.hidden:
        m = Layout(widths=(len(spec.inputs[0]), *spec.hidden, 1), bias=spec.bias).size
    if spec.method is Method.FLOW:
        return FLOW_EVALUATIONS * n * m * (m + 1)
    return spec.stop.steps * n * m


def _run(
    model: Model,
    spec: TrainingSpec,
    should_stop: Callable[[], bool] | None,
    deadline: Deadline,
) -> RunResult:
    """The run the spec asks for (its rules checked): the flow to t_max, or gd/online for the
    step budget."""
    # what every engine takes from the spec
    common: dict[str, Any] = {
        "stop": spec.stop,
        "record_points": spec.record_points,
        "initial": spec.initial_weights,
        "seed": spec.seed,
        "deadline": deadline,
        "should_stop": should_stop,
    }
    if spec.method is not Method.FLOW:
        annealing: dict[str, Any] = {}
        if spec.method is Method.ANNEAL:
            assert spec.temperature is not None  # checked above
            annealing = {
                "temperature": spec.temperature,
                "cooling_time": 1.0 if spec.cooling_time is None else spec.cooling_time,
            }
        return run_descent(
            model,
            method=spec.method,
            learning_rate=spec.learning_rate,
            order=spec.order,
            **annealing,
            **common,
        )
    assert spec.t_max is not None  # checked above
    return run_flow(
        model,
        alpha=spec.learning_rate,
        t_max=spec.t_max,
        rtol=_rtol(spec),
        atol=_atol(spec),
        **common,
    )
