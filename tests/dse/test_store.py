"""The job store: WAL, one row per append, lookup, evaluation counting, checkpoints."""
from __future__ import annotations

import sqlite3

import pytest

from accelerators.errors import ConfigError
from dse.store import JobStore, Row


def _row(step, slot, key, status="ok", cached=False):
    return Row(step=step, slot=slot, agent="random", seed=1, key=key, design={"x": key}, status=status,
               feasible=status == "ok", cached=cached, metrics={"m": 1.5}, objectives={"m": 1.5})


def test_rows_lookup_counts_and_checkpoint(tmp_path):
    path = tmp_path / "job.db"
    with JobStore.create(path, {"agent": "random", "seed": 1}) as store:
        assert store.meta()["agent"] == "random" and store.meta()["status"] == "running"
        store.append(_row(0, 1, "b", status="infeasible"))
        store.append(_row(0, 0, "a"))
        store.append(_row(1, 0, "a", cached=True))
        store.append(_row(1, 1, "c", status="failed"))
        assert [(r.step, r.slot) for r in store.rows()] == [(0, 0), (0, 1), (1, 0), (1, 1)]
        assert store.lookup("a").cached is False and store.lookup("zzz") is None
        assert store.evaluations() == 2 and store.evaluations(before_step=1) == 1
        assert store.distinct_designs() == 3
        store.checkpoint(1, {"k": [1, 2]}, evaluations=1, stalled=0)
        store.checkpoint(2, {"k": [3]}, evaluations=2, stalled=1)
        cp = store.latest_checkpoint()
        assert (cp.step, cp.state, cp.evaluations, cp.stalled) == (2, {"k": [3]}, 2, 1)
        with pytest.raises(sqlite3.IntegrityError):
            store.append(_row(0, 0, "again"))  # one row per (step, slot)
    db = sqlite3.connect(path)
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert db.execute("SELECT COUNT(*) FROM checkpoints").fetchone()[0] == 1


def test_refuses_to_overwrite_and_to_open_non_jobs(tmp_path):
    path = tmp_path / "job.db"
    JobStore.create(path, {}).close()
    with pytest.raises(ConfigError, match="does not exist yet"):
        JobStore.create(path, {})
    with pytest.raises(ConfigError, match="existing job file"):
        JobStore.open(tmp_path / "missing.db")
    junk = tmp_path / "junk.db"
    junk.write_text("not sqlite")
    with pytest.raises(ConfigError, match="moearch job file"):
        JobStore.open(junk)
