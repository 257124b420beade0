"""Compute slots shared by every process of one service: N lock files, one flock each.

``LEARNDYN_COMPUTE_SLOTS`` is a budget per service, not per uvicorn worker: a computation
runs only while its process holds one of N slots, and every worker process of an instance
draws from the same N. A slot is an exclusive ``fcntl.flock`` on one of the files
``slot-0`` … ``slot-{N-1}`` in one directory (``LEARNDYN_SLOTS_DIR``; ``learndyn serve``
makes a fresh one for its workers and removes it on exit, an app on its own makes a private
one). Taking a slot tries each file with ``LOCK_NB`` and never blocks; the caller waits by
trying again (:class:`service.api.guards.SlotQueue` polls every few milliseconds, up to
``LEARNDYN_QUEUE_SECONDS``). Processes that share a directory must agree on N (they do when
they share the settings): one counting more files would use the extra ones alone.

Why flock and not a semaphore in shared memory: a lock belongs to the open file, so the
kernel releases it when its process dies — a worker killed by the supervisor (SIGKILL after a
missed health check) gives its slots back, where a POSIX semaphore it had decremented would
stay down for ever. flock works on local file systems (not reliably over NFS: keep the
directory on a local disk or a tmpfs).

Each process opens every file once and keeps it open; flock locks are per open file, so two
threads of one process could take the same lock twice through one descriptor: the process
therefore also keeps its own set of the slots it holds and tries only the others.
"""

from __future__ import annotations

import atexit
import fcntl
import os
import shutil
import tempfile
import threading
import weakref
from dataclasses import dataclass

SLOTS_DIR_VARIABLE = "LEARNDYN_SLOTS_DIR"


def export_slots_directory(configured: str) -> str:
    """For the process that starts the workers (``learndyn serve``): the slots' directory,
    ``configured`` or else a fresh one (removed when this process exits), exported as
    ``LEARNDYN_SLOTS_DIR`` for the worker processes to inherit."""
    if configured:
        return configured
    path = tempfile.mkdtemp(prefix="learndyn-slots-")
    atexit.register(shutil.rmtree, path, ignore_errors=True)
    os.environ[SLOTS_DIR_VARIABLE] = path
    return path


@dataclass(frozen=True, slots=True)
class Slot:
    """One slot held by this process: the index of its lock file."""

    index: int


class ComputeSlots:
    """``count`` slots in ``directory`` (None: a private temporary directory, removed when
    this object is collected). Files are opened on the first :meth:`try_acquire`."""

    def __init__(self, count: int, directory: str | None = None) -> None:
        if count < 1:
            raise ValueError(f"ComputeSlots: count must be at least 1; got {count}")
        self.count = count
        self._directory = directory
        self._files: list[int] = []
        self._held: set[int] = set()
        self._lock = threading.Lock()

    @property
    def directory(self) -> str:
        """Where the lock files are (created on first use)."""
        with self._lock:
            self._open()
            assert self._directory is not None
            return self._directory

    def try_acquire(self) -> Slot | None:
        """A free slot, now, or None when all ``count`` are held (by any process)."""
        with self._lock:
            self._open()
            for index, fd in enumerate(self._files):
                if index in self._held:
                    continue
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except BlockingIOError:
                    continue
                self._held.add(index)
                return Slot(index)
        return None

    def release(self, slot: Slot) -> None:
        """Give ``slot`` back."""
        with self._lock:
            if slot.index not in self._held:
                raise ValueError(f"ComputeSlots.release: slot {slot.index} is not held")
            fcntl.flock(self._files[slot.index], fcntl.LOCK_UN)
            self._held.discard(slot.index)

    def held(self) -> int:
        """How many slots this process holds."""
        with self._lock:
            return len(self._held)

    def _open(self) -> None:
        if self._files:
            return
        if self._directory is None:
            self._directory = tempfile.mkdtemp(prefix="learndyn-slots-")
            weakref.finalize(self, shutil.rmtree, self._directory, ignore_errors=True)
        os.makedirs(self._directory, mode=0o700, exist_ok=True)
        files = []
        for index in range(self.count):
            path = os.path.join(self._directory, f"slot-{index}")
            files.append(os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600))
        self._files = files
        weakref.finalize(self, _close_all, list(files))


def _close_all(files: list[int]) -> None:
    for fd in files:
        os.close(fd)
