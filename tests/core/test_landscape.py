"""The one-weight landscape: the paper's §2 cases, the issue's reference values (checked
here against mpmath roots of E' at 50 digits), the rules at ±∞, far roots and invariances."""

from __future__ import annotations

import math

import mpmath as mp
import numpy as np
import pytest

from service.core.analysis.landscape import Landscape, find_critical_points
from service.core.model.activations import ACTIVATIONS
from service.vocabulary import ActivationName, CriticalKind, Location
from tests.core import mp_reference as ref


def land(b: list[float], name: str = "tanh") -> Landscape:
    return find_critical_points(np.array(b, dtype=np.float64), ACTIVATIONS[ActivationName(name)])


def mp_root(name: str, b: list[float], guess: float, width: float = 1e-4) -> mp.mpf:
    """The root of E' near ``guess`` at 50 digits, found on the scale-free E'/Σ|terms|
    (E' itself can be e^{−10^8}, below any absolute tolerance)."""

    def relative(x: mp.mpf) -> mp.mpf:
        terms = ref.slope_terms(name, b, x)
        return mp.fsum(terms) / mp.fsum(abs(t) for t in terms)

    with mp.workdps(50):
        lo, hi = mp.mpf(guess) - width, mp.mpf(guess) + width
        assert relative(lo) * relative(hi) < 0, "no sign change around the reference value"
        return mp.findroot(relative, (lo, hi), solver="anderson")


def assert_points(
    result: Landscape, name: str, b: list[float], expected: list[tuple[float, CriticalKind]]
) -> None:
    """The finite critical points are exactly ``expected`` (issue values, 7 digits), and
    each equals the 50-digit mpmath root of E' near it to 1e-12 relative."""
    got = [(p.x, p.kind) for p in result.critical_points]
    assert [k for _, k in got] == [k for _, k in expected], got
    for p, (x_issue, _) in zip(result.critical_points, expected, strict=True):
        root = mp_root(name, b, x_issue)
        assert abs(float(root) - x_issue) < 5e-7 * max(1.0, abs(x_issue))
        assert p.x == pytest.approx(float(root), rel=1e-12, abs=1e-15)
        with mp.workdps(30):
            assert p.error == pytest.approx(float(ref.error(name, b, root)), rel=1e-13)


def test_tanh_type_3_a_3_has_a_min_a_max_and_a_minimum_at_plus_infinity() -> None:
    b = [1.0, -3.0]
    result = land(b)
    assert_points(
        result, "tanh", b, [(-0.1811741, CriticalKind.MIN), (0.8090037, CriticalKind.MAX)]
    )
    assert result.critical_points[0].error == pytest.approx(1.6449232, abs=5e-8)
    assert result.critical_points[1].error == pytest.approx(4.0478807, abs=5e-8)
    assert [m.location for m in result.local_minima] == [Location.FINITE, Location.PLUS_INF]
    assert result.plus.error_limit == 4.0 and result.plus.local_min
    assert not result.minus.local_min
    assert result.global_error == result.critical_points[0].error
    assert result.subspace is not None
    assert (result.subspace.type, result.subspace.a) == (3, 3.0)


def test_tanh_type_3_a_1_9_has_one_minimum_and_nothing_else() -> None:
    b = [1.0, -1.9]
    result = land(b)
    assert_points(result, "tanh", b, [(-0.1790718, CriticalKind.MIN)])
    assert [m.location for m in result.local_minima] == [Location.FINITE]
    assert not result.plus.local_min and not result.minus.local_min


def test_arctan_type_3_a_10_has_three_finite_points_and_no_minimum_at_infinity() -> None:
    b = [1.0, -10.0]
    result = land(b, "arctan")
    assert_points(
        result,
        "arctan",
        b,
        [
            (-0.1549936, CriticalKind.MIN),
            (0.6413519, CriticalKind.MAX),
            (2.7237044, CriticalKind.MIN),
        ],
    )
    assert not result.plus.local_min and not result.minus.local_min
    assert [m.location for m in result.local_minima] == [Location.FINITE, Location.FINITE]


@pytest.mark.parametrize(
    ("b", "end", "limit"),
    [([0.0, 1.0], Location.PLUS_INF, 1.0), ([0.0, -3.0], Location.MINUS_INF, 1.0)],
)
def test_type_1_has_its_one_minimum_at_infinity_at_distance_1(
    b: list[float], end: Location, limit: float
) -> None:
    result = land(b)
    assert result.critical_points == ()
    assert [(m.location, m.x, m.error) for m in result.local_minima] == [(end, None, limit)]
    assert result.distance == 1.0
    assert result.subspace is not None and result.subspace.type == 1


@pytest.mark.parametrize("name", list(ActivationName))
def test_type_2_has_no_finite_critical_point(name: str) -> None:
    positive = land([1.0, 2.5], name)
    assert positive.critical_points == ()
    assert [(m.location, m.error) for m in positive.local_minima] == [(Location.PLUS_INF, 0.0)]
    assert positive.distance == 0.0
    flat_second = land([1.0, 0.0], name)  # E = 1 + (θ(x) − 1)², strictly decreasing
    assert flat_second.critical_points == ()
    assert [(m.location, m.error) for m in flat_second.local_minima] == [(Location.PLUS_INF, 1.0)]
    assert flat_second.distance == 1.0
    assert flat_second.subspace is not None
    assert (flat_second.subspace.type, flat_second.subspace.a) == (2, 0.0)


def test_flat_when_every_input_is_zero() -> None:
    result = land([0.0, 0.0, 0.0])
    assert result.flat and result.critical_points == () and result.local_minima == ()
    assert result.global_error == 3.0 and result.distance == math.sqrt(3.0)
    assert result.subspace is None


def excess_sign(name: str, b: list[float], x: float) -> int:
    with mp.workdps(40):
        return int(mp.sign(ref.excess_at(name, b, x)))


# (b, activation, +∞ is a local min, x far enough for the asymptotics to have taken over)
END_RULES = [
    ([1.0, -2.5], "tanh", True, 40.0),  # 2·1 < 2.5: the decaying e^{-4x} is slower
    ([1.0, -1.5], "tanh", False, 40.0),
    ([1.0, -2.0], "tanh", False, 40.0),  # tie e^{-4x}: coefficients 4 − 8 < 0
    ([1.0, 1.0, -2.0], "tanh", False, 40.0),  # tie cancels: −16·e^{−6x} decides
    ([1.0, 1.0, 1.0, -2.0], "tanh", True, 40.0),  # tie, 12 − 8 > 0
    ([1.0, 1.0, -2.0], "logistic", False, 80.0),
    ([1.0, -2.5], "logistic", True, 80.0),
    ([1.0, -1000.0], "arctan", False, 1e6),  # any rising example wins (1/x vs 1/x²)
    ([1.0, 0.5], "arctan", True, 1e6),
    ([1.0, -1.5], "erf", True, 30.0),  # 1.5² > 2·1²
    ([1.0, -1.4], "erf", False, 100.0),  # 1.4² < 2
]


@pytest.mark.parametrize(("b", "name", "is_min", "far"), END_RULES)
def test_rule_at_infinity_matches_the_sign_of_e_minus_its_limit(
    b: list[float], name: str, is_min: bool, far: float
) -> None:
    result = land(b, name)
    assert result.plus.local_min is is_min
    assert result.plus.approach == ("above" if is_min else "below")
    assert (excess_sign(name, b, far) > 0) is is_min
    flipped = land([-v for v in b], name)
    assert flipped.minus.local_min is is_min


@pytest.mark.parametrize("eps", [1e-3, 1e-6, 1e-9])
def test_far_maximum_of_a_near_tie_is_found(eps: float) -> None:
    # b = (1, −2(1+ε)), tanh: E' ∝ 2(1+ε)e^{−4(1+ε)x}(1+…) − e^{−4x}(1+…): a max at
    # x ≈ ln(2(1+ε))/(4ε), far beyond where any float64 term of E' underflows.
    b = [1.0, -2.0 * (1.0 + eps)]
    result = land(b)
    assert [p.kind for p in result.critical_points] == [CriticalKind.MIN, CriticalKind.MAX]
    x = result.critical_points[1].x
    guess = math.log(2.0 * (1.0 + eps)) / (4.0 * eps)
    assert x == pytest.approx(float(mp_root("tanh", b, guess, 0.05 * guess)), rel=1e-12)
    assert result.plus.local_min


def test_far_maximum_of_an_erf_near_tie_is_found() -> None:
    b = [1.0, -math.sqrt(2.0) * (1.0 + 1e-6)]
    result = land(b, "erf")
    assert [p.kind for p in result.critical_points] == [CriticalKind.MIN, CriticalKind.MAX]
    x = result.critical_points[1].x
    assert ref.relative_slope("erf", b, x) < 1e-14
    h = 1e-9 * x
    assert ref.slope_signs("erf", b, np.array([x - h, x + h])).tolist() == [1.0, -1.0]


def test_exact_zero_slope_at_zero_is_a_minimum() -> None:
    result = land([1.0, 1.0, -2.0])  # E'(0) ∝ Σ b_i = 0 and E''(0) > 0
    assert [(p.x, p.kind) for p in result.critical_points] == [(0.0, CriticalKind.MIN)]
    assert result.critical_points[0].error == 3.0


def summary(result: Landscape, scale: float = 1.0) -> tuple[list[object], list[float]]:
    """(kinds and end flags, numbers) of a landscape, with x multiplied by ``scale``."""
    kinds: list[object] = [p.kind for p in result.critical_points]
    kinds += [result.plus.local_min, result.minus.local_min]
    numbers = [v for p in result.critical_points for v in (p.x * scale, p.error)]
    numbers += [result.plus.error_limit, result.minus.error_limit, result.global_error]
    return kinds, numbers


def assert_same(a: tuple[list[object], list[float]], b: tuple[list[object], list[float]]) -> None:
    assert a[0] == b[0]
    assert a[1] == pytest.approx(b[1], rel=1e-9, abs=1e-300)


@pytest.mark.parametrize("name", list(ActivationName))
def test_invariances(name: str) -> None:
    rng = np.random.default_rng(7)
    for _ in range(5):
        b = rng.choice([-1.0, 1.0], 6) * 10.0 ** rng.uniform(-1.0, 1.0, 6)
        base = find_critical_points(b, ACTIVATIONS[ActivationName(name)])
        # swapping examples
        perm = find_critical_points(rng.permutation(b), ACTIVATIONS[ActivationName(name)])
        assert_same(summary(perm), summary(base))
        # scaling every input by c > 0 scales x by 1/c
        c = 8.0  # a power of two: the scaled data are the same binary fractions
        scaled = find_critical_points(c * b, ACTIVATIONS[ActivationName(name)])
        assert_same(summary(scaled, scale=c), summary(base))
        c = 3.7
        scaled = find_critical_points(c * b, ACTIVATIONS[ActivationName(name)])
        assert_same(summary(scaled, scale=c), summary(base))
        # flipping an input together with its target leaves b = y·u unchanged (API test)


def test_curve_samples_the_whole_line_and_the_image_curve() -> None:
    b = [1.0, -3.0]
    result = find_critical_points(np.array(b), ACTIVATIONS[ActivationName.TANH], curve_points=101)
    curve = result.curve
    assert curve is not None and curve.image is not None
    assert curve.x.size == 101 and np.all(np.diff(curve.x) > 0)
    assert curve.s[0] > -math.pi / 2 and curve.s[-1] < math.pi / 2
    assert curve.x[0] < -20.0 * curve.scale and curve.x[-1] > 20.0 * curve.scale
    np.testing.assert_allclose(curve.image, np.tanh(np.outer(curve.x, b)), rtol=1e-15)
    expected = (1 - np.tanh(curve.x)) ** 2 + (1 - np.tanh(-3.0 * curve.x)) ** 2
    np.testing.assert_allclose(curve.error, expected, rtol=1e-12, atol=1e-14)


def test_the_naive_float_scan_sees_an_extremum_that_does_not_exist() -> None:
    # E' = −2Σ b(1 − tanh(bx))·sech²(bx) in plain float64: 1 − tanh x is exactly 0 from
    # x ≈ 19, while sech²(3x) lives on to x ≈ 118, so the naive E' turns positive there.
    b = [1.0, -3.0]
    x = np.linspace(10.0, 40.0, 301)
    naive = -2.0 * sum(v * (1.0 - np.tanh(v * x)) / np.cosh(v * x) ** 2 for v in b)
    assert np.any(np.diff(np.sign(naive)) != 0)  # a fake critical point near x = 19
    truth = ref.slope_signs("tanh", b, x)
    assert np.all(truth == -1.0)  # at 30 digits E' < 0 on the whole stretch
    assert all(abs(p.x) < 1.0 for p in land(b).critical_points)


@pytest.fixture(scope="module")
def arctan_fold() -> tuple[float, float]:
    """(x*, a*) where the max and the far min of arctan with b = (1, −a) merge: E' = E'' = 0,
    solved at 40 digits."""
    with mp.workdps(40):

        def slope(x: mp.mpf, a: mp.mpf) -> mp.mpf:
            return ref.slope("arctan", [1, -a], x)

        def curvature(x: mp.mpf, a: mp.mpf) -> mp.mpf:
            return mp.diff(lambda y: ref.slope("arctan", [1, -a], y), x)

        x, a = mp.findroot([slope, curvature], (mp.mpf("1.3"), mp.mpf("7.5")))
        return float(x), float(a)


@pytest.mark.parametrize("rel", [1e-3, 1e-6, 1e-9])
def test_close_pair_of_roots_near_a_fold_is_split(
    arctan_fold: tuple[float, float], rel: float
) -> None:
    x_fold, a_fold = arctan_fold
    above = [1.0, -a_fold * (1.0 + rel)]  # two roots ~ x*·√rel apart: inside one grid cell
    result = land(above, "arctan")
    kinds = [p.kind for p in result.critical_points]
    assert kinds == [CriticalKind.MIN, CriticalKind.MAX, CriticalKind.MIN]
    pair = [p.x for p in result.critical_points[1:]]
    assert pair[0] < x_fold < pair[1] and pair[1] - pair[0] < 0.1 * x_fold
    for x in pair:
        assert ref.relative_slope("arctan", above, x) < 1e-12
    below = [1.0, -a_fold * (1.0 - rel)]
    result = land(below, "arctan")
    assert [p.kind for p in result.critical_points] == [CriticalKind.MIN]
    grid = np.linspace(0.9 * x_fold, 1.1 * x_fold, 201)
    assert np.all(ref.slope_signs("arctan", below, grid, dps=40) > 0)
