"""POST /separability, and the ``theory`` block of POST /train.

With B = diag(y)·A (the bias column included when ``bias`` is true), every fact below is a
statement about the rows b_i of B; a client can check each certificate with a few lines of
arithmetic from the response alone.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from service.schemas.common import Dataset, StrictModel
from service.vocabulary import CertificateKind


class SeparabilityRequest(StrictModel):
    """The data whose linear separability is asked."""

    dataset: Dataset

    model_config = {
        "json_schema_extra": {
            "examples": [
                {
                    "dataset": {
                        "inputs": [[2, 1], [1, 3], [-1, -1], [-2, 0.5], [0.5, -2]],
                        "targets": [1, 1, -1, -1, -1],
                    }
                }
            ]
        }
    }


class Certificate(BaseModel):
    """Multipliers λ proving that a separability condition fails (a theorem of the
    alternative)."""

    kind: CertificateKind = Field(
        description="gordan: λ ≥ 0, Σλ = 1, Bᵀλ = 0, so no v has B·v > 0. stiemke: the same "
        "with every λ_i > 0, so no v has B·v ≥ 0 with B·v ≠ 0.",
        examples=["gordan"],
    )
    multipliers: list[float] = Field(
        description="λ, one per example, normalised to Σλ = 1.", examples=[[0.5, 0.5, 0.0]]
    )
    residual: float = Field(
        description="‖Bᵀλ‖∞ / Σ_i λ_i·max_j |B_ij| as computed by the service: the "
        "cancellation left relative to the size of the terms (checked ≤ 1e-10 before "
        "answering).",
        examples=[0.0],
    )


class MaxMargin(BaseModel):
    """The hard-margin solution ŵ = argmin ‖w‖₂ subject to B·w ≥ 1."""

    weights: list[float] = Field(description="ŵ (bias last).", examples=[[0.6667, 0.6667]])
    margin: float = Field(
        description="1/‖ŵ‖₂: the largest min_i b_i·v over unit vectors v.", examples=[1.0607]
    )
    support_vectors: list[int] = Field(
        description="Indices of the examples with a positive multiplier α_i (b_i·ŵ = 1).",
        examples=[[3, 4]],
    )
    multipliers: list[float] = Field(
        description="α ≥ 0, one per example, zero off the support, with ŵ = Bᵀα.",
        examples=[[0.0, 0.0, 0.0, 0.4444, 0.4444]],
    )
    kkt_residual: float = Field(
        description="Largest violation of the KKT conditions: max(0, 1 − min_i b_i·ŵ), "
        "max(0, −min α), ‖ŵ − Bᵀα‖∞/‖ŵ‖∞, max over the support of |b_i·ŵ − 1|.",
        examples=[4.4e-16],
    )


class SeparabilityResponse(BaseModel):
    """Strict and weak (the Lemma's) separability, with witnesses or certificates."""

    n: int = Field(description="Number of examples.")
    m: int = Field(description="Number of weights (inputs, plus 1 with bias).")
    strictly_separable: bool = Field(
        description="Some v has B·v > 0: a linear threshold classifies every example."
    )
    weakly_separable: bool = Field(
        description="Some v has B·v ≥ 0 and B·v ≠ 0: the rows lie in a closed half-space with "
        "at least one strictly inside (the hypothesis of the proof of the Lemma of §3)."
    )
    rank: int = Field(description="Numerical rank of B.")
    rows_independent: bool = Field(
        description="rank = n: the rows of B are linearly independent, as the Lemma's "
        "statement assumes (independence alone implies strict separability)."
    )
    separating_weights: list[float] | None = Field(
        description="When strictly separable: weights v with B·v ≥ 1 (ŵ itself)."
    )
    half_space_weights: list[float] | None = Field(
        description="When weakly separable: a unit ν with B·ν ≥ 0 (to rounding), B·ν ≠ 0."
    )
    certificate: Certificate | None = Field(
        description="When not strictly separable: gordan if weakly separable, else stiemke."
    )
    max_margin: MaxMargin | None = Field(description="When strictly separable.")
    lemma_applies: bool = Field(
        description="The Lemma of §3 applies (weakly_separable): ∇E never vanishes and "
        "gradient flow has no bounded trajectory; the weights must diverge."
    )
    lemma_explanation: str = Field(description="One sentence on the Lemma and these data.")


class Theory(BaseModel):
    """What theory predicts for this run from the data's separability."""

    separability: SeparabilityResponse
    lemma_applies: bool = Field(
        description="Sontag's Lemma (§3): the data are weakly separable, so no trajectory of "
        "gradient flow stays bounded."
    )
    loss_tail: Literal["exponential", "polynomial", "gaussian"] = Field(
        description="The tail of the per-example loss (1 − θ(z))² as z → ∞."
    )
    loss_exponent: float | None = Field(
        description="k in (1 − θ(z))² ~ c·e^(−k·z) for exponential tails (tanh 4, logistic 2).",
        examples=[4.0],
    )
    predicted_log_rate: list[float] | None = Field(
        description="ŵ/k: the predicted b in x ≈ a + b·log t (Soudry, Hoffer, Nacson, "
        "Gunasekar, Srebro 2018), for exponential tails on strictly separable data.",
        examples=[[0.1667, 0.1667]],
    )
    prediction_explanation: str = Field(
        description="Why this prediction is made, or why none is made."
    )
    angle_degrees: float | None = Field(
        description="Angle between predicted and measured log_rate, when the verdict is "
        "logarithmic and a prediction exists."
    )
    norm_ratio: float | None = Field(
        description="‖measured log_rate‖ / ‖predicted log_rate‖, under the same conditions."
    )
