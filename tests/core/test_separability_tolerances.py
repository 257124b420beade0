"""The named tolerances of separability, each on what it protects against.

Expected values are derived here by hand (a Gordan certificate of u and −u, the hard margin
of a few rows in closed form, projections onto a known null space, matrices with chosen
singular values), never taken from the code under test. Margins that must be positive are
checked in exact rational arithmetic (``fractions.Fraction`` holds every float exactly).
"""

from __future__ import annotations

import math
from fractions import Fraction
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest

from service.core.analysis import separability as sep
from service.core.errors import InvalidProblem, SolverFailed
from service.vocabulary import CertificateKind

Array = np.ndarray

# The issue's example, B = diag(y)·A: by symmetry the support is rows 3 and 4, (2, −0.5) and
# (−0.5, 2); ŵ = (a, a) with 1.5·a = 1, and ŵ = α·(b_3 + b_4) = α·(1.5, 1.5) gives α = 4/9.
ISSUE = np.array([[2.0, 1.0], [1.0, 3.0], [1.0, 1.0], [2.0, -0.5], [-0.5, 2.0]])
ISSUE_W = np.array([2 / 3, 2 / 3])
ISSUE_ALPHA = np.array([0.0, 0.0, 0.0, 4 / 9, 4 / 9])


def polish(B: Array, w0: Array, alpha0: Array) -> sep.HardMargin:
    norms = sep.row_norms(B)
    return sep._polish(B, norms, float(norms.min()), w0, alpha0)


def exact_margins(B: Array, w: Array) -> list[Fraction]:
    """b_i·w for every row, in exact arithmetic (no rounding can make a margin look positive)."""
    return [
        sum(
            (Fraction(float(b)) * Fraction(float(x)) for b, x in zip(row, w, strict=True)),
            Fraction(0),
        )
        for row in B
    ]


# ---------------------------------------------------------------------------------------
# CERTIFICATE_TOLERANCE: a certificate is returned only if it is one


def test_a_hand_made_gordan_certificate_is_accepted_with_residual_zero() -> None:
    # b_0 = (1, 2) and b_1 = −b_0: λ = (1/2, 1/2, 0) gives Bᵀλ = 0 exactly
    B = np.array([[1.0, 2.0], [-1.0, -2.0], [3.0, -1.0]])
    cert = sep._gordan_from(B, np.array([0, 1]), np.array([1.0, 1.0]))
    assert cert is not None and cert.kind is CertificateKind.GORDAN
    np.testing.assert_array_equal(cert.multipliers, [0.5, 0.5, 0.0])
    assert cert.residual == 0.0


def test_a_near_certificate_is_rejected_beyond_the_tolerance() -> None:
    # b_1 = −(1, 2 − δ): λ = (1/2, 1/2) leaves Bᵀλ = (0, δ/2), against
    # Σ λ_i·‖b_i‖∞ = (2 + 2 − δ)/2, so the residual is δ/(4 − δ) ≈ δ/4
    for delta, accepted in [(1e-12, True), (1e-6, False)]:
        B = np.array([[1.0, 2.0], [-1.0, -(2.0 - delta)]])
        lam = np.array([0.5, 0.5])
        assert sep._certificate_residual(B, lam) == pytest.approx(delta / (4 - delta), rel=1e-3)
        cert = sep._gordan_from(B, np.array([0, 1]), np.array([1.0, 1.0]))
        assert (cert is not None) is accepted
        if cert is not None:
            assert cert.residual <= sep.CERTIFICATE_TOLERANCE


def test_round_off_outside_a_certificate_s_support_stays_exactly_zero() -> None:
    # _CERTIFICATE_SUPPORT_CUT: λ_2 = 1e-17 (1e-17 < 1e-14·max λ) is solver noise; the exact
    # re-solve works on {0, 1} only, and λ_2 comes back exactly 0, not a tiny negative
    B = np.array([[1.0, 2.0], [-1.0, -2.0], [3.0, -1.0]])
    exact = sep._exact_on_support(B, np.array([0.5, 0.5, 1e-17]))
    assert exact is not None
    np.testing.assert_array_equal(exact, [0.5, 0.5, 0.0])


# ---------------------------------------------------------------------------------------
# Verification: every certificate is checked from its definition, every witness proved


def test_the_entrywise_residual_in_closed_form_and_under_column_scaling() -> None:
    # b_1 = −(1, 2 − δ), λ = (1/2, 1/2): column 1 cancels exactly, column 2 leaves δ/2 against
    # Σ λ_i·|B_i2| = (4 − δ)/2, so the entrywise residual is δ/(4 − δ), the row-wise one too.
    # Scaling column 2 by 2^−100 leaves the entrywise residual unchanged (both terms scale)
    # while the row-wise one drops by 2^−100: it cannot see a column that is merely small.
    delta = 1e-6
    B = np.array([[1.0, 2.0], [-1.0, -(2.0 - delta)]])
    lam = np.array([0.5, 0.5])
    expected = delta / (4 - delta)
    assert sep._entrywise_residual(B, lam) == pytest.approx(expected, rel=1e-9)
    small = B * np.array([1.0, 2.0**-100])
    assert sep._entrywise_residual(small, lam) == pytest.approx(expected, rel=1e-9)
    assert sep._certificate_residual(small, lam) <= 2.0**-100


def test_a_null_vector_with_a_negative_entry_is_no_certificate() -> None:
    # The reported bug's "Stiemke certificate" for close_rows(1e-9): λ = (1.5, 0.5, −1) has
    # Bᵀλ = (1.5 − 0.5 − 1, (1.5 + 0.5 − 2)·ε) = 0 exactly, but a negative entry: it proves
    # nothing (the rows are strictly separable by (0, 1)).
    B = close_rows(1e-9)
    lam = np.array([1.5, 0.5, -1.0])
    assert np.max(np.abs(B.T @ lam)) <= 1e-24
    assert sep._certify(B, lam, CertificateKind.STIEMKE) is None
    assert sep._certify(B, lam, CertificateKind.GORDAN) is None


def test_a_stiemke_certificate_needs_every_multiplier_positive() -> None:
    # u, −u, (3, −1): λ = (1, 1, 0) is a Gordan certificate (normalised to (1/2, 1/2, 0)), not
    # a Stiemke one (λ_2 = 0)
    B = np.array([[1.0, 2.0], [-1.0, -2.0], [3.0, -1.0]])
    lam = np.array([1.0, 1.0, 0.0])
    gordan = sep._certify(B, lam, CertificateKind.GORDAN)
    assert gordan is not None
    np.testing.assert_array_equal(gordan.multipliers, [0.5, 0.5, 0.0])
    assert sep._certify(B, lam, CertificateKind.STIEMKE) is None


@pytest.mark.parametrize("eps", [1e-9, 1e-12])
def test_rows_that_cancel_only_up_to_a_small_column_are_no_certificate(eps: float) -> None:
    # close_rows(ε), λ = (1/2, 1/2, 0): Bᵀλ = (0, ε) against Σ λ_i·‖b_i‖∞ = 1, a row-wise
    # residual ε that passes CERTIFICATE_TOLERANCE at ε = 1e-12; but column 2 does not cancel
    # at all (entrywise residual ε/ε = 1), and the rows are strictly separable.
    B = close_rows(eps)
    lam = np.array([0.5, 0.5, 0.0])
    assert sep._certificate_residual(B, lam) == pytest.approx(eps, rel=1e-9)
    assert sep._entrywise_residual(B, lam) == pytest.approx(1.0, rel=1e-9)
    assert sep._gordan_from(B, np.array([0, 1]), np.array([1.0, 1.0])) is None


def test_an_unverifiable_stiemke_certificate_gives_a_state_not_a_certificate(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Rows (1, 0), (−1, 0), (2, 0) are not weakly separable (B·v ≥ 0 forces v_1 = 0, and then
    # B·v = 0). Were the projection to return, as in the reported bug, a null vector of Bᵀ
    # with a negative entry — (3, 1, −1)/3: Bᵀλ = (3 − 1 − 2)/3 = 0 — it must not be
    # returned as a certificate: no other is found, so the facts are UNDECIDED.
    B = np.array([[1.0, 0.0], [-1.0, 0.0], [2.0, 0.0]])
    assert sep.test_separability(B).certificate is not None  # unpatched: a true certificate
    monkeypatch.setattr(sep, "_project_positive", lambda B, lam: np.array([3.0, 1.0, -1.0]) / 3)
    facts = sep.analyse_separability(B)
    assert isinstance(facts, sep.Unrepresentable) and facts.reason == sep.UNDECIDED
    with pytest.raises(InvalidProblem):
        sep.test_separability(B)


def test_a_positive_rounded_margin_is_not_a_proof() -> None:
    # b·w is −2.1e-17 in exact arithmetic, but its float products round to a positive sum
    # (1.6e-16 without a fused multiply-add): only a margin above the rounding bound
    # _DOT_ROUNDING·m·ε·|b|·|w| = 4ε·5.43 ≈ 4.8e-15 proves b·w > 0
    b = np.array([[1.5495936876730596, -1.0275591132430684]])
    w = np.array([1.7535131086748066, 2.6443567182024346])
    assert exact_margins(b, w)[0] < 0
    assert not sep._proves_strict(b, w)
    assert sep._proves_strict(b, np.array([1.0, 0.0]))  # margin 1.55, exact


def test_columns_are_equilibrated_by_powers_of_two() -> None:
    # k_j with max_i |B_ij|·2^−k_j in [1/2, 1): 5 = 0.625·2^3, 0.75 = 0.75·2^0; a zero column
    # takes the exponent of the largest column (3)
    B = np.array([[0.0, 3.0, 0.75, 0.0], [0.0, -5.0, 0.1, 0.0]])
    k = sep._column_exponents(B)
    assert k.tolist() == [3, 3, 0, 3]
    scaled = sep._times_d(B, k)
    np.testing.assert_array_equal(scaled, B / np.array([8.0, 8.0, 1.0, 8.0]))


def test_rows_near_a_plane_are_decided_in_the_whitened_frame(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Six rows of the plane x + y + z = 0, each moved by 1e-9·(1, 1, 1) and scaled by
    # 10^p_i: v = (1, 1, 1) has margins 3e-9·10^p_i > 0, so they are strictly separable, with
    # an angular margin ~2e-9 that no column scaling enlarges (the columns have the same
    # scale). In the whitened frame (orthonormal columns) the direction (1, 1, 1), of small σ,
    # weighs as much as the others and the margin is resolved; without that frame neither
    # NNLS nor HiGHS resolves it, and the answer is the state UNDECIDED, never a guess.
    plane = np.array(
        [[1, -1, 0], [0, 1, -1], [-1, 0, 1], [1, 1, -2], [-2, 1, 1], [1, -2, 1]], dtype=float
    )
    B = (plane + 1e-9) * (10.0 ** np.array([0, 2, 3, -3, -2, 2]))[:, None]
    assert all(z > 0 for z in exact_margins(B, np.array([1.0, 1.0, 1.0])))
    r = sep.test_separability(B)
    assert (r.strictly_separable, r.weakly_separable) == (True, True)
    assert r.separating_weights is not None
    assert all(z > 0 for z in exact_margins(B, r.separating_weights))
    monkeypatch.setattr(sep._Frame, "whitened", staticmethod(lambda frame: None))
    facts = sep.analyse_separability(B)
    assert isinstance(facts, sep.Unrepresentable) and facts.reason == sep.UNDECIDED


def test_highs_decides_on_equilibrated_columns_and_keeps_only_what_is_verified() -> None:
    # u, −u, (3, −1): no v separates (u and −u); the Gordan LP finds λ = (1/2, 1/2, 0)
    B = np.array([[1.0, 2.0], [-1.0, -2.0], [3.0, -1.0]])
    k = sep._column_exponents(B)
    out = sep._highs_strict(B, sep._Frame.equilibrated(B, k), settled=False)
    assert out is not None and out[0] is None and out[1] is not None
    np.testing.assert_allclose(out[1].multipliers, [0.5, 0.5, 0.0], rtol=0, atol=1e-15)
    # The issue's rows: the Gordan LP is infeasible, the separating LP gives weights that are
    # polished from its active rows into ŵ = (2/3, 2/3)
    k = sep._column_exponents(ISSUE)
    out = sep._highs_strict(ISSUE, sep._Frame.equilibrated(ISSUE, k), settled=False)
    assert out is not None and out[0] is not None and out[1] is None
    assert all(z > 0 for z in exact_margins(ISSUE, out[0].weights))
    assert out[0].optimal
    np.testing.assert_allclose(out[0].weights, ISSUE_W, rtol=0, atol=1e-14)


def test_highs_failing_on_both_strict_lps_is_solver_failed(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(sep, "linprog", failing_linprog)
    k = sep._column_exponents(ISSUE)
    with pytest.raises(SolverFailed) as caught:
        sep._highs_strict(ISSUE, sep._Frame.equilibrated(ISSUE, k), settled=False)
    assert "Gordan LP ended with status 4" in caught.value.message
    assert "separating LP ended with status 4" in caught.value.message


def test_nnls_rounding_on_a_long_u_minus_u_pair_is_not_read_as_weights_zero() -> None:
    # Found by a random battery like test_separability.py's: rows 1 and 2 are u, −u, 2300
    # times as long as the shortest row (h = 4.3e-4), so NNLS's weights sum to ~2300 and its
    # residual r = (0, 0, −1e-13), rounding only, was above _RESOLUTION = 1e-14 and read as
    # w' = 0 (then a division by zero in the KKT check). v = (−1, 0) has margins 0 on the
    # pair and > 0 on every other row: weakly, not strictly, separable.
    B = np.array(
        [
            [-6.16e-12, -4.89e-10],
            [0.0, 1.14e-06],
            [-0.0, -1.14e-06],
            [-1.71e-09, 6.3e-07],
            [-0.184, 27.2],
            [-1.85e-12, 5.18e-10],
            [-1.14e-06, 4.81e-05],
            [-2.33e-05, -0.00243],
        ]
    )
    margins = exact_margins(B, np.array([-1.0, 0.0]))
    assert margins[1] == margins[2] == 0 and all(z > 0 for i, z in enumerate(margins) if i > 2)
    assert margins[0] > 0
    r = sep.test_separability(B)
    assert (r.strictly_separable, r.weakly_separable) == (False, True)
    assert r.certificate is not None and r.certificate.kind is CertificateKind.GORDAN
    lam = r.certificate.multipliers
    assert lam.min() >= 0.0 and math.fsum(lam) == pytest.approx(1.0, abs=1e-15)
    for j in range(B.shape[1]):  # Σ λ_i·B_ij = 0 relative to Σ λ_i·|B_ij|, column by column
        cancelled = math.fsum(lam * B[:, j])
        assert abs(cancelled) <= 1e-10 * math.fsum(lam * np.abs(B[:, j]))


# ---------------------------------------------------------------------------------------
# KKT_TOLERANCE: ŵ is called optimal only if it satisfies the KKT conditions


def test_the_closed_form_hard_margin_is_optimal() -> None:
    mm = sep._kkt(ISSUE, ISSUE_W, ISSUE_ALPHA)
    assert mm.kkt_residual <= 1e-15 and mm.optimal
    assert mm.support_vectors.tolist() == [3, 4]
    assert mm.margin == pytest.approx(1.5 / math.sqrt(2), rel=1e-15)


@pytest.mark.parametrize(("scale", "optimal"), [(1 + 1e-10, True), (1 + 1e-7, False)])
def test_a_hard_margin_off_by_more_than_the_tolerance_is_not_optimal(
    scale: float, optimal: bool
) -> None:
    # (1 + s)·ŵ with α unchanged: b_i·ŵ = 1 + s on the support (complementarity s) and
    # ‖ŵ − Bᵀα‖∞/‖ŵ‖∞ = s/(1 + s): the residual is s, against KKT_TOLERANCE = 1e-8
    mm = sep._kkt(ISSUE, scale * ISSUE_W, ISSUE_ALPHA)
    assert mm.kkt_residual == pytest.approx(scale - 1.0, rel=1e-5)
    assert mm.optimal is optimal


def test_separating_weights_without_multipliers_are_not_optimal() -> None:
    # w = (1, 1) separates (B·w ≥ 1.5) but α = 0 proves nothing: stationarity residual 1
    mm = sep._kkt(ISSUE, np.array([1.0, 1.0]), np.zeros(5))
    assert mm.kkt_residual == 1.0 and not mm.optimal


def close_rows(eps: float) -> Array:
    """(1, ε), (−1, ε), (1, 2ε): w_2 ≥ 1/ε from the first two rows (summed), and w = (0, 1/ε)
    meets all three, so ŵ = (0, 1/ε), support {0, 1}, α_0 = α_1 = 1/(2ε²)."""
    return np.array([[1.0, eps], [-1.0, eps], [1.0, 2 * eps]])


def test_a_small_angular_margin_above_the_resolution_is_solved_exactly() -> None:
    eps = 1e-6
    r = sep.test_separability(close_rows(eps))
    assert r.max_margin is not None and r.max_margin.optimal
    np.testing.assert_allclose(r.max_margin.weights, [0.0, 1 / eps], rtol=0, atol=1e-9 / eps)
    np.testing.assert_allclose(
        r.max_margin.multipliers, [1 / (2 * eps**2), 1 / (2 * eps**2), 0.0], rtol=1e-9
    )


def test_a_margin_below_the_resolution_is_decided_on_equilibrated_columns() -> None:
    # _RESOLUTION: with ε = 1e-8, ‖w'‖ ≈ 1/ε and −r_{m+1} = 1/(1 + ‖w'‖²) ≈ 1e-16 < 1e-14, so
    # NNLS's answer on B is not trusted; on B·D (columns at unit scale) the margin is ~1/2, and
    # strict separability is proved there
    eps = 1e-8
    assert 1.0 / (1.0 + (1 / eps) ** 2) < sep._RESOLUTION
    r = sep.test_separability(close_rows(eps))
    assert r.strictly_separable and r.max_margin is not None
    mm = r.max_margin
    assert np.min(close_rows(eps) @ mm.weights) >= 1.0 - 1e-9
    np.testing.assert_allclose(mm.weights, [0.0, 1 / eps], rtol=0, atol=1e-6 / eps)
    assert mm.optimal == (mm.kkt_residual <= sep.KKT_TOLERANCE)


def test_a_margin_below_highs_tolerance_is_still_strictly_separable() -> None:
    # The reported bug: at ε = 1e-9 (below HiGHS's 1e-7 feasibility tolerance) the data were
    # called not weakly separable, with a "Stiemke certificate" λ = (1.5, 0.5, −1). v = (0, 1)
    # has margins (ε, ε, 2ε) > 0, so the rows are strictly separable.
    B = close_rows(1e-9)
    assert all(z > 0 for z in exact_margins(B, np.array([0.0, 1.0])))
    r = sep.test_separability(B)
    assert (r.strictly_separable, r.weakly_separable) == (True, True)
    assert r.certificate is None and r.separating_weights is not None
    assert all(z > 0 for z in exact_margins(B, r.separating_weights))


@pytest.mark.parametrize("swapped", [False, True], ids=["small-column-last", "small-column-first"])
@pytest.mark.parametrize("eps", [1e-6, 1e-9, 1e-12])
def test_close_rows_are_strictly_separable_at_any_scale_of_the_small_column(
    eps: float, swapped: bool
) -> None:
    # close_rows(ε), or with its columns swapped: strictly separable by v = e_small (margins
    # ε, ε, 2ε), ŵ = (1/ε)·e_small with support {0, 1}. The verdict and the separating
    # weights must not depend on ε (a column scale); ŵ is certified when the KKT residual
    # allows, and otherwise flagged.
    B = close_rows(eps)
    small, big = 1, 0
    if swapped:
        B = np.ascontiguousarray(B[:, ::-1])
        small, big = 0, 1
    r = sep.test_separability(B)
    assert (r.strictly_separable, r.weakly_separable) == (True, True)
    assert r.certificate is None
    mm = r.max_margin
    assert mm is not None and r.separating_weights is not None
    np.testing.assert_array_equal(r.separating_weights, mm.weights)
    assert all(z > 0 for z in exact_margins(B, mm.weights))
    kappa = mm.kkt_residual
    assert mm.optimal == (kappa <= sep.KKT_TOLERANCE)
    assert np.min(B @ mm.weights) >= 1.0 - kappa - 1e-15  # the primal part of the residual
    nu = r.half_space_weights
    assert nu is not None and np.linalg.norm(nu) == pytest.approx(1.0, rel=1e-12)
    assert all(z > 0 for z in exact_margins(B, nu))
    if mm.optimal:
        # complementarity on rows 0 and 1, |±w_big + ε·w_small − 1| ≤ κ: half their sum and
        # difference give |w_small − 1/ε| ≤ κ/ε and |w_big| ≤ κ (2κ for the rounding of κ)
        assert mm.support_vectors.tolist() == [0, 1]
        assert abs(mm.weights[small] - 1 / eps) <= 2 * kappa / eps
        assert abs(mm.weights[big]) <= 2 * kappa


def test_a_margin_that_no_column_scaling_enlarges_is_still_proved() -> None:
    # (1, δ), (−1, δ), (0, 1), (1, 0) with δ = 1e-12: v = (δ/2, 1) has margins
    # (3δ/2, δ/2, 1, δ/2) > 0, so the rows are strictly separable, with an angular margin
    # ~δ/2 that no scaling of the columns enlarges (they are at unit scale already) and that is
    # below NNLS's and HiGHS's resolution on B. No certificate can pass (column 2 has no
    # cancellation: its entries are all positive, entrywise residual 1); weights are found
    # (the whitened frame, or the polish of HiGHS's active rows) and proved.
    d = 1e-12
    B = np.array([[1.0, d], [-1.0, d], [0.0, 1.0], [1.0, 0.0]])
    assert all(z > 0 for z in exact_margins(B, np.array([d / 2, 1.0])))
    r = sep.test_separability(B)
    assert (r.strictly_separable, r.weakly_separable) == (True, True)
    assert r.separating_weights is not None and r.certificate is None
    assert all(z > 0 for z in exact_margins(B, r.separating_weights))


def test_independent_rows_are_separated_by_the_solution_of_b_w_equals_1() -> None:
    # (1, 1), (−1, −1 + δ), δ = 1e-12: independent rows (σ_min ≈ δ/2 far above numpy's rank
    # threshold), so B·v = 1 is solvable: v = (1 − 2/δ, 2/δ), strictly separable. The rows are
    # also within δ/4 (entrywise) of u, −u, whose Gordan certificate (1/2, 1/2) would pass
    # CERTIFICATE_TOLERANCE: the witness is preferred, as rows_independent promises.
    d = 1e-12
    B = np.array([[1.0, 1.0], [-1.0, -1.0 + d]])
    r = sep.test_separability(B)
    assert r.rows_independent and r.strictly_separable and r.certificate is None
    assert r.separating_weights is not None
    assert all(z > 0 for z in exact_margins(B, r.separating_weights))


# ---------------------------------------------------------------------------------------
# Polishing: _SUPPORT_CUT, _POLISH_VIOLATION, _ENTRY_MULTIPLIER


def test_polish_drops_round_off_multipliers_from_the_support() -> None:
    # α_2 = 1e-17 is NNLS noise (< _SUPPORT_CUT·max α); kept, it would force b_2·w = 1 on
    # the row (1, 1), which ŵ does not touch (b_2·ŵ = 4/3)
    alpha0 = np.array([0.0, 0.0, 1e-17, 0.4, 0.4])
    mm = polish(ISSUE, np.array([0.6, 0.7]), alpha0)
    np.testing.assert_allclose(mm.weights, ISSUE_W, rtol=0, atol=1e-15)
    np.testing.assert_allclose(mm.multipliers, ISSUE_ALPHA, rtol=0, atol=1e-15)
    assert mm.optimal


def test_polish_brings_a_violated_row_into_the_support() -> None:
    # rows (1, 0), (0, 1), (3, 3): ŵ = (1, 1) with α = (1, 1, 0). Started on the support {0}
    # (w = (1, 0)), row 1 is violated (b_1·w = 0 < 1 − _POLISH_VIOLATION); it enters with
    # α_1 = _ENTRY_MULTIPLIER·max α, above _SUPPORT_CUT, so the next solve keeps it
    assert sep._ENTRY_MULTIPLIER > sep._SUPPORT_CUT
    B = np.array([[1.0, 0.0], [0.0, 1.0], [3.0, 3.0]])
    mm = polish(B, np.array([1.0, 0.0]), np.array([1.0, 0.0, 0.0]))
    np.testing.assert_array_equal(mm.weights, [1.0, 1.0])
    np.testing.assert_array_equal(mm.multipliers, [1.0, 1.0, 0.0])
    assert mm.kkt_residual == 0.0 and mm.optimal


def test_copies_of_the_support_beyond_the_first_working_set_give_the_same_hard_margin() -> None:
    # 60 copies each of (1, 0) and (0, 1), and (3, 3): ŵ = (1, 1) still; the copies lie on
    # the boundary b_i·ŵ = 1 and are not violated rows (_GENERATION_SLACK, _POLISH_VIOLATION)
    B = np.vstack([np.tile([[1.0, 0.0], [0.0, 1.0]], (60, 1)), [[3.0, 3.0]]])
    r = sep.test_separability(B)
    assert r.max_margin is not None and r.max_margin.optimal
    np.testing.assert_allclose(r.max_margin.weights, [1.0, 1.0], rtol=0, atol=1e-14)
    # α splits over the copies but sums to 1 on each direction: ŵ = Bᵀα
    alpha = r.max_margin.multipliers
    assert alpha[:-1:2].sum() == pytest.approx(1.0, rel=1e-13)
    assert alpha[1:-1:2].sum() == pytest.approx(1.0, rel=1e-13)


# ---------------------------------------------------------------------------------------
# The weak condition: _LP_ZERO, _WITNESS_POSITIVE / _WITNESS_NEGATIVE


def test_margins_within_highs_tolerance_are_projected_onto_zero() -> None:
    # rows ±e_1 and e_2: the only unit witness is ν = e_2 (B·ν ≥ 0 forces ν_1 = 0). HiGHS
    # may return v = (1e-8, 1): a margin −1e-8 on row 1, inside _LP_ZERO. Projected onto
    # the null space of the near-zero rows, ν = e_2 exactly.
    B = np.array([[1.0, 0.0], [-1.0, 0.0], [0.0, 1.0]])
    nu = sep._half_space_witness(B, np.array([1e-8, 1.0]))
    assert nu is not None
    np.testing.assert_allclose(nu, [0.0, 1.0], rtol=0, atol=1e-16)
    # the +1e-8 of row 0 is projected too: within HiGHS's tolerance it is no evidence of a
    # row strictly inside, and ν's margins are exactly (0, 0, 1)
    np.testing.assert_allclose(B @ nu, [0.0, 0.0, 1.0], rtol=0, atol=1e-16)


def test_small_positive_margins_are_projected_too_or_the_witness_is_lost() -> None:
    # rows e_1, (−e_1 + e_2)/√2, −e_2, e_3: B·ν ≥ 0 forces ν_1 = ν_2 = 0, so ν = e_3 is the
    # witness (row 3 strictly inside). HiGHS may return v = (1e-8, 2e-8, 1): margins +1e-8,
    # +7e-9, −2e-8, 1. Projecting only the negative row would leave v = (1e-8, 0, 1), whose
    # margin on row 1 is −7e-9 < 0: no witness, for weakly separable data. Every margin
    # within _LP_ZERO of 0 is projected, and ν = e_3 exactly.
    B = np.array(
        [[1.0, 0.0, 0.0], [-1 / math.sqrt(2), 1 / math.sqrt(2), 0.0], [0.0, -1.0, 0.0], [0, 0, 1]]
    )
    nu = sep._half_space_witness(B, np.array([1e-8, 2e-8, 1.0]))
    assert nu is not None
    np.testing.assert_allclose(nu, [0.0, 0.0, 1.0], rtol=0, atol=1e-16)


def test_margins_all_near_zero_are_no_witness() -> None:
    # rows ±e_1: B·ν ≥ 0 forces B·ν = 0, so the data are not weakly separable; an LP answer
    # v = (1e-8, 0.3) shows margins ±1e-8 only (≤ _LP_ZERO): no witness
    B = np.array([[1.0, 0.0], [-1.0, 0.0]])
    assert sep._half_space_witness(B, np.array([1e-8, 0.3])) is None
    r = sep.test_separability(B)
    assert not r.weakly_separable and r.certificate is not None
    np.testing.assert_allclose(r.certificate.multipliers, [0.5, 0.5], rtol=1e-15)


# ---------------------------------------------------------------------------------------
# Stiemke certificates: the projection onto the null space of Bᵀ


def test_the_projection_onto_the_null_space_of_b_transpose() -> None:
    # B = (1, −1)ᵀ: the null space of Bᵀ is span{(1, 1)}; λ = (0.6, 0.3) projects to
    # (0.45, 0.45), i.e. (1/2, 1/2) once Σλ = 1
    lam = sep._project_positive(np.array([[1.0], [-1.0]]), np.array([0.6, 0.3]))
    np.testing.assert_allclose(lam, [0.5, 0.5], rtol=0, atol=1e-16)


def test_the_projection_survives_an_ill_conditioned_b() -> None:
    # rows (1, 1), (1, 1 + δ), (−2, −2 − δ): Bᵀ·(1, 1, 1) = 0 and rank 2, so the null space
    # is span{(1, 1, 1)} and any λ projects to its mean times (1, 1, 1): (1/3, 1/3, 1/3).
    # cond(BᵀB) ~ 1/δ² = 1e18: the normal equations fail, and the SVD passes decide
    # (_PROJECTION_RESIDUAL, _LSTSQ_PASSES).
    d = 1e-9
    B = np.array([[1.0, 1.0], [1.0, 1.0 + d], [-2.0, -2.0 - d]])
    lam = sep._project_positive(B, np.array([0.5, 0.3, 0.4]))
    np.testing.assert_allclose(lam, [1 / 3, 1 / 3, 1 / 3], rtol=1e-6)
    scale = float(np.max(np.abs(B))) * float(np.sum(np.abs(lam)))
    assert np.max(np.abs(B.T @ lam)) <= 1e-14 * scale


# ---------------------------------------------------------------------------------------
# numerical_rank: _TALL and _GRAM_GAP


def with_singular_values(sigma: list[float], n: int = 400, seed: int = 11) -> Array:
    """An n×m matrix U·diag(σ)·Vᵀ with orthonormal U (n×m) and orthogonal V."""
    rng = np.random.default_rng(seed)
    m = len(sigma)
    U, _ = np.linalg.qr(rng.standard_normal((n, m)))
    V, _ = np.linalg.qr(rng.standard_normal((m, m)))
    out: Array = (U * np.asarray(sigma)) @ V.T
    return out


@pytest.mark.parametrize(
    ("smallest", "rank"),
    [
        (1e-5, 4),  # λ_min/λ_max = 1e-10 > _GRAM_GAP: the shortcut answers 4
        (1e-9, 4),  # 1e-18 < _GRAM_GAP: the SVD decides, and 1e-9 > 400·ε
        (1e-15, 3),  # below numpy's threshold σ_max·max(n, m)·ε ≈ 8.9e-14
    ],
)
def test_the_rank_of_a_tall_matrix_with_a_known_smallest_singular_value(
    smallest: float, rank: int
) -> None:
    B = with_singular_values([1.0, 0.5, 0.2, smallest])
    assert B.shape[0] > sep._TALL * B.shape[1]
    assert sep.numerical_rank(B) == rank


def test_the_gram_shortcut_does_not_mistake_rounding_for_a_singular_value() -> None:
    # σ_min = 1e-15: λ_min(BᵀB) = 1e-30 is below the Gram matrix's rounding (~m·ε ≈ 1e-15),
    # so its computed eigenvalue may be positive noise; _GRAM_GAP sends it to the SVD
    B = with_singular_values([1.0, 1.0, 1.0, 1e-15], seed=3)
    eig = np.linalg.eigvalsh(B.T @ B)
    assert eig[0] <= sep._GRAM_GAP * eig[-1]
    assert sep.numerical_rank(B) == 3


# ---------------------------------------------------------------------------------------
# A solver failure is a named error, not a bare RuntimeError


def failing_linprog(*args: Any, **kwargs: Any) -> SimpleNamespace:
    return SimpleNamespace(status=4, message="Numerical difficulties encountered", x=None)


def test_a_failed_half_space_lp_raises_solver_failed(monkeypatch: pytest.MonkeyPatch) -> None:
    # XOR with bias is not strictly separable, so the weak condition needs the LP
    xor = np.array([[0.0, 0.0, 1.0], [1.0, 1.0, 1.0], [0.0, 1.0, 1.0], [1.0, 0.0, 1.0]])
    B = np.array([-1.0, -1.0, 1.0, 1.0])[:, None] * xor
    monkeypatch.setattr(sep, "linprog", failing_linprog)
    with pytest.raises(SolverFailed) as caught:
        sep.test_separability(B)
    assert caught.value.solver == "HiGHS"
    assert "status 4" in caught.value.message and "Numerical difficulties" in str(caught.value)
    assert not isinstance(caught.value, ValueError)  # never mistaken for a 422
