"""The agent interface: ask for a batch of designs, tell their outcomes, checkpoint the state.

A job drives an agent in rounds: ``ask(n)`` returns up to ``n`` designs (tuples of value indices,
one per parameter; an empty list means the agent has nothing more to propose), the job
evaluates them and calls ``tell`` once with one :class:`Observation` per asked design, in the
same order. After each tell the job saves ``state_dict()`` (JSON); a resumed job builds a fresh
agent with the same space, seed and options, calls ``load_state_dict`` and carries on — it must
then ask exactly what the uninterrupted agent would have asked. Agents therefore keep all their
randomness in the state (``rng_state``/``rng_from_state``) or derive it from ``(seed, round)``
(``round_seed``).

Designs an agent proposes again are answered from the job's cache and do not count against the
budget; an agent should still avoid them, since a round of repeats makes no progress.
"""
from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from ..space import Design, Space


@dataclass(frozen=True)
class Observation:
    """What an agent learns about one asked design.

    ``status``: ``ok`` (evaluated), ``failed`` (the evaluator raised) or ``infeasible`` (rejected
    by a constraint before evaluation). ``objectives`` are in minimisation form (``max`` goals
    negated), in the space's objective order, for ``ok`` designs only. ``violation`` is 0 for a
    feasible design, else how far it is from the constraints (relative, > 0). ``cached`` says the
    job answered from an earlier evaluation."""

    design: Design
    status: str
    objectives: tuple[float, ...] | None
    violation: float
    cached: bool = False

    @property
    def feasible(self) -> bool:
        return self.status == "ok" and self.violation == 0

    def to_json(self) -> dict[str, Any]:
        return {"design": list(self.design), "status": self.status,
                "objectives": None if self.objectives is None else list(self.objectives),
                "violation": self.violation, "cached": self.cached}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> "Observation":
        objectives = data["objectives"]
        return cls(tuple(int(i) for i in data["design"]), str(data["status"]),
                   None if objectives is None else tuple(float(v) for v in objectives),
                   float(data["violation"]), bool(data.get("cached", False)))


class Agent(ABC):
    """Base class of every agent; subclasses register themselves in ``dse.agents.AGENTS``."""

    name: ClassVar[str]
    description: ClassVar[str]
    options: ClassVar[Mapping[str, str]] = {}  # option name -> meaning (for --help and errors)

    def __init__(self, space: Space, seed: int, **options: Any):
        self.space = space
        self.seed = int(seed)

    @abstractmethod
    def ask(self, n: int) -> list[Design]:
        """Up to ``n`` designs to evaluate next; [] when the agent has nothing more to propose."""

    @abstractmethod
    def tell(self, observations: Sequence[Observation]) -> None:
        """The outcomes of the last ``ask``, one per design, in the order asked."""

    @abstractmethod
    def state_dict(self) -> dict[str, Any]:
        """Everything needed to continue exactly (JSON-serialisable)."""

    @abstractmethod
    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Restore a state saved by :meth:`state_dict` of an agent built with the same arguments."""


def rng_state(rng: np.random.Generator) -> dict[str, Any]:
    """A Generator's bit-generator state as JSON-serialisable data."""
    return dict(rng.bit_generator.state)


def rng_from_state(state: Mapping[str, Any]) -> np.random.Generator:
    rng = np.random.Generator(np.random.PCG64())
    rng.bit_generator.state = dict(state)
    return rng


def round_seed(seed: int, round_index: int) -> int:
    """A 32-bit seed for round ``round_index`` of an agent seeded ``seed`` (independent streams)."""
    return int(np.random.SeedSequence([int(seed) & 0xFFFFFFFF, int(round_index)]).generate_state(1)[0])


def random_design(space: Space, rng: np.random.Generator) -> Design:
    """A design drawn uniformly from the whole space (each parameter uniformly, independently)."""
    return tuple(int(rng.integers(0, n)) for n in space.cardinalities)
