"""Linear separability of the reduced data B = diag(y)·A, with certificates a client can check.

Conventions
-----------
B is n×m (with the bias column when ``bias`` is true); row i is ``b_i = y_i·u^i``. Example i
is classified correctly by weights v when its margin ``b_i·v > 0``.

* **Strictly separable**: some v has ``B·v > 0`` (every example correct). By Gordan's theorem
  of the alternative exactly one of these holds: (a) ∃v: B·v > 0; (b) ∃λ ≥ 0, λ ≠ 0 with
  ``Bᵀ·λ = 0``. A λ of kind (b) is a **Gordan certificate**: the rows have a nonnegative
  combination equal to zero, so ``λᵀ·B·v = 0`` for every v and not all margins can be > 0.
* **Weakly separable** (the hypothesis the proof of the Lemma of the paper's §3 uses): some v
  has ``B·v ≥ 0`` and ``B·v ≠ 0`` — the rows lie in a closed half-space with at least one
  strictly inside. By Stiemke's theorem exactly one of these holds: (a) such a v exists;
  (b) ∃λ with every ``λ_i > 0`` and ``Bᵀ·λ = 0``. A λ of kind (b) is a **Stiemke certificate**:
  for v with B·v ≥ 0, ``0 = λᵀ·B·v = Σ λ_i·(b_i·v)`` forces every margin to be 0.
* **Hard-margin solution** (strictly separable data only): ``ŵ = argmin ‖w‖₂ subject to
  B·w ≥ 1``; the geometric margin is ``1/‖ŵ‖``; the support vectors are the rows with a
  positive multiplier α_i in the KKT conditions ``ŵ = Bᵀ·α``, ``α ≥ 0``, ``B·ŵ ≥ 1``,
  ``α_i·(b_i·ŵ − 1) = 0``. ŵ is the direction gradient descent follows on separable data
  with an exponentially-tailed loss (Soudry, Hoffer, Nacson, Gunasekar, Srebro, *The implicit
  bias of gradient descent on separable data*, JMLR 2018).

Certificates are normalised to ``Σ λ_i = 1``; their ``residual`` is
``‖Bᵀ·λ‖∞ / Σ_i λ_i·‖b_i‖∞``: the cancellation left, relative to the size of the terms that
cancel (0 in exact arithmetic; scale-free, so that a row of length 1e-300 is not mistaken for a
zero row; with rows of order 1 it is the absolute error a client sees).

Scaling and verification
------------------------
The verdicts and certificates do not change under a positive scaling of the columns,
``B ↦ B·D`` with D diagonal positive: ``sign(B·D·u) = sign(B·v)`` for ``v = D·u``, and
``(B·D)ᵀλ = 0 ⟺ Bᵀλ = 0``. ŵ does change (it is the shortest w in the units of B), so it is
computed on B itself; but a column much smaller than the others (a feature in other units)
hides the data's margin from a method working on B, which then sees rows that cancel up to that
column. So:

* B is first divided by one power of 2 (``_balancing_exponent``) that centres its row lengths
  on 1: exact, it changes no verdict, certificate or witness and scales ŵ, α and the margin.
* The least-distance program below runs on B. Whatever it proves (a ŵ whose margins are
  positive beyond rounding, a certificate that passes the checks below) stands. If it proves
  nothing, the columns are **equilibrated**, ``B_c = B·D`` with ``D = diag(2^−k_j)`` putting
  each nonzero column's largest entry in [1/2, 1) (exact: powers of 2), and strict
  separability is decided on B_c (the least-distance program, then HiGHS). A witness u of B_c
  is mapped back, ``v = D·u``, and refined into ŵ on B by the exact solves of the polish,
  started from B_c's support; when that does not reach ``KKT_TOLERANCE``, ``max_margin`` holds
  ``w = v/min_i(b_i·v)`` (so ``B·w ≥ 1``) with ``optimal = False``: strict separability is
  proved, ŵ is not found.
* The weak condition is decided on B_c always (its witness is mapped back and renormalised; its
  zero margins are zero to rounding relative to the rows of B_c).
* **Every certificate is verified before it is returned**: λ ≥ 0 (Stiemke: every λ_i > 0),
  Σλ = 1 to rounding, ``residual ≤ CERTIFICATE_TOLERANCE``, and its entrywise residual
  ``max_j |Σ_i λ_i·B_ij| / Σ_i λ_i·|B_ij|`` (0/0 = 0) too. The entrywise residual is the
  smallest ω such that λ is an exact certificate for some B̃ with ``|B̃ − B| ≤ ω·|B|``
  entrywise (Oettli–Prager); it does not change under any positive scaling of rows or columns,
  so a λ that only cancels because a column is tiny fails it (the row-wise ``residual`` does
  not see that: ``(1, ε), (−1, ε)`` with λ = (1/2, 1/2) leaves ε). It is never below the
  row-wise residual.
* **Every separating witness is proved**: ``fl(b_i·w) > 2·m·ε·(|b_i|·|w|)`` for every row, so
  ``b_i·w > 0`` holds in exact arithmetic for the data as given (the rounding of a dot product
  of length m is at most ``γ_m·|b_i|·|w|``, γ_m ≈ m·ε/2).
* When neither a witness nor a certificate survives (the rows are within rounding of both
  answers, in every scaling tried), the answer is the state :class:`Unrepresentable` with the
  reason ``UNDECIDED``, not a guess. A state, not ``SolverFailed``: the solvers did their work
  and the data, as float64 holds them, do not settle the question; :func:`test_separability`
  turns it into ``InvalidProblem`` on ``dataset.inputs`` (a 422), and a training run keeps its
  result with the reason as its ``theory_note``. A linear program that HiGHS itself fails to
  solve (a status other than optimal, or infeasible where infeasibility is an answer) still
  raises :class:`~service.core.errors.SolverFailed`.

Methods
-------
ŵ comes from least-distance programming (Lawson & Hanson, *Solving Least Squares Problems*,
ch. 23): with ``E = [Bᵀ; 1ᵀ]`` and ``f = (0, …, 0, 1)``, the nonnegative least-squares
solution u of ``min ‖E·u − f‖`` has residual ``r = E·u − f``; if r = 0 the constraints
``B·w ≥ 1`` are inconsistent and ``u/Σu`` is a Gordan certificate, else ``ŵ = −r_{1:m}/r_{m+1}``
and ``α = u/(−r_{m+1})``. NNLS (Lawson–Hanson, an exact finite active-set method) runs on a
working set of rows that grows by the most violated constraints until none is violated
(constraint generation), so large n costs a few passes of B·w. The answer is then polished by
an exact solve on its support: ŵ is the minimum-norm solution of ``B_S·w = 1`` on the support
set S (unique even when the support vectors are linearly dependent), and α the nonnegative
solution of ``B_Sᵀ·α = ŵ``. When NNLS cannot resolve the margin (``_RESOLUTION``) on B nor on
B_c, HiGHS decides on B_c: the Gordan LP (λ ≥ 0, Σλ = 1, B̂ᵀλ = 0 on unit rows), then the
separating LP ``max t s.t. B̂·v ≥ t, −1 ≤ v ≤ 1, t ≤ 1``; each answer is verified as above.

Every tolerance and iteration bound of these methods is a module-level name that says why it
has its value. A ŵ whose KKT residual exceeds ``KKT_TOLERANCE`` is reported with
``optimal = False`` (a state, not an error).

The weak condition is decided by one linear program (scipy's ``linprog``, HiGHS) on the
nonzero rows of B_c scaled to unit length: maximise ``(Σ_i b_i)·v`` subject to ``B·v ≥ 0`` and
``−1 ≤ v ≤ 1`` (solved by cutting planes: on a working set of rows grown by the violated
ones). Its optimum is positive exactly when the data are weakly separable (then v is
the witness); when it is 0 the LP dual gives ``Bᵀ·(1 + μ) = 0`` with μ ≥ 0, a Stiemke
certificate, which is then projected exactly onto the null space of Bᵀ; if that does not pass
the checks, the Stiemke system itself (λ ≥ 1, B̂ᵀλ = 0) is solved by HiGHS and projected. The
LP is needed only when the data are not strictly separable (strict implies weak).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from scipy.optimize import linprog, nnls

from service.core.errors import InvalidProblem, SolverFailed
from service.core.model.activations import Array
from service.vocabulary import CertificateKind

CERTIFICATE_TOLERANCE = 1e-10
"""A certificate is returned only if its residual and its entrywise residual (see the module
docstring) are at most this: a certificate computed in float64 reaches ~1e-16·cond, so 1e-10
leaves room for ill-conditioned rows, while λ is then exact for data within 1e-10 (relative,
entrywise) of the inputs, far below the precision of any measured data."""

KKT_TOLERANCE = 1e-8
"""ŵ is reported as the hard-margin solution (``HardMargin.optimal``) only if its KKT residual
is at most this (it is typically ~1e-15; rows whose lengths span many orders of magnitude can
leave 1e-7). Above it ŵ still separates the data, but is not proved the shortest."""

# Scaling
_SPAN_EXPONENT = 240
"""Rows are scaled into [2^−240, 2^240]: then ŵ ~ 2^240 and α ~ ŵ² ~ 2^480 at worst per row,
2^960 over the span, inside float64's 2^1024."""

# The hard margin: constraint generation on least-distance programming
_MAX_ROUNDS = 200
"""Constraint-generation rounds before HiGHS decides: every round adds rows, a handful of
rounds is usual, and the bound only stops a pathological cycle."""
_INITIAL_WORKING_SET_MIN = 16
"""The first working set holds at least this many rows (small problems are solved at once)."""
_INITIAL_WORKING_FACTOR = 2
"""... and at least this many times m + 1, the most columns an NNLS solution in R^(m+1) needs
(Carathéodory), so that the first guess usually contains the support."""
_WORKING_SET_GROWTH_MIN = 8
"""A round adds at least this many (and at least m + 1) of the most violated rows: fewer
rounds of NNLS when n is large."""
_RESOLUTION = 1e-14
"""−r_{m+1} = 1/(1 + ‖w'‖²) at or below this cannot be told from 0 by NNLS (‖w'‖ ≳ 1e7, an
angular margin below ~1e-7): the columns are then equilibrated, and HiGHS decides if that does
not help (``_highs_strict``)."""
_GENERATION_SLACK = 1e-9
"""A row outside the working set joins it when b̂_i·w' < h_i·(1 − 1e-9): far above the rounding
of the NNLS solution, so that rows on the boundary (copies of support vectors) are not added
for noise; smaller violations are left to the polish (``_POLISH_VIOLATION``)."""
_WITNESS_MARGIN = 0.5
"""A polished ŵ proves strict separability when min_i b_i·ŵ > 0.5: it should be ≥ 1 up to its
KKT residual, so a correct ŵ passes with room, while a polish that went astray (a wrong
support) does not; any positive margin would prove separability exactly."""
_DOT_ROUNDING = 2.0
"""A witness w is proved when ``fl(b_i·w) > 2·m·ε·fl(|b_i|·|w|)`` for every row: the rounding of a
dot product of length m is at most γ_m·|b_i|·|w| with γ_m ≈ m·ε/2, and the factor 2 (with ε,
not ε/2) also covers the rounding of ``|b_i|·|w|`` itself."""
_ACTIVE_SLACK = 1e-6
"""Weights from HiGHS's separating LP seed the polish with the rows whose margin is within a
factor 1 + 1e-6 of the smallest: the LP's active rows, the likely support of ŵ (HiGHS's
feasibility tolerance 1e-7 relative to unit rows, with room)."""
_NNLS_ITERATIONS = 50
"""scipy's NNLS gets maxiter = 50·(rows + columns) (its default is 3·columns): Lawson–Hanson
needs a few per column; reaching the limit is not an error (HiGHS then decides)."""

# Polishing ŵ on its support
_POLISH_ROUNDS = 8
"""Active-set refinements of ŵ on its support: each one takes in the rows the last solve
violated; one or two usually suffice."""
_POLISHED = 1e-14
"""Polishing stops at this KKT residual: a few ulps of the order-1 quantities (b_i·ŵ against 1)
that it compares; no further solve can improve it."""
_SUPPORT_CUT = 1e-12
"""α_i at most this fraction of max α is round-off of NNLS, not a support vector."""
_POLISH_VIOLATION = 1e-13
"""A row with b_i·ŵ < 1 − 1e-13 is violated and joins the support; rows on the boundary, a few
ulps below 1 by rounding, do not (a round for nothing: they would not change ŵ)."""
_ENTRY_MULTIPLIER = 1e-9
"""A violated row enters with α_i = 1e-9·max α: above ``_SUPPORT_CUT``, so the next round keeps
it in the support, where the next solve sets its size."""
_MULTIPLIER_FLOOR = 1e-300
"""... and at least 1e-9·1e-300 (subnormal, but > 0) when α vanished, so that it still enters."""

# Certificates
_CERTIFICATE_SUPPORT_CUT = 1e-14
"""λ_i at most this fraction of max λ is round-off of the solver, not part of the support that
the exact re-solve (``_exact_on_support``) works on: such rows stay exactly 0."""
_REFINEMENT_PASSES = 4
"""Passes of the projection λ ← λ − B·G⁺·Bᵀλ (iterative refinement of the normal equations):
each gains a factor ~cond(G)·ε, four reach rounding for a moderately conditioned B."""
_PROJECTION_RESIDUAL = 1e-14
"""After them, ‖Bᵀλ‖∞ above 1e-14·max|B|·Σ|λ| means B is too ill-conditioned for the normal
equations: least squares by SVD (``_LSTSQ_PASSES`` passes) decides."""
_LSTSQ_PASSES = 2
"""SVD least-squares projections then: the second removes what rounding left of the first."""

# The weak condition: the half-space LP by cutting planes
_LP_WORKING_SET_MIN = 32
"""The LP's first working set holds at least this many rows (small problems in one LP)."""
_LP_WORKING_FACTOR = 4
"""... and at least this many times m + 1: the rows least aligned with Σ b̂_i, enough that the
first LP is usually the last."""
_LP_GROWTH_FACTOR = 2
"""A round adds up to this many times m + 1 of the most violated rows."""
_LP_VIOLATION = 1e-9
"""A row outside the LP's working set is violated when b̂_i·v < −1e-9 (unit rows, |v| ≤ 1);
smaller violations, within HiGHS's own tolerance, are left to ``_half_space_witness``."""
_LP_ZERO = 1e-7
"""HiGHS's default primal feasibility tolerance: margins b̂_i·v within it of 0 may be exact
zeros of the optimum, and ``_half_space_witness`` projects them onto 0."""
_WITNESS_POSITIVE = 1e-9
"""The cleaned ν must keep a margin above 1e-9·‖v‖: B·ν ≠ 0 beyond the rounding of the
projection."""
_WITNESS_NEGATIVE = 1e-12
"""... and none below −1e-12·‖v‖: B·ν ≥ 0 up to the rounding of the projection (a unit row
times a unit vector is exact to ~1e-16)."""

# The numerical rank
_TALL = 4
"""B with n > 4·m takes the Gram shortcut: an m×m eigenproblem instead of an SVD of B."""
_GRAM_GAP = 1e-12
"""The shortcut answers m when λ_min(BᵀB) > 1e-12·λ_max, i.e. σ_min > 1e-6·σ_max: far above
the Gram eigenvalues' error (~m·ε·σ_max²) and numpy's threshold max(n, m)·ε·σ_max; below it
(the Gram matrix could show noise as a positive eigenvalue) the SVD decides."""


@dataclass(frozen=True, slots=True)
class AlternativeCertificate:
    """Multipliers λ (length n, ``Σλ = 1``) with ``Bᵀ·λ = 0`` up to ``residual``."""

    kind: CertificateKind
    multipliers: Array
    residual: float
    """``‖Bᵀ·λ‖∞ / Σ_i λ_i·‖b_i‖∞`` (0 when both are 0)."""


@dataclass(frozen=True, slots=True)
class HardMargin:
    """The hard-margin solution ``ŵ = argmin ‖w‖ s.t. B·w ≥ 1`` and its KKT data."""

    weights: Array
    margin: float
    """``1/‖ŵ‖₂``: the largest ``min_i b_i·v`` over unit vectors v."""
    support_vectors: NDArray[np.int64]
    """Rows with a positive multiplier α_i (indices into the data, ascending)."""
    multipliers: Array
    """α (length n, ≥ 0, zero off the support) with ``ŵ = Bᵀ·α``."""
    kkt_residual: float
    """The largest of: ``max(0, 1 − min_i b_i·ŵ)`` (primal), ``max(0, −min α)`` (dual),
    ``‖ŵ − Bᵀα‖∞/‖ŵ‖∞`` (stationarity), ``max_{α_i>0} |b_i·ŵ − 1|`` (complementarity)."""
    optimal: bool
    """``kkt_residual ≤ KKT_TOLERANCE``: ŵ, the margin, the support and α are the hard-margin
    solution's. When False (a margin near float resolution, solved by HiGHS without α; rows
    spanning many orders of magnitude) the weights still separate the data (min_i b_i·ŵ > 0
    is checked) but are not proved the shortest, so margin and support are estimates."""


@dataclass(frozen=True, slots=True)
class Separability:
    """The separability facts of B (see the module docstring for every definition)."""

    n: int
    m: int
    strictly_separable: bool
    weakly_separable: bool
    rank: int
    rows_independent: bool
    separating_weights: Array | None
    """Strictly separable: ŵ itself (B·ŵ ≥ 1 > 0). Otherwise None."""
    half_space_weights: Array | None
    """Weakly separable: a unit ν with B·ν ≥ 0 (to rounding), B·ν ≠ 0. Otherwise None."""
    certificate: AlternativeCertificate | None
    """Gordan (not strictly separable but weakly), Stiemke (not weakly separable)."""
    max_margin: HardMargin | None
    lemma_applies: bool
    """The hypothesis of the proof of the paper's Lemma (§3) holds: B is weakly separable, so
    ∇E(x)·ν < 0 for every x and gradient flow has no bounded trajectory."""
    lemma_explanation: str


@dataclass(frozen=True, slots=True)
class Unrepresentable:
    """The separability facts of B exist but float64 cannot hold them (the hard-margin
    weights or multipliers overflow); ``reason`` says why and what to do."""

    reason: str


SPAN_TOO_WIDE = (
    "the largest entries of the nonzero rows of B = diag(y)·A must lie within a factor of about "
    "1e144 of each other, so that ŵ (~1/shortest row) and its multipliers (~ŵ²) stay finite in "
    "float64; rescale the inputs"
)
MARGIN_OVERFLOWS = (
    "the hard-margin weights or multipliers of these inputs overflow float64 (the rows' "
    "lengths span too many orders of magnitude, or are all tiny); rescale the inputs"
)


def test_separability(B: Array) -> Separability:
    """:func:`analyse_separability`, with :class:`InvalidProblem` (naming
    ``dataset.inputs``) when float64 cannot hold the facts."""
    facts = analyse_separability(B)
    if isinstance(facts, Unrepresentable):
        raise InvalidProblem("dataset.inputs", facts.reason)
    return facts


def analyse_separability(B: Array) -> Separability | Unrepresentable:
    """Decide strict and weak separability of the rows of B, with witnesses or certificates.

    Parameters
    ----------
    B
        n×m finite matrix, the reduced data ``diag(y)·A`` (bias column included).

    Returns
    -------
    Separability or Unrepresentable
        Exactly one of ``separating_weights`` and a Gordan certificate is present when the
        weak condition holds; a Stiemke certificate when it does not. ``rank`` is the
        numerical rank (SVD, numpy's default tolerance); ``rows_independent`` is
        ``rank == n`` (which, for n ≥ 1, implies strict separability: B·v = 1 is solvable).
        ``max_margin.optimal`` says whether ŵ's KKT residual is within ``KKT_TOLERANCE``.

    Raises
    ------
    SolverFailed
        HiGHS failed on one of its linear programs (each is feasible and bounded, so this is
        a fault of the solver, not of B); no result can stand for an undecided test.
    """
    B = np.asarray(B, dtype=np.float64)
    n, m = B.shape
    # Work with B/2^e, the power of 2 that centres the row lengths on 1 in log scale: it is
    # exact, changes no certificate or witness, and multiplies ŵ by 2^−e, α by 2^−2e and the
    # margin by 2^e. Then ŵ ~ 1/(shortest row) and α ~ ŵ² stay representable.
    e = _balancing_exponent(B)
    if e is None:
        return Unrepresentable(SPAN_TOO_WIDE)
    B = np.ldexp(B, -e)
    rank = numerical_rank(B)
    with np.errstate(over="ignore", invalid="ignore", divide="ignore", under="ignore"):
        max_margin, gordan = _hard_margin(B)
    unit_weights = None
    if max_margin is not None:
        unit_weights = max_margin.weights / _norm(max_margin.weights)
        max_margin = _unscale(max_margin, e)
        if max_margin is None:
            return Unrepresentable(MARGIN_OVERFLOWS)
    strict = max_margin is not None
    half_space: Array | None
    certificate: AlternativeCertificate | None = gordan
    if strict:
        assert max_margin is not None
        half_space = unit_weights
        weak = True
    else:
        half_space, stiemke = _weak_condition(B)
        weak = half_space is not None
        if not weak:
            certificate = stiemke
    return Separability(
        n=n,
        m=m,
        strictly_separable=strict,
        weakly_separable=weak,
        rank=rank,
        rows_independent=rank == n,
        separating_weights=None if max_margin is None else max_margin.weights,
        half_space_weights=half_space,
        certificate=certificate,
        max_margin=max_margin,
        lemma_applies=weak,
        lemma_explanation=_lemma_sentence(weak, rank == n),
    )


def _balancing_exponent(B: Array) -> int | None:
    """e with the nonzero rows of B/2^e centred on length 1 (log scale); None if some nonzero
    row would then underflow to 0 or overflow (lengths spanning > ~1e300)."""
    top = np.max(np.abs(B), axis=1)
    nonzero = top > 0.0
    if not nonzero.any():
        return 0
    exponents = np.frexp(top[nonzero])[1]
    e = int(round((int(exponents.min()) + int(exponents.max())) / 2))
    with np.errstate(over="ignore", under="ignore"):
        scaled_top = np.ldexp(top[nonzero], -e)
    if (scaled_top < 2.0**-_SPAN_EXPONENT).any() or (scaled_top > 2.0**_SPAN_EXPONENT).any():
        return None
    return e


def _unscale(mm: HardMargin, e: int) -> HardMargin | None:
    """The hard-margin solution of 2^e·B from that of B; None if not representable."""
    with np.errstate(over="ignore"):
        weights = np.ldexp(mm.weights, -e)
        multipliers = np.ldexp(mm.multipliers, -2 * e)
    try:
        margin = math.ldexp(mm.margin, e)
    except OverflowError:
        margin = math.inf
    finite = np.isfinite(weights).all() and np.isfinite(multipliers).all()
    if not (finite and math.isfinite(margin) and math.isfinite(mm.kkt_residual)):
        return None
    return HardMargin(
        weights=weights,
        margin=margin,
        support_vectors=mm.support_vectors,
        multipliers=multipliers,
        kkt_residual=mm.kkt_residual,
        optimal=mm.optimal,  # the scaling by 2^e is exact: the residual is that of 2^e·B
    )


test_separability.__test__ = False  # type: ignore[attr-defined]  # not a pytest test


def _lemma_sentence(weak: bool, independent: bool) -> str:
    """One sentence on the Lemma of the paper's §3 for these data."""
    if not weak:
        return (
            "no ν has B·ν ≥ 0 with B·ν ≠ 0 (see the Stiemke certificate), so the Lemma of §3 "
            "does not apply: bounded trajectories are not ruled out"
        )
    sentence = (
        "the rows of B = diag(y)·A lie in a closed half-space with at least one strictly "
        "inside, so ∇E never vanishes and gradient flow has no bounded trajectory (the Lemma "
        "of §3): the weights diverge"
    )
    if not independent:
        sentence += (
            "; the rows are not linearly independent as the Lemma's statement assumes, but "
            "its proof needs only the half-space condition"
        )
    return sentence


def numerical_rank(B: Array) -> int:
    """numpy's ``matrix_rank`` (singular values above ``σ_max·max(n, m)·ε``), made cheap for
    tall B (``_TALL``): when the Gram matrix BᵀB shows every singular value above 1e-6·σ_max
    (``_GRAM_GAP`` on its eigenvalues), the rank is
    m without an SVD of B (eigenvalues of BᵀB are accurate to ~m·ε·σ_max², so σ_min/σ_max is
    then known to about 1e-7, far above numpy's threshold); otherwise the full SVD decides.
    """
    n, m = B.shape
    if not B.any():
        return 0
    if n > _TALL * m:
        eig = np.linalg.eigvalsh(B.T @ B)
        if eig[0] > _GRAM_GAP * eig[-1]:
            return int(m)
    return int(np.linalg.matrix_rank(B))


def _certificate_residual(B: Array, lam: Array) -> float:
    """``‖Bᵀλ‖∞ / Σ_i λ_i·‖b_i‖∞``, computed on rows scaled by their largest entry."""
    top = np.max(np.abs(B), axis=1)
    weight = lam * top
    size = float(np.sum(np.abs(weight)))
    if size == 0.0:
        return 0.0 if not (lam * (top > 0)).any() else math.inf
    safe = np.where(top > 0.0, top, 1.0)
    return float(np.max(np.abs((B / safe[:, None]).T @ (weight / size))))


# ----------------------------------------------------------------------------------------
# Strict separability and the hard margin: least-distance programming by constraint generation


def _hard_margin(B: Array) -> tuple[HardMargin | None, AlternativeCertificate | None]:
    """ŵ and its KKT data, or a Gordan certificate; exactly one is not None."""
    n, m = B.shape
    zero_rows = np.flatnonzero(~B.any(axis=1))
    if zero_rows.size:  # 0·v = 0 is never > 0: λ = e_i
        lam = np.zeros(n)
        lam[zero_rows[0]] = 1.0
        return None, AlternativeCertificate(CertificateKind.GORDAN, lam, 0.0)
    # Least-distance programming on unit rows: b̂_i·w' ≥ h_i with h_i = c/‖b_i‖ ∈ (0, 1] and
    # c the shortest row's length, so that ŵ = w'/c. Then ‖w'‖ ≥ 1, and ‖w'‖ is large only
    # when the angular margin is small; the columns (b̂_i, h_i) of E all have length in [1, √2].
    norms = row_norms(B)
    c = float(norms.min())
    unit = B / norms[:, None]
    h = c / norms
    lengths = np.sqrt(1.0 + h * h)
    working = _initial_working_set(unit)
    in_working = np.zeros(n, dtype=bool)
    in_working[working] = True
    f = np.zeros(m + 1)
    f[m] = 1.0
    for _ in range(_MAX_ROUNDS):
        # NNLS on unit columns (u_i = ũ_i/‖column_i‖): the same problem, balanced.
        E = np.vstack([unit[working].T, h[working]]) / lengths[working]
        u_unit = _nnls(E, f)
        if u_unit is None:  # iteration limit: let HiGHS decide
            break
        r = E @ u_unit - f
        u = u_unit / lengths[working]
        # −r_{m+1} = 1/(1 + ‖w'‖²): below _RESOLUTION the angular margin is below ~1e-7 and
        # NNLS cannot tell it from 0.
        if -r[m] > _RESOLUTION:
            w = -r[:m] / r[m]
            z = unit @ w  # b_i·ŵ = z_i/h_i
            fresh = np.flatnonzero((z < h * (1.0 - _GENERATION_SLACK)) & ~in_working)
            if fresh.size:
                grow = max(_WORKING_SET_GROWTH_MIN, m + 1)
                added = fresh[np.argsort(z[fresh] / h[fresh], kind="stable")[:grow]]
                in_working[added] = True
                working = np.flatnonzero(in_working)
                continue
            # w' = Σ (u_i/−r_{m+1})·b̂_i, so ŵ = w'/c = Σ α_i·b_i with α_i = u_i/(−r_{m+1})/c/‖b_i‖
            alpha = np.zeros(n)
            with np.errstate(over="ignore"):
                alpha[working] = u / -r[m] / c / norms[working]
            best = _polish(B, norms, c, w / c, alpha)
            if float(np.min(B @ best.weights)) > _WITNESS_MARGIN:  # strict separability
                return best, None
        gordan = _gordan_from(B, working, u * h[working])  # Σ u_i·h_i·b_i/c = 0
        if gordan is not None:
            return None, gordan
        break
    return _fallback_gordan(B)


def _initial_working_set(unit: Array) -> NDArray[np.int64]:
    """The rows least aligned with the mean unit row: good first guesses at support vectors."""
    n, m = unit.shape
    size = min(n, max(_INITIAL_WORKING_FACTOR * (m + 1), _INITIAL_WORKING_SET_MIN))
    if size == n:
        return np.arange(n)
    z = unit @ unit.sum(axis=0)
    return np.sort(np.argpartition(z, size - 1)[:size])


def _nnls(M: Array, b: Array) -> Array | None:
    """scipy's NNLS, or None when the data are not finite (scipy may then crash the process)
    or the iteration limit is reached."""
    if M.size == 0 or not (np.isfinite(M).all() and np.isfinite(b).all()):
        return None  # scipy 1.17's nnls double-frees on an empty matrix
    try:
        x, _ = nnls(M, b, maxiter=_NNLS_ITERATIONS * (M.shape[1] + M.shape[0]))
    except RuntimeError:
        return None
    return np.asarray(x, dtype=np.float64)


def _norm(v: Array) -> float:
    """‖v‖₂ without overflow or underflow in the squares."""
    top = float(np.max(np.abs(v))) if v.size else 0.0
    if top == 0.0 or not math.isfinite(top):
        return top
    return top * float(np.linalg.norm(v / top))


def row_norms(B: Array) -> Array:
    """‖b_i‖₂ for every row, without underflow or overflow (each row scaled by its max)."""
    top = np.max(np.abs(B), axis=1)
    safe = np.where(top > 0.0, top, 1.0)
    scaled = B / safe[:, None]
    return np.asarray(top * np.sqrt(np.einsum("ij,ij->i", scaled, scaled)), dtype=np.float64)


def _gordan_from(
    B: Array, rows: NDArray[np.int64], u: Array | None
) -> AlternativeCertificate | None:
    """A verified Gordan certificate supported on ``rows`` (from NNLS weights u), or None."""
    if u is None or not (u > 0).any():
        return None
    n = B.shape[0]
    lam = np.zeros(n)
    lam[rows] = u / u.sum()
    exact = _exact_on_support(B, lam)
    if exact is None:
        return None
    residual = _certificate_residual(B, exact)
    if residual > CERTIFICATE_TOLERANCE:
        return None
    return AlternativeCertificate(CertificateKind.GORDAN, exact, residual)


def _exact_on_support(B: Array, lam: Array) -> Array | None:
    """Re-solve ``B_Sᵀ·λ_S = 0, Σλ_S = 1`` on the support S of λ, keeping λ_S ≥ 0.

    λ_S is moved to the nearest point of the affine set {Bᵀλ = 0, Σλ = 1} restricted to S
    (a least-squares projection); None if that makes a component negative.
    """
    S = np.flatnonzero(lam > _CERTIFICATE_SUPPORT_CUT * lam.max())
    M = np.vstack([B[S].T, np.ones(S.size)])  # (m+1)×|S|
    target = np.zeros(M.shape[0])
    target[-1] = 1.0
    correction = np.linalg.lstsq(M, target - M @ lam[S], rcond=None)[0]
    exact = lam[S] + correction
    if exact.min() < 0.0:
        return None
    out = np.zeros_like(lam)
    out[S] = exact / exact.sum()
    return out


def _polish(B: Array, norms: Array, c: float, w0: Array, alpha0: Array) -> HardMargin:
    """Refine (w, α) by exact solves on the support set; the best KKT residual wins.

    On a support S, ŵ is the minimum-norm solution of ``B_S·w = 1`` (solved with the rows
    scaled to unit length, which leaves the solution unchanged and the conditioning better)
    and α_S the nonnegative least-squares solution of ``B_Sᵀ·α_S = ŵ``. Rows that the new w
    violates join S, rows with α_i = 0 leave it, for a few rounds (an active-set refinement).
    """
    best = _kkt(B, w0, alpha0)
    alpha = alpha0
    for _ in range(_POLISH_ROUNDS):
        if best.kkt_residual <= _POLISHED or not (0.0 < alpha.max() < math.inf):
            break
        support = np.flatnonzero(alpha > _SUPPORT_CUT * alpha.max())
        BS = B[support] / norms[support, None]
        # b̂_i·w' = c/‖b_i‖ on S, ŵ = w'/c: right-hand sides in (0, 1], no overflow.
        wc = np.linalg.lstsq(BS, c / norms[support], rcond=None)[0]
        w = np.asarray(wc, dtype=np.float64) / c
        a = _nnls(B[support].T, w)
        if a is None:  # not finite, or the iteration limit: keep the best so far
            break
        alpha = np.zeros_like(alpha0)
        alpha[support] = a
        candidate = _kkt(B, w, alpha)
        if candidate.kkt_residual < best.kkt_residual:
            best = candidate
        z = B @ w
        below = z < 1.0 - _POLISH_VIOLATION
        below[support] = False
        violated = np.flatnonzero(below)
        if violated.size == 0 and candidate.kkt_residual >= best.kkt_residual:
            break
        # Rows that w violates enter with a small multiplier, to be sized by the next solve.
        alpha[violated] = _ENTRY_MULTIPLIER * max(float(alpha.max()), _MULTIPLIER_FLOOR)
    return best


def _kkt(B: Array, w: Array, alpha: Array) -> HardMargin:
    z = B @ w
    primal = max(0.0, float(1.0 - z.min()))
    dual = max(0.0, float(-alpha.min()))
    stationarity = float(np.max(np.abs(w - B.T @ alpha))) / float(np.max(np.abs(w)))
    on = alpha > 0
    complementarity = float(np.max(np.abs(z[on] - 1.0))) if on.any() else 0.0
    residual = max(primal, dual, stationarity, complementarity)
    return HardMargin(
        weights=w,
        margin=1.0 / _norm(w),
        support_vectors=np.flatnonzero(on).astype(np.int64),
        multipliers=alpha,
        kkt_residual=residual,
        optimal=residual <= KKT_TOLERANCE,
    )


def _fallback_gordan(B: Array) -> tuple[HardMargin | None, AlternativeCertificate | None]:
    """Constraint generation did not settle (a margin near float resolution): decide with
    HiGHS, and report what it finds with its honest residuals.

    The Gordan LP (λ ≥ 0, Σλ = 1, Bᵀλ = 0 on unit rows) is solved; if it is feasible its λ,
    made exact on its support where possible, is the certificate. If it is infeasible the
    data are strictly separable, and the LP ``max t s.t. B̂·v ≥ t, −1 ≤ v ≤ 1, t ≤ 1`` gives
    weights w = v/min(B·v) with B·w ≥ 1; they are reported with α = 0, so their KKT residual
    says they are not proved optimal.
    """
    n, m = B.shape
    scale = row_norms(B)
    Bn = B / scale[:, None]
    res = linprog(
        np.zeros(n),
        A_eq=np.vstack([Bn.T, np.ones(n)]),
        b_eq=np.r_[np.zeros(m), 1.0],
        bounds=(0, None),
        method="highs",
    )
    if res.status == 0:
        raw = np.maximum(np.asarray(res.x, dtype=np.float64), 0.0) * (scale.min() / scale)
        raw /= raw.sum()
        exact = _exact_on_support(B, raw)
        lam = raw if exact is None else exact
        return None, AlternativeCertificate(
            CertificateKind.GORDAN, lam, _certificate_residual(B, lam)
        )
    res = linprog(
        np.r_[np.zeros(m), -1.0],
        A_ub=np.hstack([-Bn, np.ones((n, 1))]),
        b_ub=np.zeros(n),
        bounds=[(-1.0, 1.0)] * m + [(None, 1.0)],
        method="highs",
    )
    v = np.asarray(res.x[:m], dtype=np.float64) if res.status == 0 else np.zeros(m)
    z = B @ v
    if z.min() > 0.0:
        return _kkt(B, v / z.min(), np.zeros(n)), None
    # HiGHS contradicts itself: no Gordan λ, yet no separating v. Neither answer is proved,
    # and a result without both would break the contract of Separability.
    raise SolverFailed(  # pragma: no cover - not seen; kept as the honest outcome
        "HiGHS",
        "the Gordan LP of the strict-separability test found no certificate, and the "
        f"separating LP no separating weights (status {res.status}: {res.message})",
    )


# ----------------------------------------------------------------------------------------
# The weak condition (Stiemke): one LP on the unit-scaled nonzero rows


def _weak_condition(B: Array) -> tuple[Array | None, AlternativeCertificate | None]:
    """A unit ν with B·ν ≥ 0, B·ν ≠ 0, or a Stiemke certificate; exactly one is not None."""
    n, m = B.shape
    norms = row_norms(B)
    nonzero = np.flatnonzero(norms > 0.0)
    if nonzero.size == 0:  # B·v = 0 for every v
        lam = np.full(n, 1.0 / n)
        return None, AlternativeCertificate(CertificateKind.STIEMKE, lam, 0.0)
    Bn = B[nonzero] / norms[nonzero, None]
    c = Bn.sum(axis=0)
    # Cutting planes: the LP on a working set of rows, grown by the most violated ones until
    # its solution satisfies every row (then it solves the full LP, a restriction of it).
    size = min(nonzero.size, max(_LP_WORKING_FACTOR * (m + 1), _LP_WORKING_SET_MIN))
    working = np.zeros(nonzero.size, dtype=bool)
    working[np.argpartition(Bn @ c, size - 1)[:size]] = True
    while True:
        rows = np.flatnonzero(working)
        res = linprog(
            -c, A_ub=-Bn[rows], b_ub=np.zeros(rows.size), bounds=(-1.0, 1.0), method="highs"
        )
        if res.status != 0:
            # The LP is feasible (v = 0) and bounded (the box), so only HiGHS itself can fail
            # (numerical trouble, an internal limit); no state of the result can stand for
            # an undecided weak condition, so the computation stops here.
            raise SolverFailed(
                "HiGHS",
                f"the half-space LP of the weak-separability test (max (Σ b̂_i)·v subject to "
                f"B·v ≥ 0, −1 ≤ v ≤ 1) ended with status {res.status}: {res.message}",
            )
        z = Bn @ np.asarray(res.x, dtype=np.float64)
        fresh = np.flatnonzero((z < -_LP_VIOLATION) & ~working)
        if fresh.size == 0:
            break
        grow = _LP_GROWTH_FACTOR * (m + 1)
        working[fresh[np.argsort(z[fresh], kind="stable")[:grow]]] = True
    v = np.asarray(res.x, dtype=np.float64)
    nu = _half_space_witness(B, v)
    if nu is not None:
        return nu, None
    # Optimum 0: HiGHS's duals μ ≥ 0 for −Bn·v ≤ 0 give Bnᵀ(1 + μ) = 0 (Stiemke).
    mu = np.zeros(nonzero.size)
    mu[rows] = np.abs(np.asarray(res.ineqlin.marginals, dtype=np.float64))
    lam = np.zeros(n)
    lam[nonzero] = (1.0 + mu) * (norms[nonzero].min() / norms[nonzero])
    zero = np.setdiff1d(np.arange(n), nonzero)
    lam[zero] = lam[nonzero].min()  # any positive value: the zero rows add nothing to Bᵀλ
    lam = _project_positive(B, lam)
    if lam.min() <= 0.0 or _certificate_residual(B, lam) > CERTIFICATE_TOLERANCE:
        # The duals were too rough: solve Stiemke's system itself, λ ≥ 1 with Bnᵀλ = 0.
        res = linprog(
            np.ones(nonzero.size),
            A_eq=Bn.T,
            b_eq=np.zeros(m),
            bounds=(1.0, None),
            method="highs",
        )
        if res.status == 0:
            lam = np.zeros(n)
            lam[nonzero] = np.asarray(res.x) * (norms[nonzero].min() / norms[nonzero])
            lam[zero] = lam[nonzero].min()
            lam = _project_positive(B, lam)
    return None, AlternativeCertificate(CertificateKind.STIEMKE, lam, _certificate_residual(B, lam))


def _half_space_witness(B: Array, v: Array) -> Array | None:
    """Clean an LP solution into ν with B·ν ≥ 0 and B·ν ≠ 0, or None if v shows none.

    Margins that HiGHS left within its tolerance of 0 are made exactly 0 (to rounding) by
    projecting v onto the null space of those rows.
    """
    norms = row_norms(B)
    norms[norms == 0.0] = 1.0
    z = (B @ v) / norms
    if z.max() <= _LP_ZERO:
        return None
    near_zero = np.flatnonzero(z <= _LP_ZERO)
    if near_zero.size:
        Z = B[near_zero]
        v = v - np.linalg.lstsq(Z, Z @ v, rcond=None)[0]
    z = (B @ v) / norms
    scale = _norm(v)
    if scale == 0.0 or z.max() <= _WITNESS_POSITIVE * scale or z.min() < -_WITNESS_NEGATIVE * scale:
        return None
    return v / scale


def _project_positive(B: Array, lam: Array) -> Array:
    """Project λ > 0 onto the null space of Bᵀ (exactly, to rounding), then Σλ = 1.

    λ ← λ − B·G⁺·Bᵀλ with G = BᵀB (m×m), repeated: each pass is iterative refinement of the
    normal equations and costs two products with B; a least-squares solve by SVD decides if
    the passes do not bring ‖Bᵀλ‖ down to rounding (B very ill-conditioned).
    """
    scale = float(np.max(np.abs(B))) * float(np.sum(np.abs(lam)))
    G_pinv = np.linalg.pinv(B.T @ B, hermitian=True)
    for _ in range(_REFINEMENT_PASSES):
        lam = lam - B @ (G_pinv @ (B.T @ lam))
    if float(np.max(np.abs(B.T @ lam))) > _PROJECTION_RESIDUAL * scale:
        for _ in range(_LSTSQ_PASSES):
            lam = lam - B @ np.linalg.lstsq(B, lam, rcond=None)[0]
    out: Array = lam / lam.sum()
    return out
