"""A learning problem in the paper's reduced form, with its error and gradient.

Given inputs A (n×m, one example per row) and targets ``y ∈ {+1, −1}^n``, the paper (§2)
reduces ``E(x) = Σ_i (θ(A_i·x) − y_i)²`` to ``E(x) = Σ_i (1 − θ(B_i·x))²`` with
``B = diag(y)·A``, because θ is odd. With ``bias`` a constant input 1 is appended to every
row of A before the reduction, so the last weight is a threshold.

The margin of example i is ``z_i = B_i·x``; it is classified correctly when ``z_i > 0``.
The gradient is ``∇E(x) = −2·Bᵀ·((1 − θ(z))·θ'(z))``, formed from the stable complement.

The problem also fixes two conventions of every run on it: the initial weights
(:func:`initial_weights`) and the time unit τ (:func:`time_unit`), the time over which the
weights can first move by O(1).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from service.core.errors import InvalidProblem
from service.core.model.activations import Activation, Array
from service.vocabulary import Method

INITIAL_WEIGHT_RANGE = 0.5
"""Weights drawn from ``seed`` are i.i.d. uniform on [−0.5, 0.5]."""

UNIT_LOG_BOUND = 250.0 * math.log(10.0)
"""τ is kept within exp(±UNIT_LOG_BOUND) = 1e∓250."""


@dataclass(frozen=True, slots=True)
class PerceptronProblem:
    """The reduced problem: ``B = diag(y)·[A | 1]`` and the activation θ.

    ``B`` is read-only, n×m, with m counting the bias column when ``bias`` is true.
    """

    B: Array
    activation: Activation
    bias: bool

    @property
    def n(self) -> int:
        """Number of examples."""
        return int(self.B.shape[0])

    @property
    def m(self) -> int:
        """Number of weights (inputs, plus one when ``bias``)."""
        return int(self.B.shape[1])

    def margins(self, x: Array) -> Array:
        """``B·x``: example i is classified correctly when its margin is > 0."""
        return self.B @ x


def build_problem(
    inputs: Sequence[Sequence[float]],
    targets: Sequence[float],
    activation: Activation,
    *,
    bias: bool = False,
) -> PerceptronProblem:
    """Validate a dataset and reduce it to ``B = diag(y)·[A | 1]``.

    Raises
    ------
    InvalidProblem
        When there are no examples or no inputs, rows differ in length, a number is not
        finite, the number of targets differs from the number of rows, or a target is not
        ±1 (0/1 targets get the hint to map 0 to −1).
    """
    n = len(inputs)
    if n == 0:
        raise InvalidProblem("dataset.inputs", "needs at least one example (row); got none")
    m = len(inputs[0])
    for i, row in enumerate(inputs):
        if len(row) != m:
            raise InvalidProblem(
                "dataset.inputs",
                f"rows must all have the same length: row 0 has {m} entries, "
                f"row {i} has {len(row)}",
            )
    if m == 0:
        raise InvalidProblem("dataset.inputs", "rows need at least one input; got empty rows")
    if len(targets) != n:
        raise InvalidProblem(
            "dataset.targets", f"needs one target per row: {n} rows, {len(targets)} targets"
        )
    A = np.asarray(inputs, dtype=np.float64)
    if not np.all(np.isfinite(A)):
        raise InvalidProblem("dataset.inputs", "every input must be a finite number")
    y = np.asarray(targets, dtype=np.float64)
    bad = [i for i, t in enumerate(targets) if t not in (1, -1)]
    if bad:
        hint = ""
        if all(t in (0, 1) for t in targets):
            hint = " (0/1 labels: map 0 to -1)"
        raise InvalidProblem(
            "dataset.targets",
            f"targets must be +1 or -1; target {bad[0]} is {targets[bad[0]]!r}{hint}",
        )
    if bias:
        A = np.hstack([A, np.ones((n, 1))])
    B = y[:, None] * A
    B.setflags(write=False)
    return PerceptronProblem(B=B, activation=activation, bias=bias)


def check_weights(problem: PerceptronProblem, weights: Sequence[float], field: str) -> Array:
    """Return ``weights`` as an array of length m, or raise naming ``field``."""
    x = np.asarray(weights, dtype=np.float64)
    if x.shape != (problem.m,):
        bias = " (inputs + 1 for the bias)" if problem.bias else ""
        raise InvalidProblem(field, f"needs {problem.m} weights{bias}; got {len(weights)}")
    if not np.all(np.isfinite(x)):
        raise InvalidProblem(field, "every weight must be a finite number")
    if not math.isfinite(error(problem, x)):
        raise InvalidProblem(
            field, "B·x overflows at these weights (the error is not a finite number)"
        )
    return x


def error(problem: PerceptronProblem, x: Array) -> float:
    """``E(x) = Σ_i (1 − θ(B_i·x))²``; NaN when a margin B_i·x overflows float64.

    B and x are finite, so an infinite or NaN margin is an overflow (or ∞ − ∞), never the
    true value; the error is then not computable and is reported as NaN, not as the 0 or 4
    that θ(±∞) would suggest.
    """
    with np.errstate(over="ignore", invalid="ignore"):
        return error_and_gradient(problem, x)[0]


def error_and_gradient(problem: PerceptronProblem, x: Array) -> tuple[float, Array]:
    """``E(x)`` and ``∇E(x) = −2·Bᵀ·((1 − θ(z))·θ'(z))`` with ``z = B·x``.

    Call inside ``np.errstate(over="ignore", invalid="ignore")``: overflow is reported by
    non-finite results, which the caller checks; E is NaN when a margin overflows (see
    :func:`error`).
    """
    z = problem.B @ x
    c = problem.activation.complement(z)
    g = -2.0 * (problem.B.T @ (c * problem.activation.derivative(z)))
    if not np.isfinite(z).all():
        return math.nan, g
    return float(np.dot(c, c)), g


def initial_weights(
    problem: PerceptronProblem, given: Sequence[float] | None, seed: int | None
) -> Array:
    """The starting point: ``given`` (checked), else uniform on ±INITIAL_WEIGHT_RANGE from
    ``np.random.default_rng([seed, 0])``, else zeros."""
    if given is not None:
        return check_weights(problem, given, "initial_weights")
    if seed is not None:
        rng = np.random.default_rng([seed, 0])
        return rng.uniform(-INITIAL_WEIGHT_RANGE, INITIAL_WEIGHT_RANGE, size=problem.m)
    return np.zeros(problem.m)


def time_unit(problem: PerceptronProblem, learning_rate: float, method: Method) -> float:
    """τ, the time over which the weights can first move by O(1).

    ``1/(η·‖B‖₂²)`` (the gradient's Lipschitz constant is of order ‖B‖₂²), computed in logs
    and kept within [1e-250, 1e250] so that extreme rates and inputs give a finite τ; for
    descent at least one step, since t counts steps. A net's τ is that of its inputs as a
    perceptron.
    """
    norm = float(np.linalg.norm(problem.B, 2))
    if norm > 0 and learning_rate > 0:
        log_scale = math.log(learning_rate) + 2.0 * math.log(norm)
        unit = math.exp(-min(max(log_scale, -UNIT_LOG_BOUND), UNIT_LOG_BOUND))
    else:
        unit = 1.0
    return unit if method is Method.FLOW else max(1.0, unit)
