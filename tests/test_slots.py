"""The compute slots shared by the processes of one service (``service.slots``): N flocks.

Two ``ComputeSlots`` on one directory stand for two worker processes (each opens the lock
files itself, and flock locks belong to an open file, so they exclude each other even within
one process); a real second process shows the same, and that its slots come back when it is
killed.
"""

from __future__ import annotations

import gc
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from service.slots import SLOTS_DIR_VARIABLE, ComputeSlots, Slot, export_slots_directory

HOLD_ALL = """
import sys, time
from service.slots import ComputeSlots
slots = ComputeSlots(int(sys.argv[2]), sys.argv[1])
held = [slots.try_acquire() for _ in range(slots.count)]
print("held" if all(held) else "refused", flush=True)
time.sleep(60)
"""
"""A process that takes every slot, says so, and waits to be killed."""


def test_two_processes_share_the_count(tmp_path: Path) -> None:
    first, second = ComputeSlots(2, str(tmp_path)), ComputeSlots(2, str(tmp_path))
    a = first.try_acquire()
    b = second.try_acquire()
    assert a is not None and b is not None and a != b
    assert first.try_acquire() is None and second.try_acquire() is None
    first.release(a)
    c = second.try_acquire()
    assert c == a  # the one free file
    assert (first.held(), second.held()) == (0, 2)
    second.release(b)
    second.release(c)
    assert first.try_acquire() is not None


def test_one_process_takes_each_slot_once(tmp_path: Path) -> None:
    slots = ComputeSlots(3, str(tmp_path))
    taken = [slots.try_acquire() for _ in range(4)]
    assert taken == [Slot(0), Slot(1), Slot(2), None]
    slots.release(Slot(1))
    assert slots.try_acquire() == Slot(1)
    with pytest.raises(ValueError, match="slot 5 is not held"):
        slots.release(Slot(5))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["slot-0", "slot-1", "slot-2"]


def test_a_killed_process_gives_its_slots_back(tmp_path: Path) -> None:
    command = [sys.executable, "-c", HOLD_ALL, str(tmp_path), "2"]
    root = Path(__file__).resolve().parents[1]
    with subprocess.Popen(command, stdout=subprocess.PIPE, cwd=root) as holder:
        try:
            assert holder.stdout is not None
            assert holder.stdout.readline() == b"held\n"
            ours = ComputeSlots(2, str(tmp_path))
            assert ours.try_acquire() is None
            holder.send_signal(signal.SIGKILL)  # no chance to release anything
            holder.wait(timeout=10)
            assert ours.try_acquire() is not None and ours.try_acquire() is not None
        finally:
            if holder.poll() is None:
                holder.kill()


def test_a_private_directory_goes_with_its_slots() -> None:
    slots = ComputeSlots(1)
    directory = Path(slots.directory)
    assert [p.name for p in directory.iterdir()] == ["slot-0"]
    del slots
    gc.collect()
    assert not directory.exists()


def test_at_least_one_slot() -> None:
    with pytest.raises(ValueError, match="count must be at least 1; got 0"):
        ComputeSlots(0)


def test_serve_exports_one_directory_for_its_workers(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(SLOTS_DIR_VARIABLE, raising=False)
    assert export_slots_directory(str(tmp_path)) == str(tmp_path)
    assert SLOTS_DIR_VARIABLE not in os.environ  # configured: the workers read it already
    made = export_slots_directory("")
    try:
        assert os.environ[SLOTS_DIR_VARIABLE] == made and Path(made).is_dir()
    finally:
        os.rmdir(made)
