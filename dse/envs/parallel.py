"""A PettingZoo parallel environment over a design space: one agent per ``agent:`` group.

Each episode is one step from a context design (see :mod:`dse.envs.core`):

* **Who acts.** Each agent acts with probability ``active`` (at least one does; all do while no
  feasible design is known). An agent that does not act keeps the context's values for its
  parameters; its action is ignored and its reward is 0 (SuperSuit's black-death convention for
  agents that are not playing). With ``active=1`` every agent always acts. With ``active < 1`` a
  step is a coordinated move of some agents from a known design, so each agent learns its best
  response to the other agents' current choices — the interactions between agents' parameters
  are what it has to learn.
* **Observation** (the same for every agent): the context encoding, then the mask of the agents
  acting this step (one entry per agent, in ``possible_agents`` order).
* **Reward.** The joint design is evaluated once (or answered from the cache) and every acting
  agent receives the same team reward (:class:`dse.reward.TeamReward`, normalised improvement
  over the context).

Action spaces (``actions=``):

* ``"scaled"`` (default; for one policy shared by all agents, which needs identical spaces):
  every agent gets ``MultiDiscrete([M] * P)`` — ``M`` the largest cardinality of any parameter,
  ``P`` the most parameters any group has. Sub-action ``a`` of a parameter with ``n`` values
  selects value ``floor(a * n / M)``: every value gets ``M // n`` or ``M // n + 1`` of the ``M``
  actions, so a uniform policy is (nearly) uniform over each parameter's values. Padding the
  action and clipping (``min(a, n - 1)``) would give the last value ``M - n + 1`` actions, and
  padding with "unused" actions that fall back to the first value would bias small parameters
  toward it; both distort the exploration of the parameters with few values. Sub-actions beyond
  a group's parameters are ignored.
* ``"native"`` (for independent learners): each agent's own ``MultiDiscrete`` of its parameters'
  cardinalities.

For a shared policy: ``supersuit.agent_indicator_v0`` (append a one-hot agent id),
``pettingzoo_env_to_vec_env_v1`` and ``concat_vec_envs_v1(..., base_class="stable_baselines3")``
turn this environment into a vector environment ``stable_baselines3.PPO`` can learn from.
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

import numpy as np
from gymnasium import spaces
from pettingzoo import ParallelEnv

from ..agents.base import Observation
from ..space import Design, Space
from .core import DesignMDP, Evaluate, EvaluationCache

ACTION_MODES: Final = ("scaled", "native")


def scaled_index(action: int, values: int, width: int) -> int:
    """Value index of sub-action ``action`` in ``0..width-1`` for a parameter with ``values`` values."""
    return (int(action) * values) // width


class DesignParallelEnv(ParallelEnv):
    """One agent per group of ``space``; the joint action is a design; a shared team reward."""

    metadata = {"name": "moearch-design-v0", "render_modes": [], "is_parallelizable": True}

    def __init__(self, space: Space, evaluate: Evaluate | None = None, *, actions: str = "scaled",
                 active: float = 1.0, incumbent: float = 0.5, scale: str = "log",
                 cache: EvaluationCache | None = None, seed: int | None = None):
        if actions not in ACTION_MODES:
            raise ValueError(f"actions must be one of {ACTION_MODES}, got {actions!r}")
        if not 0.0 < active <= 1.0:
            raise ValueError(f"active must be a probability in (0, 1], got {active!r}")
        self.active = float(active)
        self.space = space
        self.actions = actions
        self.cache = cache if cache is not None else EvaluationCache(space, evaluate, scale)
        self.mdp = DesignMDP(self.cache, incumbent)
        self.render_mode = None
        self.possible_agents = list(space.groups)
        self.agents: list[str] = []
        self.groups = dict(space.groups)
        self.width = max(space.cardinalities)
        self.slots = max(len(p) for p in self.groups.values())
        self._obs_space = spaces.Box(0.0, 1.0, shape=(self.mdp.size + len(self.possible_agents),), dtype=np.float32)
        self._act_spaces = {
            agent: spaces.MultiDiscrete(np.full(self.slots, self.width, dtype=np.int64)) if actions == "scaled"
            else spaces.MultiDiscrete(np.asarray([space.cardinalities[i] for i in positions], dtype=np.int64))
            for agent, positions in self.groups.items()}
        self.context: int | None = None
        self.acting: tuple[str, ...] = ()
        self._rng = np.random.default_rng(seed)

    def observation_space(self, agent: str) -> spaces.Box:
        return self._obs_space

    def action_space(self, agent: str) -> spaces.MultiDiscrete:
        return self._act_spaces[agent]

    @property
    def evaluations(self) -> int:
        return self.cache.evaluations

    def sample_acting(self, rng: np.random.Generator, context: int | None) -> tuple[str, ...]:
        """The agents that act in a step from ``context`` (each with probability ``active``, at least one)."""
        if context is None or self.active >= 1.0:
            return tuple(self.possible_agents)
        mask = rng.random(len(self.possible_agents)) < self.active
        if not mask.any():
            mask[int(rng.integers(0, len(mask)))] = True
        return tuple(a for a, m in zip(self.possible_agents, mask) if m)

    def observe(self, context: int | None, acting: tuple[str, ...]) -> np.ndarray:
        """The observation every agent gets: context encoding + acting mask."""
        mask = np.asarray([a in acting for a in self.possible_agents], dtype=np.float32)
        return np.concatenate([self.mdp.encode(context), mask])

    def design_of(self, actions: Mapping[str, Any], context: int | None = None,
                  acting: tuple[str, ...] | None = None) -> Design:
        """The joint design: acting agents' actions, the context's values for the others."""
        acting = tuple(self.possible_agents) if acting is None else acting
        base = self.space.design_at(context) if context is not None else None
        design = [0] * len(self.space.parameters)
        for agent, positions in self.groups.items():
            if agent not in acting:
                if base is None:
                    raise ValueError(f"agent {agent!r} does not act and there is no context design")
                for position in positions:
                    design[position] = base[position]
                continue
            action = np.asarray(actions[agent]).reshape(-1)
            for slot, position in enumerate(positions):
                n = self.space.cardinalities[position]
                design[position] = scaled_index(action[slot], n, self.width) if self.actions == "scaled" \
                    else int(action[slot])
        return self.space.check(design)

    def reset(self, seed: int | None = None, options: dict[str, Any] | None = None):
        if seed is not None:
            self._rng = np.random.default_rng(seed)
        self.agents = list(self.possible_agents)
        self.context = self.mdp.sample_context(self._rng)
        self.acting = self.sample_acting(self._rng, self.context)
        obs = self.observe(self.context, self.acting)
        return ({a: obs.copy() for a in self.agents},
                {a: {"context": self.context, "acting": a in self.acting} for a in self.agents})

    def complete(self, outcome: Observation):
        """Finish a step with the joint design's outcome: the team reward for every acting agent."""
        reward = self.mdp.reward(self.context, outcome)
        index = self.space.index_of(outcome.design)
        obs = self.observe(index if index in self.cache.values else self.context, self.acting)
        info = {"design": outcome.design, "status": outcome.status, "cached": outcome.cached,
                "evaluations": self.cache.evaluations}
        agents = list(self.agents)
        self.agents = []
        return ({a: obs.copy() for a in agents}, {a: reward if a in self.acting else 0.0 for a in agents},
                {a: True for a in agents}, {a: False for a in agents},
                {a: {**info, "acting": a in self.acting} for a in agents})

    def step(self, actions: Mapping[str, Any]):
        design = self.design_of(actions, self.context, self.acting)
        outcome = self.cache.query([design])[0]
        return self.complete(outcome)
