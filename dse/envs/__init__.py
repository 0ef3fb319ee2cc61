"""RL environments over a design space (needs the ``rl`` extra: gymnasium, pettingzoo).

* :class:`DesignEnv` — gymnasium, one ``MultiDiscrete`` action for the whole design;
* :class:`DesignParallelEnv` — PettingZoo parallel API, one agent per ``agent:`` group of the
  space, a shared team reward; ``actions="scaled"`` gives every agent the same action space
  (for one shared policy), ``"native"`` each its own;
* :class:`EvaluationCache` — the unique-evaluation cache both use (a repeat is free);
  :class:`SpaceEvaluator` evaluates designs with the space's models.

See :mod:`dse.envs.core` for the episode (context, observation, reward).
"""
from .core import DesignMDP, EvaluationCache, SpaceEvaluator, scaled_value
from .parallel import DesignParallelEnv, scaled_index
from .single import DesignEnv

__all__ = ["DesignEnv", "DesignMDP", "DesignParallelEnv", "EvaluationCache", "SpaceEvaluator", "scaled_index",
           "scaled_value"]
