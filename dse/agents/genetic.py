"""A genetic algorithm with NSGA-II selection (a plain elitist GA when there is one objective).

* The first ``population`` designs are uniform random and distinct.
* Children: binary tournament on (rank, crowding), uniform crossover of two parents, then
  mutation of each parameter with probability ``1 / parameters`` (at least one parameter always
  mutates): an ordinal parameter moves one or two values up or down, a categorical one takes
  another value. A child already proposed is redrawn (up to ``RETRIES`` times, then a random
  unseen design), so the agent rarely wastes a round on cache hits.
* When ``population`` children have been told, parents and children are merged and the best
  ``population`` survive: feasible designs by non-dominated front then crowding distance,
  then designs that violate constraints by violation, then failed ones (Deb's constrained
  domination).

All randomness comes from one PCG64 generator whose state is part of the checkpoint.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, ClassVar, Final

import numpy as np

from accelerators.errors import ConfigError

from ..pareto import crowding_distance, nondominated_fronts
from ..space import Design, Space
from .base import Agent, Observation, random_design, rng_from_state, rng_state

RETRIES: Final = 32


def _rank(members: Sequence[Observation]) -> list[tuple[int, float]]:
    """(rank, -crowding) per member: smaller is better."""
    keys: list[tuple[int, float]] = [(0, 0.0)] * len(members)
    feasible = [i for i, m in enumerate(members) if m.feasible and m.objectives is not None]
    next_rank = 0
    if feasible:
        points = np.array([members[i].objectives for i in feasible], dtype=float)
        for rank, front in enumerate(nondominated_fronts(points)):
            crowd = crowding_distance(points[front])
            for j, c in zip(front, crowd):
                keys[feasible[j]] = (rank, -float(c))
            next_rank = rank + 1
    violating = sorted({m.violation for m in members if not m.feasible and m.status != "failed"})
    for i, m in enumerate(members):
        if not m.feasible and m.status != "failed":
            keys[i] = (next_rank + violating.index(m.violation), 0.0)
    failed_rank = next_rank + len(violating)
    for i, m in enumerate(members):
        if m.status == "failed":
            keys[i] = (failed_rank, 0.0)
    return keys


class GeneticAgent(Agent):
    name: ClassVar[str] = "ga"
    description: ClassVar[str] = "genetic algorithm with NSGA-II selection (constrained domination)"
    options: ClassVar[Mapping[str, str]] = {"population": "designs per generation (default 16)"}

    def __init__(self, space: Space, seed: int, population: int = 16, **options: Any):
        super().__init__(space, seed)
        if options:
            raise ConfigError(None, "agent option", sorted(options), f"options of ga: {', '.join(self.options)}")
        if not isinstance(population, int) or population < 2:
            raise ConfigError(None, "population", population, "a whole number >= 2")
        self.population_size = min(population, space.size)
        self.rng = np.random.default_rng(self.seed)
        self.seen: set[int] = set()
        self.population: list[Observation] = []  # current parents (after the first generation)
        self.offspring: list[Observation] = []  # told since the last selection
        self.generation = 0

    # --- proposing ---------------------------------------------------------------------------
    def _random_unseen(self) -> Design | None:
        if len(self.seen) >= self.space.size:
            return None
        for _ in range(RETRIES * 4):
            design = random_design(self.space, self.rng)
            if self.space.index_of(design) not in self.seen:
                return design
        for index in range(self.space.size):  # nearly exhausted: take the first unseen in order
            if index not in self.seen:
                return self.space.design_at(index)
        return None

    def _tournament(self, keys: list[tuple[int, float]]) -> Observation:
        a, b = (int(i) for i in self.rng.integers(0, len(self.population), size=2))
        return self.population[a] if keys[a] <= keys[b] else self.population[b]

    def _mutate(self, genes: list[int]) -> list[int]:
        n = len(genes)
        rate = 1.0 / n
        forced = int(self.rng.integers(0, n))
        for i, p in enumerate(self.space.parameters):
            if p.size == 1 or (i != forced and self.rng.random() >= rate):
                continue
            if p.ordinal:
                step = int(self.rng.choice([-2, -1, 1, 2]))
                genes[i] = int(np.clip(genes[i] + step, 0, p.size - 1))
            else:
                other = int(self.rng.integers(0, p.size - 1))
                genes[i] = other if other < genes[i] else other + 1
        return genes

    def _child(self, keys: list[tuple[int, float]]) -> Design | None:
        for _ in range(RETRIES):
            mother, father = self._tournament(keys), self._tournament(keys)
            mask = self.rng.random(len(mother.design)) < 0.5
            genes = [m if pick else f for m, f, pick in zip(mother.design, father.design, mask)]
            child = tuple(self._mutate(genes))
            if self.space.index_of(child) not in self.seen:
                return child
        return self._random_unseen()

    def ask(self, n: int) -> list[Design]:
        out: list[Design] = []
        keys = _rank(self.population) if self.population else []
        for _ in range(n):
            design = self._child(keys) if self.population else self._random_unseen()
            if design is None:
                break
            self.seen.add(self.space.index_of(design))
            out.append(design)
        return out

    # --- learning ----------------------------------------------------------------------------
    def tell(self, observations: Sequence[Observation]) -> None:
        self.offspring.extend(observations)
        if len(self.offspring) < self.population_size:
            return
        pool = self.population + self.offspring
        keys = _rank(pool)
        order = sorted(range(len(pool)), key=lambda i: (keys[i], i))
        self.population = [pool[i] for i in order[: self.population_size]]
        self.offspring = []
        self.generation += 1

    def state_dict(self) -> dict[str, Any]:
        return {"rng": rng_state(self.rng), "seen": sorted(self.seen), "generation": self.generation,
                "population": [m.to_json() for m in self.population],
                "offspring": [m.to_json() for m in self.offspring]}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        self.rng = rng_from_state(state["rng"])
        self.seen = {int(i) for i in state["seen"]}
        self.generation = int(state["generation"])
        self.population = [Observation.from_json(m) for m in state["population"]]
        self.offspring = [Observation.from_json(m) for m in state["offspring"]]
