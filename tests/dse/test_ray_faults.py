"""A Ray-backed DSE job under SIGKILL: of a Ray worker in the middle of an evaluation (Ray re-runs
the task; no row is lost, none duplicated, no partial row) and of the driver (``dse resume`` on
Ray finishes the job), each giving the rows of an uninterrupted inline run."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sigkill import REPO, count_rows, kill_when

from dse.job import JobSettings, run_job
from dse.store import JobStore

pytest.importorskip("ray")

SPACE = REPO / "examples" / "fpga-moe-kernel.yaml"
BUDGET, ROUND, CHUNK, SEED = 48, 8, 4, 3
RUN = ["dse", "run", str(SPACE), "--agent", "random", "--seed", str(SEED), "--budget", str(BUDGET),
       "--designs-per-round", str(ROUND), "--chunk", str(CHUNK), "--quiet"]
RAY = ["--backend", "ray", "--workers", "2"]


@pytest.fixture(scope="module")
def clean_rows(tmp_path_factory) -> list[tuple]:
    path = tmp_path_factory.mktemp("clean") / "clean.db"
    run_job(SPACE, path, JobSettings(agent="random", seed=SEED, budget=BUDGET, batch=ROUND, chunk=CHUNK))
    return _rows(path)


def _rows(path: Path) -> list[tuple]:
    with JobStore.open(path) as store:
        return [r.comparable() for r in store.rows()]


def _evaluating_workers() -> list[int]:
    """PIDs of Ray workers running an evaluation now (Ray names a busy worker ``ray::<task>``)."""
    table = subprocess.run(["ps", "-eo", "pid=,args="], capture_output=True, text=True, check=True).stdout
    return [int(line.split(None, 1)[0]) for line in table.splitlines() if "ray::evaluate_chunk" in line]


def _evaluated_keys(path: Path) -> tuple[list[str], int]:
    """Keys of the rows that were not answered from the cache, and how many cost an evaluation."""
    with JobStore.open(path) as store:
        rows = store.rows()
    return [r.key for r in rows if not r.cached], sum(r.evaluated for r in rows)


def test_a_ray_worker_killed_mid_evaluation_loses_and_duplicates_nothing(tmp_path: Path, clean_rows) -> None:
    path = tmp_path / "worker.db"
    proc = subprocess.Popen([sys.executable, "-m", "moearch.cli.main", *RUN, *RAY, "--output", str(path)],
                            cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    killed: list[int] = []
    deadline = time.monotonic() + 180
    try:
        while not killed and proc.poll() is None:
            assert time.monotonic() < deadline, "no Ray worker was seen evaluating"
            if count_rows(path) >= ROUND:  # after the first round: the job is in full swing
                for pid in _evaluating_workers()[:1]:
                    os.kill(pid, signal.SIGKILL)
                    killed.append(pid)
            time.sleep(0.002)
        assert proc.wait(timeout=300) == 0, proc.stderr.read().decode()
    finally:
        if proc.poll() is None:
            proc.kill()
    assert killed, "the job finished before a worker could be killed"
    assert _rows(path) == clean_rows
    keys, evaluations = _evaluated_keys(path)
    assert len(keys) == len(set(keys))  # no design stored twice
    assert evaluations == BUDGET


def test_the_driver_killed_then_resumed_on_ray_equals_an_uninterrupted_run(tmp_path: Path, clean_rows) -> None:
    path = tmp_path / "driver.db"
    at_kill = kill_when([*RUN, *RAY, "--output", str(path)], path, BUDGET // 2)
    assert 0 < at_kill < BUDGET + BUDGET // ROUND  # killed part-way
    with JobStore.open(path) as store:
        assert store.meta()["status"] == "running"
    resumed = subprocess.run([sys.executable, "-m", "moearch.cli.main", "dse", "resume", str(path), "--quiet",
                              *RAY], cwd=REPO, capture_output=True, text=True, timeout=300)
    assert resumed.returncode == 0, resumed.stderr
    assert _rows(path) == clean_rows
    assert count_rows(path) == len(clean_rows)
