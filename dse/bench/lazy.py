"""The metric table of a space too large to enumerate: designs evaluated when first asked.

A benchmark space of a billion designs cannot be tabulated, so :class:`LazyTable` answers the
same questions as :class:`dse.bench.table.MetricTable` (status, observation, first objective of
a trace) for the designs an agent actually proposes, evaluating each new one with
:func:`dse.evaluation.evaluate_chunk` (the models a job uses) and keeping it in memory. Every
design is evaluated the same way whatever its batch-mates (the adapters sum in a fixed order), so
a design asked in two runs gets the same numbers, and the table can be shared by the runs of one
worker process.

What the enumeration gave for free has to be estimated: :meth:`LazyTable.sample` evaluates a
uniform sample of designs (the median a regret is normalised by), and the optimum is the best any
run found (``benchmarks/dse_agents.py``: the reference runs go to 10x the largest budget).
"""
from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np

from ..agents.base import Observation
from ..evaluation import evaluate_chunk, minimised
from ..space import Design, Space
from .table import INFEASIBLE, STATUS_NAMES

CHUNK = 512  # designs per evaluate_chunk call when sampling


class LazyTable:
    """Outcomes of the designs of ``space`` asked so far, by design index."""

    def __init__(self, space: Space, digest: str):
        self.space = space
        self.digest = digest
        self._status: dict[int, int] = {}
        self._feasible: dict[int, bool] = {}
        self._objectives: dict[int, tuple[float, ...]] = {}
        self._violation: dict[int, float] = {}

    @property
    def size(self) -> int:
        return self.space.size

    @property
    def known(self) -> int:
        """Designs evaluated (or rejected) so far."""
        return len(self._status)

    def prepare(self, indices: Iterable[int]) -> None:
        """Evaluate, in one chunk, the designs of ``indices`` not known yet."""
        # membership per index: a set difference with the dict's keys would walk every known design
        new = sorted({int(i) for i in indices if int(i) not in self._status})
        for start in range(0, len(new), CHUNK):
            part = new[start:start + CHUNK]
            designs = [self.space.design_at(i) for i in part]
            for index, ev in zip(part, evaluate_chunk(self.space, designs)):
                self._status[index] = STATUS_NAMES.index(ev.status)
                self._feasible[index] = bool(ev.feasible)
                self._violation[index] = float(ev.violation)
                if ev.status == "ok":
                    self._objectives[index] = minimised(self.space, ev.objectives)

    def status_at(self, index: int) -> int:
        self.prepare((index,))
        return self._status[int(index)]

    def observation(self, index: int, design: Design | None = None, cached: bool = False) -> Observation:
        self.prepare((index,))
        status = STATUS_NAMES[self._status[index]]
        objectives = self._objectives.get(index) if status == "ok" else None
        return Observation(design if design is not None else self.space.design_at(index), status, objectives,
                           self._violation[index], cached)

    def first_objective_at(self, indices: Sequence[int]) -> np.ndarray:
        """First objective (minimisation form) of each design, +inf where it is not feasible."""
        self.prepare(indices)
        return np.array([self._objectives[i][0] if self._feasible[i] else np.inf for i in map(int, indices)],
                        dtype=float)

    def sample(self, n: int, seed: int = 0) -> tuple[list[int], np.ndarray, int]:
        """A uniform sample of ``n`` distinct designs: their indices, their first objectives (+inf
        where not feasible) and how many of them cost an evaluation (were not rejected beforehand)."""
        rng = np.random.default_rng(seed)
        picked: set[int] = set()
        while len(picked) < min(n, self.size):
            picked.update(int(i) for i in rng.integers(0, self.size, n - len(picked)))
        indices = sorted(picked)
        values = self.first_objective_at(indices)
        evaluable = sum(self._status[i] != INFEASIBLE for i in indices)
        return indices, values, int(evaluable)
