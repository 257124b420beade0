"""What theory says about a training problem: the Lemma of the paper's §3 and the implicit bias.

* **Sontag's Lemma** (§3): if the rows of B = diag(y)·A lie in a closed half-space with at
  least one strictly inside (∃ν: B·ν ≥ 0, B·ν ≠ 0), then ``∇E(x)·ν < 0`` for every x, E has no
  critical point, and gradient flow has no bounded trajectory: the weights diverge. The
  statement also assumes the rows linearly independent; the proof does not use it (and
  independence alone already gives strict separability), so ``lemma_applies`` is the weak
  condition and both facts are reported.
* **Implicit bias** (Soudry, Hoffer, Nacson, Gunasekar, Srebro, JMLR 2018): gradient descent
  with a small enough step on strictly separable data and a loss with a tight exponential tail
  ``ℓ(z) ~ c·e^(−k·z)`` satisfies ``x(t) = (ŵ/k)·log t + O(1)`` (up to log log t terms when
  the support is degenerate), ŵ the hard-margin solution of
  :mod:`service.core.analysis.separability`.
  (Substitute x' = k·x: the loss becomes c·e^(−z'), whose iterates grow like ŵ·log t; the
  constant c and the step size shift only the O(1) term.) Here the per-example loss is
  ``(1 − θ(z))²``: tanh has 1 − θ ~ 2e^(−2z), so k = 4; logistic has 2e^(−z), so k = 2.
  So the predicted ``log_rate`` (b in x ≈ a + b·log t) is ŵ/k.
* arctan's loss tail is polynomial (~(2/π)²·z^(−2)) and erf's Gaussian (~e^(−2z²)): neither is
  exponential, the weights do not grow like log t along ŵ/k, and no rate is predicted.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import numpy as np

from service.core.analysis.separability import Separability, Unrepresentable, analyse_separability
from service.core.model.activations import Array, TailClass
from service.core.model.problem import PerceptronProblem


@dataclass(frozen=True, slots=True)
class TheoryReport:
    """The separability facts of a problem and the asymptotics theory predicts from them."""

    separability: Separability
    lemma_applies: bool
    loss_tail: TailClass
    loss_exponent: float | None
    """k with ``(1 − θ(z))² ~ c·e^(−k·z)`` for exponential tails; None otherwise."""
    predicted_log_rate: Array | None
    """ŵ/k, per weight, when the data are strictly separable and the tail is exponential."""
    prediction_explanation: str
    angle_degrees: float | None
    """Angle between the predicted and the measured log_rate, when both exist."""
    norm_ratio: float | None
    """‖measured log_rate‖ / ‖predicted log_rate‖, when both exist."""


def predict_theory(
    problem: PerceptronProblem,
    *,
    measured_log_rate: Array | None = None,
    measured_is_logarithmic: bool = False,
    separability: Separability | Unrepresentable | None = None,
) -> TheoryReport | Unrepresentable:
    """The Lemma's verdict and the implicit-bias prediction for ``problem`` (or the state
    saying float64 cannot hold its separability facts).

    Parameters
    ----------
    problem
        The reduced problem (B with its bias column, and θ).
    measured_log_rate
        The fitted b in x ≈ a + b·log t from a run, if any.
    measured_is_logarithmic
        Whether the run's verdict was logarithmic divergence; the angle and the norm ratio
        are computed only then (a rate fitted to another kind of growth means nothing).
    separability
        The facts of ``analyse_separability(problem.B)`` when the caller has them already.
    """
    facts = analyse_separability(problem.B) if separability is None else separability
    if isinstance(facts, Unrepresentable):
        return facts
    tail = problem.activation.tail
    name = problem.activation.name
    k: float | None = tail.loss_exponent if tail.kind is TailClass.EXPONENTIAL else None
    predicted: Array | None = None
    if k is None:
        explanation = (
            f"{name}'s loss (1 − θ(z))² has a {tail.kind} tail, not an exponential one; the "
            "log t growth along ŵ/k (Soudry et al. 2018) holds for exponential tails only, so "
            "no log_rate is predicted"
        )
    elif facts.max_margin is None:
        explanation = (
            "the data are not strictly separable, so there is no hard-margin solution ŵ and "
            "no log_rate is predicted"
        )
    elif not facts.max_margin.optimal:
        explanation = (
            "the data are strictly separable, but the hard-margin solution ŵ could not be "
            "certified optimal (its KKT residual exceeds the tolerance: badly scaled inputs), "
            "so no log_rate is predicted from it"
        )
    else:
        predicted = facts.max_margin.weights / k
        explanation = (
            f"{name}'s loss has an exponential tail (1 − θ(z))² ~ c·e^(−{k:g}z); on strictly "
            "separable data gradient descent (with a step small enough for E to decrease) "
            f"grows as x(t) ≈ (ŵ/{k:g})·log t with ŵ the hard-margin solution (Soudry, "
            "Hoffer, Nacson, Gunasekar, Srebro 2018)"
        )
    angle = ratio = None
    if predicted is not None and measured_log_rate is not None and measured_is_logarithmic:
        angle, ratio = compare_rates(predicted, np.asarray(measured_log_rate, dtype=np.float64))
    return TheoryReport(
        separability=facts,
        lemma_applies=facts.lemma_applies,
        loss_tail=tail.kind,
        loss_exponent=k,
        predicted_log_rate=predicted,
        prediction_explanation=explanation,
        angle_degrees=angle,
        norm_ratio=ratio,
    )


PERCEPTRON_ONLY = (
    "this net has hidden layers: Sontag's Lemma (no bounded trajectory on weakly separable "
    "data) and the max-margin prediction log_rate = ŵ/k concern the single-layer perceptron "
    "only, so no log_rate is predicted; the separability facts above are those of the "
    "inputs as a perceptron would see them"
)
"""What the theory says for a net with hidden layers."""


def network_theory(
    perceptron: PerceptronProblem, separability: Separability | Unrepresentable | None = None
) -> TheoryReport | Unrepresentable:
    """The separability facts of a net's inputs (``perceptron``: the same inputs as a
    perceptron problem), with no prediction: the Lemma and ŵ/k are the perceptron's."""
    theory = predict_theory(perceptron, separability=separability)
    if isinstance(theory, Unrepresentable):
        return theory
    return replace(
        theory,
        predicted_log_rate=None,
        angle_degrees=None,
        norm_ratio=None,
        prediction_explanation=PERCEPTRON_ONLY,
    )


def compare_rates(predicted: Array, measured: Array) -> tuple[float | None, float | None]:
    """Angle in degrees between two rates and the ratio ‖measured‖/‖predicted‖.

    The angle is ``atan2(‖p×m‖, p·m)`` in its n-dimensional form, accurate for small angles
    (unlike acos of the cosine); None for a zero or non-finite measured rate.
    """
    if predicted.shape != measured.shape or not np.isfinite(measured).all():
        return None, None
    pn = float(np.linalg.norm(predicted))
    mn = float(np.linalg.norm(measured))
    if pn == 0.0 or mn == 0.0:
        return None, None
    p, q = predicted / pn, measured / mn
    angle = 2.0 * math.atan2(float(np.linalg.norm(p - q)), float(np.linalg.norm(p + q)))
    return math.degrees(angle), mn / pn
