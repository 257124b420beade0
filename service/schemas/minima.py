"""POST /minima: the request and the response."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, Field

from service import limits
from service.schemas.common import Count, Dataset, StrictModel
from service.vocabulary import ActivationName, CriticalKind, Location


class CurveRequest(StrictModel):
    """Ask for samples of E (and, for n = 2, of the image curve TV)."""

    points: Annotated[Count, Field(ge=limits.MIN_CURVE_POINTS, le=limits.MAX_CURVE_POINTS)] = Field(
        default=201,
        description="Number of samples on x = scale·tan(s), s uniform on (−π/2, π/2).",
    )


class MinimaRequest(StrictModel):
    """The landscape of E(x) = Σ_i (θ(u_i·x) − y_i)² for one weight x (m = 1)."""

    dataset: Dataset = Field(
        description="One input per row (m = 1 after the bias column, so bias must be false)."
    )
    activation: ActivationName = Field(default=ActivationName.TANH, description="The sigmoid θ.")
    curve: CurveRequest | None = Field(
        default=None, description="Include samples of E(x) for plotting (Figures 1–4)."
    )

    model_config = {
        "json_schema_extra": {
            "examples": [
                {
                    "dataset": {"inputs": [[1.0], [3.0]], "targets": [1, -1]},
                    "activation": "tanh",
                    "curve": {"points": 101},
                }
            ]
        }
    }


class CriticalPointOut(BaseModel):
    """A finite root of E'."""

    x: float = Field(description="The weight.", examples=[-0.1811740875])
    kind: CriticalKind = Field(
        description="min / max: E' changes sign − to + / + to −; degenerate: E' touches 0."
    )
    error: float = Field(description="E(x).", examples=[1.6449232447])


class InfinityEndOut(BaseModel):
    """One end of the line, x → +∞ or x → −∞."""

    error_limit: float = Field(
        description="lim E: 4 per example whose margin tends to −∞, 1 per b_i = 0.",
        examples=[4.0],
    )
    local_min: bool = Field(description="E approaches the limit from above (a minimum at ∞).")
    approach: Literal["above", "below", "constant"] = Field(
        description="How E approaches its limit; constant when E is flat."
    )


class Infinity(BaseModel):
    """Both ends."""

    plus: InfinityEndOut = Field(description="x → +∞.")
    minus: InfinityEndOut = Field(description="x → −∞.")


class LocalMinimumOut(BaseModel):
    """A local minimum, possibly at infinity (a diverging gradient flow's destination)."""

    location: Location = Field(description="finite, +inf or -inf.")
    x: float | None = Field(description="The weight; null at infinity.", examples=[None])
    error: float = Field(description="E there (the limit at infinity).", examples=[4.0])


class GlobalMinimum(BaseModel):
    """inf E over the line, ends included."""

    error: float = Field(description="inf E.", examples=[1.6449232447])
    distance: float = Field(
        description="√(inf E) = dist(e, clos TV), the paper's distance.", examples=[1.2825456]
    )
    location: Location = Field(description="Where the infimum is attained.")
    x: float | None = Field(
        description="The weight where inf E is attained; null at infinity; 0 when E is flat."
    )


class SubspaceOut(BaseModel):
    """The paper's classification of V = span(v) for n = 2, v = (b_1, b_2), b = y·u."""

    type: Literal[0, 1, 2, 3] = Field(
        description="0: v = 0. 1: v_1 = 0. 2: v ∝ (1, a), a ≥ 0. 3: v ∝ (1, −a), a > 0."
    )
    a: float | None = Field(description="The paper's a (types 2 and 3); null otherwise.")
    vector: list[float] = Field(
        description="v = (y_1·u_1, y_2·u_2); the paper's parameter is v_1·x.",
        examples=[[1.0, -3.0]],
    )


class CurveOut(BaseModel):
    """Samples for Figures 1–4: E(x) along the whole line and, for n = 2, TV."""

    scale: float = Field(description="x = scale·tan(s); scale = 1/geometric mean of |b_i|.")
    s: list[float] = Field(description="The compactified coordinate, in (−π/2, π/2).")
    x: list[float] = Field(description="The weights.")
    error: list[float] = Field(description="E(x).")
    image: list[list[float]] | None = Field(
        description="n = 2: (θ(b_1·x), θ(b_2·x)), the image curve TV; null otherwise."
    )


class MinimaResponse(BaseModel):
    """Every critical point of E, the ends, the minima and (n = 2) the subspace type."""

    critical_points: list[CriticalPointOut] = Field(description="Finite roots of E', by x.")
    infinity: Infinity
    local_minima: list[LocalMinimumOut] = Field(
        description="From −∞ through the finite ones to +∞."
    )
    global_minimum: GlobalMinimum
    flat: bool = Field(
        description="All b_i = 0: E is constant, every x is a minimum (none is listed)."
    )
    subspace: SubspaceOut | None = Field(description="n = 2 only: the paper's type of V.")
    curve: CurveOut | None = Field(description="Samples, when asked for.")
