"""A gymnasium environment over a design space: one ``MultiDiscrete`` action is a whole design.

``DesignEnv(space, evaluate)`` — ``evaluate`` turns designs into :class:`Observation` outcomes
(:class:`SpaceEvaluator` runs the space's models; a benchmark passes a table lookup). Each
episode is one step of the design bandit of :mod:`dse.envs.core`: ``reset`` draws a context (a
known feasible design, or none), ``step(action)`` evaluates the design ``action`` names — unless
it is in the cache — and returns the team reward. ``info`` says which design it was, whether it
came from the cache, and how many unique evaluations the environment has spent.

The environment works with any gymnasium-compatible learner (``stable_baselines3.PPO("MlpPolicy",
env)``). The ``ppo`` agent (``dse.agents.ppo``) drives the same environment in two halves —
:meth:`propose` in ``ask`` and :meth:`complete` in ``tell`` — because a job, not the learner,
decides when designs are evaluated.
"""
from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces
from gymnasium.envs.registration import EnvSpec

from ..agents.base import Observation
from ..space import Design, Space
from .core import DesignMDP, Evaluate, EvaluationCache


class DesignEnv(gym.Env):
    """Single-agent design bandit over ``space`` (actions: ``MultiDiscrete(space.cardinalities)``)."""

    metadata = {"render_modes": []}

    def __init__(self, space: Space, evaluate: Evaluate | None = None, *, incumbent: float = 0.5,
                 scale: str = "log", cache: EvaluationCache | None = None):
        super().__init__()
        # The cache persists across episodes (that is the budget), so a seeded reset does not
        # replay an episode: gymnasium's name for that is a nondeterministic environment.
        self.spec = EnvSpec("moearch/Design-v0", nondeterministic=True)
        self.space = space
        self.cache = cache if cache is not None else EvaluationCache(space, evaluate, scale)
        self.mdp = DesignMDP(self.cache, incumbent)
        self.action_space = spaces.MultiDiscrete(np.asarray(space.cardinalities, dtype=np.int64))
        self.observation_space = spaces.Box(0.0, 1.0, shape=(self.mdp.size,), dtype=np.float32)
        self.context: int | None = None

    @property
    def evaluations(self) -> int:
        """Unique evaluations spent (designs not seen before and not rejected before evaluation)."""
        return self.cache.evaluations

    def design_of(self, action: Any) -> Design:
        return self.space.check(tuple(int(a) for a in np.asarray(action).reshape(-1)))

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        super().reset(seed=seed)
        self.context = self.mdp.sample_context(self.np_random)
        return self.mdp.encode(self.context), {"context": self.context}

    def propose(self, action: Any) -> Design:
        """The design ``action`` names (first half of :meth:`step`)."""
        return self.design_of(action)

    def complete(self, outcome: Observation):
        """Finish the step with the outcome of the proposed design (second half of :meth:`step`)."""
        reward = self.mdp.reward(self.context, outcome)
        info = {"design": outcome.design, "status": outcome.status, "cached": outcome.cached,
                "evaluations": self.cache.evaluations}
        index = self.space.index_of(outcome.design)
        obs = self.mdp.encode(index if index in self.cache.values else self.context)
        return obs, reward, True, False, info

    def step(self, action: Any):
        design = self.propose(action)
        outcome = self.cache.query([design])[0]
        return self.complete(outcome)
