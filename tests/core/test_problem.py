"""E and ∇E against closed forms, mpmath and finite differences; dataset validation."""

from __future__ import annotations

import math

import mpmath
import numpy as np
import pytest

from service.core.errors import InvalidProblem
from service.core.model.activations import ACTIVATIONS, get_activation
from service.core.model.problem import build_problem, check_weights, error, error_and_gradient

NAMES = sorted(ACTIVATIONS)


def _grad(problem, x):  # type: ignore[no-untyped-def]
    with np.errstate(over="ignore", invalid="ignore"):
        return error_and_gradient(problem, x)


@pytest.mark.parametrize("name", NAMES)
def test_scalar_closed_form(name: str) -> None:
    # n = 1, m = 1: E(x) = (θ(u·x) − y)², E'(x) = 2(θ(u·x) − y)·θ'(u·x)·u
    from tests.core.test_activations import mp_derivative, mp_theta

    mpmath.mp.dps = 50
    for u, y, x in [(1.0, 1, 0.3), (-2.5, 1, 0.7), (0.5, -1, 1.2), (3.0, -1, -0.4)]:
        problem = build_problem([[u]], [y], get_activation(name))
        e, g = _grad(problem, np.array([x]))
        z = mpmath.mpf(u) * mpmath.mpf(x)
        exact_e = (mp_theta(name, z) - y) ** 2
        exact_g = 2 * (mp_theta(name, z) - y) * mp_derivative(name, z) * u
        assert e == pytest.approx(float(exact_e), rel=1e-13)
        assert g[0] == pytest.approx(float(exact_g), rel=1e-12)


@pytest.mark.parametrize("bias", [False, True])
@pytest.mark.parametrize("name", NAMES)
def test_gradient_matches_central_differences(name: str, bias: bool) -> None:
    rng = np.random.default_rng(7)
    for _ in range(5):
        n, m = rng.integers(1, 8), rng.integers(1, 5)
        A = rng.normal(size=(n, m))
        y = rng.choice([-1.0, 1.0], size=n)
        problem = build_problem(A.tolist(), y.tolist(), get_activation(name), bias=bias)
        x = rng.normal(size=problem.m)
        _, g = _grad(problem, x)
        h = 1e-6
        fd = np.array(
            [
                (error(problem, x + h * e_j) - error(problem, x - h * e_j)) / (2 * h)
                for e_j in np.eye(problem.m)
            ]
        )
        assert np.linalg.norm(g - fd) <= 1e-6 * max(np.linalg.norm(g), 1e-3)


def test_error_at_x_30_is_positive_and_exact() -> None:
    problem = build_problem([[1.0]], [1], get_activation("tanh"))
    mpmath.mp.dps = 50
    exact = float((1 - mpmath.tanh(30)) ** 2)
    value = error(problem, np.array([30.0]))
    assert 1.0 - math.tanh(30.0) == 0.0  # what a naive complement would give
    assert value > 0
    assert value == pytest.approx(exact, rel=1e-10)


def test_reduction_to_B_with_bias() -> None:
    problem = build_problem([[1.0, 2.0], [3.0, 4.0]], [1, -1], get_activation("tanh"), bias=True)
    np.testing.assert_array_equal(problem.B, [[1, 2, 1], [-3, -4, -1]])
    assert (problem.n, problem.m) == (2, 3)
    # E with targets equals E of the reduced form (θ odd)
    x = np.array([0.1, -0.2, 0.3])
    A = np.array([[1.0, 2.0, 1.0], [3.0, 4.0, 1.0]])
    direct = float(np.sum((np.tanh(A @ x) - np.array([1, -1])) ** 2))
    assert error(problem, x) == pytest.approx(direct, rel=1e-14)


@pytest.mark.parametrize(
    ("inputs", "targets", "field", "words"),
    [
        ([], [], "dataset.inputs", "at least one example"),
        ([[]], [1], "dataset.inputs", "at least one input"),
        ([[1.0, 2.0], [3.0]], [1, 1], "dataset.inputs", "row 1 has 1"),
        ([[1.0]], [1, 1], "dataset.targets", "1 rows, 2 targets"),
        ([[1.0], [2.0]], [1, 0], "dataset.targets", "map 0 to -1"),
        ([[1.0]], [0.5], "dataset.targets", "+1 or -1"),
        ([[math.nan]], [1], "dataset.inputs", "finite"),
    ],
)
def test_invalid_datasets_name_the_field(
    inputs: list[list[float]], targets: list[float], field: str, words: str
) -> None:
    with pytest.raises(InvalidProblem) as info:
        build_problem(inputs, targets, get_activation("tanh"))
    assert info.value.field == field
    assert words in info.value.message


def test_initial_weights_are_checked() -> None:
    problem = build_problem([[1.0, 2.0]], [1], get_activation("tanh"), bias=True)
    with pytest.raises(InvalidProblem, match="needs 3 weights .*bias.*got 2"):
        check_weights(problem, [0.0, 0.0], "initial_weights")
    overflowing = build_problem([[1e10, -1e10]], [1], get_activation("tanh"))
    with pytest.raises(InvalidProblem, match="overflows"):
        check_weights(overflowing, [1e300, 1e300], "initial_weights")
