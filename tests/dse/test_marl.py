"""Multi-agent PPO: shared policy (SuperSuit's agent indicator, scaled actions) and independent
learners (one per group, native actions), acting agents, exact replay, and SIGKILL + resume."""
from __future__ import annotations

import json

import numpy as np
import pytest
from dse_fixtures import SMALL
from replay import restored_asks_the_same
from test_ppo import TINY, drive, kill_resume_matches_clean_run, observe

from accelerators.errors import ConfigError
from dse.agents import make_agent
from dse.space_file import parse_space

SPACE = parse_space(SMALL)  # groups: parallelism (tp, ep), serving (batch, dtype)


def test_options_are_checked():
    with pytest.raises(ConfigError, match="shared or independent"):
        make_agent("marl", SPACE, 0, policy="central")
    with pytest.raises(ConfigError, match="active"):
        make_agent("marl", SPACE, 0, active=0)
    with pytest.raises(ConfigError, match="options of marl"):
        make_agent("marl", SPACE, 0, population=4)


def test_shared_policy_has_one_learner_with_the_agent_indicator():
    agent = make_agent("marl", SPACE, 0, policy="shared", **TINY)
    env = agent.env
    assert len(agent.learners) == 1 and agent.agents == ["parallelism", "serving"]
    learner = agent.learners[0]
    assert learner.action_dims == [6, 6]                              # MultiDiscrete([max card] * max params)
    assert learner.observation_space.shape[0] == env.observation_space("serving").shape[0] + 2  # + indicator
    assert learner.steps_per_update == TINY["n_steps"] * 2            # one transition per agent and step


def test_independent_learners_have_their_own_action_spaces():
    agent = make_agent("marl", SPACE, 0, policy="independent", **TINY)
    assert [learner.action_dims for learner in agent.learners] == [[4, 4], [6, 2]]
    assert all(learner.steps_per_update == TINY["n_steps"] for learner in agent.learners)
    weights = [next(iter(learner.model.policy.parameters())) for learner in agent.learners]
    assert weights[0].shape == weights[1].shape and not bool((weights[0] == weights[1]).all())


@pytest.mark.parametrize("policy", ["shared", "independent"])
def test_only_acting_agents_are_trained_and_the_others_keep_the_context(policy):
    agent = make_agent("marl", SPACE, 5, policy=policy, active=0.5, **{**TINY, "n_steps": 10_000})
    drive(agent, 3)                                    # a feasible incumbent is known
    known = agent.cache.feasible[0]
    contexts = [known] * 64
    out = agent.act(contexts)
    base = SPACE.design_at(known)
    for design, parts in out:
        if policy == "independent":
            acted = {agent.agents[p[0]] for p in parts}
        else:                                          # the shared policy's agent indicator says who
            acted = {agent.agents[int(np.argmax(p[1][-2:]))] for p in parts}
        assert len(acted) == len(parts) >= 1
        if "parallelism" not in acted:
            assert design[:2] == base[:2]
        if "serving" not in acted:
            assert design[2:] == base[2:]
    assert {len(parts) for _, parts in out} == {1, 2}  # some steps move one agent, some both
    before = sum(len(learner.steps) for learner in agent.learners)
    steps = agent.counters["steps"]
    drive(agent, 2)
    finished = agent.counters["steps"] - steps
    recorded = sum(len(learner.steps) for learner in agent.learners) - before
    assert finished <= recorded < 2 * finished         # one transition per acting agent, not per agent


@pytest.mark.parametrize("policy", ["shared", "independent"])
def test_replay_from_a_json_checkpoint_is_exact(policy):
    original = make_agent("marl", SPACE, 7, policy=policy, **TINY)
    drive(original, 6)
    assert original.diagnostics()["updates"] > 0
    restored = restored_asks_the_same(original, lambda: make_agent("marl", SPACE, 7, policy=policy, **TINY),
                                      rounds=4, n=4, observe=observe)
    assert json.dumps(original.state_dict()) == json.dumps(restored.state_dict())


def test_asks_only_new_designs_and_counts_unique_evaluations():
    agent = make_agent("marl", SPACE, 2, **TINY)
    told: set = set()
    for designs in drive(agent, 20):
        assert not told & set(designs) and len(designs) == len(set(designs))
        told |= set(designs)
    assert agent.cache.evaluations == sum(d[1] != 3 for d in told)
    assert agent.diagnostics()["free_steps"] > 0


def test_acting_subsets_search_near_the_incumbent():
    """From the incumbent, agents that do not act keep its values: most proposals share a group with it."""
    agent = make_agent("marl", SPACE, 1, policy="shared", train=False, incumbent=1.0, active=0.5, **TINY)
    drive(agent, 3)
    best = SPACE.design_at(agent.cache.best)
    designs = [d for d, _ in agent.act([agent.cache.best] * 200)]
    share = np.mean([d[:2] == best[:2] or d[2:] == best[2:] for d in designs])
    assert share > 0.5                                 # = P(not every agent acts) + chance; 0.33 for active=1
    everyone = make_agent("marl", SPACE, 1, policy="shared", train=False, incumbent=1.0, active=1.0, **TINY)
    drive(everyone, 3)
    best = SPACE.design_at(everyone.cache.best)
    designs = [d for d, _ in everyone.act([everyone.cache.best] * 200)]
    assert np.mean([d[:2] == best[:2] or d[2:] == best[2:] for d in designs]) < share


@pytest.mark.parametrize("policy", ["shared", "independent"])
def test_sigkill_then_resume_equals_an_uninterrupted_run(small_space_file, tmp_path, policy):
    kill_resume_matches_clean_run(small_space_file, tmp_path, "marl",
                                  {"policy": policy, "n_steps": 8, "batch_size": 8, "hidden": 16})
