"""One wall-time deadline stops a whole computation: descent between kernel chunks, the flow
between evaluations, the separability test between its solves (HiGHS at its own time limit),
the landscape between the chunks of its scans, and /train's analysis after the run.

The problems below were chosen to run far longer than their deadlines (figures measured on the
2-core test machine, unloaded → loaded by other test runs); each test asserts that the
computation stops near its deadline, with a margin for one uninterruptible solve on a busy
machine.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable

import numpy as np
import pytest

from service.core.analysis.landscape import find_critical_points
from service.core.analysis.separability import _highs, analyse_separability, row_norms
from service.core.budget import Budget
from service.core.deadline import NO_DEADLINE, Deadline
from service.core.engine.descent import run_descent
from service.core.engine.flow import run_flow
from service.core.engine.run import StopRules
from service.core.errors import Cancelled, TimeLimitExceeded
from service.core.model.activations import get_activation
from service.core.model.problem import build_problem
from service.core.queries import MinimaSpec, decide_separability, find_minima
from service.core.training import TrainingSpec, train
from service.vocabulary import Method

SCALAR = build_problem([[1.0]], [1], get_activation("tanh"))


def test_descent_past_its_time_limit_raises_with_its_progress() -> None:
    with pytest.raises(TimeLimitExceeded) as info:
        run_descent(
            SCALAR,
            method=Method.GD,
            learning_rate=0.1,
            stop=StopRules(steps=10**9),
            record_points=10,
            deadline=Deadline.after(1e-9),
        )
    reached = int(info.value.progress.split()[1])
    assert 0 < reached < 10**9 and "of 1000000000 steps" in info.value.progress


def test_descent_within_its_time_limit_is_unaffected() -> None:
    kw = {"method": Method.GD, "learning_rate": 0.1, "stop": StopRules(steps=1000)}
    within = Deadline.after(60.0)
    a = run_descent(SCALAR, record_points=10, deadline=within, **kw)  # type: ignore[arg-type]
    b = run_descent(SCALAR, record_points=10, **kw)  # type: ignore[arg-type]
    assert a.weights[0] == b.weights[0] and a.steps == 1000


def test_flow_past_its_time_limit_raises() -> None:
    with pytest.raises(TimeLimitExceeded, match="of t_max = 1e"):
        run_flow(
            SCALAR, alpha=1.0, t_max=1e12, stop=StopRules(steps=1), record_points=10,
            deadline=Deadline.after(1e-9),
        )  # fmt: skip


def test_a_deadline_without_a_limit_never_expires() -> None:
    assert Deadline.after(None) is NO_DEADLINE and not NO_DEADLINE.limited
    assert NO_DEADLINE.remaining() == math.inf
    NO_DEADLINE.check("never raised")


def test_a_passed_deadline_raises_with_its_progress_said_only_then() -> None:
    said: list[str] = []

    def progress() -> str:
        said.append("asked")
        return "after the third solve"

    live = Deadline.after(60.0)
    live.check(progress)
    assert said == [] and 59.0 < live.remaining() <= 60.0 and live.limited
    passed = Deadline(seconds=0.5, expires=time.monotonic() - 1.0)
    with pytest.raises(TimeLimitExceeded) as info:
        passed.check(progress)
    assert said == ["asked"] and passed.remaining() == 0.0
    assert info.value.seconds == 0.5
    assert "limit of 0.5 s, after the third solve" in str(info.value)


@pytest.fixture(scope="module")
def not_separable() -> np.ndarray:
    """B = diag(y)·A for 4000 Gaussian rows of 400 inputs with random signs: neither strictly
    nor weakly separable (n ≫ 2m), so every stage runs; its rank is cheap (n > 4m: the Gram
    shortcut). Unlimited, analyse_separability takes 5.7 s (the half-space LP alone 4.5 s)."""
    rng = np.random.default_rng(0)
    A = rng.standard_normal((4000, 400))
    return np.where(rng.standard_normal(4000) > 0, 1.0, -1.0)[:, None] * A


def test_highs_is_given_the_time_left_and_stops_at_it(not_separable: np.ndarray) -> None:
    Bn = not_separable / row_norms(not_separable)[:, None]
    started = time.monotonic()
    with pytest.raises(TimeLimitExceeded, match=r"separability \(the half-space LP\)"):
        _highs(
            Deadline.after(0.3),
            "the half-space LP",
            -Bn.sum(axis=0),
            A_ub=-Bn,
            b_ub=np.zeros(len(Bn)),
            bounds=(-1.0, 1.0),
        )
    # HiGHS stops at its time limit (0.31 s; measured 0.35-0.5 s in all); without it, this LP
    # runs to its end (4.5 s) before the deadline is seen
    assert time.monotonic() - started < 2.0


def test_the_separability_test_stops_at_its_deadline(not_separable: np.ndarray) -> None:
    started = time.monotonic()
    with pytest.raises(TimeLimitExceeded, match="while testing the data's separability"):
        analyse_separability(not_separable, deadline=Deadline.after(0.5))
    # measured 0.95 s: the deadline, then one NNLS or least-squares solve (≤ 0.5 s)
    assert time.monotonic() - started < 3.0


def test_trains_analysis_is_within_the_same_deadline(not_separable: np.ndarray) -> None:
    # one step of descent, then the theory's separability facts of the same data: 6 s unlimited
    spec = TrainingSpec(
        inputs=not_separable.tolist(), targets=[1.0] * len(not_separable), stop=StopRules(steps=1)
    )
    started = time.monotonic()
    # 1 s: the run itself (the 4000×400 data read from lists, one step) takes 0.3 s, up to
    # 0.6 s on a loaded machine; the analysis must then stop within one solve of the deadline
    with pytest.raises(TimeLimitExceeded, match="while testing the data's separability"):
        train(spec, Budget(compute_seconds=1.0))
    assert time.monotonic() - started < 3.5


def after(seconds: float) -> Callable[[], bool]:
    """A ``should_stop`` that turns True ``seconds`` from now (a client that goes then)."""
    gone = time.monotonic() + seconds
    return lambda: time.monotonic() > gone


def test_a_deadline_asks_should_stop_first_and_cancels() -> None:
    asked: list[bool] = []

    def gone() -> bool:
        asked.append(True)
        return len(asked) > 1

    for deadline in (Deadline.after(60.0, gone), Deadline.after(None, gone)):
        asked.clear()
        deadline.check("after one solve")  # asked once: still there
        with pytest.raises(Cancelled, match="cancelled after the second solve"):
            deadline.check(lambda: "after the second solve")
        assert asked == [True, True]
    assert Budget(compute_seconds=None).start(gone).should_stop is gone


def test_an_abandoned_separability_test_stops_between_its_solves(
    not_separable: np.ndarray,
) -> None:
    started = time.monotonic()
    with pytest.raises(Cancelled, match="cancelled while testing the data's separability"):
        decide_separability(
            not_separable.tolist(), [1] * len(not_separable), bias=False,
            budget=Budget(compute_seconds=None), should_stop=after(0.3),
        )  # fmt: skip
    # 5.7 s to its end; measured 0.9 s: the client gone, then one solve
    assert time.monotonic() - started < 3.0


def test_an_abandoned_landscape_stops_between_its_chunks() -> None:
    rng = np.random.default_rng(0)
    magnitudes = np.exp(rng.uniform(math.log(1e-3), math.log(1e3), 200_000))
    targets = np.where(rng.random(magnitudes.size) < 0.5, 1, -1).tolist()
    spec = MinimaSpec(inputs=magnitudes[:, None].tolist(), targets=targets)
    started = time.monotonic()
    with pytest.raises(Cancelled, match="cancelled while finding the critical points of E"):
        find_minima(spec, Budget(compute_seconds=None), should_stop=after(0.3))
    assert time.monotonic() - started < 1.5


def test_an_abandoned_trains_analysis_stops_with_it(not_separable: np.ndarray) -> None:
    spec = TrainingSpec(
        inputs=not_separable.tolist(), targets=[1.0] * len(not_separable), stop=StopRules(steps=1)
    )
    started = time.monotonic()
    with pytest.raises(Cancelled, match="while testing the data's separability"):
        train(spec, Budget(compute_seconds=None), should_stop=after(0.3))
    assert time.monotonic() - started < 3.0


def test_the_landscape_stops_at_its_deadline() -> None:
    # 200,000 distinct |b_i| spread over six decades: the scan of E' for roots takes 8 s
    rng = np.random.default_rng(0)
    b = np.exp(rng.uniform(math.log(1e-3), math.log(1e3), 200_000))
    b *= np.where(rng.random(b.size) < 0.5, 1.0, -1.0)
    started = time.monotonic()
    with pytest.raises(TimeLimitExceeded, match="while finding the critical points of E"):
        find_critical_points(b, get_activation("tanh"), deadline=Deadline.after(0.3))
    # a chunk of the scan costs about 15 ms: measured 0.32 s
    assert time.monotonic() - started < 1.5
