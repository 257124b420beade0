"""Per-run arrays that share no cache line with any other memory.

A compiled run writes its small state arrays (the weights, the gradient, the margins, the
step counters) on every step. numpy puts small arrays wherever its allocator has room, so
the weights of one run can sit in the same 64-byte cache line as the gradient of a run in
another thread; every write then pulls the line from the other core, and two concurrent
runs take longer than the same two one after the other (measured on the 2-core Xeon for a
4×3 gd loop: 1.5–1.9× the sequential time with both runs' arrays in one line, 0.46–0.54×
with them apart).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import DTypeLike

ALIGN = 128
"""Bytes: every array starts on its own multiple of this, a pair of 64-byte cache lines (the
adjacent-line prefetcher fetches lines in pairs), and the buffer has at least this much
padding at each end."""


def unshared(*shapes: int | tuple[int, ...], dtype: DTypeLike = np.float64) -> list[Any]:
    """Zeroed C-contiguous arrays of the given shapes (and ``dtype``), carved from one fresh
    buffer: each begins on an ALIGN-byte boundary and no two share a cache line, nor any of
    them a line with memory outside the buffer."""
    dt = np.dtype(dtype)
    sizes = [int(np.prod(shape)) * dt.itemsize for shape in shapes]
    spans = [-(-size // ALIGN) * ALIGN for size in sizes]
    raw = np.zeros(sum(spans) + 3 * ALIGN, dtype=np.uint8)
    offset = ALIGN + (-raw.ctypes.data) % ALIGN
    arrays = []
    for shape, size, span in zip(shapes, sizes, spans, strict=True):
        arrays.append(raw[offset : offset + size].view(dt).reshape(shape))
        offset += span
    return arrays
