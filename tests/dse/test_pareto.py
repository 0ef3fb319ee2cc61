"""Dominance, fronts, crowding and hypervolume against hand-worked cases and a brute-force oracle."""
from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dse.pareto import crowding_distance, hypervolume, nondominated_fronts, pareto_mask


def test_fronts_by_hand():
    pts = np.array([[1, 4], [2, 2], [4, 1], [3, 3], [5, 5], [2, 2]])
    assert nondominated_fronts(pts) == [[0, 1, 2, 5], [3], [4]]
    assert pareto_mask(pts).tolist() == [True, True, True, False, False, True]


def test_crowding_by_hand():
    pts = np.array([[0.0, 4.0], [1.0, 2.0], [3.0, 1.0], [4.0, 0.0]])
    d = crowding_distance(pts)
    assert np.isinf(d[0]) and np.isinf(d[3])
    # point 1: (3-0)/4 + (4-1)/4 = 1.5 ; point 2: (4-1)/4 + (2-0)/4 = 1.25
    assert d[1] == pytest.approx(1.5) and d[2] == pytest.approx(1.25)


def test_hypervolume_by_hand():
    ref = np.array([4.0, 4.0])
    assert hypervolume(np.array([[1.0, 3.0], [2.0, 2.0], [3.0, 1.0]]), ref) == pytest.approx(3 + 2 + 1)
    assert hypervolume(np.array([[5.0, 1.0]]), ref) == 0.0                      # beyond the reference
    cube = hypervolume(np.array([[0.0, 0.0, 0.0]]), np.ones(3))
    two = hypervolume(np.array([[0.0, 0.5, 0.5], [0.5, 0.0, 0.0]]), np.ones(3))
    assert cube == pytest.approx(1.0)
    assert two == pytest.approx(0.25 + 0.5 - 0.125)                             # union of two boxes


def _union_volume(points: np.ndarray, ref: np.ndarray) -> float:
    """Inclusion-exclusion over the boxes [p, ref] (the oracle)."""
    total = 0.0
    n = len(points)
    for r in range(1, n + 1):
        for subset in itertools.combinations(range(n), r):
            corner = points[list(subset)].max(axis=0)
            total += (-1) ** (r + 1) * float(np.prod(np.clip(ref - corner, 0, None)))
    return total


@settings(max_examples=150, deadline=None)
@given(st.integers(2, 4).flatmap(lambda k: st.lists(
    st.lists(st.integers(0, 9), min_size=k, max_size=k), min_size=1, max_size=6)))
def test_hypervolume_equals_inclusion_exclusion(rows):
    pts = np.array(rows, dtype=float)
    ref = np.full(pts.shape[1], 10.0)
    assert hypervolume(pts, ref) == pytest.approx(_union_volume(pts, ref), rel=1e-9, abs=1e-9)
