"""A sweep's grid: axes of /train fields, expanded into points.

An axis is a list of values, ``{"log_range": [lo, hi, count]}`` (``lo·(hi/lo)^(k/(count−1))``,
k = 0 … count − 1, both ends exact) or ``{"range": [start, stop]}`` (the integers of Python's
``range``). The points are the product of the axes in the order the request names them, the
first axis varying slowest; point ``index`` is that product's row-major index. A point's
/train request is the base request with the point's values put in place of its fields, then
validated by the same schema /train uses: a point /train would refuse is a 422 of the study,
naming the grid value.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from service.core.errors import InvalidProblem
from service.schemas.studies import (
    GRID_AXES,
    ExtrapolationRequest,
    IntRange,
    LogRange,
    SweepRequest,
)
from service.schemas.train import TRAIN_REQUEST, TrainRequest, without_method_tag


@dataclass(frozen=True, slots=True)
class Point:
    """One run of a sweep: its index, its values on each axis, its /train request."""

    index: int
    params: dict[str, Any]
    request: TrainRequest


class GridError(InvalidProblem):
    """The grid breaks a rule; ``field`` is the dotted request path (e.g. ``grid.seed``)."""


def axis_values(name: str, axis: list[Any] | LogRange | IntRange, limit: int) -> list[Any]:
    """The values of one axis (see the module docstring), at most ``limit`` of them."""
    if isinstance(axis, LogRange):
        lo, hi, count = axis.log_range
        values: list[Any] = (
            [lo]
            if count == 1
            else [lo * (hi / lo) ** (k / (count - 1)) for k in range(count - 1)] + [hi]
        )
    elif isinstance(axis, IntRange):
        start, stop = axis.range
        if stop - start > limit:
            raise GridError(f"grid.{name}", f"range gives {stop - start} values; at most {limit}")
        values = list(range(start, stop))
    else:
        values = list(axis)
    if not values:
        raise GridError(f"grid.{name}", "an axis needs at least one value")
    if len(values) > limit:
        raise GridError(f"grid.{name}", f"{len(values)} values; at most {limit}")
    if not all(_finite(v) for v in values):
        raise GridError(f"grid.{name}", "every value must be finite")
    return values


def _finite(value: Any) -> bool:
    if isinstance(value, float):
        return math.isfinite(value)
    if isinstance(value, list | tuple):
        return all(_finite(v) for v in value)
    if isinstance(value, dict):
        return all(_finite(v) for v in value.values())
    return True


def expand(
    request: SweepRequest | ExtrapolationRequest, *, max_points: int, axis_limit: int
) -> dict[str, list[Any]]:
    """The grid's axes as value lists, checked: known axes, at most ``max_points`` points."""
    axes = {}
    for name, axis in request.grid.items():
        if name not in GRID_AXES:
            raise GridError(f"grid.{name}", f"unknown axis; a sweep varies {', '.join(GRID_AXES)}")
        axes[name] = axis_values(name, axis, axis_limit)
    total = math.prod(len(v) for v in axes.values())
    if total > max_points:
        raise GridError(
            "grid",
            f"the product of the axes has {total} points, over the limit of {max_points} "
            "(LEARNDYN_MAX_STUDY_POINTS)",
        )
    return axes


def point_count(axes: dict[str, list[Any]]) -> int:
    """How many points the axes make."""
    return math.prod(len(values) for values in axes.values())


def sub_product_indices(axes: dict[str, list[Any]], names: list[str]) -> list[int]:
    """The indices of the points that take every combination of the ``names`` axes and the
    first value of every other axis."""
    indices = [0]
    for name, values in axes.items():
        choices = range(len(values)) if name in names else range(1)
        indices = [k * len(values) + c for k in indices for c in choices]
    return indices


def point_params(axes: dict[str, list[Any]], index: int) -> dict[str, Any]:
    """Point ``index``'s value on each axis (row-major, the first axis varying slowest)."""
    params: dict[str, Any] = {}
    rest = index
    for name in reversed(list(axes)):
        rest, k = divmod(rest, len(axes[name]))
        params[name] = axes[name][k]
    return {name: params[name] for name in axes}


START_AXIS = "start"
"""An axis whose values are several /train fields that vary together (a relaxation's starts:
``{"initial_weights": …, "seed": …}``); a point puts each of them in place."""


def point(base: dict[str, Any], axes: dict[str, list[Any]], index: int) -> Point:
    """Point ``index`` of the grid over ``base`` (a /train request as JSON), validated by the
    /train schema."""
    params = point_params(axes, index)
    fields = {k: v for k, v in params.items() if k != START_AXIS}
    fields.update(params.get(START_AXIS, {}))
    try:
        request = TRAIN_REQUEST.validate_python({**base, **fields})
    except ValidationError as error:
        first = error.errors()[0]
        where = [str(p) for p in without_method_tag(first["loc"])] or ["method"]
        field = f"grid.{where[0]}" if where and where[0] in axes else "base." + ".".join(where)
        raise GridError(field, f"point {index} ({json.dumps(params)}): {first['msg']}") from None
    return Point(index=index, params=params, request=request)
