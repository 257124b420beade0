"""Measure a census of minima as a study (POST /studies on Dask) against the same census in
one process; print the figures.

    .venv/bin/python benchmarks/bench_census.py            # K = 1000 (4-6 minutes a round)
    .venv/bin/python benchmarks/bench_census.py --quick    # K = 200, a ceiling of 64 starts

The problem is issue 19's: a census of K = 1000 starts on a 2-weight problem, the product
problem (m = 2, no bias: inputs (1, 0), (3, 0), (0, 2), (0, −0.5), (0, −0.5), targets all
+1; tanh, gd, η = 0.05, 10⁵ steps, starts over [−3, 3]²). Every run that ends
``undetermined`` is run once more, longer (the census's rule: 10× its steps or the verdict's
own ``steps_to_decide``, within the budget), so the cost per start varies by orders of
magnitude between starts.

The service runs as a real process (``python -m service serve`` on a free loopback port, its
studies on an in-process LocalCluster of ``--workers`` worker processes, its SQLite database
in a temporary directory), as in ``bench_studies.py``; a small census first starts the
cluster. Measured:

1. The study: the server's time, from the record's ``created`` to its ``finished``, and the
   client's, from the POST to the first GET /studies/{id} that answers ``done`` (the event
   stream is followed until every row is in, then left); per start, each over K. The
   workers' busy fraction is Σ of the rows' seconds over workers × the study's time; the
   rows run again longer (their ``steps`` past the request's) are counted, with their share
   of the rows' seconds. With ``--rounds``, the in-process census and the study alternate
   and the best of each is shown.
2. The summary: GET /studies/{id} once every row is in — the first call clusters the K
   endpoints, polishes and differentiates every finite minimum (the service caches it per
   count of rows), the second is the cached answer; one GET while the study runs (about half
   of the rows in) for comparison; and GET /figures/studies/{id} (m = 2: E's contour map with
   the basins; drawn once, then again).
3. The same census in this process through ``service.core.census.census`` with the kernel
   warm (the starts and the /train spec built exactly as the service builds them,
   ``service.studies.census.plan``), its time split into the runs and the summary; the
   ratio in-process time / study time is the speed-up on ``--workers`` workers.
4. The check: the study's minima equal the in-process census's (the same distinct minima,
   location, hits and error of each, to the last bit; the same unresolved runs).

The machine may be shared: the load average is printed with each figure, the in-process
census's CPU time against its wall time says how much of a core it had, and each round first
measures the machine's ceiling as ``bench_studies.py`` does: the census's first ``--ceiling``
starts in one plain process against the same starts dealt out to ``--workers`` plain
processes started together (no Dask, no service), t₁/t_w — 2.0 when two cores are free.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import numpy as np

import service.core.census as core_census
from service.core.analysis.census import Census
from service.core.engine.warmup import warm_up
from service.schemas.studies import CensusRequest
from service.schemas.train import TRAIN_REQUEST
from service.settings import Settings
from service.specs import training_spec
from service.studies.census import plan

ROOT = Path(__file__).resolve().parents[1]

PRODUCT = {
    "inputs": [[1.0, 0.0], [3.0, 0.0], [0.0, 2.0], [0.0, -0.5], [0.0, -0.5]],
    "targets": [1, 1, 1, 1, 1],
}
"""The product problem: E(w₁, w₂) is a sum of a w₁ part and a w₂ part (m = 2, no bias)."""


def census_body(starts: int, *, steps: int = 100_000, name: str = "benchmark: census") -> dict:
    return {
        "kind": "census",
        "name": name,
        "dataset": PRODUCT,
        "starts": starts,
        "init": 3.0,
        "steps": steps,
        "learning_rate": 0.05,
    }


# --- the same census in this process


@dataclass(frozen=True, slots=True)
class InProcess:
    seconds: float
    cpu: float
    summary_seconds: float
    census: Census


def in_process(body: dict[str, Any]) -> InProcess:
    """The census of ``body`` run here through ``service.core.census.census``, its starts and
    spec as the service plans them; the summary (clustering, polishing) timed apart."""
    base, axes = plan(CensusRequest.model_validate(body))
    spec = training_spec(TRAIN_REQUEST.validate_python(base))
    starts = np.asarray(axes["initial_weights"], dtype=np.float64)
    summarize = core_census.summarize
    spent: list[float] = []

    def timed(*args: Any, **kwargs: Any) -> Census:
        t0 = time.perf_counter()
        try:
            return summarize(*args, **kwargs)
        finally:
            spent.append(time.perf_counter() - t0)

    core_census.summarize = timed  # type: ignore[assignment]
    try:
        t0, c0 = time.perf_counter(), time.process_time()
        found = core_census.census(spec, starts, Settings().budget())
        seconds, cpu = time.perf_counter() - t0, time.process_time() - c0
    finally:
        core_census.summarize = summarize  # type: ignore[assignment]
    return InProcess(seconds, cpu, sum(spent), found)


def _ceiling_worker(body: dict[str, Any], indices: list[int], go: Any, out: Any) -> None:
    """A plain process: warm, wait for ``go``, run the census's starts ``indices``, report."""
    base, axes = plan(CensusRequest.model_validate(body))
    spec = training_spec(TRAIN_REQUEST.validate_python(base))
    starts = np.asarray(axes["initial_weights"], dtype=np.float64)[indices]
    warm_up()
    go.wait()
    t0 = time.perf_counter()
    core_census.census(spec, starts, Settings().budget())
    out.put(time.perf_counter() - t0)


def parallel_ceiling(body: dict[str, Any], workers: int, count: int) -> float:
    """What this machine allows: the census's first ``count`` starts in one plain process
    against the same starts dealt out to ``workers`` plain processes started together (no
    Dask, no service), t₁/t_w — near ``workers`` on an idle machine, less when neighbours
    take their share."""
    import multiprocessing

    context = multiprocessing.get_context("spawn")

    def run(copies: int) -> float:
        go, out = context.Event(), context.Queue()
        procs = [
            context.Process(
                target=_ceiling_worker, args=(body, list(range(k, count, copies)), go, out)
            )
            for k in range(copies)
        ]
        for proc in procs:
            proc.start()
        time.sleep(3.0)  # each warms its kernel before the start
        t0 = time.perf_counter()
        go.set()
        for _ in procs:
            out.get()
        seconds = time.perf_counter() - t0
        for proc in procs:
            proc.join()
        return seconds

    return run(1) / run(workers)


# --- the service


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_server(port: int, data_dir: str, workers: int) -> subprocess.Popen[bytes]:
    env = {**os.environ, "LEARNDYN_DATA_DIR": data_dir, "LEARNDYN_STUDY_WORKERS": str(workers)}
    return subprocess.Popen(
        [sys.executable, "-m", "service", "serve", "--host", "127.0.0.1", "--port", str(port)],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip


def wait_ready(client: httpx.Client) -> None:
    deadline = time.monotonic() + 300
    while True:
        try:
            if client.get("/readyz").status_code == 200:
                return
        except httpx.TransportError:
            pass
        if time.monotonic() > deadline:
            raise RuntimeError("the service did not get ready")
        time.sleep(0.05)


@dataclass(frozen=True, slots=True)
class StudyTimes:
    """Seconds: the server's created → finished; from the POST to every row in (the event
    stream) and to the first GET answering done; the first and the cached GET once every row
    is in; one GET while running (nan if the study ended first); the figure, drawn and
    again; and the study as the first done GET answered it."""

    server: float
    rows_in: float
    client: float
    first_get: float
    cached_get: float
    running_get: float
    running_done: int
    figure: float
    figure_again: float
    study: dict[str, Any]


def timed_get(client: httpx.Client, url: str) -> tuple[float, httpx.Response]:
    t0 = time.perf_counter()
    r = client.get(url)
    seconds = time.perf_counter() - t0
    assert r.status_code == 200, r.text
    return seconds, r


def run_census(client: httpx.Client, body: dict[str, Any]) -> StudyTimes:
    """Submit ``body``, follow its progress until every row is in, then time the GETs."""
    t0 = time.perf_counter()
    r = client.post("/studies", json=body)
    assert r.status_code == 202, r.text
    study_id = r.json()["id"]
    url = f"/studies/{study_id}"
    running_get, running_done, looked = float("nan"), 0, False
    event, rows_in = "", float("nan")
    # the stream's progress events read the record alone; left before its end event (which
    # would compute the summary) as soon as every row is in
    with client.stream("GET", f"{url}/events", timeout=None) as stream:
        for line in stream.iter_lines():
            if line.startswith("event:"):
                event = line.partition(":")[2].strip()
            elif line.startswith("data:"):
                data = json.loads(line.partition(":")[2])
                if event == "end":
                    rows_in = time.perf_counter() - t0
                    break
                if event != "progress":
                    continue
                if data["done"] >= data["total"]:
                    rows_in = time.perf_counter() - t0
                    break
                if not looked and data["done"] >= data["total"] // 2:
                    looked = True
                    running_get, seen = timed_get(client, url)
                    running_done = seen.json()["progress"]["done"]
    first_get, seen = timed_get(client, url)
    study = seen.json()
    while study["status"] in ("queued", "running"):  # every row in, not yet marked done
        time.sleep(0.02)
        study = client.get(url).json()
    client_seconds = time.perf_counter() - t0
    assert study["status"] == "done", study
    cached_get, _ = timed_get(client, url)
    figure, _ = timed_get(client, f"/figures{url}")
    figure_again, _ = timed_get(client, f"/figures{url}")
    server = (
        datetime.fromisoformat(study["finished"]) - datetime.fromisoformat(study["created"])
    ).total_seconds()
    return StudyTimes(
        server, rows_in, client_seconds, first_get, cached_get, running_get, running_done,
        figure, figure_again, study,
    )  # fmt: skip


@dataclass(frozen=True, slots=True)
class Rows:
    """Σ of the rows' wall seconds (each row's runs, the longer one included); how many rows
    were run again longer (their ``steps`` beyond the request's) and their seconds."""

    seconds: float
    longer: int
    longer_seconds: float


def row_stats(client: httpx.Client, study_id: str, total: int, steps: int) -> Rows:
    seconds, longer, longer_seconds, offset = 0.0, 0, 0.0, 0
    while offset < total:
        page = client.get(
            f"/studies/{study_id}/results", params={"offset": offset, "limit": 1000}
        ).json()
        for row in page["rows"]:
            seconds += row["seconds"]
            if (row["steps"] or 0) > steps:
                longer += 1
                longer_seconds += row["seconds"]
        offset += len(page["rows"])
    return Rows(seconds, longer, longer_seconds)


# --- the check


def same_minima(summary: dict[str, Any], found: Census) -> list[str]:
    """Where the study's census differs from the in-process one (empty: nowhere)."""
    out = []
    for field in ("distinct", "identified", "unresolved", "singletons", "doubletons"):
        if summary[field] != getattr(found, field):
            out.append(f"{field}: study {summary[field]}, in process {getattr(found, field)}")
    if summary["unresolved_reasons"] != found.unresolved_reasons:
        out.append(
            f"unresolved_reasons: study {summary['unresolved_reasons']}, in process "
            f"{found.unresolved_reasons}"
        )
    for k, (a, b) in enumerate(zip(summary["minima"], found.minima, strict=False)):
        mine = (b.location.value, b.hits, b.error)
        theirs = (a["location"], a["hits"], a["error"])
        if mine != theirs:
            out.append(f"minimum {k}: study {theirs}, in process {mine}")
    return out


# --- the report


def print_minima(found: Census) -> None:
    print(f"   {'#':>3} {'location':>9} {'error':>20} {'hits':>5} {'basin':>6}  where")
    for k, m in enumerate(found.minima):
        if m.weights is not None:
            where = "x = (" + ", ".join(f"{w:.4g}" for w in m.weights) + ")"
        else:
            assert m.direction is not None and m.outputs is not None
            where = (
                "d = (" + ", ".join(f"{w:.3g}" for w in m.direction) + "), outputs ("
                + ", ".join(f"{o:.3g}" for o in m.outputs) + ")"
            )  # fmt: skip
        print(
            f"   {k:>3} {m.location.value:>9} {m.error!r:>20} {m.hits:>5} "
            f"{m.basin_fraction:6.3f}  {where}"
        )
    lo, hi = found.estimated_interval
    print(
        f"   {found.distinct} distinct, {found.identified} runs identified, {found.unresolved} "
        f"unresolved {found.unresolved_reasons}; estimated total {found.estimated_total:.3g} "
        f"(95% {lo:.3g}-{hi:.3g}), coverage {found.coverage:.3f}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="K = 200, one round")
    parser.add_argument("--starts", type=int, default=1000, help="K [%(default)s]")
    parser.add_argument("--workers", type=int, default=2, help="Dask workers [%(default)s]")
    parser.add_argument("--rounds", type=int, default=1, help="rounds, alternately [%(default)s]")
    parser.add_argument(
        "--ceiling", type=int, default=200, help="starts of the ceiling's runs [%(default)s]"
    )
    args = parser.parse_args()
    k = 200 if args.quick else args.starts
    rounds = 1 if args.quick else args.rounds
    args.ceiling = min(k, 64 if args.quick else args.ceiling)
    body = census_body(k)
    print(
        f"learndyn census benchmark; {os.cpu_count()} CPUs, {args.workers} Dask workers; load "
        f"average {os.getloadavg()[0]:.1f} (the machine may be shared: see the load column)"
    )
    print(
        f"census of K = {k} starts on the product problem (m = 2, n = 5, tanh, gd, eta = 0.05, "
        "10^5 steps, starts over [-3, 3]^2)"
    )
    t0 = time.perf_counter()
    warm_up()
    print(f"kernel warm-up in this process: {time.perf_counter() - t0:.2f} s")
    port = free_port()
    results: list[tuple[InProcess, StudyTimes, Rows]] = []
    ceilings: list[float] = []
    with tempfile.TemporaryDirectory(prefix="learndyn-bench-") as data_dir:
        server = start_server(port, data_dir, args.workers)
        try:
            with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=600) as client:
                wait_ready(client)
                t0 = time.perf_counter()
                cold = run_census(client, census_body(8, steps=1000, name="benchmark: warm-up"))
                print(
                    f"first census after start-up (K = 8, 10^3 steps; starts the cluster): "
                    f"{time.perf_counter() - t0:.2f} s (server {cold.server:.2f} s)"
                )
                for r in range(rounds):
                    ceiling = parallel_ceiling(body, args.workers, args.ceiling)
                    ceilings.append(ceiling)
                    mine = in_process(body)
                    load_mine = os.getloadavg()[0]
                    theirs = run_census(client, body)
                    busy = row_stats(client, theirs.study["id"], k, body["steps"])
                    results.append((mine, theirs, busy))
                    print(
                        f"round {r + 1}: in process {mine.seconds:.2f} s (load {load_mine:.1f}), "
                        f"study {theirs.server:.2f} s (load {os.getloadavg()[0]:.1f}); the "
                        f"machine's ceiling {ceiling:.2f}x"
                    )
        finally:
            server.terminate()
            server.wait(60)
    _, theirs, rows_of = min(results, key=lambda r: r[1].server)
    busy = rows_of.seconds
    mine = min((r[0] for r in results), key=lambda r: r.seconds)
    best_mine = mine.seconds
    summary = theirs.study["summary"]
    print("\nthe census found (in process; the study's are checked against these below)")
    print_minima(mine.census)
    w = args.workers
    print(f"\n{'':<46} {'seconds':>9} {'per start':>10}")
    rows = [
        ("in process: the census (runs + summary)", best_mine),
        ("in process: of which the summary", mine.summary_seconds),
        ("study: server, created -> finished", theirs.server),
        ("study: client, POST -> every row in", theirs.rows_in),
        ("study: client, POST -> GET answers done", theirs.client),
    ]
    for label, seconds in rows:
        print(f"{label:<46} {seconds:9.3f} {seconds / k * 1e3:7.1f} ms")
    print(
        f"{'GET /studies/{id}, every row in, first call':<46} {theirs.first_get:9.3f}\n"
        f"{'GET /studies/{id}, cached second call':<46} {theirs.cached_get:9.3f}\n"
        f"{f'GET /studies/{{id}} while running ({theirs.running_done} rows)':<46} "
        f"{theirs.running_get:9.3f}\n"
        f"{'GET /figures/studies/{id}, first / again':<46} {theirs.figure:9.3f} / "
        f"{theirs.figure_again:.3f}"
    )
    print(
        f"speed-up on {w} workers: in process / study = {best_mine / theirs.server:.2f}x "
        f"(server), {best_mine / theirs.client:.2f}x (client); workers busy "
        f"{busy / (w * theirs.server):.0%} of the study's time (rows' seconds "
        f"{busy:.1f} s against {w} x {theirs.server:.2f} s)"
    )
    print(
        f"the machine's ceiling for the first {args.ceiling} starts (one plain process "
        f"against {w}): {min(ceilings):.2f}-{max(ceilings):.2f}x; the study reached "
        f"{best_mine / theirs.server / max(ceilings):.0%} of it"
    )
    print(
        f"runs rerun longer (undetermined after {body['steps']} steps): {rows_of.longer} of {k}, "
        f"{rows_of.longer_seconds / busy:.0%} of the rows' seconds"
    )
    print(
        f"in process: CPU {mine.cpu:.1f} s of {mine.seconds:.1f} s wall "
        f"({mine.cpu / mine.seconds:.0%} of a core)"
    )
    diffs = same_minima(summary, mine.census)
    if diffs:
        print("the study's census differs from the in-process one:")
        for line in diffs:
            print(f"   {line}")
        raise SystemExit(1)
    print(
        f"the study's census equals the in-process one: {summary['distinct']} distinct minima, "
        f"the same location, hits and error (to the last bit) of each, "
        f"{summary['unresolved']} unresolved runs"
    )


if __name__ == "__main__":  # Dask's worker processes start with spawn: keep main guarded
    main()
