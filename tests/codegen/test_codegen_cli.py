"""`moearch codegen`: all outputs for several shapes, bad input exits 2 naming the parameter and
writes nothing, scaled model layers, JSON summary; the generated C++ compiles and runs."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from accelerators.errors import ConfigError
from click.testing import CliRunner

from moearch.cli.main import cli
from codegen.csim import compile_csim, run_csim
from codegen.manifest import check_manifest
from codegen.plan import build_plan
from codegen.spec import KernelSpec
from verification import golden

CASES = {
    "e8-k2-gated": ["--shape", "d=64,f=128,experts=8,top_k=2", "--tokens", "16", "--pe", "8x8", "--gated",
                    "--activation", "silu", "--stream-bytes", "16"],
    "e4-k1-plain": ["--shape", "d=32,f=64,experts=4,top_k=1", "--tokens", "8", "--pe", "4x4", "--activation",
                    "relu", "--stream-bytes", "8", "--no-gated"],
    # the part's default array (64 x 128): its Verilog takes minutes, so only the HLS side here
    "e8-k1-gated-default-array": ["--shape", "d=48,f=96,experts=8,top_k=1", "--tokens", "12", "--gated", "--no-rtl"],
    "e4-k2-plain": ["--shape", "d=40,f=72,experts=4,top_k=2", "--tokens", "10", "--pe", "2x8", "--stream-bytes", "4",
                    "--no-gated"],
}


try:
    import codegen.rtl  # noqa: F401
    RTL_EMITTER = True
except ModuleNotFoundError:
    RTL_EMITTER = False


def run(args: list[str]):
    return CliRunner().invoke(cli, ["codegen", *args], catch_exceptions=False)


@pytest.mark.parametrize("name", sorted(CASES))
def test_all_outputs(name: str, tmp_path) -> None:
    out = tmp_path / name
    res = run([*CASES[name], "--device", "alveo-u280", "--out", str(out)])
    assert res.exit_code == 0, res.output
    assert f"-> {out}" in res.output and "predicted" in res.output
    files = {p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file()}
    assert {"README.md", "manifest.json", "hls/moe_kernel.cpp", "hls/moe_kernel.h", "hls/moe_kernel_tb.cpp",
            "hls/Makefile", "hls/run_hls.tcl", "hls/include/moearch_hls.h"} <= files
    m = json.loads((out / "manifest.json").read_text())
    assert check_manifest(out) == []
    if "--no-rtl" in CASES[name]:
        assert not m["rtl"]["available"] and "not requested" in res.output
    elif RTL_EMITTER:
        assert m["rtl"]["available"], m["rtl"]["message"]
        assert m["sources"] == ["rtl/moe_kernel.v"] and (out / "rtl" / "moe_kernel.v").is_file()
        assert "rtl/moe_kernel.v" in res.output and "rtl/moe_kernel.v" in m["files"]
        assert m["interfaces"]["rtl"]["schedule_rom"]["variant_ranges"]
    else:
        assert m["rtl"]["message"] in res.output and not (out / "rtl").exists()
    spec_args = dict(zip(CASES[name][::2], CASES[name][1::2]))
    assert m["shape"]["tokens"] == int(spec_args["--tokens"])
    assert m["shape"]["gated"] == ("--gated" in CASES[name])


def test_default_example_compiles_and_matches_golden(tmp_path, gxx) -> None:
    """The issue's example: what the command writes compiles with g++ -Wall -Werror and runs bit-exact."""
    out = tmp_path / "moe0"
    res = run([*CASES["e8-k2-gated"], "--device", "alveo-u280", "--out", str(out), "--no-rtl"])
    assert res.exit_code == 0, res.output
    m = json.loads((out / "manifest.json").read_text())
    plan = build_plan(KernelSpec(**m["request"]))
    exe = compile_csim(out / "hls", plan.name, build_dir=tmp_path / "bin", cxx=gxx)
    shape = golden.MoEShape(**m["shape"])
    params = golden.random_params(shape, 21, "silu")
    x = golden.random_tokens(shape, 22)
    got = run_csim(plan, exe, x, params, tmp_path / "run")
    assert np.array_equal(got.output, golden.moe_layer(x, params, shape).output)


def test_readme_python_example_runs_as_written(tmp_path, gxx, monkeypatch) -> None:
    out = tmp_path / "moe0"
    assert run([*CASES["e4-k1-plain"], "--out", str(out), "--no-rtl"]).exit_code == 0
    readme = (out / "README.md").read_text()
    snippet = readme.split("```python\n", 1)[1].split("```", 1)[0]
    assert "golden.moe_layer" in snippet and "assert np.array_equal" in snippet
    monkeypatch.chdir(out)
    exec(compile(snippet, "README.md", "exec"), {})  # noqa: S102 - our own generated example
    assert (out / "csim-run" / "out.bin").is_file()


@pytest.mark.parametrize("args,field", [
    (["--shape", "d=64,f=128,experts=8,top_k=9", "--tokens", "16"], "top_k"),
    (["--shape", "d=0,f=128,experts=8,top_k=2", "--tokens", "16"], "hidden"),
    (["--shape", "d=64,f=-4,experts=8,top_k=2", "--tokens", "16"], "ffn"),
    (["--shape", "d=64,f=128,experts=8,top_k=2", "--tokens", "0"], "--tokens"),
    (["--shape", "d=64,f=128,experts=8,top_k=2", "--tokens", "16", "--pe", "95x95"], "--pe"),
    (["--shape", "d=64,f=128,experts=8,top_k=2", "--tokens", "16", "--pe", "8by8"], "--pe"),
    (["--shape", "d=64,f=128,experts=8", "--tokens", "16"], "--shape"),
    (["--shape", "d=64 f=128 experts=8 top_k=2", "--tokens", "16"], "--shape"),
    (["--shape", "d=200000,f=128,experts=8,top_k=2", "--tokens", "16"], "hidden"),
    (["--tokens", "16"], "--shape"),
    (["--shape", "d=64,f=128,experts=8,top_k=2", "--layer", "mixtral-8x7b", "--tokens", "16"], "--shape"),
    (["--shape", "d=64,f=128,experts=8,top_k=2", "--tokens", "16", "--scale", "4"], "--scale"),
    (["--layer", "mixtral-8x7b", "--scale", "3", "--tokens", "8"], "--scale"),
    (["--layer", "mixtral-8x7b", "--scale", "64", "--tokens", "8", "--no-gated"], "--gated"),
    (["--shape", "d=64,f=128,experts=8,top_k=2", "--tokens", "16", "--device", "h100-sxm"], "--device"),
    (["--shape", "d=64,f=128,experts=8,top_k=2", "--tokens", "16", "--name", "9lives"], "--name"),
    (["--layer", "gpt2-medium", "--tokens", "8"], "--layer"),
])
def test_bad_input_exits_2_and_writes_nothing(args: list[str], field: str, tmp_path) -> None:
    out = tmp_path / "out"
    res = CliRunner().invoke(cli, ["codegen", *args, "--out", str(out)])
    assert res.exit_code == 2, res.output
    assert f"field '{field}'" in res.output
    assert list(tmp_path.iterdir()) == []


def test_unknown_stream_width_is_a_usage_error(tmp_path) -> None:
    res = CliRunner().invoke(cli, ["codegen", "--shape", "d=64,f=128,experts=8,top_k=2", "--tokens", "16",
                                   "--stream-bytes", "3", "--out", str(tmp_path / "o")])
    assert res.exit_code == 2 and "--stream-bytes" in res.output
    assert list(tmp_path.iterdir()) == []


def test_foreign_output_directory_is_refused(tmp_path) -> None:
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "keep.txt").write_text("x")
    res = CliRunner().invoke(cli, ["codegen", *CASES["e4-k1-plain"], "--out", str(tmp_path / "mine")])
    assert res.exit_code == 2 and "field '--out'" in res.output
    assert [p.name for p in (tmp_path / "mine").iterdir()] == ["keep.txt"]


def test_layer_scaled_for_simulation(tmp_path) -> None:
    out = tmp_path / "mix"
    res = run(["--layer", "mixtral-8x7b", "--scale", "64", "--tokens", "8", "--pe", "8x8", "--out", str(out),
               "--json", "--no-rtl"])
    assert res.exit_code == 0, res.output
    summary = json.loads(res.output)
    assert summary["shape"] == {"tokens": 8, "hidden": 64, "ffn": 224, "experts": 8, "top_k": 2, "gated": True}
    m = json.loads((out / "manifest.json").read_text())
    assert m["source_layer"] == {"model": "mixtral-8x7b", "scale": 64, "hidden": 4096, "ffn": 14336,
                                 "note": "d and f of mixtral-8x7b divided by 64 for simulation"}
    assert m["activation"]["name"] == "silu"  # the model's hidden_act
    assert "divided by 64" in (out / "README.md").read_text()
    assert summary["sources_sha256"] == m["sources_sha256"]
    assert Path(summary["out"]) == out


def test_rtl_output_is_lint_clean_and_loads_as_a_design(tmp_path) -> None:
    if not RTL_EMITTER:
        pytest.skip("codegen.rtl (the RTL emitter) is not available")
    from codegen.hdl.export import lint_verilog
    from verification.pytest_plugin import ensure_simulator
    from verification.runner import DesignSources
    out = tmp_path / "k"
    res = run([*CASES["e4-k2-plain"], "--out", str(out)])
    assert res.exit_code == 0, res.output
    design = DesignSources.from_dir(out)
    assert design.toplevel == "moe_kernel" and [p.name for p in design.sources] == ["moe_kernel.v"]
    text = (out / "rtl" / "moe_kernel.v").read_text()
    assert "module moe_kernel" in text and str(tmp_path) not in text
    verilator = ensure_simulator("verilator").executable  # skips here, fails in CI, when missing
    result = lint_verilog(text, top="moe_kernel", verilator=verilator)
    assert result.ok, result.messages


def test_schedule_the_rtl_refuses_still_gives_the_hls_kernel(tmp_path, monkeypatch) -> None:
    """When the RTL emitter refuses a plan (ConfigError before it writes anything), the HLS kernel is
    still written and the manifest, README and CLI output say why rtl/ is absent."""
    if not RTL_EMITTER:
        pytest.skip("codegen.rtl (the RTL emitter) is not available")
    import codegen.rtl

    def refuse(plan, out_dir):
        raise ConfigError(None, "schedule", plan.name, "a schedule the RTL implements")

    monkeypatch.setattr(codegen.rtl, "emit_verilog", refuse)
    out = tmp_path / "k"
    res = run([*CASES["e4-k1-plain"], "--out", str(out)])
    assert res.exit_code == 0, res.output
    m = json.loads((out / "manifest.json").read_text())
    assert not m["rtl"]["available"] and "a schedule the RTL implements" in m["rtl"]["message"]
    assert not (out / "rtl").exists() and (out / "hls" / "moe_kernel.cpp").is_file()


def test_gated_by_default_like_fpga(tmp_path) -> None:
    """One gated default: `--shape` without --gated/--no-gated is gated, as `moearch fpga --kernel moe`."""
    shape = ["--shape", "d=32,f=64,experts=4,top_k=1", "--tokens", "8", "--pe", "4x4", "--no-rtl", "--json"]
    default = json.loads(run([*shape, "--out", str(tmp_path / "a")]).stdout)
    gated = json.loads(run([*shape, "--gated", "--out", str(tmp_path / "b")]).stdout)
    assert default["shape"]["gated"] is True
    assert default["predicted_cycles"] == gated["predicted_cycles"] and default["resources"] == gated["resources"]
    fpga = CliRunner().invoke(cli, ["fpga", "--help"]).output
    assert "--gated / --no-gated" in fpga and "[default: gated]" in fpga


def test_short_o_is_a_hidden_alias_of_out(tmp_path) -> None:
    shape = [*CASES["e4-k1-plain"], "--no-rtl", "--json"]
    want = run([*shape, "--out", str(tmp_path / "a")])
    got = run([*shape, "-o", str(tmp_path / "b")])
    assert want.exit_code == got.exit_code == 0, got.output
    assert "warning: -o is deprecated" in got.stderr and want.stderr == ""
    a, b = json.loads(want.stdout), json.loads(got.stdout)
    assert a["files"] == b["files"] and a["sources_sha256"] == b["sources_sha256"]
    assert (tmp_path / "b" / "manifest.json").is_file()
    missing = CliRunner().invoke(cli, ["codegen", *shape])
    assert missing.exit_code == 2 and "field '--out'" in missing.output
