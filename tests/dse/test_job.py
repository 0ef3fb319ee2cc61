"""Jobs: budget of unique evaluations, infeasible and failed rows, caching, SIGKILL + resume."""
from __future__ import annotations

import pytest
from sigkill import kill_when

from dse.job import JobSettings, resume_job, run_job
from dse.store import JobStore


def rows_of(path):
    with JobStore.open(path) as store:
        return store.rows()


def test_budget_counts_unique_evaluations_only(small_space_file, tmp_path):
    summary = run_job(small_space_file, tmp_path / "j.db", JobSettings(agent="tpe", seed=2, budget=24, batch=6))
    rows = rows_of(tmp_path / "j.db")
    evaluated = [r for r in rows if r.evaluated]
    assert summary.evaluations == len(evaluated) == 24 and summary.stop_reason == "budget"
    assert len({r.key for r in evaluated}) == len(evaluated)             # never evaluated twice
    first_seen = {}
    for r in rows:
        if r.cached:                                                     # a cache hit repeats an earlier row
            assert r.key in first_seen and r.metrics == first_seen[r.key].metrics and r.eval_s == 0.0
        first_seen.setdefault(r.key, r)
    infeasible = [r for r in rows if r.status == "infeasible"]
    assert infeasible and all(not r.metrics.get("tpot_s") for r in infeasible)   # never evaluated
    assert all(r.violated for r in infeasible)
    assert summary.best == pytest.approx({k: v for k, v in summary.best.items()})
    assert all(r.agent == "tpe" and r.seed == 2 for r in rows)


def test_a_failing_design_is_a_row_and_the_job_goes_on(write_space, tmp_path):
    # Llama-3.3-70B in BF16 (141 GB) does not fit one 128 GB Ascend 910C, which has no host link
    # to offload to: the step model raises for that design only. No memory constraint is given,
    # so the design is evaluated and fails.
    space = write_space("""
name: no-room
workload: {model: llama-3.3-70b, phase: decode, batch: 16, context: 512}
base_device: ascend-910c
parameters:
  - {name: tp, values: [1, 2, 4]}
  - {name: dtype, values: [bf16, int8, fp8], agent: numerics}
objectives: [{metric: energy_j, goal: min}]
""")
    summary = run_job(space, tmp_path / "j.db", JobSettings(agent="exhaustive", seed=0, budget=20, batch=4))
    rows = rows_of(tmp_path / "j.db")
    by_design = {(r.design["tp"], r.design["dtype"]): r for r in rows}
    assert all(by_design[(tp, "fp8")].status == "infeasible" for tp in (1, 2, 4))  # no fp8 peak: not evaluated
    failed = by_design[(1, "bf16")]
    assert failed.status == "failed" and "holds the weights" in failed.error and not failed.feasible
    assert {r.status for k, r in by_design.items() if k[1] != "fp8" and k != (1, "bf16")} == {"ok"}
    assert summary.evaluations == 6 and summary.failed == 1 and summary.infeasible == 3
    assert summary.stop_reason == "exhausted" and summary.best_design["dtype"] == "int8"


def test_resume_of_a_finished_job_changes_nothing(small_space_file, tmp_path):
    path = tmp_path / "j.db"
    first = run_job(small_space_file, path, JobSettings(agent="ga", seed=1, budget=12, batch=4))
    again = resume_job(path)
    assert again == first and len(rows_of(path)) == first.rows


def test_sigkill_twice_then_resume_equals_an_uninterrupted_run(small_space_file, tmp_path):
    path = tmp_path / "killed.db"
    args = ["dse", "run", str(small_space_file), "--agent", "ga", "--seed", "5", "--budget", "45", "--batch", "3",
            "--chunk", "1", "--quiet", "--out", str(path)]
    at_first = kill_when(args, path, 12)
    at_second = kill_when(["dse", "resume", str(path), "--quiet"], path, at_first + 15)
    with JobStore.open(path) as store:
        assert store.meta()["status"] == "running"
        partial = store.rows()
    assert len(partial) == at_second
    resumed = resume_job(path)
    reference = run_job(small_space_file, tmp_path / "clean.db",
                        JobSettings(agent="ga", seed=5, budget=45, batch=3, chunk=1))
    killed_rows, clean_rows = rows_of(path), rows_of(tmp_path / "clean.db")
    assert [r.comparable() for r in killed_rows] == [r.comparable() for r in clean_rows]
    assert {r.comparable() for r in partial} <= {r.comparable() for r in killed_rows}  # nothing lost or redone
    assert resumed.best == reference.best and resumed.best_design == reference.best_design
    assert resumed.evaluations == reference.evaluations == 45
