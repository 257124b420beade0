"""Running studies on Dask: the cluster, the batches, the rows coming back, cancel and resume.

One :class:`StudyRunner` per service process. Its Dask client is made on first need: an
in-process ``LocalCluster`` of worker *processes* (``LEARNDYN_STUDY_WORKERS``, one per core by
default; one thread each, since a run keeps a core busy), or, with
``LEARNDYN_DASK_SCHEDULER=tcp://host:port``, the existing cluster there — the same code path.
Each worker is warmed once (the kernel compiled or loaded from the service's cache
directory) before any point runs.

A study runs in a thread of its own (at most ``LEARNDYN_MAX_RUNNING_STUDIES`` at once; the
rest wait, queued): it claims the study in the store, submits the points not yet stored in
batches (:data:`~service.studies.worker.BATCH_SECONDS` of work each, and at least two batches
per worker so none idles), and stores each batch's rows as its future completes. The workers
never write to the database. Cancel sets the study's :class:`distributed.Event` (the workers
stop at their next kernel chunk) and cancels the futures not started; the rows finished
before stay. A heartbeat thread keeps the claims fresh; on start-up, and every few seconds,
the runner takes over the unfinished studies whose runner has gone quiet (a killed service),
and runs only their missing points — runs are deterministic, so the rows equal an
uninterrupted run's.
"""

from __future__ import annotations

import logging
import math
import os
import socket
import threading
import uuid
from collections.abc import Iterator
from typing import Any

from service.core.budget import Budget
from service.settings import Settings
from service.specs import training_spec
from service.studies.grid import point
from service.studies.store import Store
from service.studies.worker import BATCH_SECONDS, estimated_seconds, run_batch, warm_worker
from service.vocabulary import StudyKind, StudyStatus

logger = logging.getLogger("learndyn.studies")

HEARTBEAT_SECONDS = 2.0
"""How often the runner refreshes the claims of its studies (well inside STALE_AFTER)."""
RESUME_SECONDS = 5.0
"""How often the runner looks for unfinished studies nobody runs."""


def cancel_event_name(study_id: str) -> str:
    return f"learndyn-cancel-{study_id}"


class StudyRunner:
    """Runs studies on a Dask cluster and stores their rows (see the module docstring)."""

    def __init__(self, store: Store, settings: Settings, budget: Budget) -> None:
        self.store = store
        self.settings = settings
        self.budget = budget
        self.runner_id = f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:8]}"
        self._client: Any = None
        self._cluster: Any = None
        self._lock = threading.Lock()
        self._slots = threading.Semaphore(settings.max_running_studies)
        self._running: dict[str, threading.Thread] = {}
        self._stopping = threading.Event()
        self._background = threading.Thread(target=self._watch, name="studies", daemon=True)
        self._background.start()

    # --- the cluster

    def client(self) -> Any:
        """The Dask client, connecting (or starting the local cluster) on first use."""
        with self._lock:
            if self._client is not None:
                return self._client
            from distributed import Client, LocalCluster

            if self.settings.dask_scheduler:
                client = Client(self.settings.dask_scheduler, timeout="30s")
            else:
                self._cluster = LocalCluster(
                    n_workers=self.settings.study_workers,
                    threads_per_worker=1,
                    processes=True,
                    # a free loopback port: the scheduler serves HTTP (health, metrics) even
                    # without the dashboard, on 8787 by default, which another cluster may hold
                    dashboard_address="127.0.0.1:0",
                    host="127.0.0.1",
                )
                client = Client(self._cluster)
            client.run(warm_worker, self.settings.numba_cache_dir or None)
            self._client = client
            return client

    def workers(self) -> int:
        return max(1, len(self.client().scheduler_info(n_workers=-1)["workers"]))

    # --- studies

    def start(self, study_id: str) -> None:
        """Run the study in a thread of its own (a no-op when it runs already here)."""
        with self._lock:
            thread = self._running.get(study_id)
            if thread is not None and thread.is_alive():
                return
            thread = threading.Thread(
                target=self._run, args=(study_id,), name=f"study-{study_id}", daemon=True
            )
            self._running[study_id] = thread
        thread.start()

    def cancel(self, study_id: str) -> bool:
        """Mark the study cancelled and tell its workers; False when it had ended."""
        cancelled = self.store.cancel(study_id)
        if cancelled and self._client is not None:
            from distributed import Event

            Event(cancel_event_name(study_id), client=self._client).set()
        return cancelled

    def close(self) -> None:
        """Stop looking for work, let the studies' threads notice, and shut the cluster."""
        self._stopping.set()
        with self._lock:
            threads = list(self._running.values())
        for thread in threads:
            thread.join(timeout=2.0)
        with self._lock:
            if self._client is not None:
                self._client.close()
            if self._cluster is not None:
                self._cluster.close()
            self._client = self._cluster = None

    def _watch(self) -> None:
        """Heartbeats for the studies running here; resume the ones nobody runs."""
        waited = RESUME_SECONDS
        while not self._stopping.wait(HEARTBEAT_SECONDS):
            with self._lock:
                mine = [sid for sid, t in self._running.items() if t.is_alive()]
            for study_id in mine:
                self.store.beat(study_id, self.runner_id)
                if self._client is not None and self._cancelled(study_id):
                    # cancelled through another instance: tell the workers from here
                    from distributed import Event

                    Event(cancel_event_name(study_id), client=self._client).set()
            waited += HEARTBEAT_SECONDS
            if waited >= RESUME_SECONDS:
                waited = 0.0
                self.resume()

    def resume(self) -> None:
        """Start every unfinished study whose runner has gone quiet."""
        try:
            for study_id in self.store.unfinished():
                if study_id not in self._running or not self._running[study_id].is_alive():
                    self.start(study_id)
        except Exception:  # a passing database error: try again at the next round
            logger.exception("looking for unfinished studies failed")

    def _run(self, study_id: str) -> None:
        with self._slots:
            if self._stopping.is_set() or not self.store.claim(study_id, self.runner_id):
                return
            try:
                status = self._run_points(study_id)
            except Exception as error:
                if self._stopping.is_set():  # the cluster closed under it: resume next start
                    return
                # the study itself broke: say why, keep the rows
                logger.exception("study %s failed", study_id)
                self.store.finish(study_id, StudyStatus.FAILED, f"{type(error).__name__}: {error}")
                return
            if status is not None:
                self.store.finish(study_id, status)

    def _run_points(self, study_id: str) -> StudyStatus | None:
        """Submit the missing points in batches and store the rows as they come; the final
        status (None when the service is stopping: the study stays for the next start)."""
        from distributed import as_completed

        record = self.store.study(study_id)
        if record is None:
            return None
        base, axes = record.spec["base"], record.axes
        identify = record.kind == StudyKind.CENSUS
        factors = record.spec["factors"] if record.kind == StudyKind.EXTRAPOLATION else None
        relax = record.kind == StudyKind.RELAXATION
        done = self.store.done_indices(study_id)
        todo = [k for k in range(record.total) if k not in done]
        if todo:
            client = self.client()
            budget = (
                self.budget.max_cells,
                self.budget.max_work,
                self.budget.max_record_points,
                self.budget.compute_seconds,
                self.budget.max_answer_numbers,
                self.budget.max_recorded,
            )
            event = cancel_event_name(study_id)
            futures = [
                client.submit(
                    run_batch,
                    base,
                    axes,
                    batch,
                    budget,
                    event,
                    identify,
                    factors,
                    relax,
                    pure=False,
                )
                for batch in self._batches(base, axes, todo, factors)
            ]
            for future in as_completed(futures):
                self.store.add_rows(study_id, future.result())
                if self._stopping.is_set() or self._cancelled(study_id):
                    client.cancel(futures)
                    break
        if self._cancelled(study_id):
            return StudyStatus.CANCELLED
        if self._stopping.is_set() and len(self.store.done_indices(study_id)) < record.total:
            return None
        return StudyStatus.DONE

    def _cancelled(self, study_id: str) -> bool:
        record = self.store.study(study_id)
        return record is None or record.status == StudyStatus.CANCELLED

    def _batches(
        self,
        base: dict[str, Any],
        axes: dict[str, list[Any]],
        todo: list[int],
        factors: list[float] | None = None,
    ) -> Iterator[list[int]]:
        """The points in batches of at most BATCH_SECONDS of work, shrinking towards the end
        (guided scheduling: each batch at most the remaining work over twice the workers), so
        that no worker is left with a long batch while the others idle. The cost of a point is
        estimated from up to 16 points spread over the grid (axes may change it); an
        extrapolation's points count their runs to c·T."""
        sample = todo[:: max(1, len(todo) // 16)][:16]
        seconds = sum(
            estimated_seconds(training_spec(point(base, axes, k).request), factors) for k in sample
        ) / len(sample)
        largest = max(1, math.floor(BATCH_SECONDS / seconds))
        workers = self.workers()
        start = 0
        while start < len(todo):
            size = min(largest, max(1, math.ceil((len(todo) - start) / (2 * workers))))
            yield todo[start : start + size]
            start += size
