"""The verification-machinery tests' shared bench: the CountingFifo design's cocotb module, its tests,
and one full run of it per simulator (a module of its own, not conftest, so that test files import
it by a name no other test directory uses)."""
from __future__ import annotations

from pathlib import Path

from verification.pytest_plugin import ensure_simulator
from verification.runner import DesignSources, RunResult, build_and_run

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
COCOTB_MODULE = HERE / "cocotb_fifo_tests.py"
FIFO_TOP = "counting_fifo"
#: the cocotb tests in COCOTB_MODULE and whether each is meant to pass
FIFO_TESTS = {"stream_in_order": True, "wrong_expectation": False, "memory_serves_in_order": True}


class FifoRuns:
    """One full run of COCOTB_MODULE per simulator, seed 1234, made on first use."""

    def __init__(self, design: DesignSources, build_root: Path) -> None:
        self.design, self.build_root = design, build_root
        self._runs: dict[str, RunResult] = {}

    def get(self, sim: str) -> RunResult:
        ensure_simulator(sim)
        if sim not in self._runs:
            self._runs[sim] = build_and_run(self.design, sim, COCOTB_MODULE,
                                            build_root=self.build_root, seed=1234)
        return self._runs[sim]
