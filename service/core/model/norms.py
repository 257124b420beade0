"""Norms that do not overflow in their squares."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from service.core.model.activations import Array


def vector_norm(v: Array) -> float:
    """‖v‖₂ of a vector, without overflow in the squares (∞ only if an entry is)."""
    scale = float(np.max(np.abs(v))) if v.size else 0.0
    if scale == 0.0 or not math.isfinite(scale):
        return scale
    return scale * math.sqrt(float(np.sum((v / scale) ** 2)))


def layer_norms(values: Array, starts: Sequence[int]) -> Array:
    """The Euclidean norm of each layer's part of ``values`` along its last axis.

    Layer k is ``values[..., starts[k]:starts[k + 1]]`` (a weight vector's layout: see
    :class:`service.core.model.network.Layout`; the perceptron is ``(0, m)``). The result has
    the leading shape of ``values`` and ``len(starts) − 1`` columns; computed without overflow
    in the squares, as :func:`vector_norm`; NaN where a part holds a NaN.
    """
    values = np.asarray(values, dtype=np.float64)
    out = np.empty((*values.shape[:-1], len(starts) - 1))
    for k in range(len(starts) - 1):
        part = values[..., starts[k] : starts[k + 1]]
        with np.errstate(invalid="ignore"):
            scale = np.max(np.abs(part), axis=-1)  # NaN when the part holds one
        usable = (scale > 0.0) & np.isfinite(scale)
        safe = np.where(usable, scale, 1.0)
        norm = safe * np.sqrt(np.sum((part / safe[..., None]) ** 2, axis=-1))
        out[..., k] = np.where(usable, norm, scale)
    return out
