"""Single-agent PPO (``ppo``): stable-baselines3 PPO acting with one ``MultiDiscrete`` design.

The agent plays the design bandit of :mod:`dse.envs` (``DesignEnv``): each step starts from a
*context* (a feasible design already evaluated: the best so far with probability
``incumbent``, otherwise a random one), the policy proposes a whole design, and the reward is
:class:`dse.reward.TeamReward`'s normalised improvement over the context, on a log scale.

A job, not the learner, decides when designs are evaluated, so the SB3 ``PPO.learn`` loop is
inverted into ask/tell. SB3 supplies the policy, its optimiser and the PPO update
(``PPO.train`` on a ``RolloutBuffer``); this module collects the transitions:

* ``ask(n)`` samples contexts and actions in blocks of ``block`` steps. A proposed design the
  agent already knows is answered from its cache at once — a free RL step that costs no
  evaluation (the budget counts unique evaluations, never timesteps) — and the loop goes on
  until ``n`` new designs are proposed; their steps wait for ``tell``. After ``max_free x n``
  free steps without ``n`` new designs (the policy keeps proposing designs it knows), the round
  returns what it has, or one uniformly random unseen design if it has nothing
  (``diagnostics()["fallbacks"]`` counts these).
* ``tell`` finishes the waiting steps with their rewards. Every ``n_steps`` finished steps, one
  PPO update (``n_epochs`` passes in minibatches of ``batch_size``) runs on exactly those steps.

Exact resume: the state holds the policy and optimiser (``torch.save``, base64), the steps not
yet trained on, the known outcomes, the PCG64 state that draws contexts and actions (actions
are sampled with Gumbel-max from the policy's logits, not from torch's global generator), and
the counters; minibatch shuffling is seeded from ``(seed, update)``. A restored agent asks
exactly what the uninterrupted one would.
"""
from __future__ import annotations

import base64
import contextlib
import io
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, ClassVar, Final

import numpy as np

from accelerators.errors import ConfigError

from ..space import Design, Space
from .base import Agent, Observation, random_design, rng_from_state, rng_state, round_seed

DEFAULTS: Final[dict[str, Any]] = {
    "n_steps": 32, "batch_size": 32, "n_epochs": 4, "learning_rate": 1e-3, "ent_coef": 0.01, "hidden": 64,
    "block": 16, "max_free": 16, "incumbent": 0.5, "scale": "log", "train": True,
}
OPTION_DOCS: Final[dict[str, str]] = {
    "n_steps": "steps per PPO update (default 32)",
    "batch_size": "minibatch size in steps (default 32)",
    "n_epochs": "passes over each update's steps (default 4)",
    "learning_rate": "Adam step size (default 1e-3)",
    "ent_coef": "entropy bonus (default 0.01)",
    "hidden": "units in each of the two hidden layers of the policy and value nets (default 64)",
    "block": "contexts sampled per policy call (default 16)",
    "max_free": "free steps (known designs) per requested design before a round gives up (default 16)",
    "incumbent": "probability that a step starts from the best design so far (default 0.5)",
    "scale": "log (relative improvements; default) or linear",
    "train": "false keeps the initial policy (an ablation: what the search does without learning)",
}
_INTS: Final = ("n_steps", "batch_size", "n_epochs", "hidden", "block", "max_free")
_FLOATS: Final = ("learning_rate", "ent_coef", "incumbent")


def check_options(name: str, options: Mapping[str, Any], extra: Mapping[str, Any] = {}) -> dict[str, Any]:
    """Defaults merged with ``options``; ConfigError for an unknown or out-of-range option."""
    allowed = {**DEFAULTS, **extra}
    out = dict(allowed)
    for key, value in options.items():
        if key not in allowed:
            raise ConfigError(None, "agent option", key, f"options of {name}: {', '.join(allowed)}")
        out[key] = value
    for key in _INTS:
        v = out[key]
        if not isinstance(v, int) or isinstance(v, bool) or v < 1:
            raise ConfigError(None, key, v, "a whole number >= 1")
    for key in _FLOATS:
        v = out[key]
        if not isinstance(v, (int, float)) or isinstance(v, bool) or v < 0:
            raise ConfigError(None, key, v, "a number >= 0")
    if out["incumbent"] > 1:
        raise ConfigError(None, "incumbent", out["incumbent"], "a probability in [0, 1]")
    if out["learning_rate"] <= 0:
        raise ConfigError(None, "learning_rate", out["learning_rate"], "a number > 0")
    if out["scale"] not in ("log", "linear"):
        raise ConfigError(None, "scale", out["scale"], "log or linear")
    if not isinstance(out["train"], bool):
        raise ConfigError(None, "train", out["train"], "true or false")
    return out


# --- serialisation helpers ----------------------------------------------------------------------

def pack_array(array: np.ndarray) -> dict[str, Any]:
    array = np.ascontiguousarray(array)
    return {"dtype": str(array.dtype), "shape": list(array.shape), "data": base64.b64encode(array.tobytes()).decode()}


def unpack_array(data: Mapping[str, Any]) -> np.ndarray:
    raw = base64.b64decode(data["data"])
    return np.frombuffer(raw, dtype=np.dtype(data["dtype"])).reshape(data["shape"]).copy()


@contextlib.contextmanager
def numpy_global_seed(seed: int) -> Iterator[None]:
    """Seed NumPy's global generator (SB3 shuffles minibatches with it) and restore it afterwards."""
    saved = np.random.get_state()
    np.random.seed(seed)
    try:
        yield
    finally:
        np.random.set_state(saved)


def _torch():
    import torch

    torch.set_num_threads(1)
    return torch


def spaces_env(observation_space, action_space):
    """The smallest gymnasium environment SB3 accepts: it carries the spaces and is never stepped
    (the agents feed PPO transitions they collected through ask/tell)."""
    import gymnasium as gym

    class SpacesOnly(gym.Env):
        metadata = {"render_modes": []}

        def __init__(self):
            self.observation_space = observation_space
            self.action_space = action_space

        def reset(self, *, seed=None, options=None):
            raise RuntimeError("this environment only carries spaces; the agent collects transitions itself")

        def step(self, action):
            raise RuntimeError("this environment only carries spaces; the agent collects transitions itself")

    return SpacesOnly()


# --- one PPO learner fed with transitions we collect --------------------------------------------

@dataclass
class Steps:
    """Finished transitions not trained on yet (one learner)."""

    obs: list[np.ndarray] = field(default_factory=list)
    actions: list[np.ndarray] = field(default_factory=list)
    values: list[float] = field(default_factory=list)
    log_probs: list[float] = field(default_factory=list)
    rewards: list[float] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.rewards)

    def add(self, obs: np.ndarray, action: np.ndarray, value: float, log_prob: float, reward: float) -> None:
        self.obs.append(obs)
        self.actions.append(action)
        self.values.append(value)
        self.log_probs.append(log_prob)
        self.rewards.append(reward)

    def take(self, n: int) -> "Steps":
        head = Steps(self.obs[:n], self.actions[:n], self.values[:n], self.log_probs[:n], self.rewards[:n])
        del self.obs[:n], self.actions[:n], self.values[:n], self.log_probs[:n], self.rewards[:n]
        return head

    def state_dict(self, obs_size: int, action_size: int) -> dict[str, Any]:
        return {"obs": pack_array(np.asarray(self.obs, dtype=np.float32).reshape(-1, obs_size)),
                "actions": pack_array(np.asarray(self.actions, dtype=np.int64).reshape(-1, action_size)),
                "values": pack_array(np.asarray(self.values, dtype=np.float32)),
                "log_probs": pack_array(np.asarray(self.log_probs, dtype=np.float32)),
                "rewards": pack_array(np.asarray(self.rewards, dtype=np.float32))}

    @classmethod
    def from_state(cls, state: Mapping[str, Any]) -> "Steps":
        obs, actions = unpack_array(state["obs"]), unpack_array(state["actions"])
        values, log_probs, rewards = (unpack_array(state[k]) for k in ("values", "log_probs", "rewards"))
        return cls(list(obs), list(actions), [float(v) for v in values], [float(v) for v in log_probs],
                   [float(v) for v in rewards])


class Learner:
    """An SB3 PPO model (policy, optimiser, ``train``) updated from transitions fed to it.

    Episodes are one step (``episode_start`` = done = 1), so the advantage is the reward minus
    the value estimate and the order of the steps does not matter. ``steps_per_update`` steps
    make one update, in minibatches of ``minibatch``."""

    def __init__(self, observation_space, action_space, seed: int, hyper: Mapping[str, Any],
                 steps_per_update: int, minibatch: int):
        torch = _torch()
        from stable_baselines3 import PPO
        from stable_baselines3.common.logger import Logger

        self.seed = int(seed)
        self.steps_per_update = int(steps_per_update)
        self.observation_space = observation_space
        self.action_space = action_space
        self.obs_size = int(np.prod(observation_space.shape))
        self.action_dims = [int(n) for n in np.asarray(action_space.nvec).reshape(-1)]
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(self.seed)  # initial weights: from the seed, not the global generator
            self.model = PPO("MlpPolicy", spaces_env(observation_space, action_space), n_steps=self.steps_per_update,
                             batch_size=int(minibatch), n_epochs=int(hyper["n_epochs"]),
                             learning_rate=float(hyper["learning_rate"]), ent_coef=float(hyper["ent_coef"]),
                             gamma=0.0, gae_lambda=1.0, clip_range=0.2, normalize_advantage=True,
                             policy_kwargs={"net_arch": [int(hyper["hidden"])] * 2}, device="cpu", seed=None,
                             verbose=0)
        self.model.set_logger(Logger(folder=None, output_formats=[]))
        self.steps = Steps()
        self.updates = 0

    def act(self, obs: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Actions sampled for a batch of observations, with their value estimates and log-probabilities."""
        torch = _torch()
        policy = self.model.policy
        with torch.no_grad():
            tensor = torch.as_tensor(np.asarray(obs, dtype=np.float32))
            dist = policy.get_distribution(tensor)
            values = policy.predict_values(tensor).flatten().numpy()
            actions = np.empty((len(obs), len(self.action_dims)), dtype=np.int64)
            # a MultiDiscrete policy's distribution is a list of torch Categoricals (SB3's stubs say Distribution)
            for j, categorical in enumerate(dist.distribution):  # type: ignore[arg-type]
                logits = categorical.logits.numpy().astype(np.float64)  # type: ignore[attr-defined]
                gumbel = -np.log(-np.log(rng.random(logits.shape)))
                actions[:, j] = np.argmax(logits + gumbel, axis=1)
            log_probs = dist.log_prob(torch.as_tensor(actions)).numpy()
        return actions, values.astype(np.float32), log_probs.astype(np.float32)

    def record(self, obs: np.ndarray, action: np.ndarray, value: float, log_prob: float, reward: float) -> None:
        self.steps.add(obs, action, value, log_prob, reward)

    def ready(self) -> bool:
        return len(self.steps) >= self.steps_per_update

    def train(self) -> None:
        """One PPO update on the first ``steps_per_update`` recorded steps."""
        torch = _torch()
        from stable_baselines3.common.buffers import RolloutBuffer

        batch = self.steps.take(self.steps_per_update)
        n = len(batch)
        buffer = RolloutBuffer(n, self.observation_space, self.action_space, device="cpu", gae_lambda=1.0,
                               gamma=0.0, n_envs=1)
        one = np.ones(1, dtype=np.float32)
        for i in range(n):
            buffer.add(batch.obs[i][None], batch.actions[i][None], np.array([batch.rewards[i]], dtype=np.float32),
                       one, torch.tensor([batch.values[i]]), torch.tensor([batch.log_probs[i]]))
        buffer.compute_returns_and_advantage(last_values=torch.zeros(1), dones=one)
        self.model.rollout_buffer = buffer
        with numpy_global_seed(round_seed(self.seed, self.updates)):
            self.model.train()
        self.updates += 1

    def state_dict(self) -> dict[str, Any]:
        torch = _torch()
        blob = io.BytesIO()
        torch.save({"policy": self.model.policy.state_dict(), "optimizer": self.model.policy.optimizer.state_dict()},
                   blob)
        return {"torch": base64.b64encode(blob.getvalue()).decode(), "updates": self.updates,
                "n_updates": self.model._n_updates,
                "steps": self.steps.state_dict(self.obs_size, len(self.action_dims))}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        torch = _torch()
        saved = torch.load(io.BytesIO(base64.b64decode(state["torch"])), weights_only=True)
        self.model.policy.load_state_dict(saved["policy"])
        self.model.policy.optimizer.load_state_dict(saved["optimizer"])
        self.updates = int(state["updates"])
        self.model._n_updates = int(state["n_updates"])
        self.steps = Steps.from_state(state["steps"])


# --- the ask/tell driver shared by ppo and marl ----------------------------------------------------

Part = tuple[int, np.ndarray, np.ndarray, float, float]  # (learner, obs, action, value, log_prob)


@dataclass
class _Pending:
    """A step waiting for its design's outcome: the context and, per learner part, what was taken."""

    context: int | None
    index: int
    parts: list[Part]


class BanditAgent(Agent):
    """Ask/tell over the design bandit; subclasses say how learners turn contexts into designs."""

    options: ClassVar[Mapping[str, str]] = OPTION_DOCS
    extra_options: ClassVar[Mapping[str, Any]] = {}

    def __init__(self, space: Space, seed: int, **options: Any):
        super().__init__(space, seed)
        from ..envs.core import DesignMDP, EvaluationCache

        self.hyper = check_options(self.name, options, self.extra_options)
        self.cache = EvaluationCache(space, scale=self.hyper["scale"])
        self.mdp = DesignMDP(self.cache, self.hyper["incumbent"])
        self.rng = np.random.default_rng(self.seed)
        self.learners: list[Learner] = self.build_learners()
        self.pending: dict[int, list[_Pending]] = {}
        self.counters = {"steps": 0, "free_steps": 0, "fallbacks": 0}

    # subclasses -------------------------------------------------------------------------------
    def build_learners(self) -> list[Learner]:
        raise NotImplementedError

    def act(self, contexts: Sequence[int | None]) -> list[tuple[Design, list[Part]]]:
        """For each context: the proposed design and the (learner, obs, action, value, log_prob) parts."""
        raise NotImplementedError

    # ask/tell ---------------------------------------------------------------------------------
    def _finish(self, step: _Pending, outcome: Observation) -> None:
        if not self.hyper["train"]:
            return
        reward = self.mdp.reward(step.context, outcome)
        for learner, obs, action, value, log_prob in step.parts:
            self.learners[learner].record(obs, action, value, log_prob, reward)

    def _train_ready(self) -> None:
        if not self.hyper["train"]:
            return
        for learner in self.learners:
            while learner.ready():
                learner.train()

    def _random_unseen(self, taken: set[int]) -> Design | None:
        if len(self.cache) + len(taken) >= self.space.size:
            return None
        while True:
            design = random_design(self.space, self.rng)
            index = self.space.index_of(design)
            if index not in self.cache and index not in taken:
                return design

    def ask(self, n: int) -> list[Design]:
        out: list[Design] = []
        free, limit = 0, self.hyper["max_free"] * max(n, 1)
        while len(out) < n and free < limit:
            contexts = [self.mdp.sample_context(self.rng) for _ in range(self.hyper["block"])]
            for context, (design, parts) in zip(contexts, self.act(contexts)):
                index = self.space.index_of(design)
                step = _Pending(context, index, parts)
                self.counters["steps"] += 1
                known = self.cache.get(index)
                if known is not None:
                    self._finish(step, replace(known, cached=True))
                    free += 1
                    self.counters["free_steps"] += 1
                elif index in self.pending:
                    self.pending[index].append(step)
                else:
                    self.pending[index] = [step]
                    out.append(design)
                if len(out) >= n or free >= limit:
                    break
            if not self.pending:
                self._train_ready()
        if not out and n > 0:
            fallback = self._random_unseen(set(self.pending))
            if fallback is not None:
                self.counters["fallbacks"] += 1
                out.append(fallback)
        return out

    def tell(self, observations: Sequence[Observation]) -> None:
        for obs in observations:
            self.cache.record(obs)
        for obs in observations:
            index = self.space.index_of(obs.design)
            known = self.cache.get(index)
            for step in self.pending.pop(index, []):  # new to the agent when proposed: a discovery
                self._finish(step, replace(known if known is not None else obs, cached=False))
        self._train_ready()

    def diagnostics(self) -> dict[str, Any]:
        """RL timesteps, free steps (answered from the agent's cache), fallbacks and PPO updates."""
        return {**self.counters, "updates": sum(learner.updates for learner in self.learners)}

    def state_dict(self) -> dict[str, Any]:
        pending = [{"context": s.context, "index": s.index,
                    "parts": [[p[0], pack_array(p[1]), pack_array(p[2]), p[3], p[4]] for p in s.parts]}
                   for steps in self.pending.values() for s in steps]
        return {"rng": rng_state(self.rng), "cache": self.cache.state_dict(), "counters": dict(self.counters),
                "learners": [learner.state_dict() for learner in self.learners], "pending": pending}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        self.rng = rng_from_state(state["rng"])
        self.cache.load_state_dict(state["cache"])
        self.counters = {k: int(v) for k, v in state["counters"].items()}
        for learner, data in zip(self.learners, state["learners"], strict=True):
            learner.load_state_dict(data)
        self.pending = {}
        for data in state["pending"]:
            parts = [(int(p[0]), unpack_array(p[1]), unpack_array(p[2]), float(p[3]), float(p[4]))
                     for p in data["parts"]]
            self.pending.setdefault(int(data["index"]), []).append(_Pending(data["context"], int(data["index"]), parts))


class PpoAgent(BanditAgent):
    """One PPO policy whose action is the whole design (``MultiDiscrete(space.cardinalities)``)."""

    name: ClassVar[str] = "ppo"
    description: ClassVar[str] = "single-agent PPO (stable-baselines3), one MultiDiscrete action per design"

    def build_learners(self) -> list[Learner]:
        from ..envs import DesignEnv

        env = DesignEnv(self.space, cache=self.cache, incumbent=self.hyper["incumbent"])
        self.env = env
        return [Learner(env.observation_space, env.action_space, round_seed(self.seed, 1_000_003), self.hyper,
                        self.hyper["n_steps"], self.hyper["batch_size"])]

    def act(self, contexts):
        obs = np.stack([self.mdp.encode(c) for c in contexts])
        actions, values, log_probs = self.learners[0].act(obs, self.rng)
        return [(self.env.design_of(actions[i]), [(0, obs[i], actions[i], float(values[i]), float(log_probs[i]))])
                for i in range(len(contexts))]
