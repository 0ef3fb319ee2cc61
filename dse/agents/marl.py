"""Multi-agent PPO (``marl``): one RL agent per ``agent:`` group of the space, a shared team reward.

The agents play the PettingZoo parallel environment :class:`dse.envs.DesignParallelEnv`: all see
the same context design, each sets its group's parameters, the joint design is evaluated once
(or answered from the cache) and every agent receives the same :class:`dse.reward.TeamReward`
(normalised improvement over the context, on a log scale). Two ways to train them with
stable-baselines3 (``--option policy=shared|independent``):

* ``shared`` (default): one PPO policy for all agents, told apart by an agent indicator — the
  PettingZoo -> SuperSuit -> SB3 pipeline (``agent_indicator_v0``, ``pettingzoo_env_to_vec_env_v1``,
  ``concat_vec_envs_v1``); the observation each agent gets is exactly what SuperSuit's indicator
  appends. Every agent has the same action space ``MultiDiscrete([M] * P)`` and the environment
  maps each sub-action onto its parameter's values by scaling (``floor(a * n / M)``), not by
  padding or clipping (see :mod:`dse.envs.parallel`). One joint step gives one transition per
  agent, so an update covers ``n_steps x agents`` transitions in minibatches of
  ``batch_size x agents``.
* ``independent``: one PPO learner per agent (own policy, value function and optimiser) on the
  agent's own ``MultiDiscrete`` of its parameters' cardinalities.

Each step, each agent acts with probability ``active`` (default 0.5; at least one acts): the
others keep the context's values (:class:`dse.envs.DesignParallelEnv`). With the context being
the best design so far half of the time, a step is a coordinated move of a few agents from a
good design, and each agent learns its best response to the others' current values — what
parameters of different agents that interact need. Only the agents that acted are trained on a
step (the others' actions had no effect; the environment gives them reward 0).

Everything else — ask/tell over the bandit, free steps on designs the agent knows, unique
evaluations against the budget, exact resume — is :class:`dse.agents.ppo.BanditAgent`.
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar, Final

import numpy as np

from accelerators.errors import ConfigError

from ..space import Space
from .base import round_seed
from .ppo import OPTION_DOCS, BanditAgent, Learner

POLICIES: Final = ("shared", "independent")


def indicator_observation(obs: np.ndarray, obs_space, agent_index: int, agents: int) -> np.ndarray:
    """``obs`` with SuperSuit's agent indicator appended (the function ``agent_indicator_v0`` applies)."""
    from supersuit.utils.agent_indicator import change_observation

    return change_observation(obs, obs_space, (agent_index, agents))


def indicator_space(obs_space, agents: int):
    from supersuit.utils.agent_indicator import change_obs_space

    return change_obs_space(obs_space, agents)


def shared_policy_vec_env(env):
    """The PettingZoo -> SuperSuit -> SB3 vector environment of a shared policy over ``env``."""
    import supersuit as ss

    indicated = ss.agent_indicator_v0(env)
    vec = ss.pettingzoo_env_to_vec_env_v1(indicated)
    return ss.concat_vec_envs_v1(vec, 1, num_cpus=0, base_class="stable_baselines3")


class MarlAgent(BanditAgent):
    name: ClassVar[str] = "marl"
    description: ClassVar[str] = ("multi-agent PPO, one agent per parameter group, shared team reward "
                                  "(policy=shared: one policy + agent indicator; independent: one learner each)")
    options: ClassVar[Mapping[str, str]] = {
        "policy": "shared (one PPO policy with an agent indicator; default) or independent (one PPO per agent)",
        "active": "probability that an agent acts in a step; the others keep the context's values (default 0.5)",
        **OPTION_DOCS}
    extra_options: ClassVar[Mapping[str, Any]] = {"policy": "shared", "active": 0.5}

    def __init__(self, space: Space, seed: int, **options: Any):
        policy = options.get("policy", "shared")
        if policy not in POLICIES:
            raise ConfigError(None, "policy", policy, "shared or independent")
        active = options.get("active", 0.5)
        if not isinstance(active, (int, float)) or isinstance(active, bool) or not 0 < active <= 1:
            raise ConfigError(None, "active", active, "a probability in (0, 1]")
        super().__init__(space, seed, **options)

    def build_learners(self) -> list[Learner]:
        from ..envs import DesignParallelEnv

        self.shared = self.hyper["policy"] == "shared"
        self.env = DesignParallelEnv(self.space, actions="scaled" if self.shared else "native", cache=self.cache,
                                     active=float(self.hyper["active"]), incumbent=self.hyper["incumbent"])
        self.agents = list(self.env.possible_agents)
        n_steps, batch = self.hyper["n_steps"], self.hyper["batch_size"]
        if self.shared:
            base = self.env.observation_space(self.agents[0])
            self.obs_space = indicator_space(base, len(self.agents))
            return [Learner(self.obs_space, self.env.action_space(self.agents[0]), round_seed(self.seed, 2_000_003),
                            self.hyper, n_steps * len(self.agents), batch * len(self.agents))]
        return [Learner(self.env.observation_space(a), self.env.action_space(a), round_seed(self.seed, 3_000_003 + i),
                        self.hyper, n_steps, batch) for i, a in enumerate(self.agents)]

    def act(self, contexts):
        env, k = self.env, len(self.agents)
        acting = [env.sample_acting(self.rng, c) for c in contexts]
        base = np.stack([env.observe(c, a) for c, a in zip(contexts, acting)])
        per_agent: list[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]] = []
        if self.shared:
            space = env.observation_space(self.agents[0])
            obs = np.stack([indicator_observation(base[i], space, j, k)
                            for i in range(len(contexts)) for j in range(k)])
            actions, values, log_probs = self.learners[0].act(obs, self.rng)
            for j in range(k):
                rows = slice(j, None, k)
                per_agent.append((obs[rows], actions[rows], values[rows], log_probs[rows]))
        else:
            for j in range(k):
                actions, values, log_probs = self.learners[j].act(base, self.rng)
                per_agent.append((base, actions, values, log_probs))
        out = []
        for i, context in enumerate(contexts):
            joint = {a: per_agent[j][1][i] for j, a in enumerate(self.agents)}
            parts = [(0 if self.shared else j, per_agent[j][0][i], per_agent[j][1][i], float(per_agent[j][2][i]),
                      float(per_agent[j][3][i])) for j, a in enumerate(self.agents) if a in acting[i]]
            out.append((env.design_of(joint, context, acting[i]), parts))
        return out
