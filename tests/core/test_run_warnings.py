"""``loss_curvature`` and ``run_warnings`` against independent references.

* ``c_θ = max_z |ℓ''(z)|`` with ``ℓ = (1 − θ)²``: here ℓ'' is mpmath's numerical second
  derivative (30 digits) of ℓ written from θ's formula (tanh z, 2/(1 + e^(−z)) − 1,
  (2/π)·atan z, erf z), maximised by a grid over [−20, 20] (|ℓ''| decays outside [−10, 10]:
  exponentially, or like |z|^(−3) for arctan) and polished by ``mp.findroot`` on ℓ'''.
* The step bound ``2/L``, ``L = c_θ·‖B‖₂²``: ‖∇²E‖ = ‖Bᵀ·diag(ℓ''(z))·B‖ ≤ c_θ·‖B‖₂², so E is
  L-smooth and the descent lemma gives ``E(x − η∇E) ≤ E(x) − η·(1 − Lη/2)·‖∇E‖² ≤ E(x)`` for
  η < 2/L. A plain numpy gradient descent written here (its own θ, 1 − θ and θ') must then
  never raise E beyond the rounding of E itself: ``fl(E) = Σ c_i²`` is good to ``(n + 4)·ε``
  relative, so two evaluations differ by at most ``2·(n + 4)·ε·E`` when E does not change.
* ``saturated``: an example is saturated when z < 0 and ``1 + θ(z) < SATURATION``; the margin
  ``z_s`` where ``1 + θ(z_s) = SATURATION`` is found by ``mp.findroot``; margins 0.1% beyond and
  within it are on known sides (1 + θ changes by ≥ 1e-6 relative there, float64 computes it to
  1e-15).
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from functools import cache

import mpmath as mp
import numpy as np
import pytest
from scipy.special import erfc

from service.core.analysis.divergence import ERROR_RISE
from service.core.analysis.run_warnings import (
    SATURATION,
    RunWarning,
    loss_curvature,
    run_warnings,
)
from service.core.engine.descent import run_descent
from service.core.engine.recorder import Trajectory
from service.core.engine.run import StopRules
from service.core.model.activations import get_activation
from service.core.model.network import build_network_problem
from service.core.model.problem import PerceptronProblem, build_problem
from service.vocabulary import Method, WarningCode

ACTIVATIONS = ["tanh", "logistic", "arctan", "erf"]
EPS = float(np.finfo(np.float64).eps)


# ----------------------------------------------------------------------------------------
# References


def mp_theta(name: str) -> Callable[[mp.mpf], mp.mpf]:
    return {
        "tanh": mp.tanh,
        "logistic": lambda z: 2 / (1 + mp.exp(-z)) - 1,
        "arctan": lambda z: 2 / mp.pi * mp.atan(z),
        "erf": mp.erf,
    }[name]


@cache
def mp_curvature(name: str) -> float:
    """max_z |ℓ''(z)| for ℓ = (1 − θ)², at 30 digits (see the module docstring)."""
    theta = mp_theta(name)
    with mp.workdps(30):

        def loss(z: mp.mpf) -> mp.mpf:
            return (1 - theta(z)) ** 2

        grid = np.linspace(-20.0, 20.0, 401)
        values = [abs(mp.diff(loss, mp.mpf(float(z)), 2)) for z in grid]
        start = mp.mpf(float(grid[int(np.argmax(values))]))
        peak = mp.findroot(lambda z: mp.diff(loss, z, 3), start)
        assert abs(peak - start) <= 0.1  # the grid's best point is the peak's neighbour
        return float(abs(mp.diff(loss, peak, 2)))


def spectral_norm(B: np.ndarray) -> float:
    """‖B‖₂ = √(largest eigenvalue of BᵀB), by mpmath's symmetric eigensolver."""
    with mp.workdps(30):
        eigenvalues, _ = mp.eigsy(mp.matrix(B.T @ B))
        return float(mp.sqrt(max(eigenvalues)))


def step_bound(name: str, B: np.ndarray) -> float:
    return 2.0 / (mp_curvature(name) * spectral_norm(B) ** 2)


COMPLEMENT = {
    "tanh": lambda z: 2.0 / (1.0 + np.exp(2.0 * z)),
    "logistic": lambda z: 2.0 / (1.0 + np.exp(z)),
    "arctan": lambda z: 1.0 - 2.0 / np.pi * np.arctan(z),
    "erf": erfc,
}
DERIVATIVE = {
    "tanh": lambda z: 1.0 / np.cosh(z) ** 2,
    "logistic": lambda z: 0.5 / np.cosh(z / 2.0) ** 2,
    "arctan": lambda z: 2.0 / np.pi / (1.0 + z * z),
    "erf": lambda z: 2.0 / math.sqrt(math.pi) * np.exp(-z * z),
}


def plain_descent(name: str, B: np.ndarray, x: np.ndarray, eta: float, steps: int) -> np.ndarray:
    """E(x_0), …, E(x_steps) of x ← x − η·∇E, ∇E = −2·Bᵀ·((1 − θ(z))·θ'(z)), in numpy."""
    errors = []
    for _ in range(steps + 1):
        z = B @ x
        c = COMPLEMENT[name](z)
        errors.append(float(c @ c))
        x = x + 2.0 * eta * (B.T @ (c * DERIVATIVE[name](z)))
    return np.array(errors)


def random_perceptron(name: str, seed: int) -> PerceptronProblem:
    rng = np.random.default_rng([seed, 3])
    n, m = 8, 3
    targets = np.where(rng.random(n) < 0.5, 1, -1)
    return build_problem(rng.normal(size=(n, m)).tolist(), targets.tolist(), get_activation(name))


def history(errors: list[float]) -> Trajectory:
    """A recorded run with the given errors at t = 0, 1, 2, … (weights do not matter here)."""
    k = len(errors)
    return Trajectory(
        t=np.arange(k, dtype=float),
        error=np.array(errors, dtype=float),
        weights=np.zeros((k, 1)),
        t_delta=np.zeros((k, 1)),
    )


def codes(found: list[RunWarning]) -> list[WarningCode]:
    return [w.code for w in found]


# A one-weight problem with nothing saturated at x = 1: margins (1, 2).
CALM = build_problem([[1.0], [2.0]], [1, 1], get_activation("tanh"))
CALM_X = np.array([1.0])


# ----------------------------------------------------------------------------------------
# loss_curvature


@pytest.mark.parametrize("name", ACTIVATIONS)
def test_loss_curvature_is_the_largest_second_derivative_of_the_loss(name: str) -> None:
    assert loss_curvature(get_activation(name)) == pytest.approx(mp_curvature(name), rel=1e-6)


def test_loss_curvature_closed_form_for_tanh() -> None:
    # ℓ = (1 − t)², t = tanh z, t' = 1 − t²: ℓ'' = 2·(1 − t)²·(1 + t)·(1 + 3t) = 2·f(t), and
    # f'(t) = (1 − t)·(2 − 6t − 12t²) vanishes at t = (−3 ± √33)/12: f = 1.232 at the + root,
    # −0.962 at the − root, 0 at t = ±1; so c_θ = 2·f((√33 − 3)/12)
    t = (math.sqrt(33.0) - 3.0) / 12.0
    want = 2.0 * (1 - t) ** 2 * (1 + t) * (1 + 3 * t)
    other = (-math.sqrt(33.0) - 3.0) / 12.0
    assert abs(2.0 * (1 - other) ** 2 * (1 + other) * (1 + 3 * other)) < want
    assert mp_curvature("tanh") == pytest.approx(want, rel=1e-12)
    assert loss_curvature(get_activation("tanh")) == pytest.approx(want, rel=1e-6)


# ----------------------------------------------------------------------------------------
# error_rose: when it appears


@pytest.mark.parametrize("method", [Method.GD, Method.FLOW])
def test_error_rose_appears_exactly_beyond_the_relative_threshold(method: Method) -> None:
    below = history([1.0, 1.0 + 0.5 * ERROR_RISE, 0.9])
    above = history([1.0, 1.0 + 2.0 * ERROR_RISE, 0.9])
    falling = history([1.0, 0.5, 0.25, 0.25])  # equal errors are no rise
    for h, rose in [(below, False), (above, True), (falling, False)]:
        found = run_warnings(CALM, h, CALM_X, method=method, learning_rate=0.1)
        assert codes(found) == ([WarningCode.ERROR_ROSE] if rose else [])


def test_online_never_warns_of_a_rising_error() -> None:
    h = history([1.0, 3.0, 0.5, 4.0])
    assert run_warnings(CALM, h, CALM_X, method=Method.ONLINE, learning_rate=0.1) == []
    assert codes(run_warnings(CALM, h, CALM_X, method=Method.GD, learning_rate=0.1)) == [
        WarningCode.ERROR_ROSE
    ]


def test_a_non_finite_error_is_not_a_rise() -> None:
    h = history([1.0, math.nan, 2.0])
    assert run_warnings(CALM, h, CALM_X, method=Method.GD, learning_rate=0.1) == []


def test_the_message_quotes_the_largest_relative_rise() -> None:
    # rises ×1.5 (1 → 1.5) and ×1.25 (0.2 → 0.25, the smaller absolute rise): the first is
    # the largest relative one; t are the recorded times of the two records
    h = history([1.0, 1.5, 0.2, 0.25])
    (warning,) = run_warnings(CALM, h, CALM_X, method=Method.FLOW, learning_rate=0.1)
    assert warning.message.startswith("E rose from 1 to 1.5 (×1.5) between t = 0 and t = 1")
    assert "integrator's error" in warning.message


def test_a_net_s_message_suggests_a_smaller_rate_without_a_bound() -> None:
    net = build_network_problem(
        [[1.0, 0.5], [-0.5, 1.0]], [1, -1], get_activation("tanh"), hidden=[2]
    )
    x = np.full(net.m, 0.1)
    (warning,) = run_warnings(net, history([1.0, 2.0]), x, method=Method.GD, learning_rate=0.4)
    assert warning.code is WarningCode.ERROR_ROSE
    assert "η = 0.4 is too large" in warning.message and "η = 0.04" in warning.message
    assert "2/L" not in warning.message


# ----------------------------------------------------------------------------------------
# error_rose: its bound 2/L is right


@pytest.mark.parametrize("name", ACTIVATIONS)
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_descent_below_the_bound_never_raises_the_error(name: str, seed: int) -> None:
    problem = random_perceptron(name, seed)
    eta = 0.99 * step_bound(name, problem.B)
    x0 = np.random.default_rng([seed, 4]).normal(size=problem.m)
    errors = plain_descent(name, problem.B, x0, eta, 2000)
    rounding = 2.0 * (problem.n + 4) * EPS * errors[:-1]
    assert (np.diff(errors) <= rounding).all()
    # and the service's own run at that rate gives no warning
    run = run_descent(
        problem,
        method=Method.GD,
        learning_rate=eta,
        stop=StopRules(steps=2000),
        record_points=100,
        initial=x0.tolist(),
    )
    found = run_warnings(problem, run.trajectory, run.weights, method=Method.GD, learning_rate=eta)
    assert WarningCode.ERROR_ROSE not in codes(found)


@pytest.mark.parametrize("name", ACTIVATIONS)
def test_descent_a_few_times_above_the_bound_raises_the_error_and_is_warned(name: str) -> None:
    # B = (1, −2)ᵀ from x = 0 (E = 2): its minimum is near 0 with E'' close to L, so three
    # times the bound overshoots it and E goes up at once
    problem = build_problem([[1.0], [2.0]], [1, -1], get_activation(name))
    bound = step_bound(name, problem.B)
    eta = 3.0 * bound
    errors = plain_descent(name, problem.B, np.zeros(1), eta, 40)
    assert (np.diff(errors) > ERROR_RISE * errors[:-1]).any()
    run = run_descent(
        problem,
        method=Method.GD,
        learning_rate=eta,
        stop=StopRules(steps=40),
        record_points=40,  # every step recorded
        initial=[0.0],
    )
    found = run_warnings(problem, run.trajectory, run.weights, method=Method.GD, learning_rate=eta)
    assert codes(found)[0] is WarningCode.ERROR_ROSE
    message = found[0].message
    # the bound and L in the message are ours: 2/L and L = c_θ·‖B‖₂² (‖B‖₂² = 5)
    assert f"2/L = {bound:.3g}" in message
    assert f"L = c_θ·‖B‖₂² = {2.0 / bound:.3g}" in message
    assert f"c_θ = max |ℓ''| = {mp_curvature(name):.4g}" in message
    assert f"η = {eta:g} is too large" in message
    # the quoted rise is the largest relative rise of the recorded errors
    e = run.trajectory.error
    k = int(np.argmax(np.diff(e) / e[:-1]))
    quoted = re.search(r"E rose from (\S+) to (\S+) ", message)
    assert quoted is not None
    assert (quoted[1], quoted[2]) == (f"{e[k]:.4g}", f"{e[k + 1]:.4g}")


# ----------------------------------------------------------------------------------------
# saturated


def saturation_margin(name: str) -> float:
    """z_s < 0 with 1 + θ(z_s) = SATURATION (1 + θ increases with z)."""
    theta = mp_theta(name)
    start = {"tanh": -5.0, "logistic": -10.0, "arctan": -6000.0, "erf": -2.7}[name]
    with mp.workdps(30):
        return float(mp.findroot(lambda z: 1 + theta(z) - SATURATION, mp.mpf(start)))


def margins_problem(name: str, margins: list[float]) -> PerceptronProblem:
    """One weight, x = 1: the margins are the inputs (targets +1)."""
    return build_problem([[z] for z in margins], [1] * len(margins), get_activation(name))


@pytest.mark.parametrize("name", ACTIVATIONS)
def test_saturated_needs_more_than_half_of_the_examples(name: str) -> None:
    zs = saturation_margin(name)
    stuck, loose = 1.001 * zs, 0.999 * zs  # just beyond / just within the threshold
    x = np.array([1.0])
    cases = [
        ([stuck, stuck, stuck, 2.0], "3 of 4"),
        ([stuck, stuck, loose, 2.0], None),  # exactly half: no warning
        ([stuck, stuck, 0.5], "2 of 3"),
        ([loose, loose, loose, loose], None),  # all wrong, none saturated
        ([stuck, stuck, stuck, stuck], "4 of 4"),
        ([-stuck, -stuck, -stuck], None),  # θ ≈ +1 where +1 is wanted is no saturation
    ]
    for margins, count in cases:
        problem = margins_problem(name, margins)
        found = run_warnings(problem, history([1.0]), x, method=Method.GD, learning_rate=0.1)
        if count is None:
            assert found == []
        else:
            (warning,) = found
            assert warning.code is WarningCode.SATURATED
            assert warning.message.startswith(f"{count} examples end saturated")


def test_saturated_comes_after_error_rose_and_online_still_gets_it() -> None:
    zs = saturation_margin("tanh")
    problem = margins_problem("tanh", [2 * zs, 2 * zs, 1.0])
    rising = history([1.0, 2.0])
    x = np.array([1.0])
    both = run_warnings(problem, rising, x, method=Method.GD, learning_rate=0.1)
    assert codes(both) == [WarningCode.ERROR_ROSE, WarningCode.SATURATED]
    online = run_warnings(problem, rising, x, method=Method.ONLINE, learning_rate=0.1)
    assert codes(online) == [WarningCode.SATURATED]
