"""GET /figures/studies/{id}: a real study's phase diagram, in SVG and PNG, labelled with
its grid values and its verdicts; 404 for an unknown study; a one-axis strip; the cells of
a grid with more axes than two (the most common verdict) and of unfinished points."""

from __future__ import annotations

import io
import struct
import time
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest
from fastapi.testclient import TestClient
from matplotlib.colors import to_rgb
from matplotlib.image import imread

from service.app import create_app
from service.figures import VERDICT_COLOURS, StudySnapshot, draw_study, phase_cells, render_study
from service.schemas.train import TRAIN_REQUEST
from service.settings import Settings
from service.vocabulary import ImageFormat
from tests.api.test_figures import ids, svg_tree, texts
from tests.conftest import strict_json

# The in-process cluster's scheduler always opens an HTTP server, first on port 8787; when
# another process holds that port (tests running side by side) it warns, and tornado leaks
# the socket of the failed bind (a ResourceWarning at collection), then takes a free port.
pytestmark = [
    pytest.mark.filterwarnings("ignore:Port 8787 is already in use:UserWarning"),
    pytest.mark.filterwarnings(
        r"ignore:Exception ignored in. <socket\.socket .*laddr=\('0\.0\.0\.0', 0\)>"
        ":pytest.PytestUnraisableExceptionWarning"
    ),
]

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
SCALAR = {"inputs": [[1.0]], "targets": [1]}  # the paper's example: tanh diverges like log t
SWEEP = {
    "kind": "sweep",
    "name": "rate and tail",
    "base": {"dataset": SCALAR, "steps": 20000, "record": {"points": 40}},
    # tanh's tail is exponential (log rule), arctan's polynomial (another verdict)
    "grid": {
        "learning_rate": {"log_range": [0.01, 1.0, 3]},
        "activation": ["tanh", "arctan"],
    },
}
LEARNING_RATE_LABELS = ["0.01", "0.1", "1"]  # 0.01·100^(k/2), k = 0, 1, 2, at 3 digits
STRIP = {
    "kind": "sweep",
    "base": {"dataset": SCALAR, "steps": 5000, "record": {"points": 30}},
    "grid": {"seed": {"range": [0, 4]}},
}


def wait_done(client: TestClient, study_id: str, timeout: float = 60.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        study: dict[str, Any] = client.get(f"/studies/{study_id}").json()
        if study["status"] not in ("queued", "running"):
            assert study["status"] == "done", study
            return study
        assert time.monotonic() < deadline, f"study not done after {timeout} s: {study}"
        time.sleep(0.05)


@pytest.fixture(scope="module")
def studies(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[TestClient, str, str]]:
    """A client of an app with one study worker, and the ids of a finished 3×2 sweep and a
    finished one-axis sweep."""
    data_dir = tmp_path_factory.mktemp("studies")
    with TestClient(create_app(Settings(data_dir=str(data_dir), study_workers=1))) as client:
        submitted = []
        for body in (SWEEP, STRIP):
            r = client.post("/studies", json=body)
            assert r.status_code == 202, r.text
            submitted.append(r.json()["id"])
        for study_id in submitted:
            wait_done(client, study_id)
        yield client, submitted[0], submitted[1]


def rows_of(client: TestClient, study_id: str) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = client.get(f"/studies/{study_id}/results").json()["rows"]
    return rows


def png_pixels(content: bytes) -> tuple[int, int, np.ndarray]:
    assert content[:8] == PNG_MAGIC
    assert content[12:16] == b"IHDR"
    width, height = struct.unpack(">II", content[16:24])
    pixels = imread(io.BytesIO(content), format="png")
    assert pixels.shape[:2] == (height, width)
    return width, height, pixels


def pixels_of_colour(pixels: np.ndarray, colour: str) -> int:
    """How many pixels have exactly ``colour`` (PNG channels are 8-bit: half a step apart)."""
    rgb = np.asarray(to_rgb(colour))
    return int(np.all(np.abs(pixels[..., :3] - rgb) < 0.5 / 255, axis=-1).sum())


def test_svg_names_every_grid_value_and_every_verdict(
    studies: tuple[TestClient, str, str],
) -> None:
    client, sweep, _ = studies
    r = client.get(f"/figures/studies/{sweep}")
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "image/svg+xml"
    labels = texts(r.content)
    for value in [*LEARNING_RATE_LABELS, "tanh", "arctan"]:
        assert value in labels, value
    assert "learning_rate (log scale, 3 values)" in labels
    assert any(t.startswith("activation (2 values)") for t in labels)
    rows = rows_of(client, sweep)
    present = {row["verdict"] for row in rows}
    assert len(rows) == 6 and None not in present
    assert len(present) >= 2, present  # tanh and arctan have different tails
    for verdict in present:
        count = sum(row["verdict"] == verdict for row in rows)
        assert f"{verdict} ({count})" in labels, (verdict, labels)
    marks = set(ids(svg_tree(r.content)))
    assert {f"verdict-{v}" for v in present} | {"phase-diagram"} <= marks
    assert "not-finished" not in marks and "verdict-not-finished" not in marks
    caption = " ".join(labels)
    assert "“rate and tail”" in caption and "6 of 6 points finished (0 failed)" in caption
    assert "θ = tanh" not in caption and "activation varied" in caption
    assert "most common verdict" not in caption  # two axes, two drawn: nothing folded


def test_png_has_its_size_and_the_verdicts_colours(studies: tuple[TestClient, str, str]) -> None:
    client, sweep, _ = studies
    r = client.get(f"/figures/studies/{sweep}", params={"format": "png"})
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "image/png"
    width, height, pixels = png_pixels(r.content)
    assert width == 900 and 300 <= height <= 900, (width, height)  # 9 inches at 100 dpi
    for verdict in {row["verdict"] for row in rows_of(client, sweep)}:
        # six cells fill most of an axes some 700×300 px: each verdict covers ≥ 1/6 of it
        assert pixels_of_colour(pixels, VERDICT_COLOURS[verdict]) > 20_000, verdict


def test_each_cell_is_the_verdict_of_its_point(studies: tuple[TestClient, str, str]) -> None:
    client, sweep, _ = studies
    axes = client.get(f"/studies/{sweep}").json()["axes"]
    rows = rows_of(client, sweep)
    cells = phase_cells(axes, [(row["params"], row["verdict"]) for row in rows])
    assert (cells.x_axis, cells.y_axis, cells.folded) == ("learning_rate", "activation", ())
    for row in rows:
        i = ["tanh", "arctan"].index(row["params"]["activation"])
        j = axes["learning_rate"].index(row["params"]["learning_rate"])
        assert cells.verdicts[i][j] == row["verdict"], row


def test_unknown_study_is_a_404_problem(studies: tuple[TestClient, str, str]) -> None:
    client, _, _ = studies
    r = client.get(f"/figures/studies/{'0' * 32}")
    assert r.status_code == 404
    assert r.headers["content-type"] == "application/problem+json"
    body = strict_json(r.text)
    assert body["status"] == 404 and "0" * 32 in body["detail"]
    assert client.get("/figures/studies/not-an-id").status_code == 422
    assert client.get(f"/figures/studies/{'0' * 32}", params={"format": "gif"}).status_code == 422


def test_one_axis_is_a_strip(studies: tuple[TestClient, str, str]) -> None:
    client, _, strip = studies
    r = client.get(f"/figures/studies/{strip}")
    assert r.status_code == 200, r.text
    labels = texts(r.content)
    assert {"0", "1", "2", "3"} <= set(labels)
    assert "seed (4 values)" in labels
    caption = " ".join(labels)
    assert "4 of 4 points finished" in caption and "seed varied" in caption
    rows = rows_of(client, strip)
    cells = phase_cells({"seed": [0, 1, 2, 3]}, [(r["params"], r["verdict"]) for r in rows])
    assert cells.y_axis is None and len(cells.verdicts) == 1
    assert cells.verdicts[0] == [r["verdict"] for r in rows]
    png = client.get(f"/figures/studies/{strip}", params={"format": "png"}).content
    width, height, _ = png_pixels(png)
    assert width == 900 and height < 400  # a strip is low


# --- plain data: folded axes, ties, unfinished points (no service needed)

FOLDED_AXES: dict[str, list[Any]] = {
    "learning_rate": [0.1, 1.0],
    "seed": [0, 1, 2],
    "activation": ["tanh", "erf", "arctan"],
}


def folded_outcomes() -> list[tuple[dict[str, Any], str | None]]:
    """Points of the 2×3×3 grid above: activation (3) and seed (3) are drawn, the rate folded.

    Cells (seed, activation): (0, tanh) has logarithmic twice; (0, erf) a tie between
    power_law and logarithmic; (1, tanh) one failed run and one unstable; (2, arctan) nothing
    yet; every other cell one undetermined point.
    """
    out: list[tuple[dict[str, Any], str | None]] = [
        ({"learning_rate": 0.1, "seed": 0, "activation": "tanh"}, "logarithmic"),
        ({"learning_rate": 1.0, "seed": 0, "activation": "tanh"}, "logarithmic"),
        ({"learning_rate": 0.1, "seed": 0, "activation": "erf"}, "power_law"),
        ({"learning_rate": 1.0, "seed": 0, "activation": "erf"}, "logarithmic"),
        ({"learning_rate": 0.1, "seed": 1, "activation": "tanh"}, None),
        ({"learning_rate": 1.0, "seed": 1, "activation": "tanh"}, "unstable"),
    ]
    for seed, activation in [(0, "arctan"), (1, "erf"), (1, "arctan"), (2, "tanh"), (2, "erf")]:
        params = {"learning_rate": 0.1, "seed": seed, "activation": activation}
        out.append((params, "undetermined"))
    return out


def test_folded_cells_take_the_most_common_verdict_ties_in_table_order() -> None:
    cells = phase_cells(FOLDED_AXES, folded_outcomes())
    assert (cells.x_axis, cells.y_axis, cells.folded) == ("seed", "activation", ("learning_rate",))
    tanh, erf, arctan = cells.verdicts
    assert tanh == ["logarithmic", "unstable", "undetermined"]  # unstable is listed before failed
    assert erf == ["logarithmic", "undetermined", "undetermined"]  # logarithmic before power_law
    assert arctan == ["undetermined", "undetermined", None]
    assert cells.counts == {
        "logarithmic": 3, "power_law": 1, "unstable": 1, "undetermined": 5, "failed": 1,
    }  # fmt: skip


def test_unfinished_and_folded_are_said_in_the_figure() -> None:
    snapshot = StudySnapshot(
        study_id="f" * 32,
        name=None,
        status="running",
        base=TRAIN_REQUEST.validate_python({"dataset": SCALAR, "steps": 1000}),
        axes=FOLDED_AXES,
        log_axes=frozenset(),
        outcomes=folded_outcomes(),
        total=18,
    )
    svg = render_study(snapshot, ImageFormat.SVG)
    labels = texts(svg)
    caption = " ".join(labels)
    assert "11 of 18 points finished (1 failed)" in caption
    assert "most common verdict over the other axes (learning_rate; 2 points per cell" in caption
    assert "Hatched cells: no point finished yet." in caption
    assert "not finished (7)" in labels and "failed (1)" in labels
    assert {"not-finished", "verdict-not-finished", "verdict-failed"} <= set(ids(svg_tree(svg)))
    figure = draw_study(snapshot)
    assert len(figure.axes) == 1


def test_openapi_declares_the_images_and_the_404(studies: tuple[TestClient, str, str]) -> None:
    client, _, _ = studies
    operation = client.get("/openapi.json").json()["paths"]["/figures/studies/{study_id}"]["get"]
    assert operation["operationId"] == "figure_study"
    assert set(operation["responses"]["200"]["content"]) == {"image/svg+xml", "image/png"}
    assert "application/problem+json" in operation["responses"]["404"]["content"]
