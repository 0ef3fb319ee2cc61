"""The statistics of the benchmark protocol, from an enumerated space.

All values are the first objective in minimisation form (``max`` goals negated); designs that are
not feasible count as ``+inf``.

* **Normalised regret** of a best value ``b``: ``(b - optimum) / (median - optimum)``, the median
  over the feasible designs of the space: 0 at the optimum, 1 at a typical design.
* **Within 1 %**: ``|b - optimum| <= 0.01 |optimum|`` (in the metric's own units).
* **Random search, exactly.** Random search samples without replacement; designs rejected before
  evaluation cost nothing, so its first ``n`` unique evaluations are a uniform random ``n``-subset
  of the ``M`` evaluable designs. With their values sorted, ``v_1 <= ... <= v_M``, the best of
  ``n`` draws is at least ``v_k`` exactly when all ``n`` come from the ``M - k + 1`` largest:
  ``P(min >= v_k) = C(M-k+1, n) / C(M, n)``. This gives the whole distribution of the best value:
  its expectation, its median and the probability of landing within 1 % of the optimum.
* **Hypervolume ratio** (several objectives): hypervolume of the feasible designs found over that
  of the true Pareto front, objectives normalised by the front's ideal and nadir points,
  reference point 1.1 in every objective.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ..pareto import hypervolume, pareto_mask
from .table import MetricTable

TOLERANCE = 0.01
REFERENCE = 1.1


@dataclass(frozen=True)
class Reference:
    """What the enumeration says about a space: optimum, median, the front and its normalisation."""

    optimum: float
    median: float
    optimum_index: int
    evaluable: int
    feasible: int
    within: int                 # feasible designs within TOLERANCE of the optimum
    front: np.ndarray           # (f, k) Pareto-optimal objective vectors (minimisation form)
    ideal: np.ndarray
    nadir: np.ndarray
    front_hypervolume: float

    def regret(self, best: float | np.ndarray) -> np.ndarray:
        return (np.asarray(best, dtype=float) - self.optimum) / (self.median - self.optimum)

    def hit(self, best: float | np.ndarray) -> np.ndarray:
        return np.abs(np.asarray(best, dtype=float) - self.optimum) <= TOLERANCE * abs(self.optimum)

    def normalise(self, points: np.ndarray) -> np.ndarray:
        span = np.where(self.nadir > self.ideal, self.nadir - self.ideal, 1.0)
        return (np.asarray(points, dtype=float) - self.ideal) / span

    def hypervolume_ratio(self, points: np.ndarray) -> float:
        if len(points) == 0 or self.front_hypervolume <= 0:
            return 0.0
        reference = np.full(self.front.shape[1], REFERENCE)
        return hypervolume(self.normalise(points), reference) / self.front_hypervolume


def pareto_front(points: np.ndarray) -> np.ndarray:
    """The non-dominated rows of ``points`` (minimisation), duplicates removed."""
    pts = np.unique(np.asarray(points, dtype=float), axis=0)
    if pts.shape[1] == 2:  # sort and sweep: O(n log n)
        order = np.lexsort((pts[:, 1], pts[:, 0]))
        keep, best = [], np.inf
        for i in order:
            if pts[i, 1] < best:
                keep.append(i)
                best = pts[i, 1]
        return pts[keep]
    return pts[pareto_mask(pts)]


def reference_of(table: MetricTable) -> Reference:
    values = table.first_objective()
    feasible = np.isfinite(values)
    if not feasible.any():
        raise ValueError(f"space {table.space.name} has no feasible design")
    optimum = float(values[feasible].min())
    median = float(np.median(values[feasible]))
    points = table.objectives[feasible]
    front = pareto_front(points)
    ideal, nadir = front.min(axis=0), front.max(axis=0)
    ref = Reference(optimum, median, int(np.argmin(values)), int(table.evaluable.sum()), int(feasible.sum()),
                    int((np.abs(values[feasible] - optimum) <= TOLERANCE * abs(optimum)).sum()), front, ideal, nadir,
                    0.0)
    hv = hypervolume(ref.normalise(front), np.full(front.shape[1], REFERENCE)) if front.shape[1] > 1 else 0.0
    return Reference(**{**ref.__dict__, "front_hypervolume": float(hv)})


def best_so_far(table: MetricTable, trace: Sequence[int]) -> np.ndarray:
    """Best first-objective value after each unique evaluation of ``trace`` (+inf before a feasible one)."""
    values = table.first_objective_at(trace)
    return np.minimum.accumulate(values) if len(values) else values


def hypervolume_after(table: MetricTable, reference: Reference, trace: Sequence[int], n: int) -> float:
    """Hypervolume ratio of the feasible designs among the first ``n`` evaluations of ``trace``."""
    picked = np.asarray(trace[:n], dtype=int)
    picked = picked[table.feasible[picked]]
    return reference.hypervolume_ratio(table.objectives[picked]) if len(picked) else 0.0


# --- random search, exactly ------------------------------------------------------------------------

def _survival(m: int, n: int) -> np.ndarray:
    """``S[k] = C(m-k, n) / C(m, n)`` for k = 0..m: probability that n draws avoid the k smallest."""
    k = np.arange(m + 1)
    ratios = np.ones(m + 1)
    # S[k+1] / S[k] = (m - k - n) / (m - k), clipped at 0 once fewer than n designs remain.
    step = np.clip((m - k[:-1] - n) / np.maximum(m - k[:-1], 1), 0.0, 1.0)
    ratios[1:] = np.cumprod(step)
    return ratios


@dataclass(frozen=True)
class RandomExact:
    """The exact distribution of random search's best value after ``n`` unique evaluations."""

    n: int
    expected_best: float
    expected_regret: float
    median_regret: float
    p_within: float


def random_exact(table: MetricTable, reference: Reference, n: int) -> RandomExact:
    """Random sampling without replacement: the best of ``n`` of the evaluable designs."""
    values = np.sort(table.first_objective()[table.evaluable])
    m = len(values)
    n = min(n, m)
    survival = _survival(m, n)
    p_min = survival[:-1] - survival[1:]          # P(best = values[k]), k = 0..m-1
    finite = np.isfinite(values)
    if p_min[~finite].sum() > 0:
        expected = float("inf")
    else:
        expected = float((p_min[finite] * values[finite]).sum())
    cdf = np.cumsum(p_min)
    median_value = values[int(np.searchsorted(cdf, 0.5))]
    within = int(reference.within)
    return RandomExact(n, expected, float(reference.regret(expected)), float(reference.regret(median_value)),
                       float(1.0 - survival[within]))


def random_monte_carlo(table: MetricTable, reference: Reference, n: int, draws: int,
                       rng: np.random.Generator) -> tuple[float, float]:
    """(mean regret, share within 1 %) of ``draws`` random subsets of ``n`` evaluable designs."""
    values = table.first_objective()[table.evaluable]
    best = np.array([values[rng.choice(len(values), size=n, replace=False)].min() for _ in range(draws)])
    return float(reference.regret(best).mean()), float(reference.hit(best).mean())


# --- confidence intervals ----------------------------------------------------------------------

CONFIDENCE = 0.95


def median_interval(values: Sequence[float], draws: int = 4000, seed: int = 0) -> tuple[float, float]:
    """Percentile-bootstrap 95 % interval of the median of ``values`` (seeded, so reproducible)."""
    arr = np.asarray(values, dtype=float)
    if len(arr) == 0:
        return float("nan"), float("nan")
    rng = np.random.default_rng(seed)
    medians = np.median(arr[rng.integers(0, len(arr), size=(draws, len(arr)))], axis=1)
    tail = (1.0 - CONFIDENCE) / 2
    return float(np.quantile(medians, tail)), float(np.quantile(medians, 1.0 - tail))


def share_interval(successes: int, n: int) -> tuple[float, float]:
    """Wilson score 95 % interval of a share ``successes / n`` (sound at 0 % and 100 % too)."""
    if n == 0:
        return float("nan"), float("nan")
    z = 1.959963984540054
    p = successes / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    lo = 0.0 if successes == 0 else max(0.0, centre - half)  # exact at the ends, not a rounding off them
    hi = 1.0 if successes == n else min(1.0, centre + half)
    return float(lo), float(hi)
