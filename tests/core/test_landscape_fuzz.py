"""Fuzz: random one-weight problems against an independent mpmath scan of E'."""

from __future__ import annotations

import numpy as np
import pytest

from service.core.analysis.landscape import find_critical_points
from service.core.model.activations import ACTIVATIONS
from service.vocabulary import ActivationName, CriticalKind
from tests.core import mp_reference as ref

NAMES = list(ActivationName)


def _dataset(rng: np.random.Generator) -> np.ndarray:
    n = int(rng.integers(1, 51))
    b = rng.choice([-1.0, 1.0], n) * 10.0 ** rng.uniform(-3.0, 3.0, n)
    if rng.random() < 0.1:
        b[rng.integers(0, n)] = 0.0
    return b


@pytest.mark.parametrize("chunk", range(4))
def test_no_missed_or_spurious_critical_point(chunk: int) -> None:
    rng = np.random.default_rng(20260 + chunk)
    for case in range(50):
        b = _dataset(rng)
        name = NAMES[case % 4]
        land = find_critical_points(b, ACTIVATIONS[name])
        where = f"case {chunk}/{case}: {name} b={b.tolist()}"
        points = [p for p in land.critical_points if p.kind is not CriticalKind.DEGENERATE]
        xs = np.array([p.x for p in points])
        # every reported point is a root: |E'| tiny against the sum of its terms' sizes
        for p in land.critical_points:
            assert ref.relative_slope(name, b.tolist(), p.x) < 1e-9, where
            # and its kind is the sign change of E' seen at 30 digits just beside it
            if p.kind is not CriticalKind.DEGENERATE:
                h = 1e-7 * max(abs(p.x), 1e-3 / float(np.abs(b).max()))
                s = ref.slope_signs(name, b.tolist(), np.array([p.x - h, p.x + h]))
                want = [-1.0, 1.0] if p.kind is CriticalKind.MIN else [1.0, -1.0]
                assert s.tolist() == want, where
        if not np.any(b):
            assert land.flat
            continue
        # each end is a local minimum iff E − E(±∞) > 0 far out (30 digits, from the data)
        far = 1e4 / float(np.abs(b[b != 0]).min())
        for end, x_far in ((land.plus, far), (land.minus, -far)):
            with ref.mp.workdps(30):
                excess = ref.excess_at(name, b.tolist(), x_far)
            assert end.local_min == (excess > 0), where
        # no sign change of E' on an independent grid lacks a reported point inside it
        grid = ref.scan_grid(b.tolist(), far=300.0)
        signs = ref.slope_signs(name, b.tolist(), grid)
        nz = np.flatnonzero(signs != 0)
        for i, j in zip(nz[:-1], nz[1:], strict=True):
            inside = int(np.count_nonzero((xs > grid[i]) & (xs < grid[j])))
            if signs[i] != signs[j]:
                assert inside % 2 == 1, f"{where}: missed a root in ({grid[i]}, {grid[j]})"


@pytest.mark.parametrize("name", NAMES)
def test_small_integer_data_with_exact_ties(name: str) -> None:
    """b_i ∈ {0, ±1, ±2, ±3, ±4}: exponents tie exactly and leading terms cancel (e.g.
    b = (1, 1, −2) for tanh), where only exact arithmetic decides the ends."""
    rng = np.random.default_rng(99)
    for case in range(25):
        n = int(rng.integers(1, 9))
        b = rng.integers(-4, 5, n).astype(np.float64)
        land = find_critical_points(b, ACTIVATIONS[name])
        where = f"case {case}: {name} b={b.tolist()}"
        if not np.any(b):
            assert land.flat
            continue
        xs = np.array([p.x for p in land.critical_points if p.kind is not CriticalKind.DEGENERATE])
        for p in land.critical_points:
            assert ref.relative_slope(name, b.tolist(), p.x) < 1e-9, where
        grid = ref.scan_grid(b.tolist(), far=20.0)
        signs = ref.slope_signs(name, b.tolist(), grid, dps=60)
        nz = np.flatnonzero(signs != 0)
        for i, j in zip(nz[:-1], nz[1:], strict=True):
            inside = int(np.count_nonzero((xs > grid[i]) & (xs < grid[j])))
            assert inside % 2 == (1 if signs[i] != signs[j] else 0), where
        far = (20.0 if name != "arctan" else 1e6) / float(np.abs(b[b != 0]).min())
        for end, x_far in ((land.plus, far), (land.minus, -far)):
            with ref.mp.workdps(120):
                excess = ref.excess_at(name, b.tolist(), x_far)
            assert end.local_min == (excess > 0), where


@pytest.mark.parametrize("name", NAMES)
def test_inputs_spanning_up_to_a_hundred_decades(name: str) -> None:
    rng = np.random.default_rng(1234)
    for case in range(3):
        n = int(rng.integers(2, 7))
        b = rng.choice([-1.0, 1.0], n) * 10.0 ** rng.uniform(-50.0, 50.0, n)
        land = find_critical_points(b, ACTIVATIONS[name])
        where = f"case {case}: {name} b={b.tolist()}"
        xs = np.array([p.x for p in land.critical_points])
        for p in land.critical_points:
            assert ref.relative_slope(name, b.tolist(), p.x) < 1e-9, where
        grid = ref.scan_grid(b.tolist(), far=100.0, per_decade=12)
        signs = ref.slope_signs(name, b.tolist(), grid)
        nz = np.flatnonzero(signs != 0)
        for i, j in zip(nz[:-1], nz[1:], strict=True):
            inside = int(np.count_nonzero((xs > grid[i]) & (xs < grid[j])))
            if signs[i] != signs[j]:
                assert inside % 2 == 1, f"{where}: missed a root in ({grid[i]}, {grid[j]})"


def test_inputs_beyond_the_supported_range_are_refused() -> None:
    from service.core.errors import InvalidProblem

    for b in ([1e-200, -1.0], [1e151, -1.0], [1e-60, 1e60]):
        with pytest.raises(InvalidProblem, match="decades") as info:
            find_critical_points(np.array(b), ACTIVATIONS[ActivationName.TANH])
        assert info.value.field == "dataset.inputs"
