"""Separability: booleans, certificates checked as a client would, ŵ against enumeration."""

from __future__ import annotations

import itertools
import math
from fractions import Fraction

import numpy as np
import pytest

from service.core.analysis import separability as sep
from service.core.analysis.separability import Separability
from service.vocabulary import CertificateKind

Array = np.ndarray


# ---------------------------------------------------------------------------------------
# Independent checks, written without the code under test


def reduced(inputs: list[list[float]], targets: list[int], bias: bool = False) -> Array:
    A = np.asarray(inputs, dtype=float)
    if bias:
        A = np.hstack([A, np.ones((len(A), 1))])
    return np.asarray(targets, dtype=float)[:, None] * A


def assert_gordan(B: Array, lam: Array) -> None:
    """λ ≥ 0, λ ≠ 0 (Σλ = 1) and Bᵀλ = 0 to 1e-9."""
    assert lam.shape == (B.shape[0],)
    assert lam.min() >= 0.0
    assert abs(lam.sum() - 1.0) <= 1e-12
    assert np.max(np.abs(B.T @ lam)) <= 1e-9


def assert_stiemke(B: Array, lam: Array) -> None:
    """Every λ_i > 0 and Bᵀλ = 0 to 1e-9."""
    assert_gordan(B, lam)
    assert lam.min() > 0.0


def enumerate_max_margin(B: Array) -> Array:
    """ŵ by brute force: for every set S of at most m rows, the minimum-norm solution of
    B_S·w = 1 (when consistent); the shortest one that satisfies B·w ≥ 1 is ŵ (ŵ is the
    minimum-norm solution on its own support, which by Carathéodory can be taken of size ≤ m;
    every feasible w is at least as long as ŵ)."""
    n, m = B.shape
    best: Array | None = None
    for size in range(1, min(n, m) + 1):
        for S in itertools.combinations(range(n), size):
            BS = B[list(S)]
            w = np.linalg.pinv(BS) @ np.ones(size)
            if np.max(np.abs(BS @ w - 1.0)) > 1e-10:  # inconsistent
                continue
            if np.min(B @ w) < 1.0 - 1e-10:
                continue
            if best is None or np.linalg.norm(w) < np.linalg.norm(best) - 1e-14:
                best = w
    assert best is not None
    return best


def assert_facts_consistent(B: Array, r: Separability) -> None:
    """Every witness and certificate in ``r`` checked from its definition."""
    if r.strictly_separable:
        assert r.certificate is None and r.max_margin is not None
        assert r.separating_weights is not None
        assert np.min(B @ r.separating_weights) >= 1.0 - 1e-9
        mm = r.max_margin
        assert mm.kkt_residual <= 1e-8
        alpha = mm.multipliers
        assert alpha.min() >= 0.0
        np.testing.assert_allclose(B.T @ alpha, mm.weights, atol=1e-9 * np.abs(mm.weights).max())
        np.testing.assert_allclose(B[mm.support_vectors] @ mm.weights, 1.0, atol=1e-9)
        assert mm.margin == pytest.approx(1.0 / np.linalg.norm(mm.weights), rel=1e-12)
    else:
        assert r.certificate is not None and r.max_margin is None
        if r.weakly_separable:
            assert r.certificate.kind is CertificateKind.GORDAN
            assert_gordan(B, r.certificate.multipliers)
        else:
            assert r.certificate.kind is CertificateKind.STIEMKE
            assert_stiemke(B, r.certificate.multipliers)
    if r.weakly_separable:
        nu = r.half_space_weights
        assert nu is not None
        assert np.linalg.norm(nu) == pytest.approx(1.0, rel=1e-12)
        z = B @ nu
        assert z.min() >= -1e-12 and z.max() > 1e-6
    else:
        assert r.half_space_weights is None
    assert r.lemma_applies == r.weakly_separable
    assert r.rank == np.linalg.matrix_rank(B)
    assert r.rows_independent == (r.rank == B.shape[0])


# ---------------------------------------------------------------------------------------


def test_the_issue_example_has_the_closed_form_hard_margin() -> None:
    # Support (2, −0.5), (−0.5, 2) by symmetry: ŵ = (a, a) with 1.5a = 1; α = 4/9 each.
    B = reduced([[2, 1], [1, 3], [-1, -1], [-2, 0.5], [0.5, -2]], [1, 1, -1, -1, -1])
    r = sep.test_separability(B)
    assert r.strictly_separable and r.weakly_separable and r.lemma_applies
    assert r.max_margin is not None
    np.testing.assert_allclose(r.max_margin.weights, [2 / 3, 2 / 3], rtol=0, atol=1e-14)
    assert r.max_margin.margin == pytest.approx(1.5 / np.sqrt(2), rel=1e-14)
    assert r.max_margin.support_vectors.tolist() == [3, 4]
    np.testing.assert_allclose(r.max_margin.multipliers, [0, 0, 0, 4 / 9, 4 / 9], atol=1e-14)
    assert r.rank == 2 and not r.rows_independent
    assert_facts_consistent(B, r)


@pytest.mark.parametrize(
    ("name", "inputs", "targets", "bias", "strict", "weak"),
    [
        ("zero input row", [[0.0, 0.0], [1.0, 2.0], [-1.0, 1.0]], [1, 1, -1], False, False, True),
        (
            "u and -u, same label",
            [[1.0, 2.0], [-1.0, -2.0], [3.0, -1.0]],
            [1, 1, 1],
            False,
            False,
            True,
        ),
        ("xor with bias", [[0, 0], [1, 1], [0, 1], [1, 0]], [-1, -1, 1, 1], True, False, False),
        ("and with bias", [[0, 0], [1, 1], [0, 1], [1, 0]], [-1, 1, -1, -1], True, True, True),
        ("u, -u opposite labels", [[1.0, 2.0], [-1.0, -2.0]], [1, -1], False, True, True),
        ("all zero", [[0.0, 0.0], [0.0, 0.0]], [1, -1], False, False, False),
        ("one zero row", [[0.0]], [1], False, False, False),
        ("n = 1", [[3.0, -4.0, 0.5]], [-1], False, True, True),
        ("m = 1 separable", [[2.0], [-0.5], [1e-3]], [1, -1, 1], False, True, True),
        ("m = 1 two signs", [[2.0], [0.5]], [1, -1], False, False, False),
        ("m = 1 with a zero", [[2.0], [0.0], [3.0]], [1, -1, 1], False, False, True),
        (
            "n < m",
            [[1.0, 0.0, 2.0, 0.0, 1.0], [0.0, 1.0, 0.0, 1.0, 1.0]],
            [1, -1],
            False,
            True,
            True,
        ),
        (
            "duplicates",
            [[1.0, 1.0], [1.0, 1.0], [1.0, 1.0], [2.0, 0.0]],
            [1, 1, 1, 1],
            False,
            True,
            True,
        ),
        (
            "duplicate opposite",
            [[1.0, 1.0], [1.0, 1.0], [2.0, 0.0]],
            [1, -1, 1],
            False,
            False,
            True,
        ),
        ("1d on a line", [[1.0, 0.0], [-1.0, 0.0], [2.0, 0.0]], [1, 1, 1], False, False, False),
    ],
)
def test_booleans_and_certificates(
    name: str,
    inputs: list[list[float]],
    targets: list[int],
    bias: bool,
    strict: bool,
    weak: bool,
) -> None:
    B = reduced(inputs, targets, bias)
    r = sep.test_separability(B)
    assert (r.strictly_separable, r.weakly_separable) == (strict, weak), name
    assert_facts_consistent(B, r)


@pytest.mark.parametrize("seed", range(12))
def test_hard_margin_matches_enumeration_on_random_separable_sets(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n, m = int(rng.integers(2, 9)), int(rng.integers(1, 4))
    A = rng.standard_normal((n, m))
    truth = rng.standard_normal(m)
    y = np.where(A @ truth >= 0, 1, -1)
    B = y[:, None] * A
    r = sep.test_separability(B)
    assert r.strictly_separable and r.max_margin is not None
    np.testing.assert_allclose(r.max_margin.weights, enumerate_max_margin(B), rtol=0, atol=1e-7)
    assert_facts_consistent(B, r)


def test_degenerate_support_more_active_rows_than_weights() -> None:
    # (1,0), (1,1), (1,−1) are all active at ŵ = (1, 0); (1,0) twice more.
    B = np.array([[1.0, 0.0], [1.0, 1.0], [1.0, -1.0], [1.0, 0.0], [1.0, 0.0], [3.0, 0.5]])
    r = sep.test_separability(B)
    assert r.max_margin is not None
    np.testing.assert_allclose(r.max_margin.weights, [1.0, 0.0], atol=1e-14)
    np.testing.assert_allclose(r.max_margin.weights, enumerate_max_margin(B), atol=1e-7)
    assert_facts_consistent(B, r)


@pytest.mark.parametrize("scale", [1e-6, 1.0, 1e6])
def test_hard_margin_scales_inversely_with_the_data(scale: float) -> None:
    B = reduced([[2, 1], [1, 3], [-1, -1], [-2, 0.5], [0.5, -2]], [1, 1, -1, -1, -1]) * scale
    r = sep.test_separability(B)
    assert r.max_margin is not None
    np.testing.assert_allclose(r.max_margin.weights * scale, [2 / 3, 2 / 3], rtol=1e-12)


@pytest.mark.parametrize("seed", range(4))
def test_random_non_separable_sets_carry_checkable_certificates(seed: int) -> None:
    rng = np.random.default_rng(100 + seed)
    n, m = 40, 3
    B = rng.standard_normal((n, m)) * rng.choice([-1.0, 1.0], size=(n, 1))
    r = sep.test_separability(B)
    assert not r.strictly_separable and not r.weakly_separable  # points all around 0
    assert_facts_consistent(B, r)


def test_weak_but_not_strict_in_a_subspace() -> None:
    # Rows ±e₁ and ±e₂ force ν ∝ e₃ (B·ν ≥ 0 needs ν₁ = ν₂ = 0); then (0.3, −0.2, 1)·ν = ν₃,
    # so ν = e₃ is the only unit witness.
    B = np.array(
        [[1.0, 0.0, 0.0], [-1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, -1.0, 0.0], [0.3, -0.2, 1.0]]
    )
    r = sep.test_separability(B)
    assert (r.strictly_separable, r.weakly_separable) == (False, True)
    assert r.half_space_weights is not None
    np.testing.assert_allclose(r.half_space_weights, [0.0, 0.0, 1.0], atol=1e-12)
    assert_facts_consistent(B, r)


def test_a_large_separable_set_is_solved_exactly() -> None:
    rng = np.random.default_rng(7)
    n, m = 5000, 10
    A = rng.standard_normal((n, m))
    y = np.where(A @ rng.standard_normal(m) >= 0, 1.0, -1.0)
    B = y[:, None] * A
    r = sep.test_separability(B)
    assert r.strictly_separable
    assert_facts_consistent(B, r)
    mm = r.max_margin
    assert mm is not None
    # Optimality checked independently: ŵ is the minimum-norm solution of B_S·w = 1 on the
    # reported support, and every other row is inactive.
    S = mm.support_vectors
    np.testing.assert_allclose(
        mm.weights, np.linalg.pinv(B[S]) @ np.ones(S.size), rtol=0, atol=1e-9
    )


def test_small_integer_matrices_every_answer_is_proved() -> None:
    """Each boolean is backed by a witness or a certificate that assert_facts_consistent
    checks from its definition, so consistency here is correctness; small integer entries
    make zero rows, duplicates, opposite rows and degenerate supports common."""
    rng = np.random.default_rng(2024)
    seen = set()
    for _ in range(400):
        n, m = int(rng.integers(1, 7)), int(rng.integers(1, 4))
        B = rng.integers(-1, 2, size=(n, m)).astype(float)
        r = sep.test_separability(B)
        assert_facts_consistent(B, r)
        seen.add((r.strictly_separable, r.weakly_separable))
        if r.max_margin is not None and n <= 6:
            np.testing.assert_allclose(r.max_margin.weights, enumerate_max_margin(B), atol=1e-7)
    assert seen == {(True, True), (False, True), (False, False)}


def test_rank_of_a_tall_rank_deficient_matrix() -> None:
    rng = np.random.default_rng(3)
    B = rng.standard_normal((2000, 3)) @ rng.standard_normal((3, 6))
    r = sep.test_separability(B)
    assert r.rank == 3 and not r.rows_independent
    assert sep.numerical_rank(rng.standard_normal((2000, 6))) == 6


# ---------------------------------------------------------------------------------------
# Random instances whose answer is known by construction, at widely different scales of the
# rows and the columns. The verdicts do not change under positive scalings of rows and
# columns (signs of B·v are kept, and (R·B·D)ᵀ·R⁻¹λ = D·Bᵀλ), so each construction fixes the
# answer whatever the scales; every certificate and witness is checked from its definition.


def exact_margins(B: Array, w: Array) -> list[Fraction]:
    """b_i·w for every row in exact rational arithmetic: a positive margin is a proof."""
    return [
        sum(
            (Fraction(float(b)) * Fraction(float(x)) for b, x in zip(row, w, strict=True)),
            Fraction(0),
        )
        for row in B
    ]


def rows_towards(rng: np.random.Generator, n: int, v: Array) -> Array:
    """n random rows with b·v ≥ 0.1·‖b‖·‖v‖: flipped to v's side, then tilted towards v
    (adding 0.2·‖b‖·v/‖v‖ raises b·v/‖v‖ by 0.2·‖b‖ and the length by at most that)."""
    R = rng.standard_normal((n, v.size))
    R *= np.where(R @ v >= 0.0, 1.0, -1.0)[:, None]
    R += 0.2 * np.linalg.norm(R, axis=1)[:, None] * (v / np.linalg.norm(v))
    return R


def scales(rng: np.random.Generator, size: int, decades: float) -> Array:
    return np.asarray(10.0 ** rng.uniform(-decades, decades, size=size))


def strictly_separable_instance(rng: np.random.Generator) -> Array:
    """Rows with b_i·v > 0 (cosine ≥ 0.1 before scaling: far above rounding) for a random v."""
    m, n = int(rng.integers(2, 7)), int(rng.integers(2, 40))
    B = rows_towards(rng, n, rng.standard_normal(m))
    return np.asarray(scales(rng, n, 6)[:, None] * B * scales(rng, m, 8))


def gordan_instance(rng: np.random.Generator) -> Array:
    """u and −u (the same scale, so −u stays exactly −u: not strictly separable), u zero where
    v is not, and rows with b·v > 0: v has margins exactly 0 on ±u and > 0 on the others, so
    the rows are weakly separable."""
    m = int(rng.integers(2, 7))
    p = int(rng.integers(1, m))
    v = np.zeros(m)
    v[:p] = rng.standard_normal(p)
    u = np.zeros(m)
    u[p:] = rng.standard_normal(m - p)
    B = np.vstack([rows_towards(rng, int(rng.integers(1, 30)), v), u, -u])
    row_scale = scales(rng, B.shape[0], 6)
    row_scale[-1] = row_scale[-2]
    B = row_scale[:, None] * B * scales(rng, m, 8)
    return np.asarray(B[rng.permutation(B.shape[0])])


def stiemke_instance(rng: np.random.Generator) -> Array:
    """n − 1 ≥ m random rows (they span R^m) and b_n = −Σ λ_i·b_i/λ_n with λ ∈ [1/2, 2]: a
    positive combination is 0 and the rows span, so they positively span R^m and no v ≠ 0
    has B·v ≥ 0. Both properties survive small perturbations (the rounding of the scaling)."""
    m = int(rng.integers(1, 7))
    R = rng.standard_normal((m + int(rng.integers(0, 30)), m))
    lam = rng.uniform(0.5, 2.0, size=R.shape[0] + 1)
    B = np.vstack([R, -(lam[:-1] @ R) / lam[-1]])
    B = scales(rng, B.shape[0], 6)[:, None] * B * scales(rng, m, 8)
    return np.asarray(B[rng.permutation(B.shape[0])])


def assert_certificate(B: Array, lam: Array, stiemke: bool) -> None:
    """λ ≥ 0 (Stiemke: > 0), Σλ = 1, and Bᵀλ = 0 column by column relative to the size of the
    terms that cancel, Σ_i λ_i·|B_ij| (so a column that is merely small cannot hide a
    residual); sums by math.fsum."""
    assert lam.shape == (B.shape[0],)
    assert lam.min() > 0.0 if stiemke else lam.min() >= 0.0
    assert math.fsum(lam) == pytest.approx(1.0, abs=1e-12)
    for j in range(B.shape[1]):
        assert abs(math.fsum(lam * B[:, j])) <= 1e-9 * math.fsum(lam * np.abs(B[:, j]))


def assert_half_space(B: Array, nu: Array) -> None:
    """A unit ν with B·ν ≥ 0 to rounding and B·ν ≠ 0. Margins that are 0 in exact arithmetic
    come out ~1e-17 of either sign, so ≥ 0 is checked as a cosine ≥ −1e-12, measured with the
    columns at unit scale (where the module states it: a column scale is a choice of units)."""
    assert np.linalg.norm(nu) == pytest.approx(1.0, rel=1e-12)
    unit = np.max(np.abs(B), axis=0)
    unit[unit == 0.0] = 1.0
    Bu, nu_u = B / unit, nu * unit
    cosines = (Bu @ nu_u) / (np.linalg.norm(Bu, axis=1) * np.linalg.norm(nu_u))
    assert cosines.min() >= -1e-12 and cosines.max() > 1e-6


def assert_proved(B: Array, r: Separability, strict: bool, weak: bool) -> None:
    """The expected verdict, each claim backed by a witness or a certificate checked here."""
    assert (r.strictly_separable, r.weakly_separable) == (strict, weak)
    assert r.lemma_applies == weak
    if strict:
        mm = r.max_margin
        assert r.certificate is None and mm is not None
        assert r.separating_weights is not None
        assert all(z > 0 for z in exact_margins(B, r.separating_weights))
        assert mm.optimal == (mm.kkt_residual <= 1e-8)
        assert np.min(B @ mm.weights) >= 1.0 - mm.kkt_residual - 1e-12
    else:
        assert r.max_margin is None and r.separating_weights is None
        assert r.certificate is not None
        assert r.certificate.kind is (CertificateKind.GORDAN if weak else CertificateKind.STIEMKE)
        assert_certificate(B, r.certificate.multipliers, stiemke=not weak)
    if weak:
        assert r.half_space_weights is not None
        assert_half_space(B, r.half_space_weights)
    else:
        assert r.half_space_weights is None


@pytest.mark.parametrize("seed", range(16))
def test_random_strictly_separable_rows_at_wide_scales(seed: int) -> None:
    B = strictly_separable_instance(np.random.default_rng(3000 + seed))
    assert_proved(B, sep.test_separability(B), strict=True, weak=True)


@pytest.mark.parametrize("seed", range(16))
def test_random_rows_with_u_and_minus_u_at_wide_scales(seed: int) -> None:
    B = gordan_instance(np.random.default_rng(4000 + seed))
    assert_proved(B, sep.test_separability(B), strict=False, weak=True)


@pytest.mark.parametrize("seed", range(16))
def test_random_positively_spanning_rows_at_wide_scales(seed: int) -> None:
    B = stiemke_instance(np.random.default_rng(5000 + seed))
    assert_proved(B, sep.test_separability(B), strict=False, weak=False)


def test_a_large_separable_set_with_columns_spanning_twelve_decades() -> None:
    # separable by a random w* (y = sign(A·w*)), then each column scaled by 10^U(−6, 6): the
    # margin is hidden on B itself (NNLS cannot resolve it there), found on B·D
    rng = np.random.default_rng(17)
    n, m = 4000, 12
    A = rng.standard_normal((n, m))
    y = np.where(A @ rng.standard_normal(m) >= 0, 1.0, -1.0)
    B = y[:, None] * A * scales(rng, m, 6)
    r = sep.test_separability(B)
    assert_proved(B, r, strict=True, weak=True)
