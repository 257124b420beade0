"""Studies on an existing Dask cluster (LEARNDYN_DASK_SCHEDULER): the rows equal /train's.

The test starts ``dask scheduler`` and two ``dask worker`` processes (one thread each) on
loopback, each in a session of its own, and stops all three by their PIDs at the end; the
app runs in process with ``Settings(dask_scheduler=...)`` and so starts no LocalCluster.
``--no-dashboard`` alone still serves HTTP (metrics, health) on every interface: the
``--dashboard-address`` keeps that on loopback too.
"""

from __future__ import annotations

import os
import socket
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from service.app import create_app
from service.settings import Settings
from tests.conftest import free_port, strict_json, wait_until_ready
from tests.studies.support import (
    all_rows,
    assert_row_is_train,
    children,
    cmdline,
    point_request,
    start,
    stop,
    submit,
    wait_until_ended,
)

DASK = str(Path(sys.executable).with_name("dask"))
"""The dask command line of the test's virtualenv."""
ROOT = Path(__file__).resolve().parents[2]
ENV = {"PYTHONPATH": str(ROOT)}
"""So the scheduler can unpickle :func:`run_batch_tasks` (``tests`` is not installed)."""

BASE = {"dataset": {"inputs": [[1.0], [3.0]], "targets": [1, -1]}, "steps": 20_000}
SWEEP = {
    "kind": "sweep",
    "base": BASE,
    "grid": {
        "learning_rate": {"log_range": [0.05, 0.5, 3]},
        "seed": {"range": [0, 2]},
        "activation": ["tanh", "erf"],
    },
}
TOTAL = 12


def listening(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.5)
        return s.connect_ex(("127.0.0.1", port)) == 0


@pytest.fixture(scope="module")
def scheduler(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The address of a Dask scheduler with two registered workers, all on loopback."""
    from distributed import Client

    tmp = tmp_path_factory.mktemp("dask")
    port = free_port()
    address = f"tcp://127.0.0.1:{port}"
    processes = []
    try:
        processes.append(
            start(
                [DASK, "scheduler", "--host", "127.0.0.1", "--port", str(port), "--no-dashboard",
                 "--dashboard-address", "127.0.0.1:0"],
                ENV, tmp / "scheduler.log", cwd=tmp,
            )
        )  # fmt: skip
        deadline = time.monotonic() + 60
        while not listening(port):
            assert processes[0].poll() is None, (tmp / "scheduler.log").read_text()
            assert time.monotonic() < deadline, "the scheduler did not listen"
            time.sleep(0.1)
        for k in range(2):
            processes.append(
                start(
                    [DASK, "worker", address, "--nthreads", "1", "--no-dashboard",
                     "--dashboard-address", "127.0.0.1:0", "--host", "127.0.0.1",
                     "--local-directory", str(tmp / f"worker-{k}")],
                    ENV, tmp / f"worker-{k}.log", cwd=tmp,
                )
            )  # fmt: skip
        with Client(address, timeout="30s") as client:
            client.wait_for_workers(2, timeout=120)
        yield address
    finally:
        for process in reversed(processes):  # workers first, then the scheduler
            stop(process)


def spawned() -> set[int]:
    """The worker processes this test process has spawned (a LocalCluster's would be)."""
    return {pid for pid in children(os.getpid()) if "spawn_main" in cmdline(pid)}


def run_batch_tasks(dask_scheduler: Any) -> int:
    """On the scheduler: how many ``run_batch`` tasks reached memory (finished)."""
    prefix = dask_scheduler.task_prefixes.get("run_batch")
    return 0 if prefix is None else int(prefix.state_counts["memory"])


def test_a_sweep_on_an_existing_cluster_equals_train(scheduler: str, tmp_path: Path) -> None:
    from distributed import Client

    settings = Settings(dask_scheduler=scheduler, data_dir=str(tmp_path))
    before = spawned()
    with TestClient(create_app(settings)) as client:
        wait_until_ready(client)
        location = submit(client, SWEEP)
        ended = wait_until_ended(client, location, 120)
        assert spawned() == before  # no LocalCluster of its own
        assert ended["status"] == "done", ended
        assert ended["progress"] == {"done": TOTAL, "total": TOTAL, "failed": 0}
        rows = all_rows(client, location)
        assert [row["index"] for row in rows] == list(range(TOTAL))
        for row in rows:
            r = client.post("/train", json=point_request(BASE, row["params"]))
            assert r.status_code == 200, r.text
            assert_row_is_train(row, strict_json(r.text))
    # the points ran on that cluster's workers
    with Client(scheduler, timeout="30s") as dask:
        assert dask.run_on_scheduler(run_batch_tasks) >= 2  # two batches per worker at least
        assert len(dask.scheduler_info(n_workers=-1)["workers"]) == 2
