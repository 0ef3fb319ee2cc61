"""What the RL environments share: the unique-evaluation cache, contexts, observations, reward.

The design problem seen by the RL agents is a *contextual bandit*: an episode is one step.

* **Context.** The episode starts from a design already evaluated and feasible — the best one so
  far with probability ``incumbent``, otherwise one drawn uniformly from the feasible designs
  known — or from no design while none is known.
* **Observation.** The context design, one-hot per parameter (``sum(space.cardinalities)``
  entries), then two numbers: 1 when there is a context, and where the context's value lies
  between the best and the worst feasible value known (0 = best, 1 = worst).
* **Action.** A whole design (each environment says how actions map onto value indices).
* **Reward.** :class:`dse.reward.TeamReward` seeded with the context as the best so far: the
  improvement of a newly evaluated design over the context, divided by the spread of the
  feasible values known (in [0, 1]); ``-0.1`` for an infeasible or failed design; 1 for the first
  feasible design when there was no context. A design already known (a cache hit) improves
  nothing and tells nothing new: ``-0.1``, like an infeasible one. So the order is improvement >
  a new feasible design (0) > a repeat or an infeasible design: a policy gains nothing by
  proposing designs it has seen, however good they are (with 0 for repeats, a policy on a space
  that is mostly infeasible learns to play safe by repeating known feasible designs). Bounded,
  so it never blows up near the optimum.
* **Value scale.** The first objective (minimisation form) is compared on a log scale by
  default (``scale="log"``: ``log v`` for positive values, ``-log(-v)`` for negative ones, i.e.
  maximised positive metrics), so improvements are relative: a 1% gain near the optimum is
  worth as much as a 1% gain far from it, however wide the spread of values. Use
  ``scale="linear"`` for objectives that can be zero or change sign.

The :class:`EvaluationCache` answers a design seen before from its first outcome (a cache hit,
free) and counts *unique evaluations* the way a job does: designs that were not seen before and
not rejected before evaluation (ArchGym's rule: count simulator calls, not steps).
"""
from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from typing import Any, Final

import numpy as np

from ..agents.base import Observation
from ..evaluation import evaluate_chunk, minimised
from ..reward import TeamReward
from ..space import Design, Space

Evaluate = Callable[[Sequence[Design]], Sequence[Observation]]
SCALES: Final = ("log", "linear")
EXTRA_FEATURES: Final = 2


class SpaceEvaluator:
    """Evaluate designs with the space's domain adapter (:func:`dse.evaluation.evaluate_chunk`)."""

    def __init__(self, space: Space):
        self.space = space

    def __call__(self, designs: Sequence[Design]) -> list[Observation]:
        out = []
        for design, ev in zip(designs, evaluate_chunk(self.space, list(designs))):
            objectives = minimised(self.space, ev.objectives) if ev.status == "ok" else None
            out.append(Observation(tuple(design), ev.status, objectives, ev.violation))
        return out


def scaled_value(value: float, scale: str) -> float:
    """A minimised objective value on the reward's scale (nan when the log is undefined)."""
    if scale == "linear":
        return float(value)
    if value > 0:
        return math.log(value)
    if value < 0:
        return -math.log(-value)
    return math.nan


class EvaluationCache:
    """Outcomes of the designs seen so far, by design index; counts unique evaluations.

    ``evaluate`` (optional) is called for designs not seen before; without it, outcomes are
    recorded with :meth:`record` (what an ask/tell agent does with what it is told)."""

    def __init__(self, space: Space, evaluate: Evaluate | None = None, scale: str = "log"):
        if scale not in SCALES:
            raise ValueError(f"scale must be one of {SCALES}, got {scale!r}")
        self.space = space
        self.evaluate = evaluate
        self.scale = scale
        self._clear()

    def _clear(self) -> None:
        self.outcomes: dict[int, Observation] = {}
        self.feasible: list[int] = []   # design indices of feasible designs, in the order seen
        self.values: dict[int, float] = {}  # scaled first objective of the feasible ones
        self.best: int | None = None
        self.low = math.inf
        self.high = -math.inf
        self.evaluations = 0
        self.hits = 0

    def __contains__(self, index: int) -> bool:
        return index in self.outcomes

    def __len__(self) -> int:
        return len(self.outcomes)

    def get(self, index: int) -> Observation | None:
        return self.outcomes.get(index)

    def value(self, index: int) -> float:
        return self.values[index]

    def record(self, observation: Observation) -> bool:
        """Remember an outcome; False when the design was already known (the first outcome stays)."""
        index = self.space.index_of(observation.design)
        if index in self.outcomes:
            return False
        self.outcomes[index] = replace(observation, cached=False)
        if observation.status != "infeasible":
            self.evaluations += 1
        if observation.feasible and observation.objectives is not None:
            value = scaled_value(observation.objectives[0], self.scale)
            if math.isfinite(value):
                self.feasible.append(index)
                self.values[index] = value
                self.low, self.high = min(self.low, value), max(self.high, value)
                if self.best is None or value < self.values[self.best]:
                    self.best = index
        return True

    def query(self, designs: Sequence[Design]) -> list[Observation]:
        """Outcomes of ``designs``: known ones from the cache (``cached``), new ones evaluated once."""
        indices = [self.space.index_of(d) for d in designs]
        new: list[int] = []
        for index in indices:
            if index not in self.outcomes and index not in new:
                new.append(index)
        if new:
            if self.evaluate is None:
                raise RuntimeError("this cache has no evaluator; record outcomes with record()")
            for observation in self.evaluate([self.space.design_at(i) for i in new]):
                self.record(observation)
        out = []
        fresh = set(new)
        for index in indices:
            known = self.outcomes[index]
            if index in fresh:
                fresh.discard(index)
                out.append(known)
            else:
                self.hits += 1
                out.append(replace(known, cached=True))
        return out

    def state_dict(self) -> dict[str, Any]:
        return {"outcomes": [o.to_json() for o in self.outcomes.values()], "hits": self.hits}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        self._clear()
        for data in state["outcomes"]:
            self.record(Observation.from_json(data))
        self.hits = int(state["hits"])


class DesignMDP:
    """Contexts, observations and rewards of the design bandit over ``cache.space``."""

    def __init__(self, cache: EvaluationCache, incumbent: float = 0.5, penalty: float = 0.1):
        if not 0.0 <= incumbent <= 1.0:
            raise ValueError(f"incumbent must be a probability, got {incumbent!r}")
        self.cache = cache
        self.space = cache.space
        self.incumbent = float(incumbent)
        self.penalty = float(penalty)
        self.offsets = np.concatenate([[0], np.cumsum(self.space.cardinalities)[:-1]]).astype(int)
        self.size = int(sum(self.space.cardinalities)) + EXTRA_FEATURES

    def sample_context(self, rng: np.random.Generator) -> int | None:
        """A feasible known design index (the incumbent with probability ``incumbent``), or None."""
        cache = self.cache
        if cache.best is None:
            return None
        if rng.random() < self.incumbent:
            return cache.best
        return cache.feasible[int(rng.integers(0, len(cache.feasible)))]

    def encode(self, context: int | None) -> np.ndarray:
        obs = np.zeros(self.size, dtype=np.float32)
        if context is None:
            return obs
        design = self.space.design_at(context)
        obs[self.offsets + np.asarray(design)] = 1.0
        cache = self.cache
        spread = cache.high - cache.low
        obs[-2] = 1.0
        obs[-1] = (cache.values[context] - cache.low) / spread if spread > 0 else 0.0
        return obs

    def reward(self, context: int | None, outcome: Observation) -> float:
        """TeamReward of ``outcome`` with the context as the best so far and the known spread.

        A repeat of a known design (``outcome.cached``) improves nothing and tells nothing new:
        ``-penalty``, like an infeasible design."""
        cache = self.cache
        if outcome.cached:
            return -self.penalty
        if context is None:
            team = TeamReward(penalty=self.penalty)
        else:
            team = TeamReward(penalty=self.penalty, best=cache.values[context], low=cache.low, high=cache.high)
        objectives = None
        if outcome.objectives is not None:
            objectives = (scaled_value(outcome.objectives[0], cache.scale),)
        return float(team(objectives, outcome.feasible))
