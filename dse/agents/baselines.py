"""Baselines that learn nothing: random sampling without replacement, and exhaustive enumeration."""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, ClassVar, Final

import numpy as np

from accelerators.errors import ConfigError

from ..space import Design, Space
from .base import Agent, Observation, random_design, rng_from_state, rng_state

# Below this many designs the random agent can list the unseen ones when rejection gets slow.
DENSE_LIMIT: Final = 1 << 20
EXHAUSTIVE_LIMIT: Final = 1_000_000


class RandomAgent(Agent):
    """Uniform random designs, never the same one twice (until the space is used up)."""

    name: ClassVar[str] = "random"
    description: ClassVar[str] = "uniform random sampling without replacement"

    def __init__(self, space: Space, seed: int, **options: Any):
        super().__init__(space, seed)
        if options:
            raise ConfigError(None, "agent option", sorted(options), "the random agent takes no options")
        self.rng = np.random.default_rng(self.seed)
        self.seen: set[int] = set()

    def _draw(self) -> int | None:
        size = self.space.size
        if len(self.seen) >= size:
            return None
        if size <= DENSE_LIMIT and len(self.seen) * 2 >= size:
            unseen = np.setdiff1d(np.arange(size), np.fromiter(self.seen, dtype=np.int64), assume_unique=True)
            return int(unseen[self.rng.integers(0, len(unseen))])
        while True:
            index = self.space.index_of(random_design(self.space, self.rng))
            if index not in self.seen:
                return index

    def ask(self, n: int) -> list[Design]:
        out: list[Design] = []
        for _ in range(n):
            index = self._draw()
            if index is None:
                break
            self.seen.add(index)
            out.append(self.space.design_at(index))
        return out

    def tell(self, observations: Sequence[Observation]) -> None:
        del observations  # random search does not learn

    def state_dict(self) -> dict[str, Any]:
        return {"rng": rng_state(self.rng), "seen": sorted(self.seen)}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        self.rng = rng_from_state(state["rng"])
        self.seen = {int(i) for i in state["seen"]}


class ExhaustiveAgent(Agent):
    """Every design in mixed-radix order (last parameter fastest); for small spaces."""

    name: ClassVar[str] = "exhaustive"
    description: ClassVar[str] = f"every design in order (spaces of at most {EXHAUSTIVE_LIMIT:,} designs)"

    def __init__(self, space: Space, seed: int, **options: Any):
        super().__init__(space, seed)
        if options:
            raise ConfigError(None, "agent option", sorted(options), "the exhaustive agent takes no options")
        if space.size > EXHAUSTIVE_LIMIT:
            raise ConfigError(space.source, "parameters", f"{space.size:,} designs",
                              f"at most {EXHAUSTIVE_LIMIT:,} designs for --agent exhaustive; use random, ga, tpe or gp")
        self.next_index = 0

    def ask(self, n: int) -> list[Design]:
        stop = min(self.space.size, self.next_index + n)
        out = [self.space.design_at(i) for i in range(self.next_index, stop)]
        self.next_index = stop
        return out

    def tell(self, observations: Sequence[Observation]) -> None:
        del observations

    def state_dict(self) -> dict[str, Any]:
        return {"next_index": self.next_index}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        self.next_index = int(state["next_index"])
