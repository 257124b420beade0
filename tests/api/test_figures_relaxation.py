"""GET /figures/studies/{id} for a relaxation: per method (gd, then anneal at each T₀), its
success rate with its Wilson 95% interval, and its final errors' quantiles against E* and
the threshold. The figure is checked against the study's own answer (GET /studies/{id}),
the intervals against Wilson's formula."""

from __future__ import annotations

import math
import re
from collections.abc import Iterator
from typing import Any
from xml.etree import ElementTree as ET

import numpy as np
import pytest
from fastapi.testclient import TestClient

from service.app import create_app
from service.core.analysis.relaxation import MethodOutcome, Relaxation
from service.figures.relaxation import RelaxationSnapshot, render_relaxation
from service.settings import Settings
from service.vocabulary import ImageFormat
from tests.api.test_figures import SVG_NS, svg_tree, texts
from tests.api.test_figures_studies import wait_done

# The in-process cluster's scheduler always opens an HTTP server, first on port 8787 (see
# tests/api/test_figures_studies.py).
pytestmark = [
    pytest.mark.filterwarnings("ignore:Port 8787 is already in use:UserWarning"),
    pytest.mark.filterwarnings(
        r"ignore:Exception ignored in. <socket\.socket .*laddr=\('0\.0\.0\.0', 0\)>"
        ":pytest.PytestUnraisableExceptionWarning"
    ),
]

# The paper's Figure 2 case: E(x) = (1 − tanh x)² + (1 + tanh 3x)² has its global minimum
# near x = −0.18 (E ≈ 1.645), a maximum near 0.81 and a second minimum at +∞ (E → 4). gd
# from a start right of the maximum goes to +∞; annealing may cross back.
RELAXATION = {
    "kind": "relaxation",
    "name": "figure 2",
    "dataset": {"inputs": [[1.0], [3.0]], "targets": [1, -1]},
    "starts": 8,
    "init": 3,
    "steps": 20000,
    "temperatures": [0.5, 1.0],
    "cooling_time": 100,
}
Z95 = 1.959963984540054  # the standard normal's 97.5% quantile


@pytest.fixture(scope="module")
def relaxation(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[TestClient, str]]:
    """A client of an app with one study worker, and the id of the finished relaxation."""
    data_dir = tmp_path_factory.mktemp("relaxation")
    with TestClient(create_app(Settings(data_dir=str(data_dir), study_workers=1))) as client:
        r = client.post("/studies", json=RELAXATION)
        assert r.status_code == 202, r.text
        study_id = r.json()["id"]
        wait_done(client, study_id)
        yield client, study_id


def wilson(successes: int, n: int) -> tuple[float, float]:
    """Wilson's score interval, written out from Wilson (1927)."""
    p = successes / n
    centre = (p + Z95**2 / (2 * n)) / (1 + Z95**2 / n)
    half = Z95 / (1 + Z95**2 / n) * math.sqrt(p * (1 - p) / n + Z95**2 / (4 * n**2))
    return centre - half, centre + half


def group(root: ET.Element, gid: str) -> ET.Element:
    found = [e for e in root.iter(f"{SVG_NS}g") if e.attrib.get("id") == gid]
    assert len(found) == 1, gid
    return found[0]


def marker_y(root: ET.Element, gid: str) -> float:
    """The y (SVG user units, pointing down) of the one marker in group ``gid``."""
    (use,) = list(group(root, gid).iter(f"{SVG_NS}use"))
    return float(use.attrib["y"])


def bar_ys(root: ET.Element, gid: str) -> tuple[float, float]:
    """The two ends' y of the vertical bar in group ``gid`` (bottom first)."""
    path = next(group(root, gid).iter(f"{SVG_NS}path"))
    numbers = [float(v) for v in re.findall(r"-?\d+(?:\.\d+)?", path.attrib["d"])]
    ys = np.array(numbers).reshape(-1, 2)[:, 1]
    return float(ys.max()), float(ys.min())


def summary_of(client: TestClient, study_id: str) -> dict[str, Any]:
    study = client.get(f"/studies/{study_id}").json()
    assert study["kind"] == "relaxation" and study["progress"]["done"] == 24, study
    summary: dict[str, Any] = study["summary"]
    return summary


def test_svg_names_each_method_its_successes_and_its_interval(
    relaxation: tuple[TestClient, str],
) -> None:
    client, study_id = relaxation
    summary = summary_of(client, study_id)
    methods = summary["methods"]
    assert [m["method"] for m in methods] == ["gd", "anneal T0=0.5", "anneal T0=1"]
    assert all(m["runs"] == 8 for m in methods)

    r = client.get(f"/figures/studies/{study_id}")
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "image/svg+xml"
    labels = texts(r.content)
    for m in methods:
        assert labels.count(m["method"]) == 2, (m["method"], labels)  # a tick in each panel
        assert f"{m['successes']}/{m['runs']}" in labels, labels
    caption = " ".join(labels)
    assert "Relaxation “figure 2”: gd against annealing, from the same starts" in labels
    assert f"done: 24 of 24 runs finished. E* = {summary['global_error']:.4g};" in caption
    assert f"E ≤ {summary['threshold']:.4g} = E* +" in caption
    assert f"Winner (success rate, same steps): {summary['winner'] or 'none'}:" in caption
    assert f"E* = {summary['global_error']:.4g} (global minimum)" in labels
    assert f"threshold {summary['threshold']:.4g} (success below)" in labels
    assert "K = 8 starts in [−a, a]¹, a = 3, 20000 steps, η = 0.1;" in caption

    # one affine map y = α·rate + β (α < 0: SVG's y points down) takes every method's rate
    # and both ends of its Wilson interval to the drawing
    root = svg_tree(r.content)
    values, drawn = [], []
    for k, m in enumerate(methods):
        low, high = wilson(m["successes"], m["runs"])
        assert m["interval"] == pytest.approx([max(low, 0.0), min(high, 1.0)], abs=1e-12)
        values += [m["successes"] / m["runs"], *m["interval"]]
        drawn += [marker_y(root, f"relaxation-rate-{k}"), *bar_ys(root, f"relaxation-interval-{k}")]
    alpha, beta = np.polyfit(values, drawn, 1)
    assert alpha < 0
    np.testing.assert_allclose(np.polyval([alpha, beta], values), drawn, atol=1e-3)
    ids = {e.attrib.get("id") for e in root.iter()}
    assert {"relaxation-global-error", "relaxation-threshold"} <= ids
    assert {f"relaxation-errors-{k}" for k in range(3)} <= ids


def test_png_has_the_magic_and_its_size(relaxation: tuple[TestClient, str]) -> None:
    client, study_id = relaxation
    r = client.get(f"/figures/studies/{study_id}", params={"format": "png"})
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "image/png"
    assert r.content[:8] == b"\x89PNG\r\n\x1a\n"
    assert r.content[12:16] == b"IHDR"
    width, height = int.from_bytes(r.content[16:20], "big"), int.from_bytes(r.content[20:24], "big")
    assert (width, height) == (1100, 520)  # 11 × 5.2 inches at 100 dpi


def test_a_relaxation_with_no_minimum_yet_says_so() -> None:
    """Plain data: before any run is identified there is no E*, no threshold, no line."""
    unfinished = MethodOutcome(
        method="anneal T0=2", temperature=2.0, runs=0, successes=0, success_rate=0.0,
        interval=(0.0, 1.0), error_quantiles=[], mean_steps_to_global=None, verdicts={},
        mean_seconds=0.0,
    )  # fmt: skip
    gd = MethodOutcome(
        method="gd", temperature=0.0, runs=2, successes=0, success_rate=0.0,
        interval=wilson(0, 2), error_quantiles=[0.5, 1.0, 1.5], mean_steps_to_global=None,
        verdicts={"undetermined": 2}, mean_seconds=0.002,
    )  # fmt: skip
    snapshot = RelaxationSnapshot(
        study_id="f" * 32,
        name=None,
        status="running",
        relaxation=Relaxation(
            global_error=None,
            threshold=None,
            methods=[gd, unfinished],
            winner=None,
            explanation="no method wins at this K",
        ),
        total=8,
    )
    content = render_relaxation(snapshot, ImageFormat.SVG)
    labels = texts(content)
    caption = " ".join(labels)
    assert "running: 2 of 8 runs finished. No minimum identified yet" in caption
    assert "Winner (success rate, same steps): none: no method wins at this K." in caption
    assert {"gd", "anneal T0=2", "0/2", "0/0", "2 ms/run"} <= set(labels)
    assert labels.count("0 ms/run") == 0  # a method with no run finished has no time
    ids = {e.attrib.get("id") for e in svg_tree(content).iter()}
    assert "relaxation-errors-0" in ids and "relaxation-errors-1" not in ids
    assert "relaxation-global-error" not in ids and "relaxation-threshold" not in ids
