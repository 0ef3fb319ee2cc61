"""Same seed, same rows on every backend: inline, a process pool, and Ray (one local session)."""
from __future__ import annotations

import pytest

from accelerators.errors import ConfigError
from dse.backends import InlineBackend, ProcessBackend, RayBackend, make_backend
from dse.job import JobSettings, run_job
from dse.store import JobStore

SETTINGS = JobSettings(agent="random", seed=11, budget=16, batch=8, chunk=3)


def comparable(path):
    with JobStore.open(path) as store:
        return [r.comparable() for r in store.rows()]


@pytest.fixture(scope="session")
def ray_session():
    ray = pytest.importorskip("ray")
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, configure_logging=False)
    yield ray
    ray.shutdown()


@pytest.fixture(scope="module")
def inline_rows(tmp_path_factory):
    from dse_fixtures import SMALL

    root = tmp_path_factory.mktemp("inline")
    space = root / "small.yaml"
    space.write_text(SMALL)
    run_job(space, root / "inline.db", SETTINGS, InlineBackend())
    return space, comparable(root / "inline.db")


def test_process_pool_gives_the_same_rows(inline_rows, tmp_path):
    space, expected = inline_rows
    with ProcessBackend(workers=2) as backend:
        run_job(space, tmp_path / "process.db", SETTINGS, backend)
    assert comparable(tmp_path / "process.db") == expected


def test_ray_gives_the_same_rows(inline_rows, ray_session, tmp_path):
    space, expected = inline_rows
    with RayBackend() as backend:  # uses the session's local Ray (2 CPUs)
        run_job(space, tmp_path / "ray.db", SETTINGS, backend)
    assert comparable(tmp_path / "ray.db") == expected
    assert ray_session.is_initialized()  # a backend does not shut down a Ray it did not start


def test_backend_flags_are_checked():
    with pytest.raises(ConfigError, match="one of: inline, process, ray"):
        make_backend("slurm")
    with pytest.raises(ConfigError, match="only with --backend ray"):
        make_backend("process", address="auto")
    with pytest.raises(ConfigError, match=">= 1"):
        make_backend("process", workers=0)
