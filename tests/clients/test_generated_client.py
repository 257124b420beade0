"""A client generated from the committed openapi.json by openapi-python-client works.

The generator runs here (offline) with the configuration the README gives: the figure
types mapped to ``application/octet-stream``, which is how openapi-python-client is told that
a response is bytes (it knows JSON, text and octet-stream only; the schema declares the
figures' real types, ``image/svg+xml`` and ``image/png``, as binary strings). The generated
package then talks to a live server: typed answers for /train, /minima and /separability, a
parsed ``Problem`` for a 422, the image bytes for a figure.
"""

from __future__ import annotations

import importlib
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = "learndyn_generated"
CONFIG = f"""\
package_name_override: {PACKAGE}
post_hooks: []
content_type_overrides:
  image/svg+xml: application/octet-stream
  image/png: application/octet-stream
"""


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ModuleType]:
    """The client package generated from openapi.json, importable."""
    where = tmp_path_factory.mktemp("generated")
    config = where / "config.yaml"
    config.write_text(CONFIG)
    done = subprocess.run(
        [
            str(Path(sys.executable).with_name("openapi-python-client")),
            "generate",
            "--path",
            str(ROOT / "openapi.json"),
            "--meta",
            "none",
            "--output-path",
            str(where / PACKAGE),
            "--config",
            str(config),
            "--fail-on-warning",
        ],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    sys.path.insert(0, str(where))
    try:
        yield importlib.import_module(PACKAGE)
    finally:
        sys.path.remove(str(where))
        for name in [n for n in sys.modules if n.split(".")[0] == PACKAGE]:
            del sys.modules[name]


def api(name: str) -> Any:
    return importlib.import_module(f"{PACKAGE}.api.{name}")


def models() -> Any:
    return importlib.import_module(f"{PACKAGE}.models")


def test_the_generated_client_gets_typed_answers_problems_and_bytes(
    generated: ModuleType, live_server: str
) -> None:
    m = models()
    client = generated.Client(base_url=live_server, raise_on_unexpected_status=True)
    plus, minus = m.DatasetTargetsItem(1), m.DatasetTargetsItem(-1)  # targets are ±1 only
    with client:
        dataset = m.Dataset(inputs=[[1.0]], targets=[plus])
        answer = api("training.train").sync(
            client=client, body=m.GdRequest(dataset=dataset, steps=1000)
        )
        assert isinstance(answer, m.TrainResponse)
        assert answer.steps == 1000 and answer.stopped_by == m.StopReason.STEPS
        # 422 for a rule the schema cannot state (rows of different lengths): a Problem
        ragged = m.Dataset(inputs=[[1.0], [1.0, 2.0]], targets=[plus, minus])
        problem = api("training.train").sync(client=client, body=m.GdRequest(dataset=ragged))
        assert isinstance(problem, m.Problem)
        assert problem.status == 422 and problem.errors[0].field == "dataset.inputs"
        flow = m.FlowRequest(dataset=dataset, method="flow", t_max=100.0)
        assert api("training.train").sync(client=client, body=flow).stopped_by == m.StopReason.T_MAX
        landscape = api("landscape.minima").sync(
            client=client,
            body=m.MinimaRequest(dataset=m.Dataset(inputs=[[1.0], [3.0]], targets=[plus, minus])),
        )
        assert isinstance(landscape, m.MinimaResponse) and landscape.global_minimum is not None
        facts = api("separability.separability").sync(
            client=client, body=m.SeparabilityRequest(dataset=dataset)
        )
        assert isinstance(facts, m.SeparabilityResponse) and facts.strictly_separable is True
        figure = api("figures.figure_train").sync(
            client=client, body=m.FigureGdRequest(dataset=dataset, steps=100)
        )
        svg = figure.payload.read()
        assert svg.startswith(b"<?xml") and b"<svg" in svg[:500]
        png = api("figures.figure_paper").sync(client=client, number=2, format_=m.ImageFormat.PNG)
        assert png.payload.read().startswith(b"\x89PNG\r\n\x1a\n")
