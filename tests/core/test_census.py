"""The census of minima (issue 19) against what is known independently.

* m = 1: the exact landscape (/minima's critical points, at ±∞ included) lists every local
  minimum; the census must find exactly those, finite ones to 1e-6, those at infinity by side.
* Product landscapes: when every input has one nonzero coordinate (no bias), E is a sum of
  one-weight errors, so its minima are the products of each coordinate's minima (from the
  exact landscape), their errors the sums; the census must find every product minimum and no
  other.
* The Hessian and gradient norm of a finite minimum against central differences of E itself
  (not of the gradient the census differentiates).
* XOR on a 2-2-1 tanh net: the zero-error minimum at infinity, its symmetric copies merged.
* Chao1 and Good–Turing against values worked out by hand.
"""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

from service.core.analysis.census import (
    Census,
    Endpoint,
    Minimum,
    chao1,
    good_turing,
    summarize,
    symmetry_group,
)
from service.core.budget import Budget
from service.core.census import census, census_starts
from service.core.engine.run import StopRules
from service.core.model.activations import get_activation
from service.core.model.models import model_error
from service.core.model.network import build_network_problem
from service.core.queries import MinimaSpec, find_minima
from service.core.training import TrainingSpec, model_of
from service.vocabulary import EndpointLocation, Location, Method


def exact_minima(b: list[float]) -> list[tuple[str, float]]:
    """The local minima of the one-weight E with inputs b and targets +1 (B = b), from the
    exact landscape: ("finite", x) or ("+inf"/"-inf", E's limit)."""
    landscape = find_minima(MinimaSpec(inputs=[[v] for v in b], targets=[1] * len(b)), Budget())
    out = []
    for m in landscape.local_minima:
        if m.location is Location.FINITE:
            assert m.x is not None
            out.append(("finite", m.x))
        else:
            out.append((m.location.value, m.error))
    return out


def side(m: Minimum) -> str:
    assert m.direction is not None
    return "+inf" if m.direction[0] > 0 else "-inf"


def one_weight_census(b: list[float], starts: int = 48) -> tuple[Census, float]:
    """The census of the one-weight problem B = b over a box that holds every critical
    point with room to spare, at a step size well inside stability (η·Σb² = 0.2)."""
    landscape = find_minima(MinimaSpec(inputs=[[v] for v in b], targets=[1] * len(b)), Budget())
    half = 1.5 * max([1.0] + [abs(c.x) for c in landscape.critical_points])
    spec = TrainingSpec(
        inputs=[[v] for v in b],
        targets=[1] * len(b),
        stop=StopRules(steps=100_000),
        learning_rate=0.2 / float(np.sum(np.square(b))),
        record_points=100,
    )
    # an undetermined run is run again to at most 10⁶ steps
    return census(spec, census_starts(1, starts, half, 0), Budget(max_work=10**6 * len(b))), half


def assert_same_minima(found: Census, expected: list[tuple[str, float]]) -> None:
    got = []
    for m in found.minima:
        if m.location is EndpointLocation.FINITE:
            assert m.weights is not None
            got.append(("finite", float(m.weights[0])))
        else:
            got.append((side(m), m.error))
    assert len(got) == len(expected), (got, expected)
    for kind, value in expected:
        if kind == "finite":
            assert any(k == "finite" and abs(v - value) <= 1e-6 for k, v in got), (got, expected)
        else:
            assert any(k == kind and abs(v - value) <= 1e-6 for k, v in got), (got, expected)


def test_figure_2_census_equals_the_exact_landscape() -> None:
    # the paper's Figure 2 case: inputs 1 and 3, targets +1 and −1 (tanh): b = (1, −3)
    found, _ = one_weight_census([1.0, -3.0])
    expected = exact_minima([1.0, -3.0])
    assert [k for k, _ in expected] == ["finite", "+inf"]
    assert_same_minima(found, expected)
    finite = found.minima[0]
    assert finite.location is EndpointLocation.FINITE and finite.degenerate is False
    assert finite.gradient_norm is not None and finite.gradient_norm < 1e-10


def test_a_flow_census_finds_the_same_minima() -> None:
    spec = TrainingSpec(
        inputs=[[1.0], [3.0]], targets=[1, -1], stop=StopRules(steps=10**9),
        method=Method.FLOW, t_max=1e5, learning_rate=1.0, record_points=100,
    )  # fmt: skip
    found = census(spec, census_starts(1, 16, 3.0, 0), Budget())
    assert_same_minima(found, exact_minima([1.0, -3.0]))


def random_one_weight_problems(count: int) -> list[list[float]]:
    rng = np.random.default_rng(2026)
    problems = []
    while len(problems) < count:
        n = int(rng.integers(2, 6))
        b = np.round(rng.choice([-1.0, 1.0], n) * rng.uniform(0.3, 3.0, n), 2)
        problems.append([float(v) for v in b])
    return problems


@pytest.mark.parametrize("b", random_one_weight_problems(10), ids=lambda b: f"n{len(b)}")
def test_one_weight_census_equals_the_exact_landscape(b: list[float]) -> None:
    found, _ = one_weight_census(b)
    assert_same_minima(found, exact_minima(b))
    assert found.identified + found.unresolved == found.starts


# --- product landscapes --------------------------------------------------------------------

COORDINATES = {
    # per coordinate: its one-weight data b (each input has this one nonzero coordinate)
    "figure2": [1.0, -3.0],  # a finite minimum and one at +∞
    "two_sides": [2.0, -0.5, -0.5],  # a finite minimum and one at −∞
    "three": [1.0, 1.0, -2.5, 0.4],
}


def product_problem(coordinates: list[list[float]]) -> tuple[list[list[float]], list[int]]:
    """Inputs with one nonzero coordinate each (targets +1: B = the inputs)."""
    m = len(coordinates)
    inputs = []
    for j, b in enumerate(coordinates):
        for v in b:
            row = [0.0] * m
            row[j] = v
            inputs.append(row)
    return inputs, [1] * len(inputs)


def product_minima(coordinates: list[list[float]]) -> list[tuple[tuple[str, ...], float]]:
    """Every product of the coordinates' minima: the sides ("finite" or ±inf) and E's sum."""
    per = []
    for b in coordinates:
        landscape = find_minima(MinimaSpec(inputs=[[v] for v in b], targets=[1] * len(b)), Budget())
        per.append([(m.location.value, m.error) for m in landscape.local_minima])
    return [
        (tuple(k for k, _ in combo), sum(e for _, e in combo)) for combo in itertools.product(*per)
    ]


def census_sides(m: Minimum, dims: int) -> tuple[str, ...]:
    if m.location is EndpointLocation.FINITE:
        return ("finite",) * dims
    assert m.direction is not None
    return tuple("finite" if d == 0.0 else ("+inf" if d > 0 else "-inf") for d in m.direction)


@pytest.mark.parametrize(
    ("names", "starts"),
    [(("figure2", "two_sides"), 96), (("figure2", "two_sides", "three"), 192)],
    ids=["m2", "m3"],
)
def test_product_landscape_census_finds_every_product_minimum_and_no_other(
    names: tuple[str, ...], starts: int
) -> None:
    coordinates = [COORDINATES[n] for n in names]
    inputs, targets = product_problem(coordinates)
    expected = product_minima(coordinates)
    assert len(expected) in (4, 8)
    spec = TrainingSpec(
        inputs=inputs,
        targets=targets,
        stop=StopRules(steps=100_000),
        learning_rate=0.05,
        record_points=100,
    )
    # an undetermined run is run again to at most 3·10⁵ steps (the work per run allowed)
    budget = Budget(max_work=300_000 * len(inputs) * len(names))
    found = census(spec, census_starts(len(names), starts, 3.5, 0), budget)
    got = sorted((census_sides(m, len(names)), m.error) for m in found.minima)
    print([(s, round(e, 6), m.hits) for (s, e), m in zip(got, found.minima, strict=True)])
    assert [s for s, _ in got] == sorted(s for s, _ in expected)
    for (sides, error), (want_sides, want_error) in zip(got, sorted(expected), strict=True):
        assert sides == want_sides
        assert error == pytest.approx(want_error, abs=1e-6)
    low, high = found.estimated_interval
    assert low <= len(expected) <= high
    assert found.estimated_total == pytest.approx(len(expected), abs=0.5)


def test_members_are_the_indices_of_the_starts_whatever_the_order_rows_finish_in() -> None:
    spec = TrainingSpec(inputs=[[1.0], [3.0]], targets=[1, -1], stop=StopRules(steps=10))
    model = model_of(spec)
    at = Endpoint(EndpointLocation.FINITE, weights=np.array([-0.18117]), error=1.6449)
    near = Endpoint(EndpointLocation.FINITE, weights=np.array([-0.18118]), error=1.6449)
    found = summarize(model, [(7, at), (2, None), (5, near)], starts=10)
    assert [m.members for m in found.minima] == [[5, 7]]
    assert found.minima[0].basin_fraction == 0.2 and found.unresolved == 1
    assert found.minima[0].weights is not None
    assert abs(found.minima[0].weights[0] - (-0.1811740875163922)) < 1e-12  # polished


def test_a_finite_endpoint_that_is_not_a_critical_point_or_is_flat_is_not_a_minimum() -> None:
    spec = TrainingSpec(inputs=[[1.0], [3.0]], targets=[1, -1], stop=StopRules(steps=10))
    model = model_of(spec)
    # x = 0.6, on the slope up to the maximum (0.81): ∇E ≠ 0, Newton climbs to the maximum
    # or stays off a critical point — a saddle either way, not a minimum
    sloped = Endpoint(EndpointLocation.FINITE, weights=np.array([0.6]), error=3.9)
    # x = 25: every unit saturated, E = 4 to the last bit and ∇E ≈ 1e-43 — float64 sees a
    # flat point; it is the way to the minimum at +∞, not a finite minimum
    flat = Endpoint(EndpointLocation.FINITE, weights=np.array([25.0]), error=4.0)
    for stopped in (sloped, flat):
        found = summarize(model, [(0, stopped)], starts=1)
        assert found.minima == [] and found.unresolved == 1 and len(found.saddles) == 1


# --- the local analysis of a finite minimum ------------------------------------------------


def test_hessian_and_gradient_norm_agree_with_central_differences_of_e() -> None:
    coordinates = [COORDINATES["figure2"], COORDINATES["three"]]
    inputs, targets = product_problem(coordinates)
    spec = TrainingSpec(
        inputs=inputs, targets=targets, stop=StopRules(steps=100_000), learning_rate=0.05
    )
    found = census(spec, census_starts(2, 32, 1.0, 3), Budget())
    finite = [m for m in found.minima if m.location is EndpointLocation.FINITE]
    assert finite
    model = model_of(spec)
    for m in finite:
        assert m.weights is not None and m.hessian_eigenvalues is not None
        x = m.weights
        h = 1e-4
        E = lambda v: model_error(model, np.asarray(v))  # noqa: E731
        gradient = np.array([(E(x + h * e) - E(x - h * e)) / (2 * h) for e in np.eye(2)])
        H = np.array(
            [
                [
                    (E(x + h * ei + h * ej) - E(x + h * ei - h * ej)
                     - E(x - h * ei + h * ej) + E(x - h * ei - h * ej)) / (4 * h * h)
                    for ej in np.eye(2)
                ]
                for ei in np.eye(2)
            ]
        )  # fmt: skip
        assert m.gradient_norm is not None
        assert m.gradient_norm == pytest.approx(float(np.linalg.norm(gradient)), abs=1e-6)
        assert np.allclose(m.hessian_eigenvalues, np.linalg.eigvalsh(H), rtol=1e-5, atol=1e-5)
        assert m.degenerate is False and m.hessian_eigenvalues[0] > 0


# --- nets ----------------------------------------------------------------------------------

XOR = ([[-1.0, -1.0], [-1.0, 1.0], [1.0, -1.0], [1.0, 1.0]], [-1, 1, 1, -1])


def test_symmetries_of_a_2_2_1_net_are_eight_maps_that_keep_e() -> None:
    net = build_network_problem(*XOR, get_activation("tanh"), hidden=[2], bias=True)
    group = symmetry_group(net)
    assert group is not None and len(group) == 8  # 2! permutations × 2² sign flips
    x = np.random.default_rng(0).standard_normal(net.m)
    images = np.array([g(x) for g in group])
    assert len({tuple(np.round(v, 12)) for v in images}) == 8
    for v in images:
        assert model_error(net, v) == pytest.approx(model_error(net, x), rel=1e-12)


def test_xor_census_finds_the_zero_error_minimum_at_infinity_once() -> None:
    spec = TrainingSpec(
        inputs=XOR[0], targets=XOR[1], stop=StopRules(steps=100_000), hidden=(2,), bias=True,
        record_points=100,
    )  # fmt: skip
    found = census(spec, census_starts(9, 32, 1.0, 0), Budget())
    best = found.minima[0]
    assert best.location is EndpointLocation.INFINITY
    assert best.error < 1e-6
    assert best.outputs is not None and np.all(best.outputs > 1.0 - 1e-6)  # every XOR point fitted
    assert best.symmetric_copies == 8
    # one entry for zero error, however many copies and directions the runs took
    assert sum(1 for m in found.minima if m.error < 1e-6) == 1
    assert best.hits >= 16
    # no two reported minima are symmetric copies of each other: their outputs differ
    outputs = [m.outputs for m in found.minima if m.outputs is not None]
    for a, b in itertools.combinations(outputs, 2):
        assert float(np.max(np.abs(a - b))) > 1e-2


# --- the counts ----------------------------------------------------------------------------


def test_chao1_and_coverage_by_hand() -> None:
    # 5 distinct, f1 = 3, f2 = 1: S = 5 + 9/2 = 9.5; var = 1·(9/2 + 27 + 81/4) = 51.75;
    # C = exp(1.96·√ln(1 + 51.75/4.5²)) = exp(1.96·√ln 3.5556) = 9.0927
    total, (low, high) = chao1(5, 3, 1)
    assert total == 9.5
    assert low == pytest.approx(5 + 4.5 / 9.0927, rel=1e-4)
    assert high == pytest.approx(5 + 4.5 * 9.0927, rel=1e-4)
    # no doubleton: the bias-corrected form, 4 + 2·1/2 = 5
    assert chao1(4, 2, 0)[0] == 5.0
    # no singleton: nothing unseen
    assert chao1(7, 0, 3) == (7.0, (7.0, 7.0))
    assert good_turing(3, 60) == pytest.approx(0.95)
    assert good_turing(0, 0) == 0.0


def test_starts_fill_the_box_and_any_count_keeps_the_first_ones() -> None:
    starts = census_starts(3, 100, 2.0, 7)
    assert starts.shape == (100, 3)
    assert np.all(np.abs(starts) <= 2.0)
    assert np.array_equal(census_starts(3, 37, 2.0, 7), starts[:37])
    assert not np.array_equal(census_starts(3, 37, 2.0, 8), starts[:37])
    # a low-discrepancy set: every octant of the box holds its share (100/8 ± 3)
    octants = np.bincount(((starts > 0) * [1, 2, 4]).sum(axis=1), minlength=8)
    assert np.all(np.abs(octants - 12.5) <= 3), octants
    assert math.isclose(float(np.mean(starts)), 0.0, abs_tol=0.1)
