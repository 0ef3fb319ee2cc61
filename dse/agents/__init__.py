"""The agent registry: one name per agent, lower-case-with-dashes.

``make_agent(name, space, seed, **options)`` builds a fresh agent; ``register_agent`` adds one
(the RL agents plug in here: ``ppo`` over a MultiDiscrete action of ``space.cardinalities``,
``marl`` with one PettingZoo agent per ``space.groups`` entry).
"""
from __future__ import annotations

import re
from typing import Any

from accelerators.errors import ConfigError

from ..space import Space
from .base import Agent, Observation, random_design, rng_from_state, rng_state, round_seed
from .baselines import ExhaustiveAgent, RandomAgent
from .bayes import TpeAgent
from .genetic import GeneticAgent
from .gp import GpAgent
from .marl import MarlAgent
from .ppo import PpoAgent

AGENTS: dict[str, type[Agent]] = {}
_NAME = re.compile(r"^[a-z0-9]+(-[a-z0-9]+)*$")


def register_agent(cls: type[Agent]) -> type[Agent]:
    """Add an agent class under its ``name`` (usable as a class decorator)."""
    if not _NAME.match(cls.name):
        raise ValueError(f"agent name {cls.name!r} must be lower-case-with-dashes")
    if cls.name in AGENTS and AGENTS[cls.name] is not cls:
        raise ValueError(f"agent {cls.name!r} is already registered")
    AGENTS[cls.name] = cls
    return cls


for _cls in (RandomAgent, ExhaustiveAgent, GeneticAgent, TpeAgent, GpAgent, PpoAgent, MarlAgent):
    register_agent(_cls)


def list_agents() -> list[str]:
    return sorted(AGENTS)


def make_agent(name: str, space: Space, seed: int, **options: Any) -> Agent:
    """A fresh agent; ConfigError for an unknown name or option."""
    try:
        cls = AGENTS[name]
    except KeyError:
        raise ConfigError(None, "--agent", name, f"one of: {', '.join(list_agents())}") from None
    try:
        return cls(space, seed, **options)
    except TypeError as error:
        raise ConfigError(None, "agent option", sorted(options), f"options of {name}: "
                          f"{', '.join(cls.options) or 'none'} ({error})") from None


__all__ = ["AGENTS", "Agent", "Observation", "list_agents", "make_agent", "random_design", "register_agent",
           "rng_from_state", "rng_state", "round_seed"]
