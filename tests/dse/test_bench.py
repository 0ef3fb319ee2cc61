"""Benchmark protocol: exact random-search statistics (against brute force and Monte Carlo), the
table evaluator's counting, budget prefixes, and benchmarks/dse_agents.py --quick end to end."""
from __future__ import annotations

import itertools
import json
import sys
from pathlib import Path

import numpy as np
import pytest
from dse_fixtures import SMALL

from dse.bench.runner import run_agent
from dse.bench.stats import _survival, random_exact, random_monte_carlo, reference_of
from dse.bench.table import FAILED, INFEASIBLE, OK, MetricTable, TableEvaluator
from dse.space_file import parse_space

REPO = Path(__file__).resolve().parents[2]
SPACE = parse_space(SMALL)  # 192 designs


def synthetic_table(seed: int = 0) -> MetricTable:
    """A table over SMALL: a quarter rejected before evaluation, a few failures, tied values."""
    rng = np.random.default_rng(seed)
    size = SPACE.size
    status = np.full(size, OK, dtype=np.int8)
    status[rng.random(size) < 0.25] = INFEASIBLE
    status[rng.choice(size, 3, replace=False)] = FAILED
    values = np.round(rng.lognormal(0.0, 0.5, size), 2) + 1.0       # rounding makes ties
    objectives = np.column_stack([values, rng.random(size)])
    objectives[status != OK] = np.nan
    feasible = status == OK
    return MetricTable(SPACE, "synthetic", status, feasible, objectives, np.where(feasible, 0.0, 0.5))


def test_survival_matches_brute_force():
    values = np.array([3.0, 1.0, 4.0, 1.5, 9.0, 2.0])
    for n in (1, 2, 3, 6):
        subsets = list(itertools.combinations(range(len(values)), n))
        best = np.array([values[list(s)].min() for s in subsets])
        ordered = np.sort(values)
        survival = _survival(len(values), n)
        for k in range(len(values) + 1):
            assert survival[k] == pytest.approx(np.mean(best >= (ordered[k] if k < len(values) else np.inf)))


@pytest.mark.parametrize("n", [1, 5, 30, 100])
def test_exact_random_search_matches_monte_carlo(n):
    table = synthetic_table()
    ref = reference_of(table)
    exact = random_exact(table, ref, n)
    draws = 20_000
    mc_regret, mc_share = random_monte_carlo(table, ref, n, draws, np.random.default_rng(1))
    values = table.first_objective()[table.evaluable]
    if not np.isfinite(exact.expected_best):       # a failed design may be all we drew
        assert n == 1
        return
    spread = np.std(ref.regret(values[np.isfinite(values)]))
    assert abs(exact.expected_regret - mc_regret) < 5 * spread / np.sqrt(draws) + 1e-12
    assert abs(exact.p_within - mc_share) < 5 * np.sqrt(0.25 / draws) + 1e-12
    assert 0 <= exact.median_regret <= exact.expected_regret + 1.0


def test_reference_of_a_table():
    table = synthetic_table()
    ref = reference_of(table)
    values = table.first_objective()
    assert ref.optimum == values.min() and table.feasible[ref.optimum_index]
    assert ref.evaluable == int((table.status != INFEASIBLE).sum()) and ref.feasible == int(table.feasible.sum())
    assert ref.regret(ref.optimum) == 0 and ref.regret(ref.median) == 1
    assert ref.hypervolume_ratio(table.objectives[table.feasible]) == pytest.approx(1.0)
    assert ref.hypervolume_ratio(ref.front[:1]) < 1.0


def test_table_evaluator_counts_like_a_job():
    table = synthetic_table()
    evaluator = TableEvaluator(table)
    rejected = SPACE.design_at(int(np.flatnonzero(table.status == INFEASIBLE)[0]))
    good = SPACE.design_at(int(np.flatnonzero(table.status == OK)[0]))
    out = evaluator([good, rejected, good, rejected])
    assert [o.cached for o in out] == [False, False, True, True]
    assert out[1].status == "infeasible" and out[0].objectives is not None
    assert evaluator.evaluations == 1 and evaluator.rejected == 1 and evaluator.cache_hits == 2


@pytest.mark.parametrize("agent", ["random", "ga", "tpe", "ppo", "marl"])
def test_smaller_budgets_are_prefixes_of_a_longer_run(agent):
    table = synthetic_table(2)
    options = {"n_steps": 8, "batch_size": 8, "hidden": 16} if agent in ("ppo", "marl") else {}
    short = run_agent(table, agent, 3, 20, **options)
    long = run_agent(table, agent, 3, 50, **options)
    assert len(short.evaluations) == 20 and len(long.evaluations) == 50
    assert long.evaluations[:20] == short.evaluations
    assert len(set(long.evaluations)) == 50                         # unique evaluations only


def test_quick_benchmark_end_to_end(tmp_path):
    sys.path.insert(0, str(REPO / "benchmarks"))
    try:
        import dse_agents
    finally:
        sys.path.remove(str(REPO / "benchmarks"))
    result = dse_agents.main(["--quick", "--jobs", "1", "--out", str(tmp_path)])
    saved = json.loads((tmp_path / "dse_agents.json").read_text())
    assert set(saved["spaces"]) == {"fpga-kernel-quick", "pim-power-quick"} == set(result["spaces"])
    for data in saved["spaces"].values():
        assert set(data["agents"]) == set(dse_agents.AGENTS)
        for entry in data["agents"].values():
            assert set(entry["budgets"]) == {"10", "30"} and len(entry["runs"]) == 2
            for cell in entry["budgets"].values():
                assert 0 <= cell["regret"]["q25"] <= cell["regret"]["median"] <= cell["regret"]["q75"]
                assert 0 <= cell["share_within_1pct"] <= 1
            for run in entry["runs"]:
                curve = [np.inf if v is None else v for v in run["regret_curve"]]
                assert len(curve) == 30 and all(a >= b for a, b in zip(curve, curve[1:]))   # best so far
        exhaustive = data["exhaustive"]
        assert exhaustive["found_optimum"] and exhaustive["evaluations"] == data["space"]["evaluable"]
        if "hypervolume_ratio" in exhaustive:
            assert exhaustive["hypervolume_ratio"] == pytest.approx(1.0)
        for cell in data["random_exact"].values():
            assert abs(cell["expected_regret"] - cell["monte_carlo_regret"]) < 0.05
            assert abs(cell["p_within_1pct"] - cell["monte_carlo_within_1pct"]) < 0.05
    for name in saved["spaces"]:
        for suffix in ("best-so-far", "budgets"):
            assert (tmp_path / f"{name}-{suffix}.png").stat().st_size > 10_000
    assert "| agent |" in (tmp_path / "summary.md").read_text()


def test_measured_spaces_come_from_the_hub_folder(tmp_path, monkeypatch):
    from table_fixtures import write_kt

    from dse.bench.spaces import HUB_ENV, bench_space, list_bench_spaces
    from dse.bench.table import load_table as load_metric_table

    write_kt(tmp_path, "stencil-X1.json.gz", compress=True)
    monkeypatch.delenv(HUB_ENV, raising=False)
    assert list_bench_spaces(measured=True) == list_bench_spaces()
    with pytest.raises(ValueError, match=HUB_ENV):
        bench_space("kt-stencil-x1")
    monkeypatch.setenv(HUB_ENV, str(tmp_path))
    assert list_bench_spaces(measured=True)[-1] == "kt-stencil-x1"
    space, text = bench_space("kt-stencil-x1")
    assert space.evaluator == "table" and [o.metric for o in space.objectives] == ["time_s"]
    assert set(space.names) == {"block_x", "block_y", "unroll", "use_cmem"}  # every configuration key of the file
    assert set(space.groups) == {"threads", "options"}           # block_* -> threads, the rest -> options
    table = load_metric_table(space, text, None)
    assert table.size == space.size and table.feasible.sum() > 0


def test_the_benchmark_runs_a_users_space_file(tmp_path):
    from table_fixtures import kt_space, write_kt

    sys.path.insert(0, str(REPO / "benchmarks"))
    try:
        import dse_agents
    finally:
        sys.path.remove(str(REPO / "benchmarks"))
    write_kt(tmp_path)
    path = tmp_path / "mine.yaml"
    path.write_text(kt_space())
    result = dse_agents.main(["--spaces", str(path), "--agents", "random,ga", "--seeds", "2", "--budgets", "2,4",
                              "--jobs", "1", "--cache", "", "--out", str(tmp_path / "out")])
    data = result["spaces"][str(path)]
    assert set(data["agents"]) == {"random", "ga"} and data["exhaustive"]["found_optimum"]
    with pytest.raises(SystemExit):  # a file that is not a space: the parser's error, naming it
        dse_agents.main(["--spaces", str(tmp_path / "missing.yaml"), "--out", str(tmp_path / "out2")])
