"""Norms that do not overflow in their squares."""

from __future__ import annotations

import math

import numpy as np

from service.core.model.activations import Array


def vector_norm(v: Array) -> float:
    """‖v‖₂ of a vector, without overflow in the squares (∞ only if an entry is)."""
    scale = float(np.max(np.abs(v))) if v.size else 0.0
    if scale == 0.0 or not math.isfinite(scale):
        return scale
    return scale * math.sqrt(float(np.sum((v / scale) ** 2)))
