"""verification.pytest_plugin: a user's few-line test through ``moearch_sim`` (cached build,
JUnit output, a failing cocotb test fails the pytest test) and the missing-simulator rule
(skip locally, fail in CI) for both the fixture and the ``requires_sim`` marker."""
from __future__ import annotations

from pathlib import Path

import pytest
from fifo_bench import COCOTB_MODULE, FifoRuns

from verification.junit import read_junit
from verification.runner import DesignSources

CONFTEST = 'pytest_plugins = ["verification.pytest_plugin"]\n'

USER_TEST = """
def test_mine(moearch_sim):
    result = moearch_sim.run({verilog!r}, test_module={module!r}, sim="icarus",
                             testcases=[{case!r}])
    assert result.build_cached
"""

MARKED_TEST = """
import pytest

@pytest.mark.requires_sim("icarus")
def test_marked():
    pass
"""


@pytest.fixture
def user_project(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> pytest.Pytester:
    for var in ("CI", "MOEARCH_REQUIRE_SIMULATORS"):
        monkeypatch.delenv(var, raising=False)
    pytester.makeconftest(CONFTEST)
    return pytester


def _user_test(project: pytest.Pytester, design: DesignSources, case: str) -> None:
    project.makepyfile(test_user=USER_TEST.format(
        verilog=str(design.sources[0]), module=str(COCOTB_MODULE), case=case))


def test_user_test_passes_with_cached_build_and_junit(
        user_project: pytest.Pytester, fifo_runs: FifoRuns, fifo_design: DesignSources,
        sim_build_root: Path) -> None:
    fifo_runs.get("icarus")  # the design is built for Icarus in this build root
    _user_test(user_project, fifo_design, "stream_in_order")
    junit = user_project.path / "rtl-junit.xml"
    result = user_project.runpytest(f"--moearch-build-root={sim_build_root}",
                                    f"--moearch-junit={junit}", "--moearch-seed=9")
    result.assert_outcomes(passed=1)
    summary = read_junit(junit)
    assert (summary.tests, summary.failures) == (1, 0) and summary.ok
    assert summary.suites == ("icarus.counting_fifo.cocotb_fifo_tests",)


def test_failing_cocotb_test_fails_the_user_test(
        user_project: pytest.Pytester, fifo_runs: FifoRuns, fifo_design: DesignSources,
        sim_build_root: Path) -> None:
    fifo_runs.get("icarus")
    _user_test(user_project, fifo_design, "wrong_expectation")
    result = user_project.runpytest(f"--moearch-build-root={sim_build_root}")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*failed  wrong_expectation*",
                                 "*index 3: expected 14 (0xe), got 13 (0xd)*"])


@pytest.mark.parametrize("ci", [False, True])
def test_missing_simulator_skips_locally_and_fails_in_ci(
        user_project: pytest.Pytester, monkeypatch: pytest.MonkeyPatch,
        fifo_design: DesignSources, tmp_path: Path, ci: bool) -> None:
    _user_test(user_project, fifo_design, "stream_in_order")
    user_project.makepyfile(test_marked=MARKED_TEST)
    monkeypatch.setenv("PATH", str(tmp_path))  # no iverilog / vvp anywhere
    if ci:
        monkeypatch.setenv("CI", "true")
    result = user_project.runpytest("-rsfE", f"--moearch-build-root={tmp_path / 'sim'}")
    if ci:
        # the fixture's run() fails the test; the marker fails it in setup (an error)
        result.assert_outcomes(failed=1, errors=1)
        result.stdout.fnmatch_lines(["*apt-get install iverilog*simulators are required*"])
    else:
        result.assert_outcomes(skipped=2)
        result.stdout.fnmatch_lines(["SKIPPED*iverilog (Icarus Verilog) not found; install it "
                                     "with: apt-get install iverilog*"])
    assert not (tmp_path / "sim").exists()  # nothing was built
