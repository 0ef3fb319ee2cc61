"""Agents: ask/tell contract, exact replay from a JSON checkpoint, baselines' guarantees, learning."""
from __future__ import annotations

import pytest
from dse_fixtures import SMALL
from replay import restored_asks_the_same

from accelerators.errors import ConfigError
from dse.agents import AGENTS, Observation, list_agents, make_agent
from dse.space_file import parse_space

SPACE = parse_space(SMALL)
TARGET = (2, 1, 4, 0)


def bowl(design) -> float:
    """A synthetic objective with its unique minimum at TARGET."""
    return float(sum((a - b) ** 2 for a, b in zip(design[:3], TARGET[:3])) + 0.5 * design[3])


def observe(design, infeasible_when=None) -> Observation:
    if infeasible_when is not None and infeasible_when(design):
        return Observation(design, "infeasible", None, 0.5)
    return Observation(design, "ok", (bowl(design), -float(design[0])), 0.0)


def drive(agent, rounds, n=5, infeasible_when=None):
    asked = []
    for _ in range(rounds):
        designs = agent.ask(n)
        asked.append(designs)
        agent.tell([observe(d, infeasible_when) for d in designs])
    return asked


def test_registry_names():
    assert list_agents() == ["exhaustive", "ga", "gp", "marl", "ppo", "random", "tpe"]
    with pytest.raises(ConfigError, match="one of: exhaustive"):
        make_agent("annealing", SPACE, 0)
    with pytest.raises(ConfigError, match="population"):
        make_agent("ga", SPACE, 0, popsize=3)


@pytest.mark.parametrize("name", sorted(AGENTS))
def test_replay_from_checkpoint_is_exact(name):
    options = {"startup": 6} if name in ("tpe", "gp") else {}
    original = make_agent(name, SPACE, 7, **options)
    drive(original, 3, infeasible_when=lambda d: d[1] == 3)
    restored_asks_the_same(original, lambda: make_agent(name, SPACE, 7, **options), rounds=2, n=5,
                           observe=observe)


def test_tpe_extending_its_study_asks_what_a_rebuilt_study_asks():
    """TPE keeps its study between rounds; a study rebuilt from the history every round (what a
    resume does) must ask the same designs, round after round, infeasible designs included."""
    kept = make_agent("tpe", SPACE, 3, startup=4)
    for _ in range(12):
        restored_asks_the_same(kept, lambda: make_agent("tpe", SPACE, 3, startup=4), rounds=1, n=4,
                               observe=lambda d: observe(d, infeasible_when=lambda d: d[1] == 3))


def test_tpe_asks_again_instead_of_proposing_designs_it_knows(monkeypatch):
    """A converged TPE keeps proposing the same good designs; withdrawing a known proposal and
    asking the sampler again gives more new designs for the same number of asks."""
    from dse.agents.bayes import OptunaAgent

    def unique_asked() -> int:
        return len({d for designs in drive(make_agent("tpe", SPACE, 5, startup=4), 15) for d in designs})

    with_retries = unique_asked()
    monkeypatch.setattr(OptunaAgent, "RETRIES", 1)  # every proposal stands, as before
    assert with_retries > unique_asked() + 5


@pytest.mark.parametrize("name", sorted(AGENTS))
def test_designs_are_valid_and_seeds_matter(name):
    first = drive(make_agent(name, SPACE, 1), 2)
    for designs in first:
        for d in designs:
            SPACE.check(d)
    if name != "exhaustive":
        assert first != drive(make_agent(name, SPACE, 2), 2)


def test_random_never_repeats_and_covers_the_space():
    agent = make_agent("random", SPACE, 0)
    seen = [d for batch in drive(agent, 20, n=10) for d in batch]
    assert len(seen) == SPACE.size == len(set(seen))
    assert agent.ask(5) == []


def test_exhaustive_order_and_limit(write_space):
    agent = make_agent("exhaustive", SPACE, 0)
    assert agent.ask(3) == [(0, 0, 0, 0), (0, 0, 0, 1), (0, 0, 1, 0)]
    big = SMALL.replace("{name: dtype, values: [bf16, fp8], agent: serving}",
                        "{name: zipf, range: {min: 0, max: 9999, step: 1}, agent: serving}") + \
        "fixed: {dtype: bf16}\n"
    huge = parse_space(big.replace("values: [1, 2, 4, 8], agent: parallelism}\n  - {name: ep",
                                   "range: {min: 1, max: 64, step: 1}, agent: parallelism}\n  - {name: ep"))
    with pytest.raises(ConfigError, match="at most 1,000,000"):
        make_agent("exhaustive", huge, 0)


@pytest.mark.parametrize("name", ["ga", "gp", "tpe"])
def test_learning_agents_find_the_bowl_minimum(name):
    agent = make_agent(name, SPACE, 0)
    found = [d for batch in drive(agent, 12, n=5) for d in batch]  # 60 of 192 designs
    ranked = sorted(range(SPACE.size), key=lambda i: bowl(SPACE.design_at(i)))
    best = min(found, key=bowl)
    assert SPACE.index_of(best) in ranked[:3]


@pytest.mark.parametrize("name", ["ga", "gp", "tpe"])
def test_learning_agents_avoid_an_infeasible_region(name):
    """Half the space (ep index >= 2) is infeasible: after warm-up, agents propose less of it than half."""
    agent = make_agent(name, SPACE, 3)
    asked = [d for batch in drive(agent, 12, n=5, infeasible_when=lambda d: d[1] >= 2) for d in batch]
    late = asked[30:]
    assert sum(d[1] >= 2 for d in late) < len(late) / 2
