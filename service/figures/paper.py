"""The paper's five figures: which request each is drawn from, which panels, what caption.

Sontag (1988), §2: "Figures 1 and 2 show respectively a typical graph of the squared distance
function E, for cases 2 and 3 (with large −a). These graphs can be understood better when seen
in conjunction with the plots of the images TV for those two cases, figures 3 and 4
respectively. (The function θ = tanh was used here.)" §3: Figure 5 shows t·[w(t+1) − w(t)]
against t on the XOR problem, which "would have to become eventually constant" under the log
rule w(t) ≈ a + b·log t.

Here (n = 2, one weight x, v = (y_1·u_1, y_2·u_2)):

* Figures 1 and 3: type 2, v = (1, 2) (a = 2): E falls from 8 at −∞ to its infimum 0 at +∞.
* Figures 2 and 4: type 3, v = (1, −4) (a = 4): E(1) > 4 = lim E at ±∞, so a finite maximum
  separates a finite global minimum and a minimum at +∞ (E falls toward 4 from above).
* Figure 5: XOR on the four corners of [−1, 1]² with a bias, drawn from what POST /train
  supports: with hidden units when the request schema accepts ``network.hidden`` (the
  paper's network), else the single-layer perceptron, and the caption says which.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from pydantic import ValidationError

from service.schemas.minima import CurveRequest, MinimaRequest
from service.schemas.train import TrainRequest

CURVE_POINTS = 1601

TYPE_2 = MinimaRequest.model_validate(
    {"dataset": {"inputs": [[1.0], [2.0]], "targets": [1, 1]}, "activation": "tanh"}
).model_copy(update={"curve": CurveRequest(points=CURVE_POINTS)})

TYPE_3 = MinimaRequest.model_validate(
    {"dataset": {"inputs": [[1.0], [-4.0]], "targets": [1, 1]}, "activation": "tanh"}
).model_copy(update={"curve": CurveRequest(points=CURVE_POINTS)})

XOR = {
    "inputs": [[1.0, 1.0], [1.0, -1.0], [-1.0, 1.0], [-1.0, -1.0]],
    "targets": [-1, 1, 1, -1],
    "bias": True,
}

XOR_HIDDEN = 2
"""Hidden tanh units for Figure 5 when /train supports hidden layers."""


def xor_request() -> tuple[TrainRequest, bool]:
    """Figure 5's request and whether it has hidden units (the paper's setting)."""
    base = {
        "dataset": XOR,
        "activation": "tanh",
        "method": "gd",
        "learning_rate": 0.05,
        "steps": 100_000,
        "seed": 3,
        "record": {"points": 300},
    }
    try:
        return TrainRequest.model_validate({**base, "network": {"hidden": [XOR_HIDDEN]}}), True
    except ValidationError:
        return TrainRequest.model_validate(base), False


@dataclass(frozen=True, slots=True)
class PaperFigure:
    """One figure of the paper: the request it is drawn from, the panels and a caption note."""

    number: int
    kind: Literal["minima", "train"]
    request: MinimaRequest | TrainRequest
    panels: tuple[str, ...]
    note: str


def paper_figure(number: int) -> PaperFigure:
    """The recipe of the paper's Figure ``number`` (1–5)."""
    if number == 1:
        return PaperFigure(
            1,
            "minima",
            TYPE_2,
            ("energy",),
            "Figure 1 (Sontag 1988, §2): E(x) for a subspace of type 2, inputs u = (1, 2), "
            "targets (+1, +1). ",
        )
    if number == 2:
        return PaperFigure(
            2,
            "minima",
            TYPE_3,
            ("energy",),
            "Figure 2 (Sontag 1988, §2): E(x) for a subspace of type 3 with large a, inputs "
            "u = (1, −4), targets (+1, +1): a finite minimum, a maximum, and E falling "
            "toward 4 as x → +∞. ",
        )
    if number == 3:
        return PaperFigure(
            3,
            "minima",
            TYPE_2,
            ("image",),
            "Figure 3 (Sontag 1988, §2): the image TV for type 2 (as in Figure 1), e = (1, 1). ",
        )
    if number == 4:
        return PaperFigure(
            4,
            "minima",
            TYPE_3,
            ("image",),
            "Figure 4 (Sontag 1988, §2): the image TV for type 3 (as in Figure 2), e = (1, 1). ",
        )
    if number == 5:
        request, hidden = xor_request()
        setting = (
            f"with {XOR_HIDDEN} hidden tanh units, as in the paper"
            if hidden
            else "WITHOUT hidden units: this version of /train has no hidden layers, so this "
            "is the single-layer perceptron (for XOR its weights converge and t·Δw → 0, "
            "unlike the paper's network)"
        )
        return PaperFigure(
            5,
            "train",
            request,
            ("t_delta", "weights", "error"),
            f"Figure 5 (Sontag 1988, §3): t·(w(t+1) − w(t)) against t on XOR, {setting}. ",
        )
    raise ValueError(f"the paper has Figures 1 to 5, not {number}")
