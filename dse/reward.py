"""A well-conditioned shared reward for RL agents: normalised improvement over the best so far.

For each evaluated design the team is rewarded by how much it improved the best feasible value
found so far (objectives in minimisation form, reduced to one number by ``scalar``), divided by
the spread of the feasible values seen (max - min, including the new one):

* the reward of a feasible design lies in [0, 1]: an improvement can never exceed the spread, so
  nothing blows up near the optimum or when values are tiny (unlike 1 / distance-to-target);
* the first feasible design gets 1 (it improves on nothing found);
* a design that is feasible but no better gets 0; an infeasible or failed one gets
  ``-penalty`` (default 0.1), a small, fixed signal to leave the infeasible region;
* a repeat of a known design (a cache hit) is scored like any other: it improves nothing.

The state (best, min, max) is JSON-serialisable for agent checkpoints.
"""
from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any


def first_objective(objectives: Sequence[float]) -> float:
    return float(objectives[0])


@dataclass
class TeamReward:
    penalty: float = 0.1
    scalar: Callable[[Sequence[float]], float] = first_objective
    best: float | None = None
    low: float | None = None
    high: float | None = None

    def __call__(self, objectives: Sequence[float] | None, feasible: bool) -> float:
        """The reward of one design: ``objectives`` minimised (None when not evaluated)."""
        if not feasible or objectives is None:
            return -self.penalty
        value = self.scalar(objectives)
        if not math.isfinite(value):
            return -self.penalty
        if self.best is None:
            self.best = self.low = self.high = value
            return 1.0
        assert self.low is not None and self.high is not None
        self.low, self.high = min(self.low, value), max(self.high, value)
        spread = self.high - self.low
        gain = self.best - value
        self.best = min(self.best, value)
        if gain <= 0 or spread <= 0:
            return 0.0
        return min(1.0, gain / spread)

    def state_dict(self) -> dict[str, Any]:
        return {"best": self.best, "low": self.low, "high": self.high}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        self.best, self.low, self.high = state["best"], state["low"], state["high"]
