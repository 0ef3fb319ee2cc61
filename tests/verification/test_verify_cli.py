"""`moearch verify DIR`: exit codes (0 all passed, 1 something failed, 2 not a valid kernel), the
JSON report (per simulator the tests and per stage predicted / measured cycles and PE
utilisation), the JUnit file, waveforms under the build directory, the text report."""
from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from moearch.cli.main import cli
from verification.junit import read_junit
from verification.kernel_bench import TESTS
from verification.kernel_bench.suite import SHAPES
from verification.pytest_plugin import ensure_simulator

SHAPE = "e4-k1-plain"


@pytest.fixture(scope="module")
def kernel(moearch_kernel: Any) -> Path:
    return moearch_kernel(SHAPES[SHAPE])


@pytest.fixture(scope="module")
def build_dir(request: pytest.FixtureRequest) -> str:
    """The session's simulator build root (--moearch-build-root), shared with the other tests."""
    from verification.pytest_plugin import _SESSION_KEY

    return str(request.config.stash[_SESSION_KEY].build_root)


def verify(*args: str) -> Any:
    return CliRunner().invoke(cli, ["verify", *args], catch_exceptions=False)


def test_all_tests_pass_on_both_simulators_with_json_and_junit(kernel: Path, build_dir: str,
                                                               tmp_path: Path) -> None:
    for sim in ("verilator", "icarus"):
        ensure_simulator(sim)
    junit = tmp_path / "verify.xml"
    res = verify(str(kernel), "--sim", "all", "--json", "--junit", str(junit), "--build-dir",
                 build_dir, "--seed", "3")
    assert res.exit_code == 0, res.output
    data = json.loads(res.output)
    assert data["passed"] and data["lint"]["outcome"] == "passed"
    assert set(data["simulators"]) == {"verilator", "icarus"}
    for rep in data["simulators"].values():
        assert rep["passed"] and [t["name"] for t in rep["tests"]] == list(TESTS)
        assert all(t["outcome"] == "passed" for t in rep["tests"])
        timing = rep["timing"]
        assert timing["routing"] == "nominal" and timing["counts"] == [2, 2, 2, 2]
        assert timing["measured_cycles"] == timing["predicted_cycles"] == \
            timing["manifest_predicted_cycles"]
        stages = timing["stages"]
        assert [s["stage"] for s in stages] == ["front"] + [
            f"e{e}.{t}" for e in range(4) for t in ("up", "down")] + ["combine"]
        for s in stages:
            assert s["measured_cycles"] == s["predicted_cycles"]
            if s["mode"] == "sequential" and s["expert"] is not None:
                assert 0.9 <= s["pe_utilisation"] <= 1.0
        assert stages[-1]["pe_utilisation"] is None           # the combiner does not use the array
    assert data["simulators"]["verilator"]["timing"]["stages"] == \
        data["simulators"]["icarus"]["timing"]["stages"]
    summary = read_junit(junit)
    assert summary.ok and summary.tests == 2 * len(TESTS) + 1     # + the lint check
    assert "moearch-verify.moe_kernel" in summary.suites
    assert str(Path.cwd()) not in junit.read_text()                # paths relative to the cwd


def test_text_report_and_waves(kernel: Path, build_dir: str) -> None:
    ensure_simulator("icarus")
    res = verify(str(kernel), "--sim", "icarus", "--test", "nominal_routing", "--waves",
                 "--build-dir", build_dir)
    assert res.exit_code == 0, res.output
    out = res.output
    assert "lint        passed" in out and "icarus      passed  1/1 tests" in out
    assert "layer 4441 measured / 4441 predicted (+0.0%)" in out
    assert "e3.down" in out and "result: PASSED" in out
    waves = [line.split("waves: ", 1)[1] for line in out.splitlines() if "waves: " in line]
    assert len(waves) == 1
    wave = Path(waves[0])
    assert wave.is_file() and wave.suffix == ".fst" and wave.stat().st_size > 1000
    assert Path(build_dir).resolve() in wave.resolve().parents


def test_tests_by_simulator_and_notes(kernel: Path, build_dir: str) -> None:
    """What the demo does: every test on Verilator, only nominal routing on Icarus, in one call
    (one lint), with a note before each part."""
    from verification.verify import verify_kernel

    ensure_simulator("verilator")
    ensure_simulator("icarus")
    notes: list[str] = []
    report = verify_kernel(kernel, sims=("verilator", "icarus"), build_root=build_dir,
                           tests_by_sim={"icarus": ["nominal_routing"]}, note=notes.append).as_dict()
    ran = {sim: [t["name"] for t in data["tests"]] for sim, data in report["simulators"].items()}
    assert ran["icarus"] == ["nominal_routing"] and sorted(ran["verilator"]) == sorted(TESTS)
    assert report["passed"]
    assert notes == ["Verilator lint (-Wall)", "cocotb tests on verilator", "cocotb nominal_routing on icarus"]


def test_not_a_kernel_exits_2(tmp_path: Path, kernel: Path) -> None:
    res = verify(str(tmp_path))
    assert res.exit_code == 2
    assert "manifest.json" in res.output and "moearch codegen" in res.output
    edited = tmp_path / "edited"
    shutil.copytree(kernel, edited)
    (edited / "rtl" / "moe_kernel.v").write_text("module moe_kernel; endmodule\n")
    res = verify(str(edited))
    assert res.exit_code == 2
    assert "rtl/moe_kernel.v: content differs from the manifest's hash" in res.output
    res = verify(str(tmp_path / "missing"))
    assert res.exit_code == 2
    res = verify(str(kernel), "--test", "no_such_test")
    assert res.exit_code == 2 and "no_such_test" in res.output


def test_a_kernel_that_disagrees_with_the_golden_model_exits_1(tmp_path: Path, kernel: Path,
                                                                build_dir: str) -> None:
    """The manifest says identity, the Verilog's activation ROM holds relu: the sources still
    match their hashes (the manifest is not one of them), but the outputs do not."""
    ensure_simulator("icarus")
    wrong = tmp_path / "wrong"
    shutil.copytree(kernel, wrong)
    m = json.loads((wrong / "manifest.json").read_text())
    assert m["activation"]["name"] == "relu"
    m["activation"]["name"] = "identity"
    (wrong / "manifest.json").write_text(json.dumps(m))
    junit = tmp_path / "j.xml"
    res = verify(str(wrong), "--sim", "icarus", "--test", "random_layers", "--json",
                 "--junit", str(junit), "--build-dir", build_dir)
    assert res.exit_code == 1, res.output
    data = json.loads(res.output)
    test = data["simulators"]["icarus"]["tests"][0]
    assert test["outcome"] == "failed" and "scoreboard" in test["message"]
    summary = read_junit(junit)
    assert summary.failures == 1 and not summary.ok


def test_help_lists_the_options() -> None:
    res = CliRunner().invoke(cli, ["verify", "--help"])
    assert res.exit_code == 0
    for option in ("--sim", "--seed", "--junit", "--waves", "--json", "--resources", "--test",
                   "--build-dir"):
        assert option in res.output
