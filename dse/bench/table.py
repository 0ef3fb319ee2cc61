"""The metric table of an enumerable space: every design evaluated once, cached on disk.

A benchmark space is small enough (tens of thousands of designs) to evaluate completely with
:func:`dse.evaluation.evaluate_chunk`, in large chunks so the adapters vectorise. The table keeps,
per design index (mixed-radix order of :meth:`Space.design_at`), its status, feasibility,
objectives in minimisation form and violation — everything an agent's :class:`Observation` holds —
so agents can be run against it thousands of times without calling the models again.

:class:`TableEvaluator` answers queries from the table and counts them the way a job does: a
design not seen before and not rejected before evaluation is one *unique evaluation*; a repeat is
a cache hit (free); a design rejected by a pre-evaluation constraint is free too.

Tables are cached as ``.npz`` files named by the space name and a hash of the space text and its
fingerprint (models, devices, parameters); delete the cache directory after changing a model.
"""
from __future__ import annotations

import hashlib
import os
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Final

import numpy as np

from ..agents.base import Observation
from ..evaluation import evaluate_chunk, minimised
from ..space import Design, Space

if TYPE_CHECKING:
    from .lazy import LazyTable

# Status codes in the table.
OK: Final = 0          # evaluated (feasible or not: see ``feasible``)
FAILED: Final = 1      # the evaluator raised (counts as an evaluation)
INFEASIBLE: Final = 2  # rejected before evaluation (free)
STATUS_NAMES: Final = ("ok", "failed", "infeasible")
CHUNK: Final = 4096


@dataclass(frozen=True)
class MetricTable:
    """Outcome of every design of ``space``; arrays indexed by design index."""

    space: Space
    digest: str
    status: np.ndarray       # int8, OK / FAILED / INFEASIBLE
    feasible: np.ndarray     # bool: ok and every constraint holds
    objectives: np.ndarray   # (size, k) minimisation form; nan unless status == OK
    violation: np.ndarray    # float
    seconds: float = 0.0     # enumeration time (0 when read from the cache)

    @property
    def size(self) -> int:
        return int(self.status.shape[0])

    @property
    def evaluable(self) -> np.ndarray:
        """Designs that cost an evaluation when first proposed (not rejected beforehand)."""
        return self.status != INFEASIBLE

    def status_at(self, index: int) -> int:
        return int(self.status[index])

    def prepare(self, indices: Sequence[int]) -> None:
        """Nothing to do: every design is in the table (a :class:`dse.bench.lazy.LazyTable` evaluates here)."""

    def first_objective_at(self, indices: Sequence[int]) -> np.ndarray:
        return self.first_objective()[np.asarray(indices, dtype=int)] if len(indices) else np.zeros(0)

    def first_objective(self) -> np.ndarray:
        """First objective in minimisation form, +inf where the design is not feasible."""
        return np.where(self.feasible, self.objectives[:, 0], np.inf)

    def observation(self, index: int, design: Design | None = None, cached: bool = False) -> Observation:
        status = STATUS_NAMES[int(self.status[index])]
        objectives = tuple(float(v) for v in self.objectives[index]) if status == "ok" else None
        return Observation(design if design is not None else self.space.design_at(index), status, objectives,
                           float(self.violation[index]), cached)


def table_digest(space: Space, text: str) -> str:
    return hashlib.sha256((space.fingerprint + "\n" + text).encode()).hexdigest()[:16]


def enumerate_space(space: Space, digest: str, chunk: int = CHUNK,
                    progress: Callable[[int, int], None] | None = None) -> MetricTable:
    """Evaluate every design of ``space`` (chunks of ``chunk`` designs in index order)."""
    size = space.size
    k = len(space.objectives)
    status = np.empty(size, dtype=np.int8)
    feasible = np.zeros(size, dtype=bool)
    objectives = np.full((size, k), np.nan)
    violation = np.zeros(size)
    started = time.perf_counter()
    for start in range(0, size, chunk):
        stop = min(size, start + chunk)
        designs = [space.design_at(i) for i in range(start, stop)]
        for offset, ev in enumerate(evaluate_chunk(space, designs)):
            i = start + offset
            status[i] = STATUS_NAMES.index(ev.status)
            feasible[i] = ev.feasible
            violation[i] = ev.violation
            if ev.status == "ok":
                objectives[i] = minimised(space, ev.objectives)
        if progress:
            progress(stop, size)
    return MetricTable(space, digest, status, feasible, objectives, violation, time.perf_counter() - started)


def load_table(space: Space, text: str, cache_dir: str | Path | None,
               progress: Callable[[int, int], None] | None = None) -> MetricTable:
    """The table of ``space`` (YAML ``text``), read from ``cache_dir`` or enumerated and written there."""
    digest = table_digest(space, text)
    path = Path(cache_dir) / f"{space.name}-{digest}.npz" if cache_dir is not None else None
    if path is not None and path.exists():
        with np.load(path) as data:
            return MetricTable(space, digest, data["status"], data["feasible"], data["objectives"],
                               data["violation"])
    table = enumerate_space(space, digest, progress=progress)
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.stem}.", suffix=".npz", dir=path.parent)
        os.close(fd)
        try:
            np.savez_compressed(tmp, status=table.status, feasible=table.feasible, objectives=table.objectives,
                                violation=table.violation)
            os.replace(tmp, path)
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)
    return table


class TableEvaluator:
    """Answer designs from a :class:`MetricTable`, counting unique evaluations as a job does.

    ``trace`` lists the design indices that were unique evaluations, in order; ``queries`` counts
    every design asked (repeats included); ``rejected`` counts distinct designs rejected before
    evaluation."""

    def __init__(self, table: MetricTable | LazyTable):
        self.table = table
        self.seen: set[int] = set()
        self.trace: list[int] = []
        self.queries = 0
        self.cache_hits = 0
        self.rejected = 0

    @property
    def evaluations(self) -> int:
        return len(self.trace)

    def __call__(self, designs: Sequence[Design]) -> list[Observation]:
        out = []
        indices = [self.table.space.index_of(d) for d in designs]
        self.table.prepare(indices)  # a lazy table evaluates the round's new designs in one chunk
        for design, index in zip(designs, indices):
            self.queries += 1
            cached = index in self.seen
            if cached:
                self.cache_hits += 1
            else:
                self.seen.add(index)
                if self.table.status_at(index) == INFEASIBLE:
                    self.rejected += 1
                else:
                    self.trace.append(index)
            out.append(self.table.observation(index, tuple(design), cached))
        return out
