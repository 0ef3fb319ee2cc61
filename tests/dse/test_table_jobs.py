"""Table spaces end to end: `moearch dse run` with every agent, the process backend, resume, the
benchmark statistics, and one real Kernel Tuner data set (skipped when it is not on this machine)."""
from __future__ import annotations

import gzip
import json
import os
from pathlib import Path

import pytest
from click.testing import CliRunner
from table_fixtures import CORRECT, kt_space, mutated, write_kt

from accelerators.errors import ConfigError
from dse.backends import make_backend
from dse.bench.stats import random_exact, reference_of
from dse.bench.table import enumerate_space
from dse.job import JobSettings, resume_job, run_job
from dse.space_file import load_space
from dse.store import JobStore
from moearch.cli.main import cli

REPO = Path(__file__).resolve().parents[2]
HUB = REPO.parent / "shared" / "datasets" / "kernel-tuner-hub"
needs_hub = pytest.mark.skipif(not (HUB / "convolution-A100.json.gz").exists(),
                               reason=f"the Kernel Tuner data sets are not on this machine ({HUB})")
EXAMPLE = REPO / "examples" / "kernel-tuner-convolution-a100.yaml"
BEST = (32, 2, 1)                                   # the fastest row measured correct: 1.25 ms
GROUPED = kt_space(extra="""
parameters:
  - {name: block_x, agent: threads}
  - {name: block_y, agent: threads}
  - {name: unroll, agent: loops}
fixed: {use_cmem: 1}
""")


@pytest.fixture
def kt_file(tmp_path, write_space):
    write_kt(tmp_path)
    return write_space(GROUPED)


def rows_of(path):
    with JobStore.open(path) as store:
        return store.rows()


@pytest.mark.parametrize("agent", ["random", "ga"])
def test_dse_run_finds_the_best_row_when_the_budget_covers_the_space(kt_file, tmp_path, agent):
    # 12 designs: 6 measured correct (the evaluable ones), 2 measured invalid and 4 absent (free)
    out = tmp_path / f"{agent}.db"
    result = CliRunner().invoke(cli, ["dse", "run", str(kt_file), "--agent", agent, "--budget", "6", "--seed", "3",
                                      "--designs-per-round", "4", "-o", str(out), "--quiet", "--json"])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["evaluations"] == 6 and summary["failed"] == 0 and summary["stop_reason"] == "budget"
    assert summary["best"] == {"time_s": CORRECT[BEST][0] / 1000}
    assert summary["best_design"] == {"block_x": 32, "block_y": 2, "unroll": 1}
    rows = rows_of(out)
    evaluated = [r for r in rows if r.evaluated]
    assert sorted(tuple(r.design.values()) for r in evaluated) == sorted(CORRECT)
    assert all(r.status == "infeasible" and r.violation == 1.0 for r in rows if not r.evaluated and not r.cached)


TINY_RL = {"n_steps": 8, "batch_size": 8, "n_epochs": 1, "hidden": 16, "block": 8}


@pytest.mark.parametrize("agent, options", [("exhaustive", {}), ("tpe", {}), ("gp", {}), ("ppo", TINY_RL),
                                            ("marl", TINY_RL), ("marl", {**TINY_RL, "policy": "independent"})])
def test_every_agent_runs_on_a_table_space(kt_file, tmp_path, agent, options):
    summary = run_job(kt_file, tmp_path / "j.db", JobSettings(agent=agent, seed=1, budget=4, batch=4, options=options))
    assert 1 <= summary.evaluations <= 4 and summary.failed == 0
    rows = rows_of(tmp_path / "j.db")
    for row in rows:
        config = (row.design["block_x"], row.design["block_y"], row.design["unroll"])
        if row.status == "ok":
            assert row.metrics["time_s"] == CORRECT[config][0] / 1000
        else:
            assert row.status == "infeasible" and config not in CORRECT


def test_the_process_backend_gives_the_inline_rows(kt_file, tmp_path):
    settings = JobSettings(agent="random", seed=5, budget=6, batch=6, chunk=2)
    run_job(kt_file, tmp_path / "inline.db", settings)
    with make_backend("process", workers=2) as backend:
        run_job(kt_file, tmp_path / "process.db", settings, backend)
    def outcome(path):
        return sorted((r.step, r.slot, r.key, r.status, tuple(sorted(r.metrics.items())), r.violated)
                      for r in rows_of(path))
    assert outcome(tmp_path / "inline.db") == outcome(tmp_path / "process.db")


def test_resume_refuses_a_changed_table(kt_file, tmp_path):
    path = tmp_path / "j.db"
    run_job(kt_file, path, JobSettings(agent="random", seed=0, budget=2, batch=2))
    with JobStore.open(path) as store:
        store.set_meta(status="running")
    table = write_kt(tmp_path, document=mutated(lambda doc: doc["results"][0]["measurements"][0].update(value=0.5)))
    os.utime(table, ns=(table.stat().st_atime_ns, table.stat().st_mtime_ns + 10**9))
    with pytest.raises(ConfigError) as error:
        resume_job(path)
    assert error.value.field == "fingerprint"


def test_the_exact_random_search_statistics_apply(kt_file):
    space = load_space(kt_file)
    table = enumerate_space(space, "fixture")
    reference = reference_of(table)
    assert reference.evaluable == reference.feasible == 6                  # invalid and absent designs are free
    assert reference.optimum == CORRECT[BEST][0] / 1000
    assert space.design_at(reference.optimum_index) == space.design_of(dict(zip(space.names, BEST)))
    exact = random_exact(table, reference, 6)
    assert exact.expected_best == reference.optimum and exact.p_within == 1.0


def kernel_tuner_rows(path: Path) -> list[dict]:
    with gzip.open(path) as f:
        return json.load(f)["results"]


@needs_hub
def test_convolution_a100_measured_space(write_space):
    raw = kernel_tuner_rows(HUB / "convolution-A100.json.gz")
    space = load_space(write_space(f"""
name: convolution-a100
evaluator: table
table: {{path: {HUB / 'convolution-A100.json.gz'}, format: kernel-tuner}}
objectives: [{{metric: time_s, goal: min}}]
"""))
    assert space.size == 16 * 5 * 4 * 4 * 2 * 2 * 2 and len(space.parameters) == 10
    table = enumerate_space(space, "convolution-a100")
    reference = reference_of(table)
    correct = [r for r in raw if r["invalidity"] == "correct"]
    assert reference.evaluable == reference.feasible == len(correct) == 4201
    best = min(correct, key=lambda r: r["measurements"][0]["value"])
    assert reference.optimum == best["measurements"][0]["value"] / 1000
    assert space.values_of(space.design_at(reference.optimum_index)) == best["configuration"]
    assert (table.status == 2).sum() == space.size - 4201                  # 155 runtime + 6 compile + absent ones
    assert 0 < random_exact(table, reference, 100).p_within < 1


@needs_hub
def test_the_example_space_loads_and_runs(tmp_path):
    space = load_space(EXAMPLE)
    assert space.size == 10240 and len(space.groups) == 3 and space.table is not None
    summary = run_job(EXAMPLE, tmp_path / "j.db", JobSettings(agent="ga", seed=0, budget=40))
    assert summary.evaluations == 40 and summary.failed == 0 and summary.best["time_s"] > 0
