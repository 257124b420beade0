"""The names and colours of a run's weights in its figure, grouped by the layer they belong to.

The flat weight vector of /train is laid out as :class:`service.core.model.network.Layout`
says — layer by layer from the input side, each layer's matrix row-major (the incoming
weights of unit 0, then of unit 1, …) followed by its biases — and the perceptron is the case
of one layer (its bias last). Here that layout is read, never restated:

* weight j is ``w_j``, 1-based over the whole vector (as in the caption's m weights), and its
  legend entry names what it joins, ``w₁ x₁→h₁`` or ``w₅ bias→h₁``: the inputs are x₁, x₂, …,
  the units of the one hidden layer h₁, h₂, … (with several hidden layers, h¹₁, h²₁, …: the
  layer as a superscript), the output unit ``out``;
* each layer is a :class:`WeightGroup` titled by its number, what it joins and its weights,
  ``layer 1 (inputs→hidden): w₁…w₆`` and ``layer 2 (hidden→output): w₇…w₉`` for the paper's
  2-2-1 net with biases;
* a net's layers each get a family of colours (layer 1 blues, layer 2 oranges, …), one shade
  per weight; the perceptron's one layer keeps matplotlib's ten distinct colours. Biases are
  dashed.
* with ``record.weights = "norms"`` the answer gives each layer's norm instead of every weight
  (:class:`~service.vocabulary.RecordWeights`): :func:`norm_groups` gives each layer one line,
  ``‖w₁…w₆‖₂`` under the layer's title, its index the layer's column in the answer.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from matplotlib import colormaps

from service.core.model.network import Layout
from service.schemas.train import TrainRequest

LAYER_COLOURMAPS = (
    "Blues",
    "Oranges",
    "Greens",
    "Purples",
    "Reds",
    "Greys",
    "YlOrBr",
    "RdPu",
    "BuGn",
)
"""The colour family of each layer, from the input side (a net has at most 9 layers)."""

SHADES = (0.95, 0.45)
"""The darkest and the lightest shade of a layer's family (its first and last weight)."""


@dataclass(frozen=True, slots=True)
class WeightName:
    """One weight: ``index`` in the flat vector (0-based), its legend ``label``, whether it
    is a bias."""

    index: int
    label: str
    bias: bool


@dataclass(frozen=True, slots=True)
class WeightGroup:
    """One weight layer: ``layer`` (1-based from the input side), its legend ``title`` and its
    weights in the flat vector's order."""

    layer: int
    title: str
    weights: tuple[WeightName, ...]


def weight_layout(request: TrainRequest) -> Layout:
    """The layout of the weights ``request`` trains (the perceptron's: one layer)."""
    widths = (len(request.dataset.inputs[0]), *request.network.hidden, 1)
    return Layout(widths=widths, bias=request.dataset.bias)


def weight_groups(layout: Layout) -> tuple[WeightGroup, ...]:
    """The weights of ``layout`` (see :func:`weight_layout`), named and grouped by layer as
    the module says."""
    return tuple(_group(layout, k) for k in range(layout.layers))


def _group(layout: Layout, k: int) -> WeightGroup:
    """Layer ``k`` (0-based): its weights named in the layout's order."""
    start, stop = layout.starts[k], layout.starts[k + 1]
    units, sources = layout.widths[k + 1], layout.widths[k]
    names = [
        _name(start + u * sources + s, f"{_unit(layout, k, s)}→{_unit(layout, k + 1, u)}")
        for u in range(units)
        for s in range(sources)
    ]
    if layout.bias:
        first = start + units * sources
        names += [
            _name(first + u, f"bias→{_unit(layout, k + 1, u)}", bias=True) for u in range(units)
        ]
    assert len(names) == stop - start, "the names follow the layout"
    return WeightGroup(k + 1, f"{_layer_title(layout, k)}: {_span(start, stop)}", tuple(names))


def _name(index: int, route: str, *, bias: bool = False) -> WeightName:
    return WeightName(index, f"w{subscript(index + 1)} {route}", bias)


def _unit(layout: Layout, level: int, unit: int) -> str:
    """Unit ``unit`` (0-based) of level ``level``: 0 the inputs, then the hidden layers, last
    the output."""
    if level == 0:
        return f"x{subscript(unit + 1)}"
    if level == layout.layers:
        return "out"
    layer = superscript(level) if layout.layers > 2 else ""
    return f"h{layer}{subscript(unit + 1)}"


def _level_name(layout: Layout, level: int) -> str:
    if level == 0:
        return "inputs"
    if level == layout.layers:
        return "output"
    return f"hidden {level}" if layout.layers > 2 else "hidden"


def _layer_title(layout: Layout, k: int) -> str:
    joins = f"{_level_name(layout, k)}→{_level_name(layout, k + 1)}"
    return f"layer {k + 1} ({joins})" if layout.layers > 1 else joins


def _span(start: int, stop: int) -> str:
    """``w₁…w₆`` for the 0-based half-open range [start, stop)."""
    if stop - start == 1:
        return f"w{subscript(start + 1)}"
    return f"w{subscript(start + 1)}…w{subscript(stop)}"


def norm_groups(layout: Layout) -> tuple[WeightGroup, ...]:
    """One group per layer of ``layout`` with one line, the norm of the layer's weights: its
    index is the layer's (0-based), its column in an answer with ``record.weights`` "norms"."""
    return tuple(
        WeightGroup(
            group.layer,
            group.title,
            (WeightName(k, f"‖{_span(layout.starts[k], layout.starts[k + 1])}‖₂", False),),
        )
        for k, group in enumerate(weight_groups(layout))
    )


def drawn(groups: tuple[WeightGroup, ...], limit: int) -> tuple[WeightGroup, ...]:
    """At most ``limit`` weights to draw: the first ones of each layer, taken one per layer
    in turn, so that every layer shows (layers left with none are dropped)."""
    counts = [0] * len(groups)
    left = limit
    while left > 0 and any(c < len(g.weights) for c, g in zip(counts, groups, strict=True)):
        for k, group in enumerate(groups):
            if left > 0 and counts[k] < len(group.weights):
                counts[k] += 1
                left -= 1
    return tuple(
        replace(g, weights=g.weights[:c]) for g, c in zip(groups, counts, strict=True) if c
    )


def colours(groups: tuple[WeightGroup, ...]) -> dict[int, tuple[float, float, float, float]]:
    """The colour of each weight, by flat index: a family per layer when there are several,
    else matplotlib's ten distinct colours (``tab10``) in turn."""
    if len(groups) == 1:
        tab10 = colormaps["tab10"]
        return {w.index: tab10(i % 10) for i, w in enumerate(groups[0].weights)}
    out = {}
    for group in groups:
        family = colormaps[LAYER_COLOURMAPS[(group.layer - 1) % len(LAYER_COLOURMAPS)]]
        n = len(group.weights)
        for i, weight in enumerate(group.weights):
            shade = SHADES[0] + (SHADES[1] - SHADES[0]) * (i / (n - 1) if n > 1 else 0.5)
            out[weight.index] = family(shade)
    return out


def subscript(j: int) -> str:
    return str(j).translate(str.maketrans("0123456789", "₀₁₂₃₄₅₆₇₈₉"))


def superscript(j: int) -> str:
    return str(j).translate(str.maketrans("0123456789", "⁰¹²³⁴⁵⁶⁷⁸⁹"))
