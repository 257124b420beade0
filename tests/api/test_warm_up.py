"""Start-up: the kernel warm-up runs off the event loop, and /readyz waits for it."""

from __future__ import annotations

import threading
import time

import pytest
from fastapi.testclient import TestClient

from service.app import create_app
from service.core.engine.warmup import warm_up
from service.core.errors import LimitExceeded
from service.settings import Settings
from tests.conftest import wait_until_ready


def test_readyz_is_503_until_the_warm_up_has_finished() -> None:
    app = create_app(Settings())
    started, release = threading.Event(), threading.Event()

    def slow_warm_up() -> None:
        started.set()
        assert release.wait(60)
        warm_up()

    app.state.warm_up = slow_warm_up
    with TestClient(app) as client:
        assert started.wait(60)
        r = client.get("/readyz")
        assert r.status_code == 503 and r.json()["ready"] is False
        # the event loop is free while the warm-up thread works
        assert client.get("/healthz").json() == {"status": "ok"}
        release.set()
        wait_until_ready(client)
        assert client.get("/readyz").json() == {"ready": True, "detail": "ready"}


def test_a_failed_warm_up_never_reports_ready() -> None:
    app = create_app(Settings())

    def broken() -> None:
        raise RuntimeError("no compiler")

    app.state.warm_up = broken
    with TestClient(app) as client:
        for _ in range(20):
            assert client.get("/readyz").status_code == 503
            time.sleep(0.01)


def test_the_numba_cache_dir_is_a_setting() -> None:
    assert Settings.from_env({}).numba_cache_dir == ""
    env = {"LEARNDYN_NUMBA_CACHE_DIR": "/var/cache/learndyn"}
    assert Settings.from_env(env).numba_cache_dir == "/var/cache/learndyn"


def test_the_default_work_budget_allows_1e8_steps_at_n4_m3() -> None:
    budget = Settings().budget()
    budget.check_work(10**8, 4, 3)  # 1.2e9 ≤ 2e9
    with pytest.raises(LimitExceeded, match="steps·n·m = 200000000·4·3"):
        budget.check_work(2 * 10**8, 4, 3)


def test_cli_warmup_compiles_the_kernel(capsys: pytest.CaptureFixture[str]) -> None:
    from service.cli import main

    assert main(["warmup"]) == 0
    from service.core.engine import kernel

    said = capsys.readouterr().out
    cached = kernel.kernels().cache_dir
    assert said == f"learndyn warmup: the descent kernel is compiled and cached in {cached}\n"
