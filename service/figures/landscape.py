"""The landscape of a one-weight error: E(x) over the whole line and, for n = 2, TV.

With b = (y_i·u_i) the weight column, E(x) = Σ_i (1 − θ(b_i·x))². The /minima answer samples
it on x = c·tan(s), s ∈ (−π/2, π/2), so the horizontal axis here is s, with tick labels in x
and the ends s = ±π/2 labelled −∞ and +∞: the limits of E at infinity sit on the frame.

For n = 2 the image curve TV = {(θ(v_1·x), θ(v_2·x)) : x ∈ R}, v = b, lies in the open square
(−1, 1)²; E(x) is the squared distance from e = (1, 1) to the point of TV at x, so inf E =
dist(e, clos TV)². The nearest point of clos TV is the image of the global minimiser x*, or,
when the infimum is attained at ±∞, the limit (sign(±v_1), sign(±v_2)) of the curve there.
"""

from __future__ import annotations

import math

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from service.core.model.activations import get_activation
from service.figures.canvas import caption, encode, new_figure, thin
from service.schemas.minima import InfinityEndOut, MinimaResponse
from service.vocabulary import ActivationName, CriticalKind, ImageFormat, Location

_STYLE_OF_KIND = {
    CriticalKind.MIN: {"marker": "o", "color": "tab:green", "label": "local minimum"},
    CriticalKind.MAX: {"marker": "^", "color": "tab:red", "label": "local maximum"},
    CriticalKind.DEGENERATE: {"marker": "D", "color": "tab:gray", "label": "degenerate point"},
}


def render_minima(
    response: MinimaResponse,
    activation: ActivationName,
    image_format: ImageFormat,
    *,
    note: str = "",
    panels: tuple[str, ...] = ("energy", "image"),
) -> bytes:
    """E(x) with its extrema and limits and, for n = 2, the image curve TV: SVG or PNG bytes.

    ``response`` must carry ``curve`` samples; ``note`` is prepended to the caption.
    """
    return encode(lambda: draw_minima(response, activation, note=note, panels=panels), image_format)


def draw_minima(
    response: MinimaResponse,
    activation: ActivationName,
    *,
    note: str = "",
    panels: tuple[str, ...] = ("energy", "image"),
) -> Figure:
    """The figure of :func:`render_minima` (``panels``: which of the two to draw; the image
    panel only when n = 2)."""
    if response.curve is None:
        raise ValueError("draw_minima needs a /minima answer with curve samples")
    with_image = "image" in panels and response.curve.image is not None
    with_energy = "energy" in panels
    count = int(with_energy) + int(with_image)
    if count == 0:
        raise ValueError("nothing to draw: the image panel needs n = 2")
    figure = new_figure(6.4 * count if count == 2 else 7.0, 5.4)
    axes = figure.subplots(1, count, squeeze=False)[0]
    column = 0
    if with_energy:
        draw_energy(axes[column], response)
        column += 1
    if with_image:
        draw_image(axes[column], response, activation)
    caption(figure, note + _caption(response, activation))
    return figure


def draw_energy(ax: Axes, response: MinimaResponse) -> None:
    """E against the compactified weight, with every extremum (finite or at ±∞) marked."""
    curve = response.curve
    assert curve is not None
    s, error = np.asarray(curve.s), np.asarray(curve.error)
    keep = thin(len(s))
    ax.plot(s[keep], error[keep], color="tab:blue", lw=1.6, gid="energy-curve", label="E(x)")
    half = math.pi / 2
    for i, point in enumerate(response.critical_points):
        style = _STYLE_OF_KIND[point.kind]
        ax.plot(
            [math.atan(point.x / curve.scale)],
            [point.error],
            ls="none",
            ms=8,
            marker=style["marker"],
            color=style["color"],
            gid=f"extremum-{point.kind.value}-{i}",
        )
    top = max(float(error.max()), response.infinity.plus.error_limit)
    for name, end, side in (
        ("plus", response.infinity.plus, 1.0),
        ("minus", response.infinity.minus, -1.0),
    ):
        _draw_end(ax, name, end, side * half, top)
    ticks = _ticks(curve.scale)
    ax.set_xticks(ticks, [_tick_label(t, curve.scale) for t in ticks])
    ax.set_xlim(-half - 0.08, half + 0.08)
    low = min(float(error.min()), *(e.error_limit for e in _ends(response)))
    pad = 0.08 * max(top - low, 1e-9)
    ax.set_ylim(low - pad, top + 2 * pad)
    ax.set_xlabel(f"weight x  (axis compactified: x = c·tan s, c = {curve.scale:.3g})")
    ax.set_ylabel("error E(x) = Σᵢ (θ(uᵢx) − yᵢ)²")
    ax.set_title("E over the whole line, ends included")
    handles = [ax.lines[0]]
    handles += [
        ax.plot([], [], ls="none", marker=style["marker"], color=style["color"])[0]
        for kind, style in _STYLE_OF_KIND.items()
        if any(p.kind is kind for p in response.critical_points)
    ]
    labels = ["E(x)"] + [
        str(style["label"])
        for kind, style in _STYLE_OF_KIND.items()
        if any(p.kind is kind for p in response.critical_points)
    ]
    if any(e.local_min for e in _ends(response)):
        handles.append(ax.plot([], [], ls="none", marker="*", ms=11, color="tab:green")[0])
        labels.append("local minimum at ±∞")
    ax.legend(handles, labels, loc="best", fontsize=8)


def _ends(response: MinimaResponse) -> tuple[InfinityEndOut, InfinityEndOut]:
    return response.infinity.minus, response.infinity.plus


def _draw_end(ax: Axes, name: str, end: InfinityEndOut, s: float, top: float) -> None:
    """The limit of E at one end: a dashed stub and its value; a star if it is a minimum."""
    inner = s - math.copysign(0.25, s)
    ax.plot([inner, s], [end.error_limit] * 2, ls="--", color="0.4", lw=1.0, gid=f"limit-{name}")
    sign = "+" if s > 0 else "−"
    ax.annotate(
        f"E → {end.error_limit:g} as x → {sign}∞ ({end.approach})",
        (s, end.error_limit),
        xytext=(-6 if s > 0 else 6, -14 if end.approach == "above" else 8),
        textcoords="offset points",
        ha="right" if s > 0 else "left",
        fontsize=8,
        color="0.25",
    )
    if end.local_min:
        ax.plot(
            [s],
            [end.error_limit],
            ls="none",
            marker="*",
            ms=13,
            color="tab:green",
            clip_on=False,
            gid=f"extremum-min-{name}-inf",
        )


def _ticks(scale: float) -> list[float]:
    """Positions s of round weights x = c·tan s near s = kπ/8, and the ends ±π/2."""
    ticks = [-math.pi / 2, 0.0, math.pi / 2]
    for k in (1, 2, 3):
        x = float(f"{scale * math.tan(k * math.pi / 8):.1g}")
        s = math.atan(x / scale)
        ticks += [s, -s]
    kept: list[float] = []
    for s in sorted(ticks, key=abs):  # the ends and 0 first; drop ticks that crowd them
        if all(abs(s - k) > 0.3 for k in kept) or abs(s) == math.pi / 2:
            kept.append(s)
    return sorted(kept)


def _tick_label(s: float, scale: float) -> str:
    if s >= math.pi / 2 - 1e-12:
        return "+∞"
    if s <= -math.pi / 2 + 1e-12:
        return "−∞"
    x = scale * math.tan(s)
    return "0" if abs(x) < 1e-12 else f"{x:.3g}".replace("-", "−")


def nearest_point(response: MinimaResponse, activation: ActivationName) -> tuple[float, float]:
    """The point of clos TV nearest e = (1, 1) (n = 2): θ(v·x*) at a finite global minimiser
    x*, else the limit of θ(v·x) at the infinite end where the infimum is attained."""
    assert response.subspace is not None
    v = np.asarray(response.subspace.vector, dtype=np.float64)
    best = response.global_minimum
    if best.location is Location.FINITE and best.x is not None:
        point = get_activation(activation).theta(v * best.x)
    else:
        direction = 1.0 if best.location is Location.PLUS_INF else -1.0
        point = np.sign(direction * v)
    return float(point[0]), float(point[1])


def draw_image(ax: Axes, response: MinimaResponse, activation: ActivationName) -> None:
    """The image curve TV in [−1, 1]² with e = (1, 1), the nearest point of clos TV and the
    distance between them."""
    curve, sub = response.curve, response.subspace
    assert curve is not None and curve.image is not None and sub is not None
    image = np.asarray(curve.image)
    keep = thin(len(image))
    ax.plot([-1, 1, 1, -1, -1], [-1, -1, 1, 1, -1], color="0.6", lw=0.8, ls=":")
    ax.plot(image[keep, 0], image[keep, 1], color="tab:blue", lw=1.6, gid="image-curve")
    v = np.asarray(sub.vector)
    for name, direction in (("plus", 1.0), ("minus", -1.0)):
        end = np.sign(direction * v)
        ax.plot(
            [end[0]],
            [end[1]],
            ls="none",
            marker="o",
            mfc="white",
            color="tab:blue",
            ms=6,
            clip_on=False,
            gid=f"image-end-{name}",
        )
        sign = "+" if direction > 0 else "−"
        ax.annotate(
            f"x → {sign}∞",
            (end[0], end[1]),
            xytext=(-8 * end[0] or 6, -12 * end[1] or 6),
            textcoords="offset points",
            ha="center",
            fontsize=8,
        )
    px, py = nearest_point(response, activation)
    ax.plot([1, px], [1, py], ls="--", color="tab:orange", lw=1.2, gid="distance")
    ax.plot(
        [1],
        [1],
        ls="none",
        marker="s",
        color="black",
        ms=7,
        clip_on=False,
        gid="point-e",
        label="e = (1, 1)",
    )
    ax.plot(
        [px],
        [py],
        ls="none",
        marker="o",
        color="tab:orange",
        ms=8,
        clip_on=False,
        gid="nearest-point",
        label=f"nearest point of clos TV\n({_num(px)}, {_num(py)}), "
        f"distance {response.global_minimum.distance:.4g}",
    )
    ax.set_xlim(-1.12, 1.12)
    ax.set_ylim(-1.12, 1.12)
    ax.set_aspect("equal")
    ax.set_xlabel("θ(v₁x)")
    ax.set_ylabel("θ(v₂x)")
    ax.set_title(f"The image curve TV, v = ({_num(v[0])}, {_num(v[1])})")
    # the curve runs corner to corner: the empty corner is upper left when it rises
    ax.legend(loc="upper left" if v[0] * v[1] > 0 else "lower left", fontsize=8)


def _num(value: float) -> str:
    return f"{value:.4g}".replace("-", "−")


def _caption(response: MinimaResponse, activation: ActivationName) -> str:
    parts = [f"θ = {activation.value}."]
    sub = response.subspace
    if sub is not None:
        kind = f"subspace type {sub.type}"
        if sub.a is not None:
            kind += f", a = {sub.a:.4g}"
        parts.append(f"n = 2, v = ({_num(sub.vector[0])}, {_num(sub.vector[1])}): {kind}.")
    extrema = [
        f"{p.kind.value} at x = {_num(p.x)} (E = {p.error:.4g})" for p in response.critical_points
    ]
    extrema += [
        f"min at x = {sign}∞ (E → {end.error_limit:g})"
        for sign, end in (("+", response.infinity.plus), ("−", response.infinity.minus))
        if end.local_min
    ]
    parts.append("Extrema: " + ("; ".join(extrema) if extrema else "none") + ".")
    best = response.global_minimum
    parts.append(f"inf E = {best.error:.4g} (dist(e, clos TV) = {best.distance:.4g}).")
    if response.flat:
        parts.append("E is constant: every x is a minimum.")
    return " ".join(parts)
