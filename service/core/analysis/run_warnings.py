"""What is wrong with a run that its verdict alone does not say: ``error_rose`` and ``saturated``.

* ``error_rose`` (gd and flow, which decrease E at every step when they work): E rose
  between two recorded times anywhere in the run (by more than the verdict's
  ``ERROR_RISE`` relative). For gradient descent on the perceptron the cause is a learning
  rate above the step bound 2/L of E's curvature: E's Hessian is
  ``Bᵀ·diag(ℓ''(z))·B`` with ``ℓ(z) = (1 − θ(z))²``, so ``‖∇²E‖ ≤ L = c_θ·‖B‖₂²`` with
  ``c_θ = max_z |ℓ''(z)| = max_z 2·|θ'(z)² − (1 − θ(z))·θ''(z)|``, and gd decreases E for
  every η < 2/L. For a net the bound is not known in closed form; for the flow, E cannot rise
  at all, so a rise is the integrator's error.
* ``saturated``: more than half of the examples end where θ ≈ −1 although +1 is wanted
  (margin z_i < 0 with ``1 + θ(z_i) = 1 − θ(−z_i) < SATURATION``), so their gradients
  (∝ θ'(z_i) ≈ 2·(1 + θ(z_i)) for tanh) have all but vanished.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cache

import numpy as np

from service.core.analysis.divergence import ERROR_FLOOR, ERROR_RISE
from service.core.engine.recorder import Trajectory
from service.core.model.activations import Activation
from service.core.model.models import Model, model_margins
from service.core.model.network import NetworkProblem
from service.vocabulary import Method, WarningCode

SATURATION = 1e-4
"""An example is saturated when 1 + θ(z) (its distance from θ = −1) is below this: its
gradient weight θ'(z) is then below about 2e-4 of its largest value."""


@dataclass(frozen=True, slots=True)
class RunWarning:
    """One warning: its code and a sentence with the figures."""

    code: WarningCode
    message: str


@cache
def loss_curvature(activation: Activation) -> float:
    """c_θ = max_z |ℓ''(z)| with ℓ(z) = (1 − θ(z))², from a grid of step 1e-4 on [−20, 20]
    (every activation's ℓ'' is smooth and decays outside [−10, 10]; the grid's error in the
    maximum is below 1e-7 relative)."""
    z = np.linspace(-20.0, 20.0, 400_001)
    d1 = activation.derivative(z)
    second = 2.0 * (d1 * d1 - activation.complement(z) * activation.second_derivative(z))
    return float(np.max(np.abs(second)))


def run_warnings(
    model: Model,
    trajectory: Trajectory,
    weights: np.ndarray,
    *,
    method: Method,
    learning_rate: float,
) -> list[RunWarning]:
    """The warnings of a run (empty when nothing is wrong), in a fixed order."""
    found = []
    if method is not Method.ONLINE:
        rose = _error_rose(model, trajectory, method, learning_rate)
        if rose is not None:
            found.append(RunWarning(WarningCode.ERROR_ROSE, rose))
    saturated = _saturated(model, weights)
    if saturated is not None:
        found.append(RunWarning(WarningCode.SATURATED, saturated))
    return found


def _error_rose(
    model: Model, trajectory: Trajectory, method: Method, learning_rate: float
) -> str | None:
    """The largest rise of E between consecutive recorded times, with what to do about it."""
    error, t = trajectory.error, trajectory.t
    finite = np.isfinite(error)
    if len(error) < 2 or not finite.all():
        return None
    rises = np.diff(error) - (ERROR_RISE * error[:-1] + ERROR_FLOOR)
    if not (rises > 0).any():
        return None
    k = int(np.argmax(np.diff(error) / np.maximum(error[:-1], ERROR_FLOOR)))
    before, after = float(error[k]), float(error[k + 1])
    factor = f"×{after / before:.3g}" if before > 0 else "from 0"
    what = (
        f"E rose from {before:.4g} to {after:.4g} ({factor}) between t = {t[k]:.4g} and "
        f"t = {t[k + 1]:.4g}"
    )
    if method is Method.FLOW:
        return what + (
            ": the exact gradient flow never raises E, so this is the integrator's error; "
            "ask for a smaller rtol and atol"
        )
    if isinstance(model, NetworkProblem):
        return what + (
            f": the learning rate η = {learning_rate:g} is too large for E's curvature; try "
            f"η = {learning_rate / 10:g} or smaller"
        )
    norm = float(np.linalg.norm(model.B, 2))
    curvature = loss_curvature(model.activation) * norm * norm
    bound = 2.0 / curvature if curvature > 0 else math.inf
    return what + (
        f": the learning rate η = {learning_rate:g} is too large for E's curvature; gradient "
        f"descent decreases E for every η < 2/L = {bound:.3g}, with L = c_θ·‖B‖₂² = "
        f"{curvature:.3g} the bound of ‖∇²E‖ (c_θ = max |ℓ''| = "
        f"{loss_curvature(model.activation):.4g} for ℓ(z) = (1 − θ(z))²)"
    )


def _saturated(model: Model, weights: np.ndarray) -> str | None:
    """The saturated examples, when they are more than half (see the module docstring)."""
    z = model_margins(model, weights)
    if not np.isfinite(z).all():
        return None
    wrong = z < 0
    stuck = wrong & (model.activation.complement(-np.where(wrong, z, 0.0)) < SATURATION)
    count, n = int(stuck.sum()), len(z)
    if 2 * count <= n:
        return None
    return (
        f"{count} of {n} examples end saturated with the wrong sign: θ ≈ −1 where +1 is wanted "
        f"(margins from {float(z[stuck].min()):.3g} to {float(z[stuck].max()):.3g}), where θ' "
        "and with it their gradient have all but vanished; start nearer zero or use a smaller "
        "learning rate"
    )
