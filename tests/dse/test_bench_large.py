"""The benchmark on spaces too large to enumerate: the lazy table, the reference, the intervals."""
from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest
from dse_fixtures import SMALL

from dse.bench import spaces as bench_spaces
from dse.bench.lazy import LazyTable
from dse.bench.runner import run_agent
from dse.bench.spaces import bench_space, is_enumerable
from dse.bench.stats import median_interval, share_interval
from dse.bench.table import enumerate_space, table_digest
from dse.evaluation import evaluate_chunk, minimised
from dse.space_file import parse_space

REPO = Path(__file__).resolve().parents[2]
SPACE = parse_space(SMALL)  # 192 designs of the cluster adapter


def benchmark_script():
    """benchmarks/dse_agents.py as a module (benchmarks/ leaves sys.path again at once)."""
    sys.path.insert(0, str(REPO / "benchmarks"))
    try:
        import dse_agents
    finally:
        sys.path.remove(str(REPO / "benchmarks"))
    return dse_agents


def test_the_lazy_table_answers_as_the_enumerated_one():
    full = enumerate_space(SPACE, "small")
    lazy = LazyTable(SPACE, "small")
    order = list(np.random.default_rng(4).permutation(SPACE.size))
    for index in order[:60]:  # asked one at a time, in another order than the enumeration's
        index = int(index)
        assert lazy.status_at(index) == full.status_at(index)
        a, b = lazy.observation(index), full.observation(index)
        assert (a.status, a.objectives, a.violation) == (b.status, b.objectives, b.violation)
    rest = [int(i) for i in order[60:]]
    assert np.array_equal(lazy.first_objective_at(rest), full.first_objective_at(rest))
    assert lazy.known == SPACE.size


@pytest.mark.parametrize("agent", ["random", "ga"])
def test_an_agent_runs_the_same_on_the_lazy_and_the_enumerated_table(agent):
    full = run_agent(enumerate_space(SPACE, "small"), agent, 5, 40)
    lazy = run_agent(LazyTable(SPACE, "small"), agent, 5, 40)
    assert lazy.evaluations == full.evaluations and lazy.rejected == full.rejected


def test_the_large_benchmark_space():
    space, _ = bench_space("pim-codesign-large")
    assert space.size >= 1_000_000_000 and not is_enumerable(space)
    assert len(space.groups) >= 4
    assert "pim-codesign-large" in bench_spaces.list_bench_spaces()
    assert "pim-codesign-large" not in bench_spaces.list_bench_spaces(quick=True)


def test_the_sample_is_uniform_distinct_and_counts_what_it_evaluated():
    lazy = LazyTable(SPACE, "small")
    indices, values, evaluable = lazy.sample(50, seed=3)
    assert len(set(indices)) == len(values) == 50 == lazy.known and 0 < evaluable <= 50
    assert np.array_equal(values, lazy.first_objective_at(indices))
    again = LazyTable(SPACE, "small").sample(50, seed=3)
    assert again[0] == indices and np.array_equal(values, again[1])
    everything = LazyTable(SPACE, "small").sample(10_000)[0]        # more than the space: each design once
    assert sorted(everything) == list(range(SPACE.size))


def test_wilson_interval_of_a_share():
    assert share_interval(14, 20) == pytest.approx((0.4810, 0.8545), abs=1e-4)  # the textbook 95 % interval
    lo, hi = share_interval(0, 20)
    assert lo == 0 and hi == pytest.approx(0.1611, abs=1e-4)
    lo, hi = share_interval(20, 20)
    assert hi == 1 and lo == pytest.approx(0.8389, abs=1e-4)


def test_bootstrap_interval_of_a_median():
    values = np.random.default_rng(0).normal(3.0, 1.0, 400)
    lo, hi = median_interval(values)
    assert lo < np.median(values) < hi and hi - lo < 0.4                  # about 2 x 1.96 x 1.25 / sqrt(400)
    assert median_interval([2.0] * 20) == (2.0, 2.0)
    assert median_interval(values) == (lo, hi)                               # seeded: reproducible


def test_a_space_too_large_to_enumerate_end_to_end(tmp_path, monkeypatch):
    monkeypatch.setattr(bench_spaces, "MAX_ENUMERABLE", 10)  # pim-power-quick (324 designs) counts as large
    dse_agents = benchmark_script()
    dse_agents.main(["--spaces", "pim-power-quick", "--agents", "random,ga", "--seeds", "3", "--budgets", "3,6",
                     "--jobs", "1", "--out", str(tmp_path)])
    data = json.loads((tmp_path / "dse_agents.json").read_text())["spaces"]["pim-power-quick"]
    assert "random_exact" not in data and "exhaustive" not in data
    ref = data["reference"]
    assert ref["budget"] == 60 and {r["label"] for r in ref["runs"]} == {"random", "ga"}
    optimum = data["space"]["optimum"]
    assert optimum == min(data["sample"]["best"], *(r["best"] for r in ref["runs"]))  # the best any run or the sample found
    # the reference is a real design whose evaluation gives the optimum
    space, text = bench_space("pim-power-quick")
    design = space.design_of(data["space"]["optimum_design"])
    assert minimised(space, evaluate_chunk(space, [design])[0].objectives)[0] == optimum
    truth = enumerate_space(space, table_digest(space, text)).first_objective().min()
    assert truth <= optimum                                                # never better than the true optimum
    for entry in data["agents"].values():
        assert set(entry["budgets"]) == {"3", "6"} and len(entry["runs"]) == 3
        for cell in entry["budgets"].values():
            lo, hi = cell["regret"]["median_ci95"]
            assert 0 <= lo <= cell["regret"]["median"] <= hi
            slo, shi = cell["share_ci95"]
            assert slo <= cell["share_within_1pct"] <= shi
    summary = (tmp_path / "summary.md").read_text()
    assert "not enumerable" in summary and "Reference: the best design any run found" in summary


def test_a_killed_benchmark_resumes_from_the_runs_it_finished(tmp_path, monkeypatch, capsys):
    dse_agents = benchmark_script()
    argv = ["--spaces", "pim-power-quick", "--agents", "random,ga", "--budgets", "3,6", "--jobs", "1",
            "--out", str(tmp_path)]
    first = dse_agents.main(argv + ["--seeds", "2"])
    journal = tmp_path / dse_agents.JOURNAL
    with journal.open("a") as log:
        log.write('{"key": "torn by a kill')                               # a half-written last line
    capsys.readouterr()
    ran: list[tuple] = []
    real_run = dse_agents._run
    monkeypatch.setattr(dse_agents, "_run", lambda task: ran.append(task) or real_run(task))
    second = dse_agents.main(argv + ["--seeds", "3"])
    assert "4 runs read back" in capsys.readouterr().out
    assert sorted((t[1], t[3]) for t in ran) == [("ga", 2), ("random", 2)]  # only the new seed ran
    for label in ("random", "ga"):
        old = first["spaces"]["pim-power-quick"]["agents"][label]["runs"]
        new = second["spaces"]["pim-power-quick"]["agents"][label]["runs"]
        assert new[:2] == old and len(new) == 3
    dse_agents.main(argv + ["--seeds", "1", "--fresh"])
    assert len(dse_agents.read_journal(journal)) == 2                     # --fresh starts the journal again


def test_a_users_space_file_too_large_to_enumerate_is_evaluated_lazily(tmp_path, monkeypatch):
    monkeypatch.setattr(bench_spaces, "MAX_ENUMERABLE", 100)  # SMALL's 192 designs count as large
    dse_agents = benchmark_script()
    path = tmp_path / "mine.yaml"
    path.write_text(SMALL)
    result = dse_agents.main(["--spaces", str(path), "--agents", "random", "--seeds", "2", "--budgets", "2,4",
                              "--jobs", "1", "--out", str(tmp_path / "out")])
    data = result["spaces"][str(path)]
    assert "exhaustive" not in data and data["reference"]["budget"] == 40
    assert data["space"]["size"] == SPACE.size and not data["space"]["enumerable"]
