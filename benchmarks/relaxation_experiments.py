"""Issue 20's two experiments, in this process: is relaxation worth it, and does the log rule
predict? Prints the tables and writes the README's figures.

    .venv/bin/python benchmarks/relaxation_experiments.py             # about 2 minutes
    .venv/bin/python benchmarks/relaxation_experiments.py --no-figures

The paper's last two questions (§4): "Is it really worth using relaxation methods?" and "Is
the log rule verified in large scale examples? If so, can it be usefully employed to
extrapolate from limited learning?"

**(a) Relaxation.** gd against ``anneal`` (x ← x − η∇E(x) + √(2ηT_t)·ξ_t, T_t = T₀/ln(e +
t/τ)) from the same K starts with the same step budget, as a relaxation study runs them:
the requests are built by :func:`service.studies.relaxation.plan`, each run is the study
worker's (:func:`service.studies.worker.run_points`: /train, then the endpoint identified,
never extended) and the comparison is the study's summary
(:func:`service.studies.relaxation.relaxation_of`). So every figure here is what POST /studies
with the same request answers, except the seconds, which are this process's.

1. The paper's Figure 2 case: u = (1, 3), y = (1, −1), tanh, one weight; a finite global
   minimum at x ≈ −0.18 (E ≈ 1.645), a maximum at x ≈ 0.81 and a second minimum at +∞
   (E → 4). K = 64 starts in [−3, 3], 10⁵ steps, η = 0.1, T₀ ∈ {0.1, 0.25, 0.5, 1, 2},
   τ = 100.
2. XOR on a 2-2-1 tanh net with biases (m = 9): inputs (±1, ±1), targets −1, 1, 1, −1;
   K = 32 starts in [−1, 1]⁹, 10⁵ steps, η = 0.1, T₀ ∈ {0.05, 0.2, 0.5}, τ = 100.

The runs go start by start, every method's run from one start before the next start (not
method by method), so that a change in the machine's load falls on all methods alike; the
kernel is warmed first. The seconds of a run are the study's (/train and the endpoint's
identification, ``ms/run``); on the first :data:`TRAIN_TIMED` starts of each method,
``train`` times /train alone and ``descent`` the kernel's descent alone (no verdict, no
theory, no identification), in ms per run, to show how much of a run's seconds the per-run
analysis takes.

**(b) The log rule as a predictor**, as an extrapolation study runs it
(:func:`service.core.extrapolation.extrapolation_run` per point through the study worker,
:func:`service.studies.extrapolation.assessment_of` for the summary): the run to T, the log
rule's ŵ(c·T) = w(T) + b·ln c, and the same run taken to c·T, c = 10, 100, 1000.

1. The scalar example (one input 1, target +1, w(0) = 0, η = 0.1, T = 10⁴) for tanh,
   logistic, arctan and erf.
2. XOR 2-2-1 tanh with biases (as above, η = 0.1, T = 10⁴), initial weights from seeds 0–3
   (the /train default draw, ±0.5).
3. Does a longer T help? The scalar example for tanh and logistic from T = 10⁵ (c up to
   1000, so runs of 10⁸ steps), and XOR from T = 10⁵ for seeds 0 and 1 (c = 10, 100).

Figures (unless ``--no-figures``): ``docs/relaxation_figure2.svg`` and
``docs/relaxation_xor.svg`` (:mod:`service.figures.relaxation`), ``docs/extrapolation.svg``
and ``docs/extrapolation_xor.svg`` (:mod:`service.figures.extrapolation`).

The machine may be shared (the load average is printed before and after): the seconds, and
so the successes per second and the winner, move with it; the counts, errors and weights do
not (every run is seeded).
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path
from typing import Any

from service.core.analysis.extrapolation import LogRuleAssessment
from service.core.analysis.relaxation import Relaxation
from service.core.budget import Budget
from service.core.engine.descent import run_descent
from service.core.training import TrainingSpec, model_of, train
from service.figures.extrapolation import (
    ExtrapolationPoint,
    ExtrapolationSnapshot,
    render_extrapolation,
)
from service.figures.relaxation import RelaxationSetup, RelaxationSnapshot, render_relaxation
from service.schemas.studies import ExtrapolationRequest, RelaxationRequest
from service.schemas.train import TRAIN_REQUEST
from service.specs import training_spec
from service.studies.extrapolation import activations_of, assessment_of, check_of
from service.studies.grid import expand, point
from service.studies.relaxation import plan, relaxation_of
from service.studies.store import Row
from service.studies.worker import run_points
from service.vocabulary import ImageFormat

DOCS = Path(__file__).resolve().parents[1] / "docs"
WHO = "benchmarks/relaxation_experiments.py"
"""The figures' "study id": these runs are no stored study."""

TRAIN_TIMED = 8
"""/train alone and the descent alone are timed on this many starts per method."""

FIGURE2 = {"inputs": [[1.0], [3.0]], "targets": [1, -1]}
XOR = {"inputs": [[-1, -1], [-1, 1], [1, -1], [1, 1]], "targets": [-1, 1, 1, -1], "bias": True}

RELAXATIONS: list[tuple[str, str, dict[str, Any]]] = [
    (
        "Figure 2 case",
        "relaxation_figure2.svg",
        {
            "kind": "relaxation", "name": "Figure 2 case, u = (1, 3), y = (1, −1)",
            "dataset": FIGURE2, "starts": 64, "init": 3, "steps": 100_000,
            "learning_rate": 0.1, "temperatures": [0.1, 0.25, 0.5, 1.0, 2.0],
            "cooling_time": 100,
        },
    ),
    (
        "XOR 2-2-1 tanh",
        "relaxation_xor.svg",
        {
            "kind": "relaxation", "name": "XOR, 2-2-1 tanh net with biases", "dataset": XOR,
            "network": {"hidden": [2]}, "starts": 32, "init": 1, "steps": 100_000,
            "learning_rate": 0.1, "temperatures": [0.05, 0.2, 0.5], "cooling_time": 100,
        },
    ),
]  # fmt: skip

EXTRAPOLATIONS: list[tuple[str, str | None, dict[str, Any]]] = [
    (
        "scalar example",
        "extrapolation.svg",
        {
            "kind": "extrapolation", "name": "the scalar example, four sigmoids",
            "base": {"dataset": {"inputs": [[1.0]], "targets": [1]}, "steps": 10_000,
                     "learning_rate": 0.1, "initial_weights": [0.0]},
            "grid": {"activation": ["tanh", "logistic", "arctan", "erf"]},
            "factors": [10, 100, 1000],
        },
    ),
    (
        "XOR 2-2-1 tanh",
        "extrapolation_xor.svg",
        {
            "kind": "extrapolation", "name": "XOR, 2-2-1 tanh net with biases",
            "base": {"dataset": XOR, "network": {"hidden": [2]}, "steps": 10_000,
                     "learning_rate": 0.1},
            "grid": {"seed": [0, 1, 2, 3]},
            "factors": [10, 100, 1000],
        },
    ),
    (
        "scalar example, T = 10⁵",
        None,
        {
            "kind": "extrapolation", "name": "the scalar example from a longer T",
            "base": {"dataset": {"inputs": [[1.0]], "targets": [1]}, "steps": 100_000,
                     "learning_rate": 0.1, "initial_weights": [0.0]},
            "grid": {"activation": ["tanh", "logistic"]},
            "factors": [10, 100, 1000],
        },
    ),
    (
        "XOR 2-2-1 tanh, T = 10⁵",
        None,
        {
            "kind": "extrapolation", "name": "XOR from a longer T",
            "base": {"dataset": XOR, "network": {"hidden": [2]}, "steps": 100_000,
                     "learning_rate": 0.1},
            "grid": {"seed": [0, 1]},
            "factors": [10, 100],
        },
    ),
]  # fmt: skip


def load() -> str:
    one, five, _ = os.getloadavg()
    return f"load average {one:.2f} (1 min), {five:.2f} (5 min) on {os.cpu_count()} cores"


# --- (a) relaxation ------------------------------------------------------------------------


def relaxation_experiment(
    body: dict[str, Any], budget: Budget
) -> tuple[Relaxation, dict[str, Any]]:
    """The relaxation study of ``body`` run here; its comparison and the facts to print."""
    request = RelaxationRequest.model_validate(body)
    base, axes = plan(request)
    temperatures, starts = axes["temperature"], axes["start"]
    count = len(starts)
    run_points(base, axes, [0], budget, relax=True)  # warm the kernel (not counted)
    # start by start, each method's run from it: the load falls on every method alike
    order = [t * count + k for k in range(count) for t in range(len(temperatures))]
    began = time.perf_counter()
    rows = sorted(run_points(base, axes, order, budget, relax=True), key=lambda r: r.index)
    wall = time.perf_counter() - began
    spec = request.model_dump(mode="json", exclude_unset=True)
    data = [(r.index, r.params, r.error, r.verdict, r.seconds, r.endpoint) for r in rows]
    compared = relaxation_of(base, spec, data)
    train_ms, descent_ms = {}, {}
    timed = range(min(TRAIN_TIMED, count))
    for t, temperature in enumerate(temperatures):
        specs = [training_spec(point(base, axes, t * count + k).request) for k in timed]
        began_train = time.perf_counter()
        for spec_k in specs:
            train(spec_k, budget)
        train_ms[temperature] = 1000.0 * (time.perf_counter() - began_train) / len(specs)
        descent_ms[temperature] = 1000.0 * descent_seconds(specs) / len(specs)
    facts = {
        "base": base,
        "axes": axes,
        "wall": wall,
        "failed": sum(r.failure is not None for r in rows),
        "train_ms": train_ms,
        "descent_ms": descent_ms,
        "request": request,
    }
    return compared, facts


def descent_seconds(specs: list[TrainingSpec]) -> float:
    """The descents of ``specs`` alone (the kernel's run, no analysis), in seconds."""
    models = [model_of(spec) for spec in specs]
    began = time.perf_counter()
    for spec, model in zip(specs, models, strict=True):
        assert spec.temperature is not None and spec.cooling_time is not None
        run_descent(
            model, method=spec.method, learning_rate=spec.learning_rate, stop=spec.stop,
            record_points=spec.record_points, initial=spec.initial_weights, seed=spec.seed,
            temperature=spec.temperature, cooling_time=spec.cooling_time,
        )  # fmt: skip
    return time.perf_counter() - began


def print_relaxation(title: str, compared: Relaxation, facts: dict[str, Any]) -> None:
    request: RelaxationRequest = facts["request"]
    m = len(facts["axes"]["start"][0]["initial_weights"])
    print(
        f"\n(a) {title}: K = {request.starts} starts in [−{request.init:g}, {request.init:g}]"
        f"^{m}, {request.steps} steps, η = {request.learning_rate:g}, τ = "
        f"{request.cooling_time:g}; {facts['wall']:.1f} s for all runs, "
        f"{facts['failed']} failed"
    )
    print(f"E* = {compared.global_error:.6g}, success when final E ≤ {compared.threshold:.6g}")
    header = (
        f"{'method':<16} {'succ':>6} {'rate':>5} {'95% interval':>14} {'E 10/50/90%':>26} "
        f"{'steps to E*':>11} {'ms/run':>7} {'train':>6} {'descent':>7} {'succ/s':>7}  verdicts"
    )
    print(header)
    for o in compared.methods:
        q = "/".join(f"{e:.3g}" for e in o.error_quantiles)
        steps = f"{o.mean_steps_to_global:.0f}" if o.mean_steps_to_global is not None else "—"
        verdicts = ", ".join(f"{v} {n}" for v, n in sorted(o.verdicts.items()))
        print(
            f"{o.method:<16} {o.successes:>3}/{o.runs:<2} {o.success_rate:>5.2f} "
            f"[{o.interval[0]:.2f}, {o.interval[1]:.2f}]{'':>2} {q:>26} {steps:>11} "
            f"{1000 * o.mean_seconds:>7.1f} {facts['train_ms'][o.temperature]:>6.1f} "
            f"{facts['descent_ms'][o.temperature]:>7.1f}  {verdicts}"
        )
    print(f"winner: {compared.winner or 'none'} — {compared.explanation}")


def relaxation_figure(compared: Relaxation, facts: dict[str, Any], path: Path) -> None:
    request: RelaxationRequest = facts["request"]
    starts = facts["axes"]["start"]
    snapshot = RelaxationSnapshot(
        study_id=WHO,
        name=request.name,
        status="done",
        relaxation=compared,
        total=len(starts) * len(facts["axes"]["temperature"]),
        setup=RelaxationSetup(
            starts=len(starts),
            weights=len(starts[0]["initial_weights"]),
            half_width=float(request.init or 0.5),
            steps=request.steps,
            learning_rate=request.learning_rate,
            cooling_time=request.cooling_time,
        ),
    )
    path.write_bytes(render_relaxation(snapshot, ImageFormat.SVG))
    print(f"wrote {path}")


# --- (b) the log rule ----------------------------------------------------------------------


def extrapolation_experiment(
    body: dict[str, Any], budget: Budget
) -> tuple[LogRuleAssessment, list[Row], dict[str, Any], dict[str, list[Any]], float]:
    """The extrapolation study of ``body`` run here: its assessment and rows."""
    request = ExtrapolationRequest.model_validate(body)
    axes = expand(request, max_points=10_000, axis_limit=10_000)
    base = request.base.model_dump(mode="json", exclude_unset=True)
    total = 1
    for values in axes.values():
        total *= len(values)
    began = time.perf_counter()
    rows = run_points(base, axes, list(range(total)), budget, factors=request.factors)
    wall = time.perf_counter() - began
    return assessment_of(base, request.factors, rows), rows, base, axes, wall


def print_extrapolation(
    title: str, assessment: LogRuleAssessment, rows: list[Row], base: dict[str, Any], wall: float
) -> None:
    factors = assessment.factors
    print(f"\n(b) {title}: T = {base['steps']} steps, factors {list(factors)}; {wall:.1f} s")
    cols = " ".join(f"{'c=' + format(c, 'g'):>9}" for c in factors)
    width = 10 * len(factors) - 1
    print(f"{'':<39} {'‖ŵ − w‖/‖w‖ at c·T':<{width}} | {'|Ê − E|/E at c·T':<{width}}")
    print(f"{'point':<22} {'verdict at T':<16} {cols} | {cols}")
    for row, activation in zip(rows, activations_of(base, rows), strict=True):
        label = f"{activation} {row.params}" if "seed" in row.params else activation
        if row.extrapolation is None:
            print(f"{label:<22} failed: {row.failure}")
            continue
        check = check_of(row.extrapolation)
        if not check.applicable:
            print(f"{label:<22} {check.verdict.value:<16} (not logarithmic: no prediction)")
            continue
        weights = " ".join(_percent(c.weight_error) for c in check.comparisons)
        errors = " ".join(_percent(c.error_relative) for c in check.comparisons)
        print(f"{label:<22} {check.verdict.value:<16} {weights} | {errors}")
    for name, group in assessment.activations.items():
        print(f"  {name}: {group.fit.value} — {group.explanation}")


def _percent(value: float | None) -> str:
    return f"{'—':>9}" if value is None else f"{100 * value:>8.3f}%"


def extrapolation_figure(
    body: dict[str, Any],
    assessment: LogRuleAssessment,
    rows: list[Row],
    base: dict[str, Any],
    axes: dict[str, list[Any]],
    path: Path,
) -> None:
    tested = [r for r in rows if r.extrapolation and r.weights]
    snapshot = ExtrapolationSnapshot(
        study_id=WHO,
        name=body["name"],
        status="done",
        base=TRAIN_REQUEST.validate_python(base),
        axes=axes,
        points=[
            ExtrapolationPoint(
                index=r.index,
                activation=activation,
                weights=r.weights or [],
                check=check_of(r.extrapolation or {}),
            )
            for r, activation in zip(tested, activations_of(base, tested), strict=True)
        ],
        assessment=assessment,
        total=len(rows),
    )
    path.write_bytes(render_extrapolation(snapshot, ImageFormat.SVG))
    print(f"wrote {path}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--no-figures", action="store_true", help="print the tables only")
    args = parser.parse_args()
    budget = Budget()
    began = time.perf_counter()
    print(f"start: {load()} (the machine may be shared: seconds move with the load)")
    for title, figure, body in RELAXATIONS:
        compared, facts = relaxation_experiment(body, budget)
        print_relaxation(title, compared, facts)
        if not args.no_figures:
            relaxation_figure(compared, facts, DOCS / figure)
    for title, name, body in EXTRAPOLATIONS:
        assessment, rows, base, axes, wall = extrapolation_experiment(body, budget)
        print_extrapolation(title, assessment, rows, base, wall)
        if name is not None and not args.no_figures:
            extrapolation_figure(body, assessment, rows, base, axes, DOCS / name)
    print(f"\nend: {load()}; {time.perf_counter() - began:.0f} s in all")


if __name__ == "__main__":
    main()
