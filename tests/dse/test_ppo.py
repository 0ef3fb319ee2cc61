"""Single-agent PPO: options, the PPO update's direction, ask/tell with free repeats, exact replay
from a JSON checkpoint, and SIGKILL + resume of a real job equal to an uninterrupted one."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from dse_fixtures import SMALL
from replay import restored_asks_the_same
from sigkill import kill_when

from accelerators.errors import ConfigError
from dse.agents import Observation, make_agent
from dse.job import JobSettings, resume_job, run_job
from dse.space_file import parse_space
from dse.store import JobStore

SPACE = parse_space(SMALL)
TINY = {"n_steps": 8, "batch_size": 8, "n_epochs": 2, "hidden": 16, "block": 8}


def observe(design) -> Observation:
    """Synthetic outcome: ep index 3 is infeasible, the rest a bowl with its minimum at (2, 0, 4, 0)."""
    if design[1] == 3:
        return Observation(design, "infeasible", None, 0.5)
    value = 1.0 + (design[0] - 2) ** 2 + (design[2] - 4) ** 2 + 0.5 * design[3] + 0.1 * design[1]
    return Observation(design, "ok", (value,), 0.0)


def drive(agent, rounds, n=4):
    asked = []
    for _ in range(rounds):
        designs = agent.ask(n)
        asked.append(designs)
        agent.tell([observe(d) for d in designs])
    return asked


def test_options_are_checked():
    with pytest.raises(ConfigError, match="options of ppo"):
        make_agent("ppo", SPACE, 0, population=3)
    with pytest.raises(ConfigError, match="n_steps"):
        make_agent("ppo", SPACE, 0, n_steps=0)
    with pytest.raises(ConfigError, match="incumbent"):
        make_agent("ppo", SPACE, 0, incumbent=1.5)
    agent = make_agent("ppo", SPACE, 0, **TINY)
    assert agent.learners[0].action_dims == [4, 4, 6, 2]     # one MultiDiscrete for the whole design


def test_a_ppo_update_moves_the_policy_toward_rewarded_actions():
    """The same steps, rewarded for hitting a target design or for missing it: the target's probability
    goes up in the first case and down in the second (the advantage's sign reaches the policy)."""
    import torch

    from dse.agents.ppo import Learner, check_options
    from dse.envs import DesignEnv

    env = DesignEnv(SPACE)
    obs = np.zeros((64, env.observation_space.shape[0]), dtype=np.float32)
    target = np.array([1, 2, 3, 1])

    def probability(learner) -> float:
        with torch.no_grad():
            dist = learner.model.policy.get_distribution(torch.as_tensor(obs[:1]))
            return float(dist.log_prob(torch.as_tensor(target[None])).exp())

    def trained(hit_reward: float, miss_reward: float) -> tuple[float, float]:
        hyper = check_options("ppo", {**TINY, "ent_coef": 0.0})
        learner = Learner(env.observation_space, env.action_space, 0, hyper, steps_per_update=64, minibatch=32)
        before = probability(learner)
        rng = np.random.default_rng(0)
        for _ in range(3):
            actions, values, _ = learner.act(obs, rng)
            actions[::4] = target                      # a quarter of the steps take the target design
            with torch.no_grad():
                log_probs = learner.model.policy.get_distribution(torch.as_tensor(obs)).log_prob(
                    torch.as_tensor(actions)).numpy()
            for i in range(64):
                hit = bool((actions[i] == target).all())
                learner.record(obs[i], actions[i], float(values[i]), float(log_probs[i]),
                               hit_reward if hit else miss_reward)
            learner.train()
        assert learner.updates == 3
        return before, probability(learner)

    before, rewarded = trained(1.0, 0.0)
    same_start, punished = trained(0.0, 1.0)
    assert before == same_start                        # same seed, same initial policy
    assert rewarded > before > punished


def test_ask_proposes_only_designs_it_does_not_know():
    agent = make_agent("ppo", SPACE, 3, **TINY)
    told: set = set()
    for designs in drive(agent, 25):
        assert len(designs) == len(set(designs)) <= 4
        assert not told & set(designs)                  # a known design is a free step, never asked
        told |= set(designs)
    stats = agent.diagnostics()
    assert stats["free_steps"] > 0 and stats["updates"] > 0
    assert stats["steps"] >= len(told) + stats["free_steps"] - stats["fallbacks"]
    assert agent.cache.evaluations == sum(d[1] != 3 for d in told)


def test_replay_from_a_json_checkpoint_is_exact():
    original = make_agent("ppo", SPACE, 7, **TINY)
    drive(original, 6)
    assert original.diagnostics()["updates"] > 0        # the checkpoint holds a trained policy
    restored = restored_asks_the_same(original, lambda: make_agent("ppo", SPACE, 7, **TINY), rounds=4, n=4,
                                      observe=observe)
    assert original.diagnostics() == restored.diagnostics()
    assert json.dumps(original.state_dict()) == json.dumps(restored.state_dict())


def test_seeds_matter():
    assert drive(make_agent("ppo", SPACE, 1, **TINY), 3) != drive(make_agent("ppo", SPACE, 2, **TINY), 3)


# --- SIGKILL + resume through the CLI (shared with test_marl) --------------------------------------

def kill_resume_matches_clean_run(space_file: Path, tmp_path: Path, agent: str, options: dict) -> None:
    path = tmp_path / "killed.db"
    flags = [x for k, v in options.items() for x in ("--option", f"{k}={json.dumps(v)}")]
    args = ["dse", "run", str(space_file), "--agent", agent, "--seed", "4", "--budget", "30", "--batch", "3",
            "--chunk", "1", "--quiet", "--out", str(path), *flags]
    at_kill = kill_when(args, path, 14)
    with JobStore.open(path) as store:
        assert store.meta()["status"] == "running"
        partial = store.rows()
    assert len(partial) == at_kill
    resumed = resume_job(path)
    reference = run_job(space_file, tmp_path / "clean.db", JobSettings(agent=agent, seed=4, budget=30, batch=3,
                                                                       chunk=1, options=options))
    with JobStore.open(path) as store:
        killed_rows = store.rows()
    with JobStore.open(tmp_path / "clean.db") as store:
        clean_rows = store.rows()
    assert [r.comparable() for r in killed_rows] == [r.comparable() for r in clean_rows]
    assert {r.comparable() for r in partial} <= {r.comparable() for r in killed_rows}   # nothing lost or redone
    assert resumed.best == reference.best and resumed.best_design == reference.best_design
    assert resumed.evaluations == reference.evaluations == 30
    assert not any(r.cached for r in clean_rows)          # the agent resolved repeats itself


def test_sigkill_then_resume_equals_an_uninterrupted_run(small_space_file, tmp_path):
    kill_resume_matches_clean_run(small_space_file, tmp_path, "ppo", {"n_steps": 8, "batch_size": 8, "hidden": 16})
