"""Session fixtures for the verification-machinery tests: the CountingFifo design converted to
Verilog once, a fresh build root per session, and one full run of ``cocotb_fifo_tests`` per
simulator (the first run builds; later runs in the session hit the cache)."""
from __future__ import annotations

import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))  # designs.py, fifo_bench.py

from designs import CountingFifo, write_verilog  # noqa: E402
from fifo_bench import FIFO_TOP, REPO, FifoRuns  # noqa: E402

from verification.runner import DesignSources, RunResult  # noqa: E402


@pytest.fixture(scope="session")
def fifo_design() -> DesignSources:
    """CountingFifo as Verilog under build/ (rewritten only when the text changes)."""
    path = write_verilog(CountingFifo(), FIFO_TOP, REPO / "build" / "tests" / "verification")
    return DesignSources(toplevel=FIFO_TOP, sources=(path,))


@pytest.fixture(scope="session")
def sim_build_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A build root new to this session, so the first build of each design is a real one."""
    return tmp_path_factory.mktemp("sim")


@pytest.fixture(scope="session")
def fifo_runs(fifo_design: DesignSources, sim_build_root: Path) -> FifoRuns:
    return FifoRuns(fifo_design, sim_build_root)


@pytest.fixture(scope="session", params=["verilator", "icarus"])
def fifo_run(request: pytest.FixtureRequest, fifo_runs: FifoRuns) -> RunResult:
    """All of COCOTB_MODULE on one simulator; the session's first build of the design."""
    return fifo_runs.get(request.param)
