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
The verdicts and certificates do not change when the weights change coordinates, ``B ↦ B·P``
with P invertible (on the row space of B): ``B·P·u = B·v`` for ``v = P·u``, and
``(B·P)ᵀλ = 0 ⟺ Bᵀλ = 0``. ŵ does change (it is the shortest w in the units of B), so it is
computed on B itself; but a column much smaller than the others (a feature in other units), or
rows that nearly lie in a hyperplane, hide the data's margin from a method working on B, which
then sees rows that cancel up to that column or that direction. So:

* B is first divided by one power of 2 (``_balancing_exponent``) that centres its row lengths
  on 1: exact, it changes no verdict, certificate or witness and scales ŵ, α and the margin.
* The least-distance program below runs on B. A ŵ whose margins are proved positive (below)
  stands; so does a certificate that passes the checks below and is exact to rounding
  (``_CERTAIN``). Rows that are numerically independent (rank = n) then try ``v = B⁺·1``
  (B·v = 1: independence implies strict separability).
* Otherwise strict separability is decided in other **frames**: the **equilibrated** one,
  ``B_c = B·D`` with ``D = diag(2^−k_j)`` putting each nonzero column's largest entry in
  [1/2, 1) (exact: powers of 2; B itself when those entries share one power of 2), then the
  **whitened** one, ``U_r`` from the SVD ``B_c = U·Σ·Vᵀ`` (P = D·V_r·Σ_r⁻¹, orthonormal
  columns: a margin carried by a direction of small σ becomes as visible as any other), each
  by the least-distance program; then HiGHS on B_c. A witness u is mapped back, ``v = P·u``,
  and refined into ŵ on B by the exact solves of the polish, started from the frame's support;
  when that does not reach ``KKT_TOLERANCE``, ``max_margin`` holds ``w = v/min_i(b_i·v)``
  (so ``B·w ≥ 1``) with ``optimal = False``: strict separability is proved, ŵ is not found.
  A certificate that is verified but not ``_CERTAIN`` is returned only when no frame proves a
  witness.
* The weak condition is decided on B_c, then (no witness, no ``_CERTAIN`` certificate) on the
  whitened frame; its witness is mapped back and renormalised, its zero margins are zero to
  rounding relative to the rows of the frame it was found in.
* **Every certificate is verified before it is returned**: λ ≥ 0 (Stiemke: every λ_i > 0),
  Σλ = 1 to rounding, ``residual ≤ CERTIFICATE_TOLERANCE``, and its ``entrywise_residual``
  ``max_j |Σ_i λ_i·B_ij| / Σ_i λ_i·|B_ij|`` (0/0 = 0) too. The entrywise residual is the
  smallest ω such that λ is an exact certificate for some B̃ with ``|B̃ − B| ≤ ω·|B|``
  entrywise (Oettli–Prager); it does not change under any positive scaling of rows or columns,
  so a λ that only cancels because a column is tiny fails it (the row-wise ``residual`` does
  not see that: ``(1, ε), (−1, ε)`` with λ = (1/2, 1/2) leaves ε). It is never below the
  row-wise residual. So a certificate is exact for data within 1e-10 (entrywise) of B: rows
  separable only by a smaller margin, e.g. ``(1, 1), (−1, −1 + 1e-15)``, may receive one.
* **Every separating witness is proved**: ``fl(b_i·w) > 2·m·ε·(|b_i|·|w|)`` for every row, so
  ``b_i·w > 0`` holds in exact arithmetic for the data as given (the rounding of a dot product
  of length m is at most ``γ_m·|b_i|·|w|``, γ_m ≈ m·ε/2).
* When neither a witness nor a certificate survives (a margin, or a cancellation, below what
  NNLS and HiGHS resolve in every frame tried: about 1e-7 of the row lengths), the answer is
  the state :class:`Unrepresentable` with the reason ``UNDECIDED``, not a guess. A state, not
  ``SolverFailed``: the solvers ran without fault, and a margin that thin is a property of the
  data (float64 computation cannot settle it here); :func:`test_separability` turns it into
  ``InvalidProblem`` on ``dataset.inputs`` (a 422 whose message says so), and a training run
  keeps its result with the reason as its ``theory_note``. A linear program that HiGHS itself
  fails to solve (a status other than optimal, or infeasible where infeasibility is an answer)
  still raises :class:`~service.core.errors.SolverFailed`, unless a verified answer is at hand.

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
solution of ``B_Sᵀ·α = ŵ``. When NNLS cannot resolve the margin (``_RESOLUTION``) on B nor in
the other frames, HiGHS decides on B_c: the Gordan LP (λ ≥ 0, Σλ = 1, B̂ᵀλ = 0 on unit rows),
then the separating LP ``max t s.t. B̂·v ≥ t, −1 ≤ v ≤ 1, t ≤ 1``; each answer is verified as
above.

Every tolerance and iteration bound of these methods is a module-level name that says why it
has its value. A ŵ whose KKT residual exceeds ``KKT_TOLERANCE`` is reported with
``optimal = False`` (a state, not an error). The computation's deadline
(:mod:`service.core.deadline`) is checked between its solves (the rank's SVD, each NNLS
round, each polish, each frame) and HiGHS gets the time that remains as its ``time_limit``:
past it, :class:`~service.core.errors.TimeLimitExceeded`.

The weak condition is decided by one linear program (scipy's ``linprog``, HiGHS) on the
nonzero rows of B_c (or of the whitened frame) scaled to unit length: maximise ``(Σ_i b_i)·v``
subject to ``B·v ≥ 0`` and ``−1 ≤ v ≤ 1`` (solved by cutting planes: on a working set of rows
grown by the violated ones). Its optimum is positive exactly when the data are weakly
separable (then v is the witness); when it is 0 the LP dual gives ``Bᵀ·(1 + μ) = 0`` with
μ ≥ 0, a Stiemke certificate, which is then projected exactly onto the null space of Bᵀ; if
that does not pass the checks, the Stiemke system itself (λ ≥ 1, B̂ᵀλ = 0) is solved by HiGHS
and projected. The LP is needed only when the data are not strictly separable (strict implies
weak).
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from scipy.optimize import OptimizeResult, linprog, nnls

from service.core.deadline import NO_DEADLINE, Deadline
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

_EPS = float(np.finfo(np.float64).eps)

_HIGHS_GRACE = 0.01
"""HiGHS's ``time_limit`` is the time left before the deadline plus 10 ms, so that when it
stops at its limit the deadline has passed too and the check after it raises (a status 1 short
of the deadline would read as a failure of the solver)."""

# Scaling
_SPAN_EXPONENT = 240
"""Rows are scaled into [2^−240, 2^240]: then ŵ ~ 2^240 and α ~ ŵ² ~ 2^480 at worst per row,
2^960 over the span, inside float64's 2^1024."""

# The hard margin: constraint generation on least-distance programming
_MAX_ROUNDS = 200
"""Constraint-generation rounds before the other frames and HiGHS decide: every round adds rows,
a handful of rounds is usual, and the bound only stops a pathological cycle."""
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
angular margin below ~1e-7): the other frames (equilibrated, whitened) are tried, and HiGHS
decides if they do not help (``_highs_strict``). The bound is 1e-14·max(1, Σu_i): r = E·u − f
is computed with an error of a few ε·Σu_i (the columns of E have length 1), and Σu_i reaches
1/min h_i when the support rows are much longer than the shortest row (a u, −u pair 2300 times
as long left r = (0, 0, −1e-13), rounding only, which read as w' = 0)."""
_GENERATION_SLACK = 1e-9
"""A row outside the working set joins it when b̂_i·w' < h_i·(1 − 1e-9): far above the rounding
of the NNLS solution, so that rows on the boundary (copies of support vectors) are not added
for noise; smaller violations are left to the polish (``_POLISH_VIOLATION``)."""
_WITNESS_MARGIN = 0.5
"""A polished ŵ proves strict separability when min_i b_i·ŵ > 0.5: it should be ≥ 1 up to its
KKT residual, so a correct ŵ passes with room, while a polish that went astray (a wrong
support) does not; any positive margin would prove separability exactly."""
_NNLS_ITERATIONS = 50
"""scipy's NNLS gets maxiter = 50·(rows + columns) (its default is 3·columns): Lawson–Hanson
needs a few per column; reaching the limit is not an error (the other frames and HiGHS then
decide)."""

# Verification, and the frames tried when B itself settles nothing
_DOT_ROUNDING = 2.0
"""A witness w is proved when ``fl(b_i·w) > 2·m·ε·fl(|b_i|·|w|)`` for every row: the rounding of a
dot product of length m is at most γ_m·|b_i|·|w| with γ_m ≈ m·ε/2, and the factor 2 (with ε,
not ε/2) also covers the rounding of ``|b_i|·|w|`` itself."""
_CERTAIN = 1e-13
"""A certificate whose entrywise residual is at most 1e-13 (~500 ε: the rounding of a solve
that is not ill-conditioned) is exact to rounding and returned at once. Above it, up to
``CERTIFICATE_TOLERANCE``, λ may stand for rows that a margin that thin separates, so the other
frames look for a witness first (proved, it is the exact answer); λ is returned only if none
is found."""
_ACTIVE_MARGIN = 1e-6
"""Weights from HiGHS's separating LP seed the polish with the rows whose margin (unit rows,
t ≤ 1) is within 1e-6 of the smallest: the LP's active rows, the likely support of ŵ (HiGHS's
feasibility tolerance is 1e-7, so active rows can differ by that)."""

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
    entrywise_residual: float
    """``max_j |Σ_i λ_i·B_ij| / Σ_i λ_i·|B_ij|``: λ is exact for some B̃ with
    ``|B̃ − B| ≤ entrywise_residual·|B|`` entrywise; never below ``residual``."""


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
    solution's. When False (a margin near float resolution on B, found on the equilibrated
    columns or by HiGHS, possibly without α; rows spanning many orders of magnitude) the
    weights still satisfy B·w ≥ 1 up to ``kkt_residual`` and separate the data (``b_i·w > 0``
    is proved beyond rounding), but are not proved the shortest, so margin and support are
    estimates."""


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
    """Strictly separable: ``max_margin.weights`` (B·w ≥ 1 > 0; ŵ itself when
    ``max_margin.optimal``). Otherwise None."""
    half_space_weights: Array | None
    """Weakly separable: a unit ν with B·ν ≥ 0 (to rounding), B·ν ≠ 0. Otherwise None."""
    certificate: AlternativeCertificate | None
    """Gordan (not strictly separable but weakly), Stiemke (not weakly separable)."""
    max_margin: HardMargin | None
    """Present exactly when strictly separable; ``optimal`` is False when ŵ could not be
    certified (then it holds proved separating weights with B·w ≥ 1, not proved shortest)."""
    lemma_applies: bool
    """The hypothesis of the proof of the paper's Lemma (§3) holds: B is weakly separable, so
    ∇E(x)·ν < 0 for every x and gradient flow has no bounded trajectory."""
    lemma_explanation: str


@dataclass(frozen=True, slots=True)
class Unrepresentable:
    """The separability facts of B exist but float64 cannot hold them (the hard-margin
    weights or multipliers overflow) or cannot settle them (no witness and no certificate
    could be verified); ``reason`` says why and what to do."""

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
UNDECIDED = (
    "the separability of these inputs could not be decided in float64: no weights were proved "
    "to separate them and no certificate of the alternative was exact to 1e-10 (entrywise, "
    "relative), even with the columns rescaled; the margin, or the cancellation, of these rows "
    "is below what the solvers resolve (about 1e-7 relative): decide in exact arithmetic, or "
    "move the rows away from the boundary case"
)


def test_separability(B: Array, *, deadline: Deadline = NO_DEADLINE) -> Separability:
    """:func:`analyse_separability`, with :class:`InvalidProblem` (naming
    ``dataset.inputs``) when float64 cannot hold the facts."""
    facts = analyse_separability(B, deadline=deadline)
    if isinstance(facts, Unrepresentable):
        raise InvalidProblem("dataset.inputs", facts.reason)
    return facts


def analyse_separability(
    B: Array, *, deadline: Deadline = NO_DEADLINE
) -> Separability | Unrepresentable:
    """Decide strict and weak separability of the rows of B, with witnesses or certificates.

    Parameters
    ----------
    B
        n×m finite matrix, the reduced data ``diag(y)·A`` (bias column included).
    deadline
        The computation's wall-time deadline, checked between solves; HiGHS is given the
        time that remains.

    Returns
    -------
    Separability or Unrepresentable
        Exactly one of ``separating_weights`` and a Gordan certificate is present when the
        weak condition holds; a Stiemke certificate when it does not. ``rank`` is the
        numerical rank (SVD, numpy's default tolerance); ``rows_independent`` is
        ``rank == n`` (which, for n ≥ 1, implies strict separability: B·v = 1 is solvable).
        ``max_margin.optimal`` says whether ŵ's KKT residual is within ``KKT_TOLERANCE``.
        Every certificate and witness has been verified (module docstring); when none could
        be, the answer is ``Unrepresentable(UNDECIDED)``.

    Raises
    ------
    SolverFailed
        HiGHS failed on one of its linear programs (each is feasible and bounded, so this is
        a fault of the solver, not of B); no result can stand for an undecided test.
    TimeLimitExceeded
        ``deadline`` passed.
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
    deadline.check(_progress("after the rank of B"))
    with np.errstate(over="ignore", invalid="ignore", divide="ignore", under="ignore"):
        strict_facts = _strict_condition(B, rank == n, deadline)
        if strict_facts is None:
            return Unrepresentable(UNDECIDED)
        max_margin, certificate = strict_facts
        half_space: Array | None
        if max_margin is not None:
            half_space = max_margin.weights / _norm(max_margin.weights)
            max_margin = _unscale(max_margin, e)
            if max_margin is None:
                return Unrepresentable(MARGIN_OVERFLOWS)
            weak = True
        else:
            weak_facts = _weak_condition(B, deadline)
            if weak_facts is None:
                return Unrepresentable(UNDECIDED)
            half_space, stiemke = weak_facts
            weak = half_space is not None
            if not weak:
                certificate = stiemke
    strict = max_margin is not None
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


def _progress(step: str) -> str:
    """How far a separability test got, for :class:`~service.core.errors.TimeLimitExceeded`."""
    return f"while testing the data's separability ({step})"


def _highs(deadline: Deadline, step: str, c: Array, **problem: object) -> OptimizeResult:
    """scipy's ``linprog`` with HiGHS, given the time left before ``deadline`` as its
    ``time_limit``; :class:`~service.core.errors.TimeLimitExceeded` when the deadline passes,
    whatever HiGHS answered (it stops at its time limit with status 1)."""
    deadline.check(_progress(step))
    options = {"time_limit": deadline.remaining() + _HIGHS_GRACE} if deadline.limited else {}
    res = linprog(c, method="highs", options=options, **problem)
    deadline.check(_progress(step))
    return res


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


def _column_exponents(B: Array) -> NDArray[np.int64]:
    """k with the largest entry of every nonzero column of ``B·diag(2^−k)`` in [1/2, 1).

    A zero column takes the exponent of the largest column: any exponent leaves it zero, and
    this one keeps the scaling uniform when the other columns agree. A uniform k is returned
    as 0: a power of 2 common to all columns changes nothing that is computed on unit rows,
    and B then serves as its own equilibrated frame, without a copy.
    """
    top = np.maximum(B.max(axis=0), -B.min(axis=0))  # max |B_ij| without a copy of |B|
    nonzero = top > 0.0
    exponents: NDArray[np.int64] = np.asarray(np.frexp(top)[1], dtype=np.int64)
    if not nonzero.any():
        return np.zeros(B.shape[1], dtype=np.int64)
    exponents[~nonzero] = exponents[int(np.argmax(top))]
    if (exponents == exponents[0]).all():
        exponents[:] = 0
    return exponents


def _times_d(X: Array, k: NDArray[np.int64]) -> Array:
    """``X·D`` for a matrix, ``D·X`` for a vector, with ``D = diag(2^−k)``: exact (powers of 2)
    unless an entry underflows."""
    if not k.any():
        return X
    if np.all(np.abs(k) < 1000):  # 2^−k is a float: a product, several times faster
        return np.asarray(X * np.ldexp(1.0, -k), dtype=np.float64)
    return np.asarray(np.ldexp(X, -k), dtype=np.float64)


@dataclass(frozen=True, slots=True)
class _Frame:
    """B in other coordinates of the weights: ``M = B·P`` with ``P = diag(2^−k)·T``, so that
    ``M·u = B·(P·u)`` and, P being invertible on the row space, ``Mᵀλ = 0 ⟺ Bᵀλ = 0``: M has
    the verdicts and the certificates of B, and its witnesses map back by v = P·u. (Rounding,
    and the singular values the whitening drops, make that approximate: whatever is found in
    a frame is verified on B.)"""

    M: Array
    k: NDArray[np.int64]
    T: Array | None
    """None for the identity (the equilibrated frame, ``M = B·diag(2^−k)`` exactly)."""

    @staticmethod
    def equilibrated(B: Array, k: NDArray[np.int64]) -> _Frame:
        """``B_c = B·diag(2^−k)``: every nonzero column's largest entry in [1/2, 1), or B
        itself when k = 0 (``_column_exponents``: those entries share one power of 2)."""
        return _Frame(_times_d(B, k), k, None)

    @staticmethod
    def whitened(frame: _Frame) -> _Frame | None:
        """``U_r`` from the thin SVD ``B_c = U·Σ·Vᵀ`` (T = V_r·Σ_r⁻¹, r the numerical rank,
        numpy's threshold): orthonormal columns, so that a margin that only a direction of
        small σ carries (rows nearly in a hyperplane, not along an axis) is as visible as any
        other. None when B_c is 0 (or the SVD fails)."""
        n, m = frame.M.shape
        try:
            U, sigma, Vt = np.linalg.svd(frame.M, full_matrices=False)
        except np.linalg.LinAlgError:  # LAPACK did not converge: one frame fewer to try
            return None
        if sigma.size == 0 or sigma[0] == 0.0:
            return None
        r = int(np.count_nonzero(sigma > sigma[0] * max(n, m) * _EPS))
        W = np.ascontiguousarray(U[:, :r])
        W[~frame.M.any(axis=1)] = 0.0  # zero rows stay exactly zero, not rounding noise
        return _Frame(W, frame.k, Vt[:r].T / sigma[:r])

    def weights(self, u: Array) -> Array:
        """v = P·u: weights of B from weights u of M."""
        return _times_d(u if self.T is None else self.T @ u, self.k)


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


def _entrywise_residual(B: Array, lam: Array) -> float:
    """``max_j |Σ_i λ_i·B_ij| / Σ_i λ_i·|B_ij|`` (0/0 = 0) for λ ≥ 0: the smallest ω with
    ``(B + Δ)ᵀλ = 0`` for some ``|Δ| ≤ ω·|B|`` entrywise; unchanged by positive scalings of
    the rows (with λ) or the columns of B."""
    # λ_i·B_ij, not the rows scaled: a product of a normalised λ_i ≤ 1 and a row-balanced entry
    # neither overflows nor, for the entries that matter, underflows. Only the support of λ
    # counts (at most m + 1 rows for a Gordan certificate from NNLS).
    if not lam.all():
        support = np.flatnonzero(lam)
        B, lam = B[support], lam[support]
    cancelled = np.abs(B.T @ lam)
    size = np.abs(B).T @ lam
    if not (np.isfinite(cancelled).all() and np.isfinite(size).all()):
        return math.inf
    if (cancelled[size == 0.0] > 0.0).any():
        return math.inf
    used = size > 0.0
    return float(np.max(cancelled[used] / size[used])) if used.any() else 0.0


def _certify(B: Array, lam: Array, kind: CertificateKind) -> AlternativeCertificate | None:
    """λ normalised to Σλ = 1 as a certificate of ``kind``, or None if it is not one.

    Checked from the definition: λ finite and ≥ 0 (Stiemke: every λ_i > 0), Σλ = 1 to the
    rounding of a sum of n terms, and both the residual and the entrywise residual at most
    ``CERTIFICATE_TOLERANCE``. Every certificate this module returns has passed here.
    """
    lam = np.asarray(lam, dtype=np.float64)
    if lam.shape != (B.shape[0],) or not np.isfinite(lam).all():
        return None
    total = float(lam.sum())
    if not (0.0 < total < math.inf):
        return None
    lam = lam / total
    positive = lam.min() > 0.0 if kind is CertificateKind.STIEMKE else lam.min() >= 0.0
    if not positive or abs(float(lam.sum()) - 1.0) > lam.size * _EPS:
        return None
    residual = _certificate_residual(B, lam)
    if not residual <= CERTIFICATE_TOLERANCE:  # also rejects NaN
        return None
    entrywise = _entrywise_residual(B, lam)
    if not entrywise <= CERTIFICATE_TOLERANCE:
        return None
    return AlternativeCertificate(kind, lam, residual, entrywise)


def _proves_strict(B: Array, w: Array, norms: Array | None = None) -> bool:
    """Whether ``b_i·w > 0`` for every row in exact arithmetic: ``fl(b_i·w)`` exceeds its
    rounding bound ``_DOT_ROUNDING·m·ε·|b_i|·|w|`` (``_DOT_ROUNDING``).

    With ``norms`` (the row lengths) the cheap bound ``|b_i|·|w| ≤ ‖b_i‖·‖w‖`` is tried first.
    """
    if not np.isfinite(w).all():
        return False
    z = B @ w
    if not (np.isfinite(z).all() and z.min() > 0.0):
        return False
    gamma = _DOT_ROUNDING * B.shape[1] * _EPS
    if norms is not None and (z > gamma * norms * _norm(w)).all():
        return True
    return bool((z > gamma * (np.abs(B) @ np.abs(w))).all())


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


def _strict_condition(
    B: Array, independent: bool, deadline: Deadline
) -> tuple[HardMargin | None, AlternativeCertificate | None] | None:
    """ŵ (or proved separating weights, ``optimal = False``) or a verified Gordan
    certificate, exactly one not None; None when neither could be verified.

    B first (ŵ is not invariant under column scaling), then least-distance programming on
    the equilibrated and on the whitened frames, then HiGHS (module docstring, *Scaling and
    verification*). When the rows are numerically ``independent`` and B alone did not find ŵ,
    ``v = B⁺·1`` (B·v = 1) is tried as a witness first. A certificate that is not
    ``_CERTAIN`` is returned only when no frame proves a witness.
    """
    max_margin, gordan = _hard_margin(B, deadline)
    if max_margin is not None:
        return max_margin, None
    if independent:
        v = np.asarray(np.linalg.lstsq(B, np.ones(B.shape[0]), rcond=None)[0], dtype=np.float64)
        deadline.check(_progress("v = B⁺·1"))
        found = _separating_weights(B, v, np.ones(B.shape[0]), deadline)
        if found is not None:
            return found, None
    if gordan is not None and _is_certain(gordan):
        return None, gordan
    k = _column_exponents(B)
    equilibrated = _Frame.equilibrated(B, k)
    for frame in _other_frames(equilibrated, uniform=not k.any()):  # else B_c is B
        deadline.check(_progress("the hard margin in another frame"))
        scaled, found_gordan = _hard_margin(frame.M, deadline)
        if scaled is not None:
            u = frame.weights(scaled.weights)
            found = _separating_weights(B, u, scaled.multipliers, deadline)
            if found is not None:
                return found, None
        if found_gordan is not None:
            certificate = _certify(B, found_gordan.multipliers, CertificateKind.GORDAN)
            gordan = _more_certain(gordan, certificate)
            if gordan is not None and _is_certain(gordan):
                return None, gordan
    found, certificate = _highs_strict(
        B, equilibrated, settled=gordan is not None, deadline=deadline
    )
    if found is not None:
        return found, None
    gordan = _more_certain(gordan, certificate)
    return None if gordan is None else (None, gordan)


def _other_frames(equilibrated: _Frame, *, uniform: bool) -> Iterator[_Frame]:
    """The equilibrated frame (unless it is B itself: ``uniform``), then the whitened one,
    whose SVD is computed only if the first did not settle the question."""
    if not uniform:
        yield equilibrated
    whitened = _Frame.whitened(equilibrated)
    if whitened is not None:
        yield whitened


def _is_certain(certificate: AlternativeCertificate) -> bool:
    """Whether the certificate is exact to rounding (``_CERTAIN``), not merely within
    ``CERTIFICATE_TOLERANCE``."""
    return certificate.entrywise_residual <= _CERTAIN


def _more_certain(
    a: AlternativeCertificate | None, b: AlternativeCertificate | None
) -> AlternativeCertificate | None:
    """Of two verified certificates (or None), the one with the smaller entrywise residual."""
    if a is None or b is None:
        return a if b is None else b
    return a if a.entrywise_residual <= b.entrywise_residual else b


def _separating_weights(
    B: Array, v: Array, seed: Array, deadline: Deadline = NO_DEADLINE
) -> HardMargin | None:
    """The best hard margin of B from candidate weights v and a guess at the support
    (``seed > 0``); None when neither v nor its polish is proved to separate B.

    If proved, v/min_i(b_i·v) satisfies B·w ≥ 1 and is reported with α = 0 (not proved
    optimal) unless the polish, started on the support of ``seed``, finds (w, α) with a smaller
    KKT residual whose margins are proved positive too. When v proves nothing the polish's
    answer alone can stand.
    """
    n = B.shape[0]
    norms = row_norms(B)
    if not (np.isfinite(v).all() and v.any()):
        return None
    plain = None
    smallest = float(np.min(B @ v))
    if smallest > 0.0:
        w = v / smallest
        if _proves_strict(B, w, norms):  # the weights returned, rounded as they are
            plain = _kkt(B, w, np.zeros(n))
            v = w
    if not (seed > 0.0).any():
        return plain
    # The polish solves on the support of seed, so it may prove separation where v did not
    # (an LP solution whose margins HiGHS left within its tolerance of 0).
    best = _polish(B, norms, float(norms.min()), v, seed, initial=plain, deadline=deadline)
    if best is plain or not _proves_strict(B, best.weights, norms):
        return plain
    return best


def _hard_margin(
    B: Array, deadline: Deadline = NO_DEADLINE
) -> tuple[HardMargin | None, AlternativeCertificate | None]:
    """ŵ and its KKT data, or a verified Gordan certificate, at most one not None; both None
    when least-distance programming proves neither (a margin below ``_RESOLUTION``, or NNLS's
    iteration limit)."""
    n, m = B.shape
    zero_rows = np.flatnonzero(~B.any(axis=1))
    if zero_rows.size:  # 0·v = 0 is never > 0: λ = e_i
        lam = np.zeros(n)
        lam[zero_rows[0]] = 1.0
        return None, _certify(B, lam, CertificateKind.GORDAN)
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
    for round_ in range(_MAX_ROUNDS):
        deadline.check(_progress(f"the hard margin, round {round_ + 1}"))
        # NNLS on unit columns (u_i = ũ_i/‖column_i‖): the same problem, balanced.
        E = np.vstack([unit[working].T, h[working]]) / lengths[working]
        u_unit = _nnls(E, f)
        if u_unit is None:  # iteration limit: let HiGHS decide
            break
        r = E @ u_unit - f
        u = u_unit / lengths[working]
        # −r_{m+1} = 1/(1 + ‖w'‖²): below _RESOLUTION the angular margin is below ~1e-7 and
        # NNLS cannot tell it from 0.
        if -r[m] > _RESOLUTION * max(1.0, float(u_unit.sum())) and r[:m].any():
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
            best = _polish(B, norms, c, w / c, alpha, deadline=deadline)
            z = B @ best.weights
            if float(np.min(z)) > _WITNESS_MARGIN and _proves_strict(B, best.weights, norms):
                return best, None
        deadline.check(_progress("a Gordan certificate from the hard margin"))
        gordan = _gordan_from(B, working, u * h[working])  # Σ u_i·h_i·b_i/c = 0
        if gordan is not None:
            return None, gordan
        break
    return None, None


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
    return _certify(B, exact, CertificateKind.GORDAN)


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


def _polish(
    B: Array,
    norms: Array,
    c: float,
    w0: Array,
    alpha0: Array,
    *,
    initial: HardMargin | None = None,
    deadline: Deadline = NO_DEADLINE,
) -> HardMargin:
    """Refine (w, α) by exact solves on the support set; the best KKT residual wins.

    On a support S, ŵ is the minimum-norm solution of ``B_S·w = 1`` (solved with the rows
    scaled to unit length, which leaves the solution unchanged and the conditioning better)
    and α_S the nonnegative least-squares solution of ``B_Sᵀ·α_S = ŵ``. Rows that the new w
    violates join S, rows with α_i = 0 leave it, for a few rounds (an active-set refinement).
    The first support is that of α0; ``initial`` is the candidate to beat (default (w0, α0),
    which ``initial`` replaces when α0 is only a guess at the support).
    """
    best = _kkt(B, w0, alpha0) if initial is None else initial
    alpha = alpha0
    for _ in range(_POLISH_ROUNDS):
        if best.kkt_residual <= _POLISHED or not (0.0 < alpha.max() < math.inf):
            break
        deadline.check(_progress("polishing the hard margin"))
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
        # The most violated rows (as many as a round of constraint generation adds) enter with
        # a small multiplier, to be sized by the next solve: all of them could be thousands
        # when the polish starts from a poor support, and NNLS's cost grows with its columns.
        grow = max(_WORKING_SET_GROWTH_MIN, B.shape[1] + 1)
        violated = violated[np.argsort(z[violated], kind="stable")[:grow]]
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


def _highs_strict(
    B: Array, frame: _Frame, *, settled: bool, deadline: Deadline = NO_DEADLINE
) -> tuple[HardMargin | None, AlternativeCertificate | None]:
    """Least-distance programming did not settle (a margin near float resolution in every
    frame): decide on B_c (``frame``) with HiGHS, and keep only what is verified.

    The Gordan LP (λ ≥ 0, Σλ = 1, B̂ᵀλ = 0 on the unit rows of B_c) is solved; its λ, made
    exact on its support where possible, is returned if it passes :func:`_certify` on B and
    is ``_CERTAIN``. Otherwise the LP ``max t s.t. B̂·v ≥ t, −1 ≤ v ≤ 1, t ≤ 1`` gives
    weights D·v, polished from the LP's active rows (``_ACTIVE_MARGIN``); they, or their
    polish, stand if proved to separate B. Else the certificate, if any, is returned; both
    None when nothing stands (HiGHS's tolerance of 1e-7 hides smaller margins). ``settled``:
    the caller holds a verified certificate already, so a failed LP here is not fatal.
    """
    n, m = B.shape
    Bc = frame.M
    scale = row_norms(Bc)
    Bn = Bc / scale[:, None]
    res = _highs(
        deadline,
        "the Gordan LP",
        np.zeros(n),
        A_eq=np.vstack([Bn.T, np.ones(n)]),
        b_eq=np.r_[np.zeros(m), 1.0],
        bounds=(0, None),
    )
    failures = []
    certificate = None
    if res.status == 0:
        raw = np.maximum(np.asarray(res.x, dtype=np.float64), 0.0) * (scale.min() / scale)
        raw /= raw.sum()
        for lam in (_exact_on_support(Bc, raw), raw):
            certificate = None if lam is None else _certify(B, lam, CertificateKind.GORDAN)
            if certificate is not None:
                break
        if certificate is not None and _is_certain(certificate):
            return None, certificate
    elif res.status != 2:  # 2: infeasible, an answer (no Gordan λ: strictly separable)
        failures.append(f"the Gordan LP ended with status {res.status}: {res.message}")
    res = _highs(
        deadline,
        "the separating LP",
        np.r_[np.zeros(m), -1.0],
        A_ub=np.hstack([-Bn, np.ones((n, 1))]),
        b_ub=np.zeros(n),
        bounds=[(-1.0, 1.0)] * m + [(None, 1.0)],
    )
    if res.status == 0:
        u = np.asarray(res.x[:m], dtype=np.float64)
        z = Bn @ u
        active = (z <= z.min() + _ACTIVE_MARGIN).astype(np.float64)
        found = _separating_weights(B, frame.weights(u), active, deadline)
        if found is not None:
            return found, None
    else:
        failures.append(f"the separating LP ended with status {res.status}: {res.message}")
    if failures and certificate is None and not settled:
        # No verified answer, and HiGHS did not solve one of its LPs (both are feasible or
        # infeasible by construction, and bounded): a fault of the solver, not an undecided B.
        raise SolverFailed("HiGHS", "strict-separability test: " + "; ".join(failures))
    return None, certificate


# ----------------------------------------------------------------------------------------
# The weak condition (Stiemke): one LP on the unit-scaled nonzero rows


def _weak_condition(
    B: Array, deadline: Deadline = NO_DEADLINE
) -> tuple[Array | None, AlternativeCertificate | None] | None:
    """A unit ν with B·ν ≥ 0, B·ν ≠ 0, or a verified Stiemke certificate, exactly one not
    None; None when no witness is found and no certificate passes :func:`_certify`.

    Decided on B_c = B·diag(2^−k) (``_column_exponents``), then, if that gives no witness and
    no ``_CERTAIN`` certificate, on the whitened frame; witnesses are mapped back (ν ∝ P·u),
    certificates checked on B.
    """
    n = B.shape[0]
    deadline.check(_progress("before the half-space LP"))
    equilibrated = _Frame.equilibrated(B, _column_exponents(B))
    if not equilibrated.M.any():  # B·v = 0 for every v
        return None, _certify(B, np.full(n, 1.0 / n), CertificateKind.STIEMKE)
    facts = _weak_in(B, equilibrated, deadline=deadline)
    if facts is not None and (facts[1] is None or _is_certain(facts[1])):
        return facts
    whitened = _Frame.whitened(equilibrated)
    settled = facts is not None  # a certificate, not _CERTAIN: a failed LP is not fatal now
    again = None if whitened is None else _weak_in(B, whitened, settled=settled, deadline=deadline)
    if again is not None and again[0] is not None:
        return again
    stiemke = _more_certain(
        None if facts is None else facts[1], None if again is None else again[1]
    )
    return None if stiemke is None else (None, stiemke)


def _weak_in(
    B: Array, frame: _Frame, *, settled: bool = False, deadline: Deadline = NO_DEADLINE
) -> tuple[Array | None, AlternativeCertificate | None] | None:
    """The half-space LP on the unit nonzero rows of ``frame.M`` (not 0), by cutting planes:
    its witness mapped back to B, or a Stiemke certificate from its duals (or from Stiemke's
    system) verified on B; None when neither stands. HiGHS failing on the LP raises
    ``SolverFailed``, unless the caller has ``settled`` the question already (then None)."""
    M = frame.M
    n, m = M.shape
    norms = row_norms(M)
    nonzero = np.flatnonzero(norms > 0.0)
    Bn = M[nonzero] / norms[nonzero, None]
    c = Bn.sum(axis=0)
    # Cutting planes: the LP on a working set of rows, grown by the most violated ones until
    # its solution satisfies every row (then it solves the full LP, a restriction of it).
    size = min(nonzero.size, max(_LP_WORKING_FACTOR * (m + 1), _LP_WORKING_SET_MIN))
    working = np.zeros(nonzero.size, dtype=bool)
    working[np.argpartition(Bn @ c, size - 1)[:size]] = True
    rounds = 0
    while True:
        rows = np.flatnonzero(working)
        rounds += 1
        res = _highs(
            deadline,
            f"the half-space LP, round {rounds}",
            -c,
            A_ub=-Bn[rows],
            b_ub=np.zeros(rows.size),
            bounds=(-1.0, 1.0),
        )
        if res.status != 0:
            # The LP is feasible (v = 0) and bounded (the box), so only HiGHS itself can fail
            # (numerical trouble, an internal limit); no state of the result can stand for
            # an undecided weak condition, so the computation stops here.
            if settled:
                return None
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
    nu = _half_space_witness(M, v)
    if nu is not None:
        nu = frame.weights(nu)  # B·(P·u) = M·u (exactly in the equilibrated frame)
        scale = _norm(nu)
        return (nu / scale, None) if 0.0 < scale < math.inf else None
    # Optimum 0: HiGHS's duals μ ≥ 0 for −Bn·v ≤ 0 give Bnᵀ(1 + μ) = 0 (Stiemke).
    mu = np.zeros(nonzero.size)
    mu[rows] = np.abs(np.asarray(res.ineqlin.marginals, dtype=np.float64))
    deadline.check(_progress("a Stiemke certificate from the half-space LP"))
    certificate = _stiemke_from(B, M, nonzero, norms, 1.0 + mu)
    if certificate is not None:
        return None, certificate
    # The duals were too rough: solve Stiemke's system itself, λ ≥ 1 with Bnᵀλ = 0.
    res = _highs(
        deadline,
        "Stiemke's LP",
        np.ones(nonzero.size),
        A_eq=Bn.T,
        b_eq=np.zeros(m),
        bounds=(1.0, None),
    )
    if res.status != 0:
        return None  # the LP's optimum 0 was within HiGHS's tolerance of a positive one
    certificate = _stiemke_from(B, M, nonzero, norms, np.asarray(res.x, dtype=np.float64))
    return None if certificate is None else (None, certificate)


def _stiemke_from(
    B: Array, M: Array, nonzero: NDArray[np.int64], norms: Array, unit_lam: Array
) -> AlternativeCertificate | None:
    """A Stiemke certificate of B, verified, from λ ≥ 1 with ``M̂ᵀλ ≈ 0`` on the unit nonzero
    rows of M (a frame of B; ``norms`` their lengths), projected onto the null space of Mᵀ;
    or None."""
    n = B.shape[0]
    lam = np.zeros(n)
    lam[nonzero] = unit_lam * (norms[nonzero].min() / norms[nonzero])
    zero = np.ones(n, dtype=bool)
    zero[nonzero] = False
    lam[zero] = lam[nonzero].min()  # any positive value: the zero rows add nothing to Bᵀλ
    return _certify(B, _project_positive(M, lam), CertificateKind.STIEMKE)


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
    the passes do not bring ‖Bᵀλ‖ down to rounding (B very ill-conditioned). The SVD's answer
    replaces the passes' only if it stays positive and cancels better: when B is nearly but not
    exactly rank-deficient (σ_min ~ 1e-12·σ_max), the passes (whose pseudo-inverse drops σ_min)
    give the certificate up to σ_min, while the SVD keeps σ_min and projects λ onto {0}.
    """
    top = float(np.max(np.abs(B)))
    G_pinv = np.linalg.pinv(B.T @ B, hermitian=True)
    for _ in range(_REFINEMENT_PASSES):
        lam = lam - B @ (G_pinv @ (B.T @ lam))
    cancelled = float(np.max(np.abs(B.T @ lam)))
    if cancelled > _PROJECTION_RESIDUAL * top * float(np.sum(np.abs(lam))):
        refined = lam
        for _ in range(_LSTSQ_PASSES):
            refined = refined - B @ np.linalg.lstsq(B, refined, rcond=None)[0]
        size = float(np.sum(np.abs(refined)))
        better = float(np.max(np.abs(B.T @ refined))) * float(np.sum(np.abs(lam))) < (
            cancelled * size
        )
        if refined.min() > 0.0 and better:
            lam = refined
    out: Array = lam / lam.sum()
    return out
