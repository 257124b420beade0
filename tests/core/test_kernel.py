"""The compiled kernel against the numpy reference loop, and the kernel's cache.

The oracle (``tests/core/oracle.py``: ``reference_descent``, a plain numpy loop written
apart from the service): the compiled kernel must give the same numbers to 1e-12 relative
and stop for the same reason at the same step. Differences are rounding only (the kernel
sums in its own order and uses exp(−2|z|) where the reference uses exp(2z)), so the
tolerances are:
weights, error, gradient norm 1e-12 relative; ``t_delta = t·(x_{t+1} − x_t)`` and the last
step are differences of two iterates, each good to 1e-12 relative, so their absolute
tolerance is 2e-12·t·max|x| (2e-12·max|x| for the last step).
"""

from __future__ import annotations

import math
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import mpmath
import numpy as np
import pytest

from service.core.engine import descent, kernel, perceptron_kernel
from service.core.engine.descent import run_descent
from service.core.engine.run import RunResult, StopRules, draw_orders
from service.core.model.activations import get_activation
from service.core.model.problem import PerceptronProblem, build_problem
from service.vocabulary import Method, Order, StopReason
from tests.core.oracle import reference_descent

ACTIVATIONS = ["tanh", "logistic", "arctan", "erf"]
METHODS = [(Method.GD, Order.GIVEN), (Method.ONLINE, Order.GIVEN), (Method.ONLINE, Order.SHUFFLED)]
RTOL = 1e-12


def random_problem(name: str, n: int, m: int, *, bias: bool, seed: int) -> PerceptronProblem:
    rng = np.random.default_rng(seed)
    inputs = rng.normal(size=(n, m))
    targets = np.where(rng.random(n) < 0.5, 1, -1)
    return build_problem(inputs.tolist(), targets.tolist(), get_activation(name), bias=bias)


def both(problem: PerceptronProblem, **kw: Any) -> tuple[RunResult, RunResult, PerceptronProblem]:
    steps = kw.pop("steps")
    stop = StopRules(steps=steps, **{k: kw.pop(k) for k in list(kw) if k in StopRules.__slots__})
    kw.setdefault("method", Method.GD)
    kw.setdefault("learning_rate", 0.1)
    kw.setdefault("record_points", 40)
    got = run_descent(problem, stop=stop, **kw)
    return got, reference_descent(problem, stop=stop, **kw), problem


def assert_same(got: RunResult, want: RunResult, problem: PerceptronProblem) -> None:
    assert (got.stopped_by, got.steps) == (want.stopped_by, want.steps)
    scale = float(np.max(np.abs(want.trajectory.weights), initial=0.0))
    np.testing.assert_allclose(got.weights, want.weights, rtol=RTOL, atol=RTOL * scale)
    assert got.error == pytest.approx(want.error, rel=RTOL, abs=1e-300)
    # ∇E = −2·Σ_i B_i·(1 − θ)θ' cancels near a minimum: its error is relative to the terms,
    # each at most 2·|B_i|·2.26 (the largest |(1 − θ)θ'|, erf's)
    terms = 2 * 2.26 * float(np.abs(problem.B).max()) * problem.B.size
    assert got.gradient_norm == pytest.approx(want.gradient_norm, rel=RTOL, abs=RTOL * terms)
    assert got.accuracy == want.accuracy
    if math.isnan(want.last_step):
        assert math.isnan(got.last_step)
    else:
        assert got.last_step == pytest.approx(want.last_step, abs=2 * RTOL * scale)
    h, r = got.trajectory, want.trajectory
    np.testing.assert_array_equal(h.t, r.t)
    np.testing.assert_allclose(h.error, r.error, rtol=RTOL, atol=1e-300)
    np.testing.assert_allclose(h.weights, r.weights, rtol=RTOL, atol=RTOL * scale)
    np.testing.assert_array_equal(np.isnan(h.t_delta), np.isnan(r.t_delta))
    atol = 2 * RTOL * scale * np.maximum(r.t, 1.0)[:, None]
    ok = ~np.isnan(r.t_delta)
    assert np.all(np.abs(h.t_delta - r.t_delta)[ok] <= np.broadcast_to(atol, ok.shape)[ok])


@pytest.mark.parametrize("bias", [False, True])
@pytest.mark.parametrize(("method", "order"), METHODS)
@pytest.mark.parametrize("name", ACTIVATIONS)
def test_compiled_equals_reference(name: str, method: Method, order: Order, bias: bool) -> None:
    problem = random_problem(name, 6, 3, bias=bias, seed=ACTIVATIONS.index(name))
    got, want, _ = both(problem, steps=600, method=method, order=order, seed=5, learning_rate=0.3)
    assert want.stopped_by is StopReason.STEPS and want.steps == 600
    assert_same(got, want, problem)


@pytest.fixture(params=["row loop", "blocked"])
def gd_path(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Run the test's gd runs through the plain row loop, then through the blocked evaluation
    (online passes never use blocks, so for them both give the same run)."""
    threshold = 10**18 if request.param == "row loop" else 0
    monkeypatch.setattr(descent, "BLOCKED_THRESHOLD", threshold)
    return str(request.param)


@pytest.mark.parametrize("name", ACTIVATIONS)
def test_blocked_path_equals_reference(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    # every activation through the blocks on a small problem (one block, row tail of 3),
    # then problems above the threshold: 80 rows (a full block and a partial one) and
    # 131 rows (two full blocks and a tail of 3 that the 4-row passes leave over)
    monkeypatch.setattr(descent, "BLOCKED_THRESHOLD", 0)
    problem = random_problem(name, 7, 2, bias=True, seed=11)
    assert_same(*both(problem, steps=300, seed=2, learning_rate=0.5))
    monkeypatch.undo()
    # (η = 0.01 on the 131-row set oscillates and amplifies rounding beyond 1e-12 on either
    # path; 0.003 keeps the run well conditioned)
    for n, m, seed, eta in ((80, 25, 12, 0.01), (131, 13, 14, 0.003)):
        big = random_problem(name, n, m, bias=False, seed=seed)
        assert big.n * big.m > descent.BLOCKED_THRESHOLD
        assert_same(*both(big, steps=40, seed=3, learning_rate=eta))


def test_loops_on_a_problem_above_the_blocked_threshold(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(descent, "BLOCKED_THRESHOLD", 10**12)
    problem = random_problem("tanh", 80, 25, bias=True, seed=13)
    assert_same(*both(problem, steps=40, seed=3, learning_rate=0.01))


def ulps_from(value: float, exact: mpmath.mpf) -> float:
    """|value − exact| in units in the last place of ``exact`` (subnormal spacing below the
    smallest normal float)."""
    if exact < mpmath.mpf(sys.float_info.min):
        spacing = mpmath.mpf(5e-324)
    else:
        spacing = mpmath.mpf(2) ** (mpmath.floor(mpmath.log(exact, 2)) - 52)
    return float(abs(mpmath.mpf(value) - exact) / spacing)


def kernel_exp(a: Any) -> Any:
    a = np.asarray(a, dtype=np.float64)
    out = np.empty_like(a)
    perceptron_kernel.exp_nonpositive(a, out, np.empty((2, a.size), dtype=np.int64))
    return out


def test_vectorizable_exp_is_within_1_1_ulp_of_mpmath() -> None:
    # the kernel's own exp for the blocked tanh/logistic residuals, on (−∞, 0]: uniform over
    # the whole range (subnormal results below −708.4 included), near 0, and edge points
    rng = np.random.default_rng(3)
    a = np.concatenate([
        -rng.random(4000) * 746.0, -rng.random(2000) * 40.0, -rng.random(500) * 1e-6,
        [-1e-300, -0.5 * math.log(2.0), -708.3964185322641, -708.4, -709.8, -744.44],
    ])  # fmt: skip
    out = kernel_exp(a)
    with mpmath.workdps(40):
        worst = max(
            ulps_from(float(o), mpmath.exp(mpmath.mpf(float(x))))
            for x, o in zip(a, out, strict=True)
        )
    assert worst <= 1.1
    # exp(±0) = 1; exp(−745.133…) is just above 2^−1075, so it rounds to the least subnormal;
    # below 2^−1075 (−745.2, the clamp at −746, −1e308, −∞) everything rounds to 0
    edges = kernel_exp([-0.0, 0.0, -745.1332191019411, -745.2, -746.0, -1e308, -math.inf])
    np.testing.assert_array_equal(edges, [1.0, 1.0, 5e-324, 0.0, 0.0, 0.0, 0.0])


@pytest.mark.parametrize("name", ["tanh", "logistic"])
def test_blocked_residuals_against_mpmath(name: str) -> None:
    # v = (1 − θ)·θ' and Σ (1 − θ)² of a block, z from −40 to 400 (the complement of tanh is
    # subnormal from z ≈ 354, of logistic from z ≈ 708 on: there only an absolute bound holds)
    z = np.concatenate([np.linspace(-40.0, 40.0, 161), np.geomspace(40.0, 400.0, 60)])
    z = z[: 3 * perceptron_kernel.BLOCK_ROWS - 5]  # two full blocks, a partial one
    v = np.full_like(z, np.nan)
    work = np.empty(perceptron_kernel.BLOCK_ROWS)
    bits = np.empty((2, perceptron_kernel.BLOCK_ROWS), dtype=np.int64)
    code = get_activation(name).code
    errors = [
        perceptron_kernel._block_residuals(
            code, z, v, i0, min(z.size, i0 + perceptron_kernel.BLOCK_ROWS), work, bits
        )
        for i0 in range(0, z.size, perceptron_kernel.BLOCK_ROWS)
    ]
    with mpmath.workdps(50):

        def complement(x: float) -> mpmath.mpf:  # 1 − θ(x), and θ' = (1 − θ)(1 + θ)·scale
            return 2 / (1 + mpmath.exp(2 * x)) if name == "tanh" else 2 / (1 + mpmath.exp(x))

        half = 1 if name == "tanh" else mpmath.mpf(0.5)
        want_v = [complement(x) * complement(x) * (2 - complement(x)) * half for x in z]
        want_sq = [complement(x) ** 2 for x in z]
        # v = c·(h·c·(2 − c)) from e = exp(−s|z|) (≤ 1.1 ulp), c = e·2/(1 + e) (≤ 3.2 ulp),
        # 2 − c = 2/(1 + e) (≤ 1.6 ulp) and three products: at most 2·3.2 + 1.6 + 1.5 ≈ 9.5
        for got, want in zip(v, want_v, strict=True):
            if want > mpmath.mpf(1e-300):
                assert ulps_from(float(got), want) <= 9.5
            else:
                assert abs(mpmath.mpf(float(got)) - want) <= mpmath.mpf(1e-300)
        for i0, err in zip(range(0, z.size, perceptron_kernel.BLOCK_ROWS), errors, strict=True):
            want = mpmath.fsum(want_sq[i0 : i0 + perceptron_kernel.BLOCK_ROWS])
            assert abs(err - want) <= 1e-14 * want


@pytest.mark.parametrize(("method", "order"), METHODS)
def test_small_chunks_change_nothing(
    method: Method, order: Order, monkeypatch: pytest.MonkeyPatch
) -> None:
    # 7 steps per kernel call: the state, the schedule index and the shuffled orders must
    # carry across calls, bit for bit
    problem = random_problem("logistic", 5, 2, bias=True, seed=21)
    kw: dict[str, Any] = {"method": method, "order": order, "seed": 9, "learning_rate": 0.4}
    whole, _, _ = both(problem, steps=500, **kw)
    monkeypatch.setattr(descent, "CHUNK_WORK", 7 * problem.n * problem.m)
    assert descent.chunk_steps(problem.n * problem.m, problem.n, order is Order.SHUFFLED) == 7
    chunked, want, _ = both(problem, steps=500, **kw)
    assert_same(chunked, want, problem)
    np.testing.assert_array_equal(chunked.weights, whole.weights)
    np.testing.assert_array_equal(chunked.trajectory.t_delta, whole.trajectory.t_delta)


# A separable problem whose weights grow like log t: every rule fires mid-run.
SEPARABLE = ([[1.0, 0.5], [0.3, -1.0], [-0.8, -0.2]], [1, -1, -1])


def separable(name: str) -> PerceptronProblem:
    return build_problem(*SEPARABLE, get_activation(name), bias=True)


RULES: list[dict[str, Any]] = [
    {"weight_bound": 1.5},
    {"error_tolerance": 0.05},
    {"step_tolerance": 2e-3},
    {"on_classification": True},
    {"weight_bound": 1.5, "error_tolerance": 0.05, "step_tolerance": 2e-3},
]


@pytest.mark.parametrize("rule", RULES, ids=lambda r: "+".join(r))
@pytest.mark.parametrize(("method", "order"), METHODS)
@pytest.mark.parametrize("name", ["tanh", "arctan"])
def test_stop_rules_fire_at_the_same_step(
    name: str, method: Method, order: Order, rule: dict[str, Any], gd_path: str
) -> None:
    # start misclassified so that the classification rule has to wait
    problem = separable(name)
    got, want, _ = both(
        problem,
        steps=3000,
        method=method,
        order=order,
        seed=1,
        learning_rate=0.5,
        initial=[-0.2, 0.3, 0.1],
        **rule,
    )
    assert want.stopped_by is not StopReason.STEPS and 0 < want.steps < 3000
    assert_same(got, want, problem)


def test_precedence_when_rules_fire_together(gd_path: str) -> None:
    # at x0 = (0, 3, 0) the margins B·x0 = (1.5, 3, 0.6) are all positive, max|x0| = 3 and
    # E(x0) < 1: error tolerance beats classification beats the weight bound, at t = 0
    problem = separable("tanh")
    x0 = [0.0, 3.0, 0.0]
    np.testing.assert_allclose(problem.B @ x0, [1.5, 3.0, 0.6], rtol=1e-15)
    rules: dict[str, Any] = {"error_tolerance": 1.0, "on_classification": True}
    for expected in (StopReason.ERROR_TOLERANCE, StopReason.CLASSIFIED, StopReason.WEIGHT_BOUND):
        got, want, _ = both(problem, steps=10, initial=x0, weight_bound=1.0, **rules)
        assert (got.stopped_by, got.steps) == (expected, 0)
        assert_same(got, want, problem)
        if rules:
            del rules[next(iter(rules))]  # drop the rule that just won


@pytest.mark.parametrize("method", [Method.GD, Method.ONLINE])
def test_step_budget_reached_exactly_at_a_chunk_boundary(
    method: Method, monkeypatch: pytest.MonkeyPatch
) -> None:
    problem = p = separable("erf")
    monkeypatch.setattr(descent, "CHUNK_WORK", 10 * p.n * p.m)
    order = Order.SHUFFLED if method is Method.ONLINE else Order.GIVEN
    got, want, _ = both(p, steps=50, method=method, order=order, seed=4, weight_bound=0.9)
    # the scenario: the reference crosses the bound within the budget, not at its end
    assert want.stopped_by is StopReason.WEIGHT_BOUND and 0 < want.steps < 50
    assert np.max(np.abs(want.weights)) >= 0.9
    assert_same(got, want, problem)
    got, want, _ = both(p, steps=40, method=method, order=order, seed=4)
    assert want.steps == 40
    assert_same(got, want, problem)


NON_FINITE_CASES = [
    # the first step overflows (|∇E(0)| ≥ 1e10, η = 1e300)
    ([[1e10, 1e10], [-1e10, 3.0]], [1, -1], 1e300, None),
    # x1 is finite but a margin is ∞ − ∞ (see test_descent)
    ([[1.0, 1.0], [1e10, -1e10]], [1, 1], 2.5e299, [1e-7, -1e-7]),
    # ∇E(x0) = −2·(2e308) overflows at x0 = 0, so x1 = ∞
    ([[1e308], [1e308]], [1, 1], 0.5, None),
    # a large but finite first step saturates; the run then continues
    ([[1e10], [1e-10]], [1, -1], 1e6, None),
]


@pytest.mark.parametrize(("method", "order"), METHODS)
@pytest.mark.parametrize(("inputs", "targets", "eta", "x0"), NON_FINITE_CASES)
def test_non_finite_cases(
    inputs: list[list[float]],
    targets: list[int],
    eta: float,
    x0: list[float] | None,
    method: Method,
    order: Order,
    gd_path: str,
) -> None:
    problem = p = build_problem(inputs, targets, get_activation("tanh"))
    got, want, _ = both(p, steps=60, learning_rate=eta, initial=x0, method=method, order=order)
    assert_same(got, want, problem)
    assert np.all(np.isfinite(got.weights)) and math.isfinite(got.error)


def test_gradient_overflow_is_checked_like_the_reference(gd_path: str) -> None:
    # gd: ∇E(x0) = −∞ at x0 = 0, so the first step is not finite
    p = build_problem([[1e308], [1e308]], [1, 1], get_activation("arctan"))
    got = run_descent(p, method=Method.GD, learning_rate=1e-300, stop=StopRules(steps=5),
                      record_points=5)  # fmt: skip
    assert (got.stopped_by, got.steps) == (StopReason.NON_FINITE, 0)
    assert got.gradient_norm == math.inf
    assert np.all(np.isnan(got.trajectory.t_delta[-1]))


@pytest.mark.parametrize(("method", "order"), METHODS)
def test_online_tracking_the_gradient_every_step_changes_nothing(
    method: Method, order: Order, monkeypatch: pytest.MonkeyPatch
) -> None:
    # online runs skip ∇E per pass when it provably cannot overflow; forcing the check on
    # must give the same run
    p = random_problem("erf", 5, 2, bias=True, seed=31)
    kw: dict[str, Any] = {"method": method, "order": order, "seed": 2, "learning_rate": 0.2}
    fast, _, _ = both(p, steps=200, **kw)
    monkeypatch.setattr(descent, "_MAX_RESIDUAL", math.inf)
    checked, want, _ = both(p, steps=200, **kw)
    assert_same(checked, want, p)
    np.testing.assert_array_equal(checked.weights, fast.weights)


def test_kernel_keeps_complements_stable_far_in_the_tail(gd_path: str) -> None:
    # x0 = 20 for tanh: 1 − tanh 20 = 2e^(−40)/(1 + e^(−40)) ≈ 8.5e-18, which 1 − tanh 20
    # rounds to 0; E = (1 − θ)² and |E'| = 2(1 − θ)·θ' = 2(1 − θ)²(2 − (1 − θ)) keep full
    # relative accuracy
    p = build_problem([[1.0]], [1], get_activation("tanh"))
    got = run_descent(p, method=Method.GD, learning_rate=0.1, stop=StopRules(steps=1),
                      record_points=1, initial=[20.0])  # fmt: skip
    complement = 2.0 * math.exp(-40.0) / (1.0 + math.exp(-40.0))
    assert 1.0 - math.tanh(20.0) == 0.0
    assert got.trajectory.error[0] == pytest.approx(complement**2, rel=1e-14)
    assert got.gradient_norm == pytest.approx(2 * complement**2 * (2 - complement), rel=1e-14)


def test_shuffled_orders_are_successive_permutations() -> None:
    rng_a = np.random.default_rng([7, 1])
    rng_b = np.random.default_rng([7, 1])
    rows = draw_orders(rng_a, 50, 6)
    for row in rows:
        np.testing.assert_array_equal(row, rng_b.permutation(6))
    np.testing.assert_array_equal(rng_a.permutation(6), rng_b.permutation(6))


def test_history_and_memory_are_bounded_by_the_points() -> None:
    p = separable("tanh")
    got = run_descent(p, method=Method.GD, learning_rate=0.5, stop=StopRules(steps=10**6),
                      record_points=30)  # fmt: skip
    assert got.steps == 10**6 and len(got.trajectory.t) == 31
    assert got.trajectory.t[-1] == 10**6 and np.all(np.diff(got.trajectory.t) > 0)


CACHE_SCRIPT = """
import sys
from service.core.engine import kernel
from service.core.engine.warmup import warm_up
if len(sys.argv) > 1:
    kernel.configure_cache(sys.argv[1])
warm_up()
ks = kernel.kernels()
import os, service
assert service.__file__.startswith(os.environ["PYTHONPATH"]), service.__file__
print(ks.cache_dir, ks.run_chunk.stats.cache_hits.total() > 0)
"""


@pytest.mark.slow
def test_cache_works_when_the_package_directory_is_not_writable(tmp_path: Path) -> None:
    # A copy of the package whose __pycache__ is a file: the in-tree cache cannot be written
    # (a read-only directory would do the same for a non-root user). The per-user cache is
    # blocked the same way; the configured directory, then the temporary one, must be used.
    import shutil

    root = Path(__file__).resolve().parents[2]
    pkg = tmp_path / "pkg"
    shutil.copytree(root / "service", pkg / "service", ignore=shutil.ignore_patterns("__py*"))
    (pkg / "service" / "core" / "engine" / "__pycache__").write_text("not a directory")
    (tmp_path / "xdg").write_text("not a directory")
    env = {
        **os.environ,
        "PYTHONPATH": str(pkg),
        "XDG_CACHE_HOME": str(tmp_path / "xdg"),
        "TMPDIR": str(tmp_path / "tmp"),
    }
    env.pop("NUMBA_CACHE_DIR", None)
    (tmp_path / "tmp").mkdir()
    script = textwrap.dedent(CACHE_SCRIPT)

    def run(*args: str) -> str:
        out = subprocess.run(
            [sys.executable, "-c", script, *args],
            env=env,
            cwd=tmp_path,  # not the checkout: `python -c` imports from the working directory
            capture_output=True,
            text=True,
        )
        assert out.returncode == 0, out.stderr
        return out.stdout.split()

    configured = tmp_path / "cache"
    assert run(str(configured)) == [str(configured), "False"]  # compiled, then saved
    assert list(configured.rglob("*.nbi"))
    assert run(str(configured)) == [str(configured), "True"]  # loaded from the cache
    fallback = tmp_path / "tmp" / f"learndyn-numba-{os.getuid()}"
    assert run() == [str(fallback), "False"]
    assert list(fallback.rglob("*.nbi"))


def test_kernels_release_the_gil_and_are_cached() -> None:

    ks = kernel.kernels()
    for dispatcher in (ks.start_run, ks.run_chunk, ks.finish_run, ks.gradient, ks.state_stop):
        assert dispatcher.targetoptions["nogil"] is True
        assert dispatcher.stats.cache_path  # a cache locator was found
        # in the subdirectory named by the hash of the kernel's sources
        assert Path(dispatcher.stats.cache_path).parent.name == kernel.source_key()


def test_the_cache_key_covers_every_source_of_the_kernel(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # numba watches only the file of the function it caches: an edit to a model's numerics
    # (another file) must change the directory the compiled code is cached in
    from service.core.engine import kernel

    names = {Path(path).name for path in kernel._SOURCES}
    assert names == {"kernel.py", "perceptron_kernel.py", "network_kernel.py", "activations.py"}
    copies = []
    for path in kernel._SOURCES:
        copy = tmp_path / Path(path).name
        copy.write_bytes(Path(path).read_bytes())
        copies.append(copy)
    monkeypatch.setattr(kernel, "_SOURCES", tuple(copies))
    before = kernel.source_key()
    assert before == kernel.source_key()
    for copy in copies:
        text = copy.read_bytes()
        copy.write_bytes(text + b"# edited\n")
        assert kernel.source_key() != before, copy.name
        copy.write_bytes(text)
    assert kernel.source_key() == before


def test_the_temporary_cache_directory_must_be_private(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # numba loads pickles from its cache: a shared /tmp directory others can write is refused

    monkeypatch.setattr(kernel.tempfile, "gettempdir", lambda: str(tmp_path))
    mine = tmp_path / f"learndyn-numba-{os.getuid()}"
    assert kernel._fallback_cache_dir() == str(mine)
    assert mine.stat().st_mode & 0o777 == 0o700
    mine.chmod(0o777)
    assert kernel._fallback_cache_dir() is None
    mine.rmdir()
    (tmp_path / "elsewhere").mkdir(mode=0o700)
    mine.symlink_to(tmp_path / "elsewhere")
    assert kernel._fallback_cache_dir() is None
