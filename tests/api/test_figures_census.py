"""GET /figures/studies/{id} for a census: with m = 2 weights the map of E over the box, each
start a dot in the colour of the minimum its run reached; otherwise one bar per minimum,
lowest error first, as long as its basin fraction. The figures are checked against the
study's own answers (GET /studies/{id} and its rows), and E on the map against its closed
form."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any
from xml.etree import ElementTree as ET

import numpy as np
import pytest
from fastapi.testclient import TestClient

from service.app import create_app
from service.core.analysis.census import Census, Minimum
from service.figures.census import (
    MAX_LEGEND_MINIMA,
    NO_MINIMUM_COLOUR,
    CensusSnapshot,
    error_map,
    minimum_colour,
    render_census,
)
from service.schemas.train import TRAIN_REQUEST
from service.settings import Settings
from service.vocabulary import EndpointLocation, ImageFormat
from tests.api.test_figures import SVG_NS, svg_tree, texts
from tests.api.test_figures_studies import pixels_of_colour, png_pixels, wait_done

# The in-process cluster's scheduler always opens an HTTP server, first on port 8787 (see
# tests/api/test_figures_studies.py).
pytestmark = [
    pytest.mark.filterwarnings("ignore:Port 8787 is already in use:UserWarning"),
    pytest.mark.filterwarnings(
        r"ignore:Exception ignored in. <socket\.socket .*laddr=\('0\.0\.0\.0', 0\)>"
        ":pytest.PytestUnraisableExceptionWarning"
    ),
]

# Two weights, no bias: along w₁ examples 1 and 2 pull opposite ways (u = 1 wants w₁ > 0,
# u = 3 with target −1 wants w₁ < 0), along w₂ examples 3 and 4 too. E has a finite minimum
# near the origin, and runs that start far out along w₁ > 0 diverge, fitting example 1 and
# giving up example 2 (a minimum at infinity); some starts in the far corners stay
# undetermined after 20000 steps.
DATASET = {"inputs": [[1, 0], [3, 0], [0, 1], [0, -2]], "targets": [1, -1, 1, 1]}
B = np.array([[1.0, 0.0], [-3.0, 0.0], [0.0, 1.0], [0.0, -2.0]])  # rows y_i·u_i
MAP_CENSUS = {
    "kind": "census",
    "name": "two weights",
    "dataset": DATASET,
    "starts": 16,
    "steps": 20000,
    "init": 3,
}
BAR_CENSUS = {  # the same data with a bias, m = 3: its runs diverge, to minima at infinity
    "kind": "census",
    "dataset": {**DATASET, "bias": True},
    "starts": 16,
    "steps": 5000,
    "init": 3,
}


@pytest.fixture(scope="module")
def censuses(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[TestClient, str, str]]:
    """A client of an app with one study worker, and the ids of the two finished censuses."""
    data_dir = tmp_path_factory.mktemp("censuses")
    with TestClient(create_app(Settings(data_dir=str(data_dir), study_workers=1))) as client:
        submitted = []
        for body in (MAP_CENSUS, BAR_CENSUS):
            r = client.post("/studies", json=body)
            assert r.status_code == 202, r.text
            submitted.append(r.json()["id"])
        for study_id in submitted:
            wait_done(client, study_id)
        yield client, submitted[0], submitted[1]


def study_of(client: TestClient, study_id: str) -> dict[str, Any]:
    study: dict[str, Any] = client.get(f"/studies/{study_id}").json()
    return study


def locations(client: TestClient, study_id: str) -> list[str | None]:
    """Where each run ended (finite, infinity, unresolved), in index order."""
    rows = client.get(f"/studies/{study_id}/results", params={"limit": 1000}).json()["rows"]
    assert [row["index"] for row in rows] == list(range(len(rows)))
    return [row["location"] for row in rows]


def group(root: ET.Element, gid: str) -> ET.Element:
    found = [e for e in root.iter(f"{SVG_NS}g") if e.attrib.get("id") == gid]
    assert len(found) == 1, gid
    return found[0]


def dots(root: ET.Element, gid: str) -> tuple[np.ndarray, list[str]]:
    """The positions (SVG user units) and fill colours of the markers in group ``gid``."""
    uses = list(group(root, gid).iter(f"{SVG_NS}use"))
    positions = np.array([[float(u.attrib["x"]), float(u.attrib["y"])] for u in uses])
    return positions, [fill_of(u) for u in uses]


def fill_of(element: ET.Element) -> str:
    """The fill colour in an element's style."""
    found = re.search(r"fill: (#[0-9a-f]{6})", element.attrib["style"])
    assert found is not None, element.attrib
    return found.group(1)


def path_points(element: ET.Element) -> np.ndarray:
    """The vertices of the first path under ``element``."""
    path = next(element.iter(f"{SVG_NS}path"))
    numbers = [float(v) for v in re.findall(r"-?\d+(?:\.\d+)?", path.attrib["d"])]
    return np.array(numbers).reshape(-1, 2)


def legend_entry(minimum: dict[str, Any]) -> str:
    where = "finite" if minimum["location"] == "finite" else "at infinity"
    return f"E = {minimum['error']:.4g}, {where}, basin {minimum['basin_fraction']:.1%}"


def test_map_colours_each_start_by_the_minimum_its_run_found(
    censuses: tuple[TestClient, str, str],
) -> None:
    client, study_id, _ = censuses
    study = study_of(client, study_id)
    summary = study["summary"]
    minima = summary["minima"]
    kinds = [m["location"] for m in minima]
    assert sorted(kinds) == ["finite", "infinity"], minima  # the problem's two minima
    assert summary["unresolved"] > 0, summary  # and some runs the census could not identify
    ended = locations(client, study_id)
    starts = np.array(study["axes"]["initial_weights"])
    assert starts.shape == (16, 2)

    r = client.get(f"/figures/studies/{study_id}")
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "image/svg+xml"
    labels = texts(r.content)
    for minimum in minima:
        assert legend_entry(minimum) in labels, (legend_entry(minimum), labels)
    assert f"unresolved ({summary['unresolved']})" in labels
    assert "Census “two weights”: the minima of E and the starts of their basins" in labels
    caption = " ".join(labels)
    assert f"16 of 16 runs finished, {summary['identified']} in a minimum" in caption
    assert "2 distinct minima found" in caption
    assert f"coverage (Good–Turing) {summary['coverage']:.1%}" in caption
    assert "[−a, a]², a = 3" in caption

    root = svg_tree(r.content)
    # each minimum's dots are the starts of the runs that ended there (one minimum per
    # location here, so the rows' locations say which), in the minimum's colour
    drawn: list[tuple[np.ndarray, np.ndarray]] = []
    for k, minimum in enumerate(minima):
        members = [i for i, where in enumerate(ended) if where == minimum["location"]]
        assert len(members) == minimum["hits"]
        positions, fills = dots(root, f"census-basin-{k}")
        assert fills == [minimum_colour(k)] * len(members)
        drawn.append((positions, starts[members]))
    lost = [i for i, where in enumerate(ended) if where not in ("finite", "infinity")]
    positions, fills = dots(root, "census-unresolved")
    assert len(lost) == summary["unresolved"] and fills == [NO_MINIMUM_COLOUR] * len(lost)
    drawn.append((positions, starts[lost]))
    # one affine map takes every start to its dot: weights → SVG (y down, equal aspect)
    svg = np.vstack([p for p, _ in drawn])
    weights = np.vstack([w for _, w in drawn])
    assert len(svg) == 16
    fit_x = np.polyfit(weights[:, 0], svg[:, 0], 1)
    fit_y = np.polyfit(weights[:, 1], svg[:, 1], 1)
    assert fit_x[0] > 0 > fit_y[0] and fit_x[0] == pytest.approx(-fit_y[0], rel=1e-4)
    to_svg = np.column_stack([np.polyval(fit_x, weights[:, 0]), np.polyval(fit_y, weights[:, 1])])
    np.testing.assert_allclose(to_svg, svg, atol=1e-3)  # SVG writes 6 decimals

    for k, minimum in enumerate(minima):
        mark = group(root, f"census-minimum-{k}")
        if minimum["location"] == "finite":  # a star at the polished minimum
            (star,), _ = dots(root, f"census-minimum-{k}")
            w = minimum["weights"]
            expected = [np.polyval(fit_x, w[0]), np.polyval(fit_y, w[1])]
            np.testing.assert_allclose(star, expected, atol=1e-3)
        else:  # an arrow along d, in SVG coordinates (α·d₁, γ·d₂)
            line = path_points(mark)
            along = line[-1] - line[0]
            d = np.array(minimum["direction"]) * [fit_x[0], fit_y[0]]
            assert float(along @ d) > 0.0
            assert abs(along[0] * d[1] - along[1] * d[0]) <= 1e-6 * np.linalg.norm(along) * (
                np.linalg.norm(d)
            )
    assert "census-map" in {e.attrib.get("id") for e in root.iter()}


def test_map_png_shows_every_basin_colour(censuses: tuple[TestClient, str, str]) -> None:
    client, study_id, _ = censuses
    minima = study_of(client, study_id)["summary"]["minima"]
    r = client.get(f"/figures/studies/{study_id}", params={"format": "png"})
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "image/png"
    width, height, pixels = png_pixels(r.content)  # checks the PNG magic and IHDR
    assert (width, height) == (1050, 700)  # 10.5 × 7 inches at 100 dpi
    for k, minimum in enumerate(minima):
        # each dot (about 9 px across) has some 30 pixels of the pure colour inside its rim
        assert pixels_of_colour(pixels, minimum_colour(k)) >= 20 * minimum["hits"], k


def test_other_m_is_a_bar_per_minimum_as_long_as_its_basin(
    censuses: tuple[TestClient, str, str],
) -> None:
    client, _, study_id = censuses
    study = study_of(client, study_id)
    assert len(study["axes"]["initial_weights"][0]) == 3
    summary = study["summary"]
    minima = summary["minima"]
    assert len(minima) >= 2, minima
    errors = [m["error"] for m in minima]
    assert errors == sorted(errors)

    r = client.get(f"/figures/studies/{study_id}")
    assert r.status_code == 200, r.text
    labels = texts(r.content)
    for minimum in minima:
        where = "finite" if minimum["location"] == "finite" else "∞"
        assert f"E = {minimum['error']:.4g} ({where})" in labels, labels
        hits = minimum["hits"]
        assert f"{hits} run{'s' if hits != 1 else ''} ({minimum['basin_fraction']:.1%})" in labels
    caption = " ".join(labels)
    low, high = summary["estimated_interval"]
    assert (
        f"estimated total (Chao1) {summary['estimated_total']:.3g}, 95% interval "
        f"[{low:.3g}, {high:.3g}]"
    ) in caption
    assert "[−a, a]³, a = 3" in caption and "2 inputs + bias" in caption

    root = svg_tree(r.content)
    bars = [path_points(group(root, f"census-bar-{k}")) for k in range(len(minima))]
    widths = np.array([b[:, 0].max() - b[:, 0].min() for b in bars])
    fractions = np.array([m["basin_fraction"] for m in minima])
    np.testing.assert_allclose(widths / fractions, widths[0] / fractions[0], rtol=1e-5)
    tops = [b[:, 1].min() for b in bars]
    assert tops == sorted(tops)  # the lowest error at the top (SVG's y points down)
    if summary["unresolved"]:
        assert "unresolved" in labels
        bar = path_points(group(root, "census-bar-unresolved"))
        width = bar[:, 0].max() - bar[:, 0].min()
        assert width / (summary["unresolved"] / 16) == pytest.approx(widths[0] / fractions[0])
    fills = [
        fill_of(next(group(root, f"census-bar-{k}").iter(f"{SVG_NS}path")))
        for k in range(len(minima))
    ]
    assert fills == [minimum_colour(k) for k in range(len(minima))]


# --- plain data (no service) ---------------------------------------------------------------


def census_of(minima: list[Minimum], starts: int, unresolved: int) -> Census:
    return Census(
        minima=minima,
        starts=starts,
        identified=sum(m.hits for m in minima),
        unresolved=unresolved,
        saddles=[],
        distinct=len(minima),
        singletons=sum(m.hits == 1 for m in minima),
        doubletons=sum(m.hits == 2 for m in minima),
        estimated_total=float(len(minima)),
        estimated_interval=(float(len(minima)), float(len(minima))),
        coverage=0.5,
        symmetries_merged=True,
    )


def snapshot_of(census: Census, starts: np.ndarray, half_width: float) -> CensusSnapshot:
    return CensusSnapshot(
        study_id="c" * 32,
        name=None,
        status="running",
        base=TRAIN_REQUEST.validate_python({"dataset": DATASET, "steps": 1000}),
        census=census,
        starts=starts,
        half_width=half_width,
        total=len(starts),
    )


def test_the_map_is_e_in_closed_form() -> None:
    """E(w) = Σᵢ (1 − tanh(bᵢ·w))², bᵢ = yᵢ·uᵢ, on the grid of the view [−1.15a, 1.15a]²."""
    snapshot = snapshot_of(census_of([], 4, 0), np.zeros((4, 2)), 2.0)
    landscape = error_map(snapshot, points=31)
    assert landscape.limit == pytest.approx(2.3)
    axis = np.linspace(-2.3, 2.3, 31)
    np.testing.assert_array_equal(landscape.axis, axis)
    w1, w2 = np.meshgrid(axis, axis)  # error[i, j] is E at (axis[j], axis[i])
    z = B[:, 0, None, None] * w1 + B[:, 1, None, None] * w2
    expected = ((1.0 - np.tanh(z)) ** 2).sum(axis=0)
    # the same sum of four terms ≤ 4 each, in another order: a few ulps of 16
    np.testing.assert_allclose(landscape.error, expected, rtol=0, atol=1e-13)


def test_a_running_census_says_what_is_missing() -> None:
    """12 minima on 20 starts, 2 unresolved and 4 not finished: the legend names the 10
    lowest and counts the rest; a finite minimum outside the view is said to be."""
    starts = np.linspace(-1.0, 1.0, 40).reshape(20, 2)
    minima = [
        Minimum(
            location=EndpointLocation.FINITE, error=0.5 + k, hits=1, basin_fraction=1 / 20,
            members=[k], weights=np.array([5.0, -5.0]) if k == 0 else np.array([0.1 * k, 0.0]),
        )
        for k in range(12)
    ]  # fmt: skip
    snapshot = snapshot_of(census_of(minima, 20, 2), starts, 1.0)
    labels = texts(render_census(snapshot, ImageFormat.SVG))
    assert "E = 0.5, finite, basin 5.0% (at (5, −5), outside the view)" in labels
    assert "E = 9.5, finite, basin 5.0%" in labels and "E = 10.5, finite, basin 5.0%" not in labels
    assert f"… {12 - MAX_LEGEND_MINIMA} more minima" in labels
    assert "unresolved (2) or not finished (6)" in labels
    caption = " ".join(labels)
    assert "running: 14 of 20 runs finished, 12 in a minimum, 2 unresolved." in caption

    bars = snapshot_of(census_of(minima[:3], 20, 2), np.zeros((20, 1)), 1.0)
    labels = texts(render_census(bars, ImageFormat.SVG))
    assert {"E = 0.5 (finite)", "E = 2.5 (finite)", "unresolved", "not finished"} <= set(labels)
    assert "15 runs (75.0%)" in labels  # not finished: 20 − 3 − 2
