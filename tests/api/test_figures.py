"""POST /figures/train, POST /figures/minima, GET /figures/paper/{n}: real images, labelled,
with countable marks, declared in OpenAPI with their image content types."""

from __future__ import annotations

import colorsys
import io
import math
import re
import struct
import xml.etree.ElementTree as ET
from dataclasses import replace

import pytest
from fastapi.testclient import TestClient
from matplotlib.image import imread

from service.app import create_app
from service.figures import canvas
from service.settings import Settings
from tests.problems import assert_problem

SVG_NS = "{http://www.w3.org/2000/svg}"
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
TYPE_3 = {"dataset": {"inputs": [[1.0], [-3.0]], "targets": [1, 1]}, "activation": "tanh"}
LOG_RULE = {"dataset": {"inputs": [[1.0]], "targets": [1]}, "steps": 2000, "record": {"points": 50}}


def svg_tree(content: bytes) -> ET.Element:
    """Parse an SVG document (fails on anything that is not well-formed XML)."""
    root = ET.fromstring(content)
    assert root.tag == f"{SVG_NS}svg"
    return root


def ids(root: ET.Element) -> list[str]:
    return [e.attrib["id"] for e in root.iter() if "id" in e.attrib]


def texts(content: bytes) -> list[str]:
    """The texts matplotlib draws as paths: it precedes each with an XML comment."""
    return [t.strip() for t in re.findall(r"<!-- (.*?) -->", content.decode(), flags=re.S)]


def png_size(content: bytes) -> tuple[int, int]:
    """Width and height from the IHDR chunk, checked against a full decode."""
    assert content[:8] == PNG_MAGIC
    assert content[12:16] == b"IHDR"
    width, height = struct.unpack(">II", content[16:24])
    pixels = imread(io.BytesIO(content), format="png")
    assert pixels.shape[:2] == (height, width)
    return width, height


def assert_sensible(content: bytes) -> None:
    assert 5_000 < len(content) < 2_000_000, len(content)


def test_minima_svg_marks_exactly_three_items_for_tanh_type_3(client: TestClient) -> None:
    r = client.post("/figures/minima", json=TYPE_3)
    assert r.status_code == 200
    assert r.headers["content-type"] == "image/svg+xml"
    assert_sensible(r.content)
    marks = sorted(i for i in ids(svg_tree(r.content)) if i.startswith("extremum-"))
    # §2 of the paper: a finite maximum, a finite (global) minimum and a minimum at +∞
    assert len(marks) == 3, marks
    assert sum(m.startswith("extremum-min-") and m[-1].isdigit() for m in marks) == 1
    assert sum(m.startswith("extremum-max-") for m in marks) == 1
    assert "extremum-min-plus-inf" in marks
    assert {"limit-plus", "limit-minus", "point-e", "nearest-point"} <= set(
        ids(svg_tree(r.content))
    )


def test_minima_svg_axes_are_labelled(client: TestClient) -> None:
    r = client.post("/figures/minima", json=TYPE_3)
    labels = texts(r.content)
    assert any(t.startswith("weight x") for t in labels)
    assert any(t.startswith("error E(x)") for t in labels)
    assert "θ(v₁x)" in labels and "θ(v₂x)" in labels
    assert "+∞" in labels and "−∞" in labels  # the ends of the compactified axis


def test_minima_png_has_both_panels_at_100_dpi(client: TestClient) -> None:
    r = client.post("/figures/minima", json={**TYPE_3, "format": "png"})
    assert r.status_code == 200 and r.headers["content-type"] == "image/png"
    assert_sensible(r.content)
    assert png_size(r.content) == (1280, 540)  # 12.8 × 5.4 in, two panels


def test_minima_one_panel_when_n_is_not_2(client: TestClient) -> None:
    body = {"dataset": {"inputs": [[1.0], [2.0], [-1.0]], "targets": [1, 1, 1]}, "format": "png"}
    r = client.post("/figures/minima", json=body)
    assert r.status_code == 200
    assert png_size(r.content) == (700, 540)


def test_train_svg_and_png(client: TestClient) -> None:
    r = client.post("/figures/train", json=LOG_RULE)
    assert r.status_code == 200 and r.headers["content-type"] == "image/svg+xml"
    assert_sensible(r.content)
    root_ids = set(ids(svg_tree(r.content)))
    assert {"error", "weights-0", "t-delta-0", "caption"} <= root_ids
    labels = texts(r.content)
    assert "error E(w(t))" in labels and "weights w_j(t)" in labels
    assert "t·(w_j(t+1) − w_j(t))" in labels
    assert "t (steps) — log scale" in labels
    verdict = client.post("/train", json=LOG_RULE).json()["divergence"]["verdict"]
    caption = " ".join(t for t in labels if "Verdict" in t or "θ = tanh" in t)
    assert f"Verdict: {verdict}" in caption.replace("\n", " ")
    png = client.post("/figures/train", json={**LOG_RULE, "format": "png"})
    assert png.status_code == 200 and png.headers["content-type"] == "image/png"
    assert png_size(png.content) == (800, 1010)  # 8 × (2.3 + 3·2.6) in


@pytest.mark.parametrize("number", [1, 2, 3, 4, 5])
def test_each_paper_figure_renders_to_png(client: TestClient, number: int) -> None:
    r = client.get(f"/figures/paper/{number}", params={"format": "png"})
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "image/png"
    assert_sensible(r.content)
    width, height = png_size(r.content)
    assert 600 <= width <= 1400 and 500 <= height <= 1400


def test_paper_figure_2_shows_minimum_maximum_and_the_minimum_at_plus_infinity(
    client: TestClient,
) -> None:
    r = client.get("/figures/paper/2")
    assert r.status_code == 200 and r.headers["content-type"] == "image/svg+xml"
    marks = sorted(i for i in ids(svg_tree(r.content)) if i.startswith("extremum-"))
    assert marks == ["extremum-max-1", "extremum-min-0", "extremum-min-plus-inf"]
    labels = " ".join(texts(r.content))
    assert "E → 4 as x → +∞ (above)" in labels
    assert "u = (1, −4)" in labels and "θ = tanh" in labels  # the parameters are stated


def test_paper_figures_4_and_5_state_their_parameters(client: TestClient) -> None:
    four = " ".join(texts(client.get("/figures/paper/4").content))
    assert "type 3" in four and "e = (1, 1)" in four
    five = " ".join(texts(client.get("/figures/paper/5").content))
    assert "XOR" in five and "learning rate 0.05" in five and "seed 0" in five
    assert "hidden layers [2]" in five and "Verdict: logarithmic" in five


@pytest.mark.parametrize(
    ("number", "words"),
    [(0, "greater than or equal to 1"), (6, "less than or equal to 5")],
)
def test_the_paper_has_five_figures(client: TestClient, number: int, words: str) -> None:
    r = client.get(f"/figures/paper/{number}")
    assert_problem(r, kind="invalid-request", field="path.number", words=words)


def test_bad_bodies_are_problems_naming_the_field(client: TestClient) -> None:
    r = client.post("/figures/minima", json={**TYPE_3, "format": "gif"})
    assert_problem(r, kind="invalid-request", field="format", words="'svg' or 'png'")
    r = client.post("/figures/minima", json={"dataset": {"inputs": [[1.0, 2.0]], "targets": [1]}})
    assert_problem(
        r, kind="invalid-problem", field="dataset.inputs", words=("m = 2 weights", "use /train")
    )


def test_a_figure_over_the_size_limit_is_refused(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(canvas, "MAX_FIGURE_BYTES", 1_000)
    r = client.post("/figures/train", json=LOG_RULE)
    entry = assert_problem(
        r,
        kind="limit-exceeded",
        field="format",
        words=("the svg figure has ", " bytes, over the limit of 1000;", "fewer points or png"),
    )
    size = int(entry["message"].split(" has ", 1)[1].split(" bytes", 1)[0])
    assert size > 1000  # the figure's own size is stated, and it is over the limit


def test_openapi_declares_the_image_content_types() -> None:
    schema = create_app(Settings()).openapi()
    for path, method in (
        ("/figures/train", "post"),
        ("/figures/minima", "post"),
        ("/figures/paper/{number}", "get"),
    ):
        content = schema["paths"][path][method]["responses"]["200"]["content"]
        assert set(content) == {"image/svg+xml", "image/png"}, (path, set(content))
        assert (
            "application/problem+json"
            in schema["paths"][path][method]["responses"]["422"]["content"]
        )
    body = schema["paths"]["/figures/minima"]["post"]["requestBody"]["content"]
    ref = body["application/json"]["schema"]["$ref"].rsplit("/", 1)[1]
    assert schema["components"]["schemas"][ref]["properties"]["format"]


def test_figure_marks_sit_on_the_critical_points(client: TestClient) -> None:
    """The finite marks of the type-3 figure are at the roots of E', found here by bisection
    on E'(x) = −2·Σ b_i (1 − tanh b_i x)·sech² b_i x, independently of the service."""
    from service.figures.landscape import draw_minima
    from service.schemas.minima import MinimaResponse
    from service.vocabulary import ActivationName

    answer = MinimaResponse.model_validate(
        client.post("/minima", json={**TYPE_3, "curve": {"points": 401}}).json()
    )
    b = (1.0, -3.0)

    def slope(x: float) -> float:
        return sum(-2 * bi * (1 - math.tanh(bi * x)) / math.cosh(bi * x) ** 2 for bi in b)

    def root(lo: float, hi: float) -> float:
        assert slope(lo) * slope(hi) < 0
        for _ in range(200):
            mid = (lo + hi) / 2
            lo, hi = (mid, hi) if slope(lo) * slope(mid) > 0 else (lo, mid)
        return lo

    x_min, x_max = root(-1.0, 0.0), root(0.3, 2.0)
    with canvas._style():
        figure = draw_minima(answer, ActivationName.TANH)
        marks = {
            line.get_gid(): line
            for ax in figure.axes
            for line in ax.get_lines()
            if (line.get_gid() or "").startswith(("extremum-", "nearest-point"))
        }
        energy, image = figure.axes
        assert energy.get_xlabel() and energy.get_ylabel()
        assert image.get_xlabel() and image.get_ylabel()
    c_scale = answer.curve.scale if answer.curve else 1.0
    assert float(marks["extremum-min-0"].get_xdata()[0]) == pytest.approx(
        math.atan(x_min / c_scale), abs=1e-9
    )
    assert float(marks["extremum-max-1"].get_xdata()[0]) == pytest.approx(
        math.atan(x_max / c_scale), abs=1e-9
    )
    assert float(marks["extremum-min-plus-inf"].get_xdata()[0]) == pytest.approx(math.pi / 2)
    # the nearest point of clos TV is the image of the global minimiser, at distance √(inf E)
    px, py = (
        float(marks["nearest-point"].get_xdata()[0]),
        float(marks["nearest-point"].get_ydata()[0]),
    )
    assert (px, py) == pytest.approx((math.tanh(x_min), math.tanh(-3 * x_min)), abs=1e-9)
    e_min = (1 - math.tanh(x_min)) ** 2 + (1 - math.tanh(-3 * x_min)) ** 2
    assert math.hypot(1 - px, 1 - py) == pytest.approx(math.sqrt(e_min), rel=1e-9)


def test_rendering_is_thread_safe_and_deterministic(client: TestClient) -> None:
    """The routes are plain ``def`` (run in the thread pool, off the event loop); renders from
    several threads at once give byte-identical SVG."""
    import inspect
    from concurrent.futures import ThreadPoolExecutor

    from service.api import figures

    for route in (figures.figure_train, figures.figure_minima, figures.figure_paper):
        assert not inspect.iscoroutinefunction(route)
    with ThreadPoolExecutor(4) as pool:
        images = list(pool.map(lambda _: client.post("/figures/minima", json=TYPE_3), range(4)))
    assert all(r.status_code == 200 for r in images)
    assert len({r.content for r in images}) == 1


def test_paper_figures_refuse_unknown_query_parameters(client: TestClient) -> None:
    r = client.get("/figures/paper/1", params={"format": "png", "dpi": "600"})
    assert_problem(
        r, kind="invalid-request", field="query.dpi", words="Extra inputs are not permitted"
    )
    r = client.get("/figures/paper/1", params={"format": "gif"})
    assert_problem(r, kind="invalid-request", field="query.format", words="'svg' or 'png'")


def test_many_weights_are_capped_and_the_caption_says_so(client: TestClient) -> None:
    from service.figures.training import MAX_WEIGHT_LINES, draw_train
    from service.schemas.train import TRAIN_REQUEST, TrainResponse

    m = MAX_WEIGHT_LINES + 2
    body = {
        "dataset": {
            "inputs": [[float(j == i) for j in range(m)] for i in range(m)],
            "targets": [1] * m,
        },
        "steps": 100,
        "record": {"points": 20},
    }
    answer = TrainResponse.model_validate(client.post("/train", json=body).json())
    with canvas._style():
        figure = draw_train(TRAIN_REQUEST.validate_python(body), answer)
        weights_axes = figure.axes[1]
        drawn = [
            line
            for line in weights_axes.get_lines()
            if (line.get_gid() or "").startswith("weights-")
        ]
        assert len(drawn) == MAX_WEIGHT_LINES
        assert f"The first {MAX_WEIGHT_LINES} of {m} weights are drawn." in " ".join(
            figure.get_supxlabel().split()
        )


# -- a net's weights, by layer ---------------------------------------------------------------

XOR_NET = {
    "dataset": {
        "inputs": [[1.0, 1.0], [1.0, -1.0], [-1.0, 1.0], [-1.0, -1.0]],
        "targets": [-1, 1, 1, -1],
        "bias": True,
    },
    "network": {"hidden": [2]},
    "steps": 200,
    "record": {"points": 20},
}
"""A 2-2-1 net with biases: 9 weights, layer 1's 6 (4 weights, then 2 biases), the output's 3."""

XOR_LEGEND = [
    "layer 1 (inputs→hidden): w₁…w₆",
    *("w₁ x₁→h₁", "w₂ x₂→h₁", "w₃ x₁→h₂", "w₄ x₂→h₂", "w₅ bias→h₁", "w₆ bias→h₂"),
    "layer 2 (hidden→output): w₇…w₉",
    *("w₇ h₁→out", "w₈ h₂→out", "w₉ bias→out"),
]


def test_a_2_2_1_nets_weights_are_named_by_layer_in_the_layout_order() -> None:
    from service.core.model.network import Layout
    from service.figures.weights import weight_groups

    groups = weight_groups(Layout(widths=(2, 2, 1), bias=True))
    assert [g.layer for g in groups] == [1, 2]
    assert [[w.index for w in g.weights] for g in groups] == [[0, 1, 2, 3, 4, 5], [6, 7, 8]]
    assert [w.index for g in groups for w in g.weights if w.bias] == [4, 5, 8]
    assert [text for g in groups for text in (g.title, *(w.label for w in g.weights))] == (
        XOR_LEGEND
    )


def test_deeper_nets_and_the_perceptron_are_named_too() -> None:
    from service.core.model.network import Layout
    from service.figures.weights import weight_groups

    deep = weight_groups(Layout(widths=(2, 2, 2, 1), bias=False))
    assert [g.title for g in deep] == [
        "layer 1 (inputs→hidden 1): w₁…w₄",
        "layer 2 (hidden 1→hidden 2): w₅…w₈",
        "layer 3 (hidden 2→output): w₉…w₁₀",
    ]
    assert [w.label for w in deep[1].weights] == [
        "w₅ h¹₁→h²₁",
        "w₆ h¹₂→h²₁",
        "w₇ h¹₁→h²₂",
        "w₈ h¹₂→h²₂",
    ]
    (perceptron,) = weight_groups(Layout(widths=(2, 1), bias=True))
    assert perceptron.title == "inputs→output: w₁…w₃"
    assert [w.label for w in perceptron.weights] == ["w₁ x₁→out", "w₂ x₂→out", "w₃ bias→out"]


def test_a_capped_net_shows_the_first_weights_of_every_layer() -> None:
    from service.core.model.network import Layout
    from service.figures.weights import drawn, weight_groups

    groups = weight_groups(Layout(widths=(3, 3, 1), bias=True))  # 12 + 4 weights
    shown = drawn(groups, 10)
    assert [[w.index for w in g.weights] for g in shown] == [[0, 1, 2, 3, 4, 5], [12, 13, 14, 15]]
    assert drawn(groups, 2) == tuple(replace(g, weights=g.weights[:1]) for g in groups)


def strokes(root: ET.Element, gid: str) -> tuple[str, bool]:
    """The colour of the line with id ``gid`` (#rrggbb), and whether it is dashed."""
    (line,) = [e for e in root.iter() if e.attrib.get("id") == gid]
    style = next(p for p in line.iter(f"{SVG_NS}path")).attrib["style"]
    colour = re.search(r"stroke: (#[0-9a-f]{6})", style)
    assert colour is not None, style
    return colour.group(1), "stroke-dasharray" in style


def hue(colour: str) -> float:
    r, g, b = (int(colour[i : i + 2], 16) / 255 for i in (1, 3, 5))
    return colorsys.rgb_to_hls(r, g, b)[0]


def test_a_nets_figure_groups_its_weights_by_layer(client: TestClient) -> None:
    r = client.post("/figures/train", json=XOR_NET)
    assert r.status_code == 200, r.text
    labels = texts(r.content)
    start = labels.index(XOR_LEGEND[0])
    assert labels[start : start + len(XOR_LEGEND)] == XOR_LEGEND  # the legend, layer by layer
    root = svg_tree(r.content)
    assert "weights-legend" in ids(root)
    lines = [strokes(root, f"weights-{j}") for j in range(9)]
    assert lines == [strokes(root, f"t-delta-{j}") for j in range(9)]  # one key, two panels
    assert [dashed for _, dashed in lines] == [False] * 4 + [True] * 2 + [False] * 2 + [True]
    layer_1, layer_2 = [c for c, _ in lines[:6]], [c for c, _ in lines[6:]]
    assert len(set(layer_1)) == 6 and len(set(layer_2)) == 3  # a shade per weight
    hues_1, hues_2 = [hue(c) for c in layer_1], [hue(c) for c in layer_2]
    assert max(hues_1) - min(hues_1) < 0.05 and max(hues_2) - min(hues_2) < 0.05  # a family
    assert abs(min(hues_1) - max(hues_2)) > 0.3  # each layer its own
    # the answer's own split of the weights is the figure's
    layers = client.post("/train", json=XOR_NET).json()["layers"]
    assert [(layer["start"], layer["stop"]) for layer in layers] == [(0, 6), (6, 9)]


def test_paper_figure_5_names_each_weights_layer(client: TestClient) -> None:
    labels = texts(client.get("/figures/paper/5").content)
    assert all(text in labels for text in XOR_LEGEND)
