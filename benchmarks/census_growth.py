"""How many minima, as the data grow: censuses of random data against a "geometric" task
(issue 19, item 5); print the table and draw docs/census_growth.svg.

    .venv/bin/python benchmarks/census_growth.py            # everything (a few minutes, 2 cores)
    .venv/bin/python benchmarks/census_growth.py --quick    # n = 4, 8, 16, one seed, no nets

Sontag (1988) closes with two questions this experiment puts to the census
(:func:`service.core.census.census`, in this process, no server): how many local minima may
appear, and do practical, "geometric" tasks have a simpler structure?

The model is the perceptron with 2 inputs and a bias (m = 3), tanh. For each n in
``--n`` (4, 8, 16, 32, 64) and each seed in ``--seeds`` (0, 1, 2), two tasks:

* **random**: n points uniform in [−1, 1]², each labelled ±1 at random;
* **geometric**: n points in two Gaussian clusters (sd 0.3) centred at ±1.5·(1, 1)/√2, so
  3 apart, labelled by their cluster (alternately, so half and half).

Each census has K = ``--starts`` (128) scrambled-Sobol starts over [−3, 3]³, and each run is
the gradient flow ẇ = −α·∇E with α = 1/‖B‖_F² (B's rows y_i·(x_i, 1): every n then has the
same time in units of the data) to t = 10⁷; a run that ends ``undetermined`` is run once more
to 10⁸ (the census's own rule: 10× longer). The flow, not gd: with gd at η = 0.5/‖B‖_F²
(stable: (1 − tanh z)² has second derivative at most 2.47, so gd is stable below
0.81/‖B‖_F²) and 10⁵ steps, every one of the 128 runs of the random task at n = 16 (seed 0)
stayed ``undetermined``, even after the census's rerun at 10⁶ steps — on data that are not
separable the runs still go to infinity, E falling to its limit (8 there: two examples wrong)
ever more slowly — while the flow (LSODA, adaptive steps) reaches t = 10⁷ in a tenth of a
second a run and decides them all. ``--gd`` runs the gd variant (10⁵ steps, η = 0.5/‖B‖_F²,
the rerun capped at 10× the steps by the budget's work per run) for comparison.

Then, unless ``--no-nets``: 2-h-1 tanh nets with biases on the random data of n = 8 (seeds
as above), h = 1, 2, 3 (m = 5, 9, 13), K = ``--net-starts`` (64) starts over [−3, 3]^m, the
same flow (gd: η = 0.02, as 0.05 left some runs ``unstable`` in a trial), the perceptron on
the same data as h = 0.

For each census the table gives: whether the data are linearly separable (with the bias; an
LP), the distinct minima, finite and at infinity, the finite ones the census calls
``degenerate`` (Hessian only semidefinite: those seen here were runs judged converging on
their way to a minimum at infinity, E ≈ 0 and ∇²E ≈ 0), the minima hit by one run (f1) and by
two or more, saddles met, Chao1's estimated total with its 95% interval, Good–Turing
coverage, the unresolved runs, the lowest error found, and the wall seconds; ``rate`` is α
(the flow) or η (gd). The censuses run in ``--workers`` processes (largest first).
"""

from __future__ import annotations

import argparse
import math
import multiprocessing
import os
import statistics
import time
from collections.abc import Iterable
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
from scipy.optimize import linprog

from service.core.census import census
from service.core.engine.warmup import warm_up
from service.schemas.studies import CensusRequest
from service.schemas.train import TRAIN_REQUEST
from service.settings import Settings
from service.specs import training_spec
from service.studies.census import plan
from service.vocabulary import EndpointLocation

ROOT = Path(__file__).resolve().parents[1]
FIGURE = ROOT / "docs" / "census_growth.svg"

HALF_WIDTH = 3.0
T_MAX = 1e7
"""The flow's time, with α = 1/‖B‖_F²."""
STEPS = 100_000
ETA_SCALE = 0.5
"""gd (``--gd``): η = ETA_SCALE/‖B‖_F² for the perceptron (stable below 0.81/‖B‖_F²)."""
NET_ETA = 0.02
"""gd (``--gd``): η of the nets."""
NET_N = 8
EXTENSION = 10
"""gd (``--gd``): the budget's work per run, in units of the first run's, so an undetermined
run's second, longer run is at most this long (the flow's rerun is 10× t_max in any case)."""
CENTRE = 1.5 * np.array([1.0, 1.0]) / math.sqrt(2.0)
SPREAD = 0.3


# --- the tasks


def random_task(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng([seed, n, 0])
    return rng.uniform(-1.0, 1.0, (n, 2)), rng.choice(np.array([-1, 1]), n)


def geometric_task(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng([seed, n, 1])
    y = np.where(np.arange(n) % 2 == 0, 1, -1)
    return y[:, None] * CENTRE + rng.normal(0.0, SPREAD, (n, 2)), y


TASKS = {"random": random_task, "geometric": geometric_task}


def separable(x: np.ndarray, y: np.ndarray) -> bool:
    """Whether some (w, b) has y_i·(w·x_i + b) ≥ 1 for every i (an LP)."""
    rows = y[:, None] * np.hstack([x, np.ones((len(y), 1))])
    found = linprog(
        np.zeros(3), A_ub=-rows, b_ub=-np.ones(len(y)), bounds=[(None, None)] * 3, method="highs"
    )
    return bool(found.status == 0)


# --- one census


@dataclass(frozen=True, slots=True)
class Job:
    task: str
    n: int
    seed: int
    hidden: int = 0
    starts: int = 128
    gd: bool = False


@dataclass(frozen=True, slots=True)
class Outcome:
    job: Job
    m: int
    eta: float
    separable: bool
    distinct: int
    finite: int
    infinity: int
    degenerate: int
    singletons: int
    saddles: int
    estimated: float
    interval: tuple[float, float]
    coverage: float
    unresolved: int
    reasons: dict[str, int]
    lowest: float
    errors: list[tuple[str, float, int]]
    seconds: float
    cpu: float


def run_job(job: Job) -> Outcome:
    """The census of ``job`` in this process."""
    x, y = TASKS[job.task](job.n, job.seed)
    scale = float(np.sum(np.hstack([x, np.ones((job.n, 1))]) ** 2))  # ‖B‖_F²
    body: dict[str, Any] = {
        "kind": "census",
        "dataset": {"inputs": x.tolist(), "targets": y.tolist(), "bias": True},
        "network": {"hidden": [job.hidden] if job.hidden else []},
        "starts": job.starts,
        "init": HALF_WIDTH,
        "seed": job.seed,
    }
    if job.gd:
        eta = NET_ETA if job.hidden else ETA_SCALE / scale
        body |= {"method": "gd", "steps": STEPS, "learning_rate": eta}
    else:
        eta = 1.0 / scale
        body |= {"method": "flow", "t_max": T_MAX, "learning_rate": eta}
    base, axes = plan(CensusRequest.model_validate(body))
    spec = training_spec(TRAIN_REQUEST.validate_python(base))
    starts = np.asarray(axes["initial_weights"], dtype=np.float64)
    m = starts.shape[1]
    budget = Settings().budget()
    if job.gd:
        budget = replace(budget, max_work=EXTENSION * STEPS * job.n * m)
    t0, c0 = time.perf_counter(), time.process_time()
    found = census(spec, starts, budget)
    seconds, cpu = time.perf_counter() - t0, time.process_time() - c0
    finite = [q for q in found.minima if q.location is EndpointLocation.FINITE]
    return Outcome(
        job=job,
        m=m,
        eta=eta,
        separable=separable(x, y),
        distinct=found.distinct,
        finite=len(finite),
        infinity=found.distinct - len(finite),
        degenerate=sum(bool(q.degenerate) for q in finite),
        singletons=found.singletons,
        saddles=len(found.saddles),
        estimated=found.estimated_total,
        interval=found.estimated_interval,
        coverage=found.coverage,
        unresolved=found.unresolved,
        reasons=dict(found.unresolved_reasons),
        lowest=found.minima[0].error if found.minima else math.nan,
        errors=[(q.location.value, q.error, q.hits) for q in found.minima],
        seconds=seconds,
        cpu=cpu,
    )


def run_all(jobs: list[Job], workers: int) -> list[Outcome]:
    """Every job, in ``workers`` processes (each with a warm kernel), largest first."""
    order = sorted(jobs, key=lambda j: (-j.hidden, -j.n * j.starts))
    context = multiprocessing.get_context("spawn")
    out: list[Outcome] = []
    with ProcessPoolExecutor(workers, mp_context=context, initializer=warm_up) as pool:
        futures = [pool.submit(run_job, job) for job in order]
        for k, future in enumerate(as_completed(futures)):
            outcome = future.result()
            out.append(outcome)
            j = outcome.job
            print(
                f"  [{k + 1:>2}/{len(jobs)}] {j.task} n = {j.n} seed {j.seed} h = {j.hidden}: "
                f"{outcome.distinct} minima, {outcome.unresolved} unresolved, "
                f"{outcome.seconds:.1f} s",
                flush=True,
            )
    return out


# --- the report


def reasons_text(reasons: dict[str, int]) -> str:
    return ", ".join(f"{why.removeprefix('verdict ')} {k}" for why, k in reasons.items())


def minima_text(o: Outcome) -> str:
    return ", ".join(f"{loc[:3]} {e:.3g} x{hits}" for loc, e, hits in o.errors)


def print_table(outcomes: Iterable[Outcome], nets: bool = False) -> None:
    first = "h" if nets else "n"
    print(
        f"{'task':<9} {first:>3} {'seed':>4} {'m':>2} {'rate':>7} {'sep':>3} {'minima':>6} "
        f"{'fin':>3} {'inf':>3} {'deg':>3} {'f1':>3} {'>=2':>3} {'sad':>3} {'Chao1 (95%)':>19} "
        f"{'cover':>5} "
        f"{'unres':>5} {'lowest E':>9} {'s':>6}"
    )
    for o in outcomes:
        j = o.job
        lo, hi = o.interval
        chao = f"{o.estimated:.1f} ({lo:.1f}-{hi:.1f})"
        print(
            f"{j.task:<9} {(j.hidden if nets else j.n):>3} {j.seed:>4} {o.m:>2} {o.eta:7.4f} "
            f"{'yes' if o.separable else 'no':>3} {o.distinct:>6} {o.finite:>3} {o.infinity:>3} "
            f"{o.degenerate:>3} {o.singletons:>3} {o.distinct - o.singletons:>3} {o.saddles:>3} "
            f"{chao:>19} {o.coverage:5.2f} {o.unresolved:>5} "
            f"{o.lowest:9.3g} {o.seconds:6.1f}"
            + (f"  ({reasons_text(o.reasons)})" if o.reasons else "")
        )


def spread(group: list[Outcome]) -> tuple[float, int, int, float]:
    """Median, min and max of the distinct minima over ``group``, and Chao1's median."""
    d = [o.distinct for o in group]
    return statistics.median(d), min(d), max(d), statistics.median(o.estimated for o in group)


def print_medians(groups: dict[tuple[str, int], list[Outcome]], axis: str) -> None:
    print(
        f"\n{'task':<9} {axis:>3} {'minima: median [min-max]':>25} {'Chao1 median':>12} "
        f"{'separable':>9} {'unresolved':>12}"
    )
    for (task, x), group in groups.items():
        med, lo, hi, chao = spread(group)
        print(
            f"{task:<9} {x:>3} {f'{med:g} [{lo}-{hi}]':>25} {chao:12.1f} "
            f"{sum(o.separable for o in group):>4} of {len(group)} "
            f"{sum(o.unresolved for o in group):>5} of {sum(o.job.starts for o in group)}"
        )


def grouped(outcomes: list[Outcome], nets: bool = False) -> dict[tuple[str, int], list[Outcome]]:
    """The outcomes by (task, n), or by (task, h) for the nets, in order."""
    out: dict[tuple[str, int], list[Outcome]] = {}
    for o in outcomes:
        out.setdefault((o.job.task, o.job.hidden if nets else o.job.n), []).append(o)
    return dict(sorted(out.items(), key=lambda kv: (list(TASKS).index(kv[0][0]), kv[0][1])))


def _curve(
    ax: Any,
    groups: dict[tuple[str, int], list[Outcome]],
    task: str,
    colour: str,
    shift: float = 1.0,
) -> float:
    """Median distinct minima with min-max bars, Chao1's median dashed, and the median of
    those hit by two runs or more dotted, at x·``shift`` (so that two tasks' bars do not
    hide each other); the highest value drawn."""
    rows = [(x, *spread(g)) for (t, x), g in groups.items() if t == task]
    if not rows:
        return 0.0
    xs = [r[0] * shift for r in rows]
    med = [r[1] for r in rows]
    bars = [[r[1] - r[2] for r in rows], [r[3] - r[1] for r in rows]]
    ax.errorbar(xs, med, yerr=bars, color=colour, marker="o", capsize=3,
                label=f"{task}: distinct minima found")  # fmt: skip
    ax.plot(xs, [r[4] for r in rows], color=colour, linestyle="--", label=f"{task}: Chao1")
    twice = [statistics.median(o.distinct - o.singletons for o in g)
             for (t, _), g in groups.items() if t == task]  # fmt: skip
    ax.plot(xs, twice, color=colour, linestyle=":", marker=".",
            label=f"{task}: hit by 2 runs or more")  # fmt: skip
    return max(max(r[3], r[4]) for r in rows)


def draw(
    groups: dict[tuple[str, int], list[Outcome]],
    net_groups: dict[tuple[str, int], list[Outcome]],
    title: str,
    path: Path,
) -> None:
    """Distinct minima against n (median over seeds, min-max bars; Chao1 dashed; those hit by
    two runs or more dotted), and the nets' against h when there are any."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    matplotlib.rcParams["svg.hashsalt"] = "census_growth"  # deterministic SVG ids
    panels = 2 if net_groups else 1
    figure, axes = plt.subplots(1, panels, figsize=(5.4 * panels + 0.4, 4.4), squeeze=False)
    ax = axes[0][0]
    top = max(
        _curve(ax, groups, "random", "tab:red", 1 / 1.04),
        _curve(ax, groups, "geometric", "tab:blue", 1.04),
    )
    ns = sorted({x for _, x in groups})
    ax.set_xscale("log", base=2)
    ax.set_xticks(ns, [str(n) for n in ns])
    ax.minorticks_off()
    ax.set_xlabel("n, examples (perceptron, 2 inputs + bias: m = 3)")
    ax.set_ylabel("minima (median over seeds, min-max bars)")
    ax.set_ylim(0, 1.5 * top + 0.5)
    ax.set_title("Against n: random labels vs two clusters", fontsize=10)
    ax.legend(fontsize=7, ncol=2, loc="upper center")
    ax.grid(alpha=0.3)
    if net_groups:
        ax = axes[0][1]
        top = _curve(ax, net_groups, "random", "tab:green")
        hs = sorted({h for _, h in net_groups})
        ax.set_xticks(hs, ["0\n(perceptron)" if h == 0 else str(h) for h in hs])
        ax.set_xlabel(f"h, hidden units (2-h-1 tanh nets with biases, random data, n = {NET_N})")
        ax.set_ylabel("minima (median over seeds, min-max bars)")
        ax.set_ylim(0, 1.35 * top + 0.5)
        ax.set_title("Against the hidden layer's width", fontsize=10)
        ax.legend(fontsize=7, loc="upper right")
        ax.grid(alpha=0.3)
    figure.suptitle(title, fontsize=10)
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, format="svg", metadata={"Date": None})
    plt.close(figure)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="n = 4, 8, 16, one seed, no nets")
    parser.add_argument("--n", type=int, nargs="+", default=[4, 8, 16, 32, 64])
    parser.add_argument("--seeds", type=int, default=3, help="seeds per n [%(default)s]")
    parser.add_argument("--starts", type=int, default=128, help="K, perceptron [%(default)s]")
    parser.add_argument("--net-starts", type=int, default=64, help="K, nets [%(default)s]")
    parser.add_argument("--no-nets", dest="nets", action="store_false", help="skip the nets")
    parser.add_argument("--gd", action="store_true", help="gd for 10^5 steps, not the flow")
    parser.add_argument("--workers", type=int, default=2, help="processes [%(default)s]")
    parser.add_argument("--figure", type=Path, default=FIGURE, help="[%(default)s]")
    args = parser.parse_args()
    ns = [4, 8, 16] if args.quick else sorted(args.n)
    seeds = range(1 if args.quick else args.seeds)
    nets = args.nets and not args.quick
    jobs = [
        Job(task, n, seed, 0, args.starts, args.gd) for task in TASKS for n in ns for seed in seeds
    ]
    if nets:
        jobs += [Job("random", NET_N, seed, h, args.net_starts, args.gd)
                 for h in (1, 2, 3) for seed in seeds]  # fmt: skip
    if args.gd:
        how = (
            f"gd, {STEPS} steps at eta = {ETA_SCALE}/|B|_F^2 (nets {NET_ETA}), an undetermined "
            f"run rerun at most {EXTENSION}x longer"
        )
    else:
        how = (
            f"the flow with alpha = 1/|B|_F^2 to t = {T_MAX:.0e}, an undetermined run rerun to "
            f"{10 * T_MAX:.0e}"
        )
    print(
        f"learndyn census growth; {os.cpu_count()} CPUs, {args.workers} processes; load average "
        f"{os.getloadavg()[0]:.1f} (the machine may be shared: the seconds are noisy)"
    )
    print(f"{len(jobs)} censuses, starts over [-{HALF_WIDTH:g}, {HALF_WIDTH:g}]^m; {how}")
    t0 = time.perf_counter()
    done = run_all(jobs, args.workers)
    wall = time.perf_counter() - t0

    def key(o: Outcome) -> tuple[int, int, int, int]:
        return (list(TASKS).index(o.job.task), o.job.hidden, o.job.n, o.job.seed)

    perceptrons = sorted((o for o in done if o.job.hidden == 0), key=key)
    print(f"\nperceptron, 2 inputs + bias (m = 3), K = {args.starts}")
    print_table(perceptrons)
    groups = grouped(perceptrons)
    print_medians(groups, "n")
    print("\nthe perceptron censuses with more than one minimum (location, error, hits):")
    for o in perceptrons:
        if o.distinct > 1:
            print(f"  {o.job.task} n = {o.job.n} seed {o.job.seed}: {minima_text(o)}")
    net_groups: dict[tuple[str, int], list[Outcome]] = {}
    if nets:
        same = [o for o in perceptrons if o.job.task == "random" and o.job.n == NET_N]
        net_rows = same + sorted((o for o in done if o.job.hidden), key=key)
        print(
            f"\n2-h-1 tanh nets with biases, random data n = {NET_N}, K = {args.net_starts} "
            f"(h = 0: the perceptron above, K = {args.starts})"
        )
        print_table(net_rows, nets=True)
        net_groups = grouped(net_rows, nets=True)
        print_medians(net_groups, "h")
        print("\nthe nets' minima (location, error, hits):")
        for o in net_rows:
            if o.job.hidden:
                print(f"  h = {o.job.hidden} seed {o.job.seed}: {minima_text(o)}")
    box = f"$[-{HALF_WIDTH:g}, {HALF_WIDTH:g}]^m$"
    how = (
        rf"gd, {STEPS} steps, $\eta = {ETA_SCALE:g}/\|B\|_F^2$ (nets {NET_ETA:g})"
        if args.gd
        else rf"gradient flow to $t = 10^{{{math.log10(T_MAX):.0f}}}$, $\alpha = 1/\|B\|_F^2$"
    )
    nets_k = f" (nets {args.net_starts})" if nets else ""
    title = f"Census of minima: tanh, K = {args.starts} starts{nets_k} over {box},\n{how}"
    draw(groups, net_groups, title, args.figure)
    cpu = sum(o.cpu for o in done)
    shown = args.figure.relative_to(ROOT) if args.figure.is_relative_to(ROOT) else args.figure
    print(
        f"\n{len(done)} censuses in {wall:.0f} s wall ({cpu:.0f} s of CPU in the censuses); "
        f"figure: {shown}"
    )


if __name__ == "__main__":  # the worker processes start with spawn: keep main guarded
    main()
