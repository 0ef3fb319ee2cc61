"""verification.junit: a JUnit file from runs on several simulators parses and counts right."""
from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

from fifo_bench import FifoRuns

from verification.junit import read_junit, to_junit_xml, write_junit
from verification.runner import RunResult, TestResult


def _run(sim: str, tests: tuple[TestResult, ...], root: Path) -> RunResult:
    run_dir = root / sim / "runs" / "r1"
    return RunResult(simulator=sim,  # type: ignore[arg-type]
                     simulator_version="1.0", toplevel="top",
                     test_module="mod", tests=tests, seed=7, build_dir=root / sim,
                     run_dir=run_dir, results_xml=run_dir / "results.xml",
                     log=run_dir / "run.log", build_cached=True, build_time_s=0.0,
                     run_time_s=1.0)


def test_synthetic_runs(tmp_path: Path) -> None:
    runs = [
        _run("verilator", (TestResult("a", "passed", 100.0, 0.5, metrics={"cycles": 10.0}),
                           TestResult("b", "failed", 20.0, 0.25,
                                      "index 3: expected 1, got 2\nTraceback"),
                           ), tmp_path),
        _run("icarus", (TestResult("a", "passed", 100.0, 0.75),
                        TestResult("c", "skipped", 0.0, 0.0, "not today"),
                        TestResult("d", "error", 0.0, 0.0, "not run")), tmp_path),
    ]
    path = write_junit(runs, tmp_path / "out" / "junit.xml", relative_to=tmp_path)
    root = ET.parse(path).getroot()
    assert root.tag == "testsuites"
    assert {k: root.get(k) for k in ("tests", "failures", "errors", "skipped", "time")} == {
        "tests": "5", "failures": "1", "errors": "1", "skipped": "1", "time": "1.500"}
    suites = root.findall("testsuite")
    assert [s.get("name") for s in suites] == ["verilator.top.mod", "icarus.top.mod"]
    assert suites[0].get("failures") == "1" and suites[1].get("errors") == "1"
    failure = suites[0].find("testcase[@name='b']/failure")
    assert failure is not None and failure.get("message") == "index 3: expected 1, got 2"
    assert "Traceback" in (failure.text or "")
    case_a = suites[0].find("testcase[@name='a']")
    assert case_a is not None and case_a.get("classname") == "verilator.mod"
    props = {p.get("name"): p.get("value") for p in case_a.iter("property")}
    assert props == {"sim_time_ns": "100", "metric.cycles": "10"}
    log_prop = suites[0].find("properties/property[@name='log']")
    assert log_prop is not None and log_prop.get("value") == "verilator/runs/r1/run.log"
    assert str(tmp_path) not in path.read_text()
    summary = read_junit(path)
    assert (summary.tests, summary.failures, summary.errors, summary.skipped) == (5, 1, 1, 1)
    assert not summary.ok
    assert not list(path.parent.glob("*.tmp"))


def test_empty_is_not_ok(tmp_path: Path) -> None:
    summary = read_junit(write_junit([], tmp_path / "j.xml"))
    assert summary.tests == 0 and not summary.ok
    assert to_junit_xml([]).get("tests") == "0"


def test_real_runs_on_both_simulators(fifo_runs: FifoRuns, tmp_path: Path) -> None:
    runs = [fifo_runs.get("verilator"), fifo_runs.get("icarus")]
    path = write_junit(runs, tmp_path / "junit.xml")
    ET.parse(path)  # well formed
    summary = read_junit(path)
    # three cocotb tests per simulator, one of them failing on purpose
    assert (summary.tests, summary.failures, summary.errors, summary.skipped) == (6, 2, 0, 0)
    assert summary.suites == ("verilator.counting_fifo.cocotb_fifo_tests",
                              "icarus.counting_fifo.cocotb_fifo_tests")
