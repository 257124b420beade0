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
* Figure 5: XOR on the four corners of [−1, 1]², a 2-2-1 tanh net with biases (the paper's
  network has hidden units), trained by gd until t·Δw of the output layer levels off.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from service.schemas.minima import CurveRequest, MinimaRequest
from service.schemas.train import TRAIN_REQUEST, TrainRequest

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


XOR_REQUEST = TRAIN_REQUEST.validate_python(
    {
        "dataset": XOR,
        "activation": "tanh",
        "network": {"hidden": [XOR_HIDDEN]},
        "method": "gd",
        "learning_rate": 0.05,
        "steps": 1_000_000,
        "seed": 0,
        "record": {"points": 300},
    }
)
"""Figure 5's run: a 2-2-1 tanh net with biases on XOR, gd, η = 0.05, 10^6 steps, seed 0
(17 of seeds 0–19 reach zero error; seed 0 is one of them)."""


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
        return PaperFigure(
            5,
            "train",
            XOR_REQUEST,
            ("t_delta", "weights", "error"),
            "Figure 5 (Sontag 1988, §3): t·(w(t+1) − w(t)) against t on XOR, inputs ±1, "
            f"targets −x1·x2, a 2-{XOR_HIDDEN}-1 tanh net with biases, gd with η = 0.05 for "
            "10^6 steps from seed 0. ",
        )
    raise ValueError(f"the paper has Figures 1 to 5, not {number}")
