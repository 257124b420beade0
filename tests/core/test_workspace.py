"""service.core.engine.workspace: per-run arrays that share no cache line."""

from __future__ import annotations

import numpy as np
import pytest

from service.core.engine.workspace import ALIGN, unshared


def byte_range(a: np.ndarray) -> tuple[int, int]:
    start = a.ctypes.data
    return start, start + a.nbytes


@pytest.mark.parametrize("dtype", [np.float64, np.int64])
def test_arrays_are_zeroed_aligned_and_apart(dtype: type) -> None:
    shapes: list[int | tuple[int, ...]] = [3, 1, 16, 17, (4, 5), 0, 2]
    arrays = unshared(*shapes, dtype=dtype)
    assert [a.shape for a in arrays] == [(3,), (1,), (16,), (17,), (4, 5), (0,), (2,)]
    base = arrays[0].base
    while base.base is not None:
        base = base.base
    buffer = byte_range(base)
    for a in arrays:
        assert a.dtype == dtype and a.flags.c_contiguous and a.flags.writeable
        assert not a.any()
        if a.size == 0:  # no bytes to share (numpy gives empty views a pointer of its own)
            continue
        start, end = byte_range(a)
        assert start % ALIGN == 0
        # ALIGN bytes of the buffer before the first and after the last array
        assert start - buffer[0] >= ALIGN and buffer[1] - end >= ALIGN
    # no two arrays touch the same ALIGN-byte block (so no 64-byte cache line either)
    blocks = [set(range(s // ALIGN, -(-e // ALIGN))) for s, e in map(byte_range, arrays) if e > s]
    for i, first in enumerate(blocks):
        for second in blocks[i + 1 :]:
            assert not first & second
    arrays[0][:] = 7  # writing one leaves the others alone
    assert not arrays[1].any() and not arrays[2].any()


def test_each_call_gets_a_fresh_buffer() -> None:
    (a,) = unshared(4)
    (b,) = unshared(4)
    a_start, a_end = byte_range(a)
    b_start, b_end = byte_range(b)
    assert a_end + ALIGN <= b_start or b_end + ALIGN <= a_start
