"""Pareto dominance, non-dominated sorting, crowding distance and hypervolume (minimisation).

Points are rows of a ``(n, k)`` array of objective values to minimise (``max`` goals negated
beforehand). Written from the definitions (Deb et al., NSGA-II, 2002; While et al., HSO
hypervolume by slicing objectives, 2006).
"""
from __future__ import annotations

import numpy as np


def dominates(a: np.ndarray, b: np.ndarray) -> bool:
    """``a`` is no worse than ``b`` in every objective and better in one."""
    return bool(np.all(a <= b) and np.any(a < b))


def pareto_mask(points: np.ndarray) -> np.ndarray:
    """Boolean mask of the non-dominated rows (duplicates of a non-dominated point are kept)."""
    pts = np.asarray(points, dtype=float)
    n = len(pts)
    mask = np.ones(n, dtype=bool)
    for i in range(n):
        if not mask[i]:
            continue
        dominated_by_i = np.all(pts[i] <= pts, axis=1) & np.any(pts[i] < pts, axis=1)
        mask &= ~dominated_by_i
    return mask


def nondominated_fronts(points: np.ndarray) -> list[list[int]]:
    """Indices of the rows front by front (front 0: non-dominated; front 1: dominated only by 0 ...)."""
    pts = np.asarray(points, dtype=float)
    n = len(pts)
    if n == 0:
        return []
    le = np.all(pts[:, None, :] <= pts[None, :, :], axis=2)
    lt = np.any(pts[:, None, :] < pts[None, :, :], axis=2)
    dom = le & lt  # dom[i, j]: i dominates j
    count = dom.sum(axis=0)
    fronts: list[list[int]] = []
    current = [i for i in range(n) if count[i] == 0]
    while current:
        fronts.append(current)
        nxt = []
        for i in current:
            for j in np.flatnonzero(dom[i]):
                count[j] -= 1
                if count[j] == 0:
                    nxt.append(int(j))
        current = sorted(nxt)
    return fronts


def crowding_distance(points: np.ndarray) -> np.ndarray:
    """NSGA-II crowding distance of each row within its set (boundary points: infinity)."""
    pts = np.asarray(points, dtype=float)
    n, k = pts.shape if pts.ndim == 2 else (len(pts), 0)
    distance = np.zeros(n)
    if n <= 2:
        distance[:] = np.inf
        return distance
    for m in range(k):
        order = np.argsort(pts[:, m], kind="stable")
        lo, hi = pts[order[0], m], pts[order[-1], m]
        distance[order[0]] = distance[order[-1]] = np.inf
        if hi == lo:
            continue
        gaps = (pts[order[2:], m] - pts[order[:-2], m]) / (hi - lo)
        distance[order[1:-1]] += gaps
    return distance


def hypervolume(points: np.ndarray, reference: np.ndarray) -> float:
    """Volume dominated by ``points`` and bounded by ``reference`` (points beyond it add nothing)."""
    pts = np.asarray(points, dtype=float)
    ref = np.asarray(reference, dtype=float)
    if pts.size == 0:
        return 0.0
    pts = pts[np.all(pts < ref, axis=1)]
    if len(pts) == 0:
        return 0.0
    pts = np.unique(pts[pareto_mask(pts)], axis=0)
    return float(_hso(pts, ref))


def _hso(pts: np.ndarray, ref: np.ndarray) -> float:
    k = pts.shape[1]
    if k == 1:
        return float(ref[0] - pts[:, 0].min())
    if k == 2:
        order = np.argsort(pts[:, 0], kind="stable")
        volume, best_y = 0.0, ref[1]
        for x, y in pts[order]:
            if y < best_y:
                volume += (ref[0] - x) * (best_y - y)
                best_y = y
        return volume
    # Slice along the last objective: between consecutive levels, the (k-1)-d volume of the
    # points at or below the slice.
    order = np.argsort(pts[:, -1], kind="stable")
    pts = pts[order]
    volume = 0.0
    for i in range(len(pts)):
        top = pts[i + 1, -1] if i + 1 < len(pts) else ref[-1]
        depth = top - pts[i, -1]
        if depth <= 0:
            continue
        layer = pts[: i + 1, :-1]
        layer = layer[pareto_mask(layer)]
        volume += depth * _hso(layer, ref[:-1])
    return volume
