"""verification.runner: builds on both simulators, results and metrics, the build cache,
failing and missing tests, lint errors, waves, and DesignSources."""
from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from fifo_bench import COCOTB_MODULE, FIFO_TESTS, FIFO_TOP

from verification.pytest_plugin import ensure_simulator
from verification.runner import (BUILD_MARKER, BuildError, DesignSources, RunResult,
                                 build_and_run, parse_results)


def test_every_cocotb_test_reports_its_outcome(fifo_run: RunResult) -> None:
    assert [t.name for t in fifo_run.tests] == list(FIFO_TESTS)
    for name, should_pass in FIFO_TESTS.items():
        assert fifo_run.test(name).passed is should_pass, fifo_run.summary()
    assert not fifo_run.passed  # one test fails on purpose
    assert [t.name for t in fifo_run.failures] == ["wrong_expectation"]
    assert fifo_run.seed == 1234
    assert fifo_run.toplevel == FIFO_TOP and fifo_run.test_module == "cocotb_fifo_tests"


def test_no_waves_unless_asked(fifo_run: RunResult) -> None:
    assert fifo_run.waves is None
    assert not [p for p in fifo_run.run_dir.iterdir() if p.suffix in (".fst", ".vcd")]
    assert sorted(p.name for p in fifo_run.run_dir.iterdir() if p.suffix != ".tmp") == [
        "job.json", "metrics.json", "results.xml", "run.log", "status.json"]


def test_stream_run_took_simulated_time(fifo_run: RunResult) -> None:
    stream = fifo_run.test("stream_in_order")
    # 200 words through a 4-deep FIFO at 10 ns: at least 200 cycles, far fewer than the timeout
    assert 2000 <= stream.sim_time_ns <= 20 * 200 * 10
    assert stream.wall_time_s >= 0


def test_scoreboard_failure_names_index_expected_and_got(fifo_run: RunResult) -> None:
    failed = fifo_run.test("wrong_expectation")
    assert failed.outcome == "failed"
    assert "ScoreboardError" in failed.message
    assert "1 mismatch(es); expected 10 words, received 10" in failed.message
    assert "index 3: expected 14 (0xe), got 13 (0xd)" in failed.message


def test_metrics_recorded_by_the_test_reach_the_result(fifo_run: RunResult) -> None:
    metrics = fifo_run.test("stream_in_order").metrics
    assert metrics["words"] == 200
    # from the first accepted input to the last output word; with gaps and back-pressure
    # (ready 60 %) it cannot be faster than one word per cycle
    assert 200 <= metrics["cycles"] <= 20 * 200
    assert fifo_run.test("memory_serves_in_order").metrics == {}


def test_first_run_builds_and_leaves_a_marker(fifo_run: RunResult) -> None:
    assert not fifo_run.build_cached and fifo_run.build_time_s > 0
    marker = json.loads((fifo_run.build_dir / BUILD_MARKER).read_text())
    assert marker["sim"] == fifo_run.simulator and marker["toplevel"] == FIFO_TOP
    assert fifo_run.build_dir.name.startswith(f"{FIFO_TOP}-{fifo_run.simulator}-")
    if fifo_run.simulator == "verilator":
        assert "-Wall" in marker["build_args"] and "-Wno-WIDTHTRUNC" not in marker["build_args"]


def test_second_run_hits_the_cache(fifo_run: RunResult, fifo_design: DesignSources,
                                   sim_build_root: Path) -> None:
    marker = fifo_run.build_dir / BUILD_MARKER
    stamp = marker.stat().st_mtime_ns
    started = time.monotonic()
    again = build_and_run(fifo_design, fifo_run.simulator, COCOTB_MODULE,
                          ["memory_serves_in_order"], build_root=sim_build_root, seed=1234)
    elapsed = time.monotonic() - started
    assert again.build_cached and again.build_time_s == 0
    assert again.build_dir == fifo_run.build_dir and again.run_dir != fifo_run.run_dir
    assert marker.stat().st_mtime_ns == stamp  # not rebuilt
    assert [t.name for t in again.tests] == ["memory_serves_in_order"] and again.passed
    # the same seed on the same build gives the same simulated time
    assert (again.test("memory_serves_in_order").sim_time_ns
            == fifo_run.test("memory_serves_in_order").sim_time_ns)
    if fifo_run.simulator == "verilator":  # a Verilator build alone takes several seconds
        assert elapsed < fifo_run.build_time_s


def test_changed_source_gets_a_new_build_dir(fifo_design: DesignSources, tmp_path: Path) -> None:
    from verification.runner import build_digest
    from verification.simulators import SimulatorInfo

    info = SimulatorInfo("icarus", Path("iverilog"), (), "11.0")
    copy = tmp_path / fifo_design.sources[0].name
    copy.write_text(fifo_design.sources[0].read_text())
    moved = DesignSources(FIFO_TOP, (copy,))
    assert build_digest(moved, info, waves=None) == build_digest(fifo_design, info, waves=None)
    copy.write_text(copy.read_text() + "\n// changed\n")
    assert build_digest(moved, info, waves=None) != build_digest(fifo_design, info, waves=None)
    assert (build_digest(fifo_design, info, waves="fst")
            != build_digest(fifo_design, info, waves=None))


def test_unknown_testcase_is_an_error(fifo_design: DesignSources, sim_build_root: Path) -> None:
    ensure_simulator("icarus")
    run = build_and_run(fifo_design, "icarus", COCOTB_MODULE, ["no_such_test"],
                        build_root=sim_build_root)
    assert [(t.name, t.outcome) for t in run.tests] == [("no_such_test", "error")]
    assert "no cocotb test 'no_such_test'" in run.tests[0].message
    assert not run.passed


def test_icarus_waves_land_in_the_run_dir(fifo_design: DesignSources, sim_build_root: Path) -> None:
    ensure_simulator("icarus")
    run = build_and_run(fifo_design, "icarus", COCOTB_MODULE, ["memory_serves_in_order"],
                        build_root=sim_build_root, seed=3, waves=True)
    assert run.passed and run.waves is not None
    assert run.waves.parent == run.run_dir and run.waves.suffix == ".fst"
    assert run.waves.stat().st_size > 100
    assert run.waves.read_bytes()[:1] == b"\x00"  # FST header block type


def test_verilator_width_truncation_fails_the_build(tmp_path: Path) -> None:
    ensure_simulator("verilator")
    src = tmp_path / "trunc.v"
    src.write_text("module trunc(input clk, input [7:0] a, output [3:0] y);\n"
                   "  assign y = a;\nendmodule\n")
    with pytest.raises(BuildError, match="WIDTHTRUNC"):
        build_and_run(DesignSources("trunc", (src,)), "verilator", COCOTB_MODULE,
                      build_root=tmp_path / "sim")


def test_unsupported_simulator_is_rejected(fifo_design: DesignSources, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="allowed: verilator, icarus"):
        build_and_run(fifo_design, "modelsim", COCOTB_MODULE, build_root=tmp_path)


def test_missing_test_module_file(fifo_design: DesignSources, tmp_path: Path) -> None:
    ensure_simulator("icarus")
    with pytest.raises(FileNotFoundError, match="nope.py"):
        build_and_run(fifo_design, "icarus", tmp_path / "nope.py", build_root=tmp_path)


def test_parse_results_reads_cocotb_xml(tmp_path: Path) -> None:
    xml = tmp_path / "results.xml"
    xml.write_text("""<?xml version='1.0' encoding='utf-8'?>
<testsuites name="results"><testsuite name="m" tests="2">
 <testcase classname="m" name="a" time="0.500"><properties>
  <property name="random_seed" value="42"/><property name="sim_time_duration" value="120.0"/>
 </properties></testcase>
 <testcase classname="m" name="b" time="0.250"><failure message="AssertionError: x != y"
  type="AssertionError">Traceback ...</failure><properties>
  <property name="sim_time_duration" value="30.0"/></properties></testcase>
</testsuite></testsuites>""")
    tests, seed = parse_results(xml, {"a": {"cycles": 12.0}})
    assert seed == 42
    assert [(t.name, t.outcome, t.sim_time_ns, t.wall_time_s) for t in tests] == [
        ("a", "passed", 120.0, 0.5), ("b", "failed", 30.0, 0.25)]
    assert tests[0].metrics == {"cycles": 12.0} and tests[1].metrics == {}
    assert tests[1].message.startswith("AssertionError: x != y") and "Traceback" in tests[1].message


def test_design_sources_from_dir(tmp_path: Path) -> None:
    (tmp_path / "only.v").write_text("module only; endmodule\n")
    assert DesignSources.from_dir(tmp_path).toplevel == "only"
    (tmp_path / "other.sv").write_text("module other; endmodule\n")
    with pytest.raises(ValueError, match="2 Verilog files and no toplevel"):
        DesignSources.from_dir(tmp_path)
    both = DesignSources.from_dir(tmp_path, "only")
    assert [p.name for p in both.sources] == ["only.v", "other.sv"]
    (tmp_path / "manifest.json").write_text(json.dumps({"toplevel": "other",
                                                        "sources": ["other.sv"]}))
    manifest = DesignSources.from_dir(tmp_path)
    assert manifest.toplevel == "other" and [p.name for p in manifest.sources] == ["other.sv"]
    with pytest.raises(ValueError, match="no source files"):
        DesignSources("x", ())
    with pytest.raises(FileNotFoundError, match="missing.v"):
        DesignSources("x", (tmp_path / "missing.v",)).check_files()
