"""``assess_stationarity`` against 50-digit mpmath, for the perceptron and for nets.

The reference is written here from the definitions, not from the service: for the perceptron
``E(x) = Σ_i (1 − θ(B_i·x))²`` and ``∇E = −2·Σ_i (1 − θ(z_i))·θ'(z_i)·B_i`` with
``z = B·x``, each ``1 − θ`` and θ' from the closed forms of ``tests/core/mp_reference.py``
(mpmath, no cancellation), evaluated at the exact float64 B and x. For a net, E is the paper's
``Σ_i (θ(a_out(u^i)) − y_i)²`` from an mpmath forward pass through the documented flat layout,
and ∇E is mpmath's numerical derivative of it (``mp.diff``, 50 digits).

Tolerances, derived:

* ``gradient_log10`` (perceptron): the service computes each ``ℓ_i = ln r_i`` from the float
  margin ``fl(B_i·x)``, off the exact one by at most ``2·m·ε·|z|`` (the rows here are exact
  or nearly so); through ``dℓ/dz`` that moves ℓ by ``|z·dℓ/dz|·2·m·ε``, and
  ``|z·dℓ/dz|`` is at most about ``2·|ℓ|`` (``ℓ ≈ −4z`` for tanh's tail, ``−2z²`` for erf's,
  ``−3 ln z`` for arctan's); the float sums add a few ulps of |ℓ|. So the error of
  log10 ‖∇E‖ is at most about ``(4·m + 4)·ε·|log10 ‖∇E‖|`` ≈ 3e-15 relative, and
  ``LOG_TOL(v) = 1e-12·(1 + |v|)`` leaves a margin of several hundred.
* ``gradient_log10`` (net): a float64 backprop is good to ~1e-15 relative; log10 of it to
  ~1e-15 absolute; 1e-11 leaves room for the error of the mpmath derivative (1e-40).
* ``frozen``: the boundary step ``s* = min_j spacing(x_j)/(2·|∂E/∂x_j|)`` is taken from
  mpmath; the service decides in logs from float ℓ and s, good to ~1e-13 relative (the same
  bound as above), so steps ``s*·(1 ∓ 1e-8)`` are on known sides.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import mpmath as mp
import numpy as np
import pytest
from scipy.optimize import minimize

from service.core.analysis.separability import test_separability as separability_of
from service.core.analysis.stationarity import Stationarity, assess_stationarity
from service.core.model.activations import get_activation
from service.core.model.network import NetworkProblem, build_network_problem
from service.core.model.problem import PerceptronProblem, build_problem, error_and_gradient
from tests.core.mp_reference import dtheta, one_minus_theta

ACTIVATIONS = ["tanh", "logistic", "arctan", "erf"]
DPS = 50
NET_LOG_TOL = 1e-11
SIDE = 1e-8  # relative distance of the frozen tests' steps from the boundary step


# ----------------------------------------------------------------------------------------
# The mpmath reference


def mp_gradient(name: str, B: np.ndarray, x: np.ndarray) -> list[mp.mpf]:
    """∇E(x) = −2·Σ_i (1 − θ(z_i))·θ'(z_i)·B_i at 50 digits, z_i = B_i·x exactly."""
    with mp.workdps(DPS):
        g = [mp.mpf(0)] * B.shape[1]
        for row in B:
            z = mp.fsum(mp.mpf(float(b)) * mp.mpf(float(v)) for b, v in zip(row, x, strict=True))
            r = one_minus_theta(name, z) * dtheta(name, z)
            g = [gj - 2 * r * mp.mpf(float(b)) for gj, b in zip(g, row, strict=True)]
        return g


def mp_log10_norm(g: Sequence[mp.mpf]) -> float:
    with mp.workdps(DPS):
        return float(mp.log10(mp.sqrt(mp.fsum(gj * gj for gj in g))))


def smaller_gap(xj: float) -> float:
    """The smaller gap between xj and its float64 neighbours (below a power of two the gap
    beneath is half the one above; at 0, the least subnormal)."""
    size = abs(xj)
    if size == 0.0:
        return float(np.nextafter(0.0, 1.0))
    return min(float(np.nextafter(size, np.inf)) - size, size - float(np.nextafter(size, 0.0)))


def boundary_step(g: Sequence[mp.mpf], x: np.ndarray) -> float:
    """The step s* with ``s·|∂E/∂x_j|`` below half the smaller gap at x_j for every j exactly
    when s < s* (a change below it rounds back to x_j, whichever way it goes)."""
    with mp.workdps(DPS):
        bounds = [
            mp.mpf(smaller_gap(float(xj))) / 2 / abs(gj)
            for gj, xj in zip(g, x, strict=True)
            if gj != 0
        ]
        return float(min(bounds))


def perceptron(
    name: str, inputs: Sequence[Sequence[float]], targets: Sequence[int], *, bias: bool = False
) -> PerceptronProblem:
    return build_problem(inputs, targets, get_activation(name), bias=bias)


def random_perceptron(name: str, n: int, m: int, seed: int, *, bias: bool) -> PerceptronProblem:
    rng = np.random.default_rng(seed)
    inputs = rng.normal(size=(n, m)).tolist()
    targets = np.where(rng.random(n) < 0.5, 1, -1).tolist()
    return perceptron(name, inputs, targets, bias=bias)


def log_tol(value: float) -> float:
    """The tolerance of a log10 ‖∇E‖ of the perceptron (see the module docstring)."""
    return 1e-12 * (1.0 + abs(value))


def assert_log10(st: Stationarity, want: float, tol: float | None = None) -> None:
    assert st.gradient_log10 is not None
    assert st.gradient_log10 == pytest.approx(want, abs=log_tol(want) if tol is None else tol)


# ----------------------------------------------------------------------------------------
# gradient_log10 of the perceptron: ordinary and saturated points


@pytest.mark.parametrize("name", ACTIVATIONS)
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_gradient_log10_at_ordinary_points(name: str, seed: int) -> None:
    problem = random_perceptron(name, 6, 3, seed, bias=seed == 2)
    x = np.random.default_rng([seed, 7]).normal(size=problem.m)
    st = assess_stationarity(problem, x, 0.1, None)
    assert_log10(st, mp_log10_norm(mp_gradient(name, problem.B, x)))
    assert st.critical is False and st.lemma_applies is False


# Margins z = B·x where float64's own gradient underflows to exactly 0 (checked below): the
# residual r = (1 − θ)·θ' is 8e^(−4z) for tanh, 4e^(−2z) for logistic, ~0.4/z³ for arctan,
# ~e^(−2z²)/(z·π) for erf at z → +∞, and ~2·θ'(z) at z → −∞. Each entry: inputs as
# (margin, 0.5) rows with x = (1, 2), so z_i = margin_i + 1 exactly (targets +1).
SATURATED = [
    ("tanh", [300.0, 349.0, 419.0]),  # r ≈ e^(−1200) … e^(−1680)
    ("tanh", [-401.0, 499.0, 599.0]),  # the negative margin's 8e^(−800) dominates
    ("logistic", [399.0, 499.0, 749.0]),
    ("logistic", [-801.0, 899.0]),
    ("arctan", [1e110, 2e110, 5e120]),  # past the service's 1e100 switch to z^(−k)
    ("arctan", [-1e200, 3e150]),
    ("erf", [39.0, 44.0, 59.0]),
    ("erf", [-41.0, 40.0, -51.0]),
]


@pytest.mark.parametrize(("name", "margins"), SATURATED)
def test_gradient_log10_where_the_float_gradient_underflows(
    name: str, margins: list[float]
) -> None:
    problem = perceptron(name, [[z, 0.5] for z in margins], [1] * len(margins))
    x = np.array([1.0, 2.0])
    with np.errstate(under="ignore"):
        g_float = error_and_gradient(problem, x)[1]
    assert not g_float.any()  # the premise: float64 sees ∇E = 0
    # (arctan: ∇E ≈ 1e-200 would fit float64, but its factor r ≈ 1e-330 underflows first)
    want = mp_log10_norm(mp_gradient(name, problem.B, x))
    st = assess_stationarity(problem, x, 0.1, None)
    assert_log10(st, want)
    # the terms do not cancel (in every column one term outweighs the rest by e^100 or more,
    # or all have one sign), so this is no critical point
    assert st.critical is False
    # a step of 0.1·‖∇E‖ ≤ 1e-190 cannot move weights of size 1 and 2 (half spacing ≥ 1.1e-16)
    assert want < -190
    assert st.frozen is True


# ----------------------------------------------------------------------------------------
# critical: true at a (rounded) true minimum, false away from it


def one_weight_minimum(name: str) -> tuple[PerceptronProblem, float]:
    """B = (1, −2)ᵀ: E = (1 − θ(x))² + (1 + θ(2x))² → 4 at ±∞ and E(0) = 2, so a finite
    minimum; found by mpmath.findroot on the exact E'."""
    problem = perceptron(name, [[1.0], [2.0]], [1, -1])
    grid = np.linspace(-3.0, 3.0, 601)
    with mp.workdps(DPS):
        energies = [
            mp.fsum(one_minus_theta(name, mp.mpf(b) * mp.mpf(float(v))) ** 2 for b in (1, -2))
            for v in grid
        ]
        start = float(grid[int(np.argmin([float(e) for e in energies]))])
        root = mp.findroot(lambda v: mp_gradient_1(name, [1.0, -2.0], v), mp.mpf(start))
        return problem, float(root)


def mp_gradient_1(name: str, b: Sequence[float], v: mp.mpf) -> mp.mpf:
    return mp.fsum(
        -2 * mp.mpf(bi) * one_minus_theta(name, mp.mpf(bi) * v) * dtheta(name, mp.mpf(bi) * v)
        for bi in b
    )


def numpy_error(name: str, B: np.ndarray) -> Callable[[np.ndarray], float]:
    """A float64 E for the minimiser's starting point only (its own formulas)."""
    from scipy.special import erf

    theta = {
        "tanh": np.tanh,
        "logistic": lambda z: 2.0 / (1.0 + np.exp(-z)) - 1.0,
        "arctan": lambda z: 2.0 / np.pi * np.arctan(z),
        "erf": erf,
    }[name]
    return lambda x: float(np.sum((1.0 - theta(B @ x)) ** 2))


def two_weight_minimum(name: str) -> tuple[PerceptronProblem, np.ndarray]:
    """Rows (1, 0), (0, 2), (−1, −1.5): λ = (1, 0.75, 1) > 0 has Bᵀλ = 0 (Stiemke), so every
    direction has a margin going to −∞ and E → ≥ 4 > E(0) = 3: a finite minimum, found by
    scipy from 0 and polished by mpmath.findroot on the exact gradient."""
    problem = perceptron(name, [[1.0, 0.0], [0.0, 2.0], [-1.0, -1.5]], [1, 1, 1])
    start = minimize(numpy_error(name, problem.B), np.zeros(2), method="Nelder-Mead").x
    with mp.workdps(DPS):

        def grad(a: mp.mpf, b: mp.mpf) -> list[mp.mpf]:
            out = [mp.mpf(0), mp.mpf(0)]
            for row in problem.B:
                z = mp.mpf(float(row[0])) * a + mp.mpf(float(row[1])) * b
                r = one_minus_theta(name, z) * dtheta(name, z)
                out = [o - 2 * r * mp.mpf(float(bj)) for o, bj in zip(out, row, strict=True)]
            return out

        root = mp.findroot(grad, (mp.mpf(float(start[0])), mp.mpf(float(start[1]))))
        return problem, np.array([float(root[0]), float(root[1])])


def assert_minimum_to_rounding(name: str, problem: PerceptronProblem, x: np.ndarray) -> None:
    """The premise: at the rounded minimiser the exact ∇E is rounding-level relative to its
    terms (|∇E| ≤ 1e-14·Σ|terms|), and E is below its values a little way off."""
    g = mp_gradient(name, problem.B, x)
    with mp.workdps(DPS):
        size = mp.mpf(0)  # Σ_i 2·r_i·max_j |B_ij|, the size of the terms that cancel
        for row in problem.B:
            z = mp.fsum(mp.mpf(float(b)) * mp.mpf(float(v)) for b, v in zip(row, x, strict=True))
            size += 2 * one_minus_theta(name, z) * dtheta(name, z) * float(np.max(np.abs(row)))
        assert max(abs(gj) for gj in g) <= mp.mpf("1e-14") * size
    energy = numpy_error(name, problem.B)
    for step in (1e-3, -1e-3):
        for j in range(len(x)):
            moved = x.copy()
            moved[j] += step
            assert energy(moved) > energy(x)


@pytest.mark.parametrize("name", ACTIVATIONS)
def test_critical_at_a_one_weight_minimum_and_not_beside_it(name: str) -> None:
    problem, x_star = one_weight_minimum(name)
    x = np.array([x_star])
    assert_minimum_to_rounding(name, problem, x)
    assert assess_stationarity(problem, x, 0.1, None).critical is True
    # beside it the gradient is E''·δ, far above the cancellation level ~1e-14 (even δ = 1e-9)
    for delta in (1e-1, 1e-3, 1e-6, -1e-9):
        beside = x + delta
        st = assess_stationarity(problem, beside, 0.1, None)
        assert st.critical is False
        assert_log10(st, mp_log10_norm(mp_gradient(name, problem.B, beside)), tol=1e-6)


@pytest.mark.parametrize("name", ACTIVATIONS)
def test_critical_at_a_two_weight_minimum_and_not_beside_it(name: str) -> None:
    problem, x = two_weight_minimum(name)
    assert_minimum_to_rounding(name, problem, x)
    assert assess_stationarity(problem, x, 0.1, None).critical is True
    for offset in ([1e-2, 0.0], [0.0, -1e-4], [1e-7, 1e-7]):
        beside = x + np.array(offset)
        st = assess_stationarity(problem, beside, 0.1, None)
        assert st.critical is False
        assert_log10(st, mp_log10_norm(mp_gradient(name, problem.B, beside)), tol=1e-6)
    # a critical point is not frozen by that alone: a step of 1e20 moves weights of size 1
    assert assess_stationarity(problem, x + np.array([1e-2, 0.0]), 1e20, None).frozen is False


# ----------------------------------------------------------------------------------------
# The Lemma: no critical point, and a lower bound from the witness ν


def lemma_bounds(name: str, B: np.ndarray, x: np.ndarray, nu: np.ndarray) -> tuple[float, float]:
    """(log10 |∇E·ν|/‖ν‖, log10 ‖∇E‖) at 50 digits: ‖∇E‖ ≥ |∇E·ν|/‖ν‖ by Cauchy–Schwarz."""
    g = mp_gradient(name, B, x)
    with mp.workdps(DPS):
        dot = mp.fsum(gj * mp.mpf(float(v)) for gj, v in zip(g, nu, strict=True))
        nu_norm = mp.sqrt(mp.fsum(mp.mpf(float(v)) ** 2 for v in nu))
        return float(mp.log10(abs(dot) / nu_norm)), mp_log10_norm(g)


def separable_perceptron(name: str, seed: int) -> PerceptronProblem:
    """Strictly separable data with a bias: targets = sign(A·w + c) of a random (w, c)."""
    rng = np.random.default_rng([seed, 11])
    A = rng.normal(size=(7, 2))
    w, c = rng.normal(size=2), 0.3
    targets = np.where(A @ w + c > 0, 1, -1)
    return perceptron(name, A.tolist(), targets.tolist(), bias=True)


def assert_within_lemma_bounds(st: Stationarity, low: float, high: float) -> None:
    assert st.critical is False and st.lemma_applies is True
    assert st.gradient_log10 is not None
    assert low - log_tol(low) <= st.gradient_log10 <= high + log_tol(high)


@pytest.mark.parametrize("name", ACTIVATIONS)
@pytest.mark.parametrize("seed", [1, 2])
def test_the_lemma_bounds_the_gradient_of_separable_data(name: str, seed: int) -> None:
    problem = separable_perceptron(name, seed)
    nu = separability_of(problem.B).half_space_weights
    assert nu is not None
    assert (problem.B @ nu > 0).all()  # strictly separable: no margin at the rounding level
    far = {"tanh": 400.0, "logistic": 800.0, "arctan": 1e120, "erf": 60.0}[name]
    scale = far / float(np.min(problem.B @ nu))  # every margin ≥ `far`: float ∇E underflows
    points = [np.random.default_rng(seed).normal(size=3), scale * nu]
    for x in points:
        st = assess_stationarity(problem, x, 0.1, nu)
        assert_within_lemma_bounds(st, *lemma_bounds(name, problem.B, x, nu))


# Weakly, not strictly, separable: rows b_1 = (0.75, 0.25) and b_2 = −b_1 (one input with
# both labels) and two rows with (−1, 3)·b > 0. ν = (−1, 3) has B·ν = (0, 0, 10, 6.5)
# exactly in float64. At x = (−100, 300) the margins are (0, 0, 1000, 650) exactly: the pair's
# terms cancel exactly (r(0)·b_1 + r(0)·b_2 = 0) and the rest underflow, so float64's
# s = Σ e^{ℓ_i − L}·B_i is 0 while the exact ∇E = −2·(r(1000)·b_3 + r(650)·b_4) ≈ 10^−1128.
PAIR_INPUTS = [[0.75, 0.25], [-0.75, -0.25], [-1.0, 3.0], [-0.5, 2.0]]
PAIR_X = np.array([-100.0, 300.0])


def test_the_lemma_resolves_a_gradient_that_float64_cancels() -> None:
    problem = perceptron("tanh", PAIR_INPUTS, [1, 1, 1, 1])
    nu = np.array([-1.0, 3.0])
    low, high = lemma_bounds("tanh", problem.B, PAIR_X, nu)
    assert high < -1000
    st = assess_stationarity(problem, PAIR_X, 0.1, nu)
    assert_within_lemma_bounds(st, low, high)
    # without the witness too: the pair shares one margin, so its rows are summed before the
    # residual weighs them and cancel exactly; what remains is the true ∇E
    plain = assess_stationarity(problem, PAIR_X, 0.1, None)
    assert plain.critical is False and not plain.lemma_applies
    assert plain.gradient_log10 == pytest.approx(high, rel=1e-13)  # high is log10‖∇E‖ itself


def test_the_lemma_bound_with_the_service_witness_of_weakly_separable_data() -> None:
    problem = perceptron("tanh", PAIR_INPUTS, [1, 1, 1, 1])
    nu = separability_of(problem.B).half_space_weights
    assert nu is not None
    low, high = lemma_bounds("tanh", problem.B, PAIR_X, nu)
    st = assess_stationarity(problem, PAIR_X, 0.1, nu)
    assert_within_lemma_bounds(st, low, high)


# ----------------------------------------------------------------------------------------
# frozen: exactly when step·|∂E/∂x_j| < spacing(x_j)/2 for every j


FROZEN_POINTS = [
    # (name, inputs, targets, x): an ordinary point, and tails where ∇E is ~1e-20 … 1e-30
    ("tanh", [[1.0, 0.5], [-0.3, 2.0], [0.7, -1.0]], [1, -1, 1], [0.4, -0.2]),
    ("tanh", [[1.0, 0.5], [2.0, 1.0]], [1, 1], [9.0, 6.0]),
    ("logistic", [[1.0, 0.5], [-0.3, 2.0], [0.7, -1.0]], [1, -1, 1], [0.4, -0.2]),
    ("logistic", [[1.0, 0.5], [2.0, 1.0]], [1, 1], [18.0, 12.0]),
    ("arctan", [[1.0, 0.5], [-0.3, 2.0], [0.7, -1.0]], [1, -1, 1], [0.4, -0.2]),
    ("arctan", [[1.0, 0.5], [2.0, 1.0]], [1, 1], [3e6, 1e6]),
    ("erf", [[1.0, 0.5], [-0.3, 2.0], [0.7, -1.0]], [1, -1, 1], [0.4, -0.2]),
    ("erf", [[1.0, 0.5], [2.0, 1.0]], [1, 1], [4.0, 2.5]),
]


@pytest.mark.parametrize(("name", "inputs", "targets", "x"), FROZEN_POINTS)
def test_frozen_on_both_sides_of_the_boundary_step(
    name: str, inputs: list[list[float]], targets: list[int], x: list[float]
) -> None:
    problem = perceptron(name, inputs, targets)
    point = np.array(x)
    s_star = boundary_step(mp_gradient(name, problem.B, point), point)
    below = assess_stationarity(problem, point, s_star * (1 - SIDE), None)
    above = assess_stationarity(problem, point, s_star * (1 + SIDE), None)
    assert below.frozen is True
    assert above.frozen is False


def test_frozen_needs_every_weight_below_its_own_half_spacing() -> None:
    # weights of very different sizes: x_1 = 1e6 has spacing 1.2e-10, x_2 = 1e-6 has 2.1e-22;
    # the bound is set by the smaller one, not by the norm of x or of ∇E
    problem = perceptron("tanh", [[1e-6, 1.0], [2e-6, -1.0]], [1, 1])
    point = np.array([1e6, 1e-6])
    g = mp_gradient("tanh", problem.B, point)
    per_weight = [
        float(np.spacing(abs(v))) / 2 / abs(float(gj)) for gj, v in zip(g, point, strict=True)
    ]
    assert per_weight[1] < per_weight[0] / 1e6  # the small weight decides
    s_star = boundary_step(g, point)
    assert assess_stationarity(problem, point, s_star * (1 - SIDE), None).frozen is True
    assert assess_stationarity(problem, point, s_star * (1 + SIDE), None).frozen is False


def test_a_zero_weight_with_a_zero_gradient_is_frozen() -> None:
    # rows (1, 0) and (−2, 0): x_2 = 0 has ∂E/∂x_2 = 0 exactly, so no step moves it; x_1 = −300
    # has |∂E/∂x_1| ≈ 4.2e−260 (float64 sees it), far below spacing(300)/2 ≈ 2.8e−14 for η = 0.1
    problem = perceptron("tanh", [[1.0, 0.0], [2.0, 0.0]], [1, -1])
    x = np.array([-300.0, 0.0])
    g = mp_gradient("tanh", problem.B, x)
    assert g[1] == 0 and 0.1 * abs(float(g[0])) < float(np.spacing(300.0)) / 2
    assert assess_stationarity(problem, x, 0.1, None).frozen is True


def test_frozen_means_a_step_cannot_change_the_weights_at_a_power_of_two() -> None:
    # one row b = −1 at x = 1: z = −1, ∂E/∂x = 2·r(−1) > 0, so gd moves x toward 0; with
    # η·∂E/∂x = 0.6e-16 the move is below spacing(1)/2 = 1.11e-16 but above half the gap
    # below 1 (spacing(1)/4 = 0.555e-16): fl(1 − 0.6e-16) = 1 − 2^−53
    problem = perceptron("tanh", [[1.0]], [-1])
    x = np.array([1.0])
    slope = float(mp_gradient("tanh", problem.B, x)[0])
    step = 0.6e-16 / slope
    assert x[0] - step * slope != x[0]  # the method's move does change x in float64
    assert assess_stationarity(problem, x, step, None).frozen is False


# ----------------------------------------------------------------------------------------
# Nets: the float path


def mp_theta(name: str, a: mp.mpf) -> mp.mpf:
    if name == "tanh":
        return mp.tanh(a)
    if name == "logistic":
        return 2 / (1 + mp.exp(-a)) - 1
    if name == "arctan":
        return 2 / mp.pi * mp.atan(a)
    return mp.erf(a)


def mp_net_error(problem: NetworkProblem, name: str, x: Sequence[mp.mpf]) -> mp.mpf:
    """E = Σ_i (θ(a_out(u^i)) − y_i)², the layout of service/core/model/network.py's
    docstring: per layer W row-major, then its biases."""
    widths, bias = problem.layout.widths, problem.layout.bias
    total = mp.mpf(0)
    for u, y in zip(problem.A, problem.y, strict=True):
        h = [mp.mpf(float(v)) for v in u]
        k = 0
        for layer in range(len(widths) - 1):
            rows, cols = widths[layer + 1], widths[layer]
            a = [mp.fsum(x[k + r * cols + c] * h[c] for c in range(cols)) for r in range(rows)]
            k += rows * cols
            if bias:
                a = [a[r] + x[k + r] for r in range(rows)]
                k += rows
            h = [mp_theta(name, v) for v in a]
        total += (h[0] - mp.mpf(float(y))) ** 2
    return total


def mp_net_gradient(problem: NetworkProblem, name: str, x: np.ndarray) -> list[mp.mpf]:
    with mp.workdps(DPS):
        base = [mp.mpf(float(v)) for v in x]

        def along(j: int) -> Callable[[mp.mpf], mp.mpf]:
            return lambda h: mp_net_error(
                problem, name, [b + h if i == j else b for i, b in enumerate(base)]
            )

        return [mp.diff(along(j), 0) for j in range(len(base))]


NET_INPUTS = [[1.0, 0.5], [-0.5, 1.0], [0.3, -1.2], [-1.0, -0.4]]
NET_TARGETS = [1, -1, 1, -1]


@pytest.mark.parametrize("name", ACTIVATIONS)
@pytest.mark.parametrize("bias", [False, True])
def test_a_net_s_gradient_and_frozen_against_mpmath(name: str, bias: bool) -> None:
    problem = build_network_problem(
        NET_INPUTS, NET_TARGETS, get_activation(name), hidden=[2], bias=bias
    )
    x = np.random.default_rng(5 + bias).uniform(-1.0, 1.0, size=problem.m)
    g = mp_net_gradient(problem, name, x)
    st = assess_stationarity(problem, x, 0.1, None)
    assert_log10(st, mp_log10_norm(g), tol=NET_LOG_TOL)
    assert st.critical is False and st.lemma_applies is False
    # a net has no Lemma: a witness passed in is ignored
    assert assess_stationarity(problem, x, 0.1, np.ones(problem.m)).lemma_applies is False
    s_star = boundary_step(g, x)
    assert assess_stationarity(problem, x, s_star * (1 - 1e-6), None).frozen is True
    assert assess_stationarity(problem, x, s_star * (1 + 1e-6), None).frozen is False


@pytest.mark.parametrize("name", ACTIVATIONS)
def test_a_saturated_net_leaves_the_question_open(name: str) -> None:
    # hidden weights ±50 put every pre-activation at |a| ≥ 25 (hidden units at ±1), output
    # weights (1e4, 2e4) every output margin at |z| ≥ 1e4 − 1, where θ'(z) underflows to 0
    # for tanh, logistic and erf; arctan's θ'(1e4) = (2/π)·1e-8 does not
    problem = build_network_problem(NET_INPUTS, NET_TARGETS, get_activation(name), hidden=[2])
    x = np.array([50.0, 50.0, 50.0, -50.0, 1e4, 2e4])
    st = assess_stationarity(problem, x, 0.1, None)
    if name == "arctan":  # θ'(1e4) = 6e-9 is no underflow: a float gradient, critical False
        assert st.critical is False and st.gradient_log10 is not None
        return
    assert st.gradient_log10 is None and st.critical is None
    assert st.frozen is True and st.lemma_applies is False
