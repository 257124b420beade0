"""``learndyn warmup`` runs every descent path (the Dockerfile runs it at build time)."""

from __future__ import annotations

import pytest

from service.cli import main
from service.core.warmup import warm_up


def test_warm_up_runs_every_activation_method_and_order() -> None:
    # 4 activations × (gd + online in the given and in shuffled order)
    assert warm_up(steps=2) == 4 * 3


def test_cli_warmup(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["warmup"]) == 0
    assert capsys.readouterr().out == "learndyn warmup: 12 runs\n"
