"""`moearch fpga` contract: JSON keys, defaults, flags, exit code 2 on bad input."""
from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from moearch.cli.main import cli
from archmodel.fpga.budget import make_budget
from archmodel.fpga.styles import run_style
from archmodel.fpga.tasks import gated_ffn


def run(*args: object):
    return CliRunner().invoke(cli, ["fpga", *[str(a) for a in args]])


def run_json(*args: object) -> dict:
    result = run(*args, "--json")
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


@pytest.mark.parametrize("kernel", ["self-attention", "gated-ffn", "mlp", "moe"])
@pytest.mark.parametrize("style", ["dataflow", "sequential", "intar"])
def test_json_contract(kernel: str, style: str) -> None:
    data = run_json("--kernel", kernel, "--device", "alveo-u280", "--style", style)
    assert {"cycles", "latency_s", "stages", "resources"} <= data.keys()
    assert data["latency_s"] == pytest.approx(data["cycles"] / 300e6)
    for st in data["stages"]:
        assert {"task", "mode", "cycles"} <= st.keys() and st["mode"] in ("dataflow", "sequential")
    assert {"dsp", "lut", "ff", "bram"} <= data["resources"].keys()
    if style != "intar":
        assert {st["mode"] for st in data["stages"] if kernel != "moe"} <= {style}


def test_defaults_are_the_paper_kernel_sizes_and_flags_change_them() -> None:
    data = run_json("--kernel", "gated-ffn")
    want = run_style(gated_ffn(32, 4096, 11008), make_budget("alveo-u280"), "intar")
    assert data["cycles"] == want.cycles
    small = run_json("--kernel", "gated-ffn", "--tokens", 8, "--hidden", 256, "--ffn", 512, "--pe", "16x16")
    assert small["cycles"] == run_style(gated_ffn(8, 256, 512), make_budget("alveo-u280", 16, 16), "intar").cycles
    attn = run_json("--kernel", "self-attention")
    assert [st["task"] for st in attn["stages"]] == ["qkv", "score", "softmax", "context", "out_proj"]
    mlp = run_json("--kernel", "mlp", "--dims", "64,128,64", "--tokens", 16)
    assert [st["task"] for st in mlp["stages"]] == ["fc1", "fc2"]


def test_moe_counts_and_compare() -> None:
    data = run_json("--kernel", "moe", "--tokens", 8, "--hidden", 64, "--ffn", 128, "--experts", 4, "--top-k", 1,
                    "--tokens-per-expert", "5,0,3,0", "--pe", "8x8")
    assert data["tokens_per_expert"] == [5, 0, 3, 0]
    assert not [st for st in data["stages"] if st["expert"] in (1, 3)]
    both = run_json("--kernel", "mlp", "--compare")
    assert set(both) == {"intar", "dataflow", "sequential"}
    assert both["intar"]["cycles"] <= min(both["dataflow"]["cycles"], both["sequential"]["cycles"])
    table = run("--kernel", "self-attention", "--compare")
    assert table.exit_code == 0 and "vs InTAR" in table.output


@pytest.mark.parametrize("args", [
    ("--kernel", "mlp", "--pe", "512x512"),
    ("--kernel", "mlp", "--device", "h100-sxm"),
    ("--kernel", "mlp", "--dims", "64,x"),
    ("--kernel", "moe", "--tokens-per-expert", "1,2"),
    ("--kernel", "mlp", "--pe", "16"),
    ("--kernel", "mlp", "--macs-per-dsp", 3),
])
def test_bad_input_exits_2(args: tuple) -> None:
    result = run(*args)
    assert result.exit_code == 2, result.output
    assert "error:" in result.output


@pytest.mark.parametrize("args,flag", [
    (("--kernel", "mlp", "--pe", "512x512"), "--pe"),
    (("--kernel", "mlp", "--pe", "16"), "--pe"),
    (("--kernel", "mlp", "--rows", 16), "--rows"),
    (("--kernel", "mlp", "--pe", "8x8", "--rows", 16, "--cols", 16), "--rows"),
    (("--kernel", "mlp", "--macs-per-dsp", 3), "--macs-per-dsp"),
    (("--kernel", "mlp", "--dims", "64,x"), "--dims"),
    (("--kernel", "moe", "--tokens-per-expert", "1,2"), "--tokens-per-expert"),
    (("--kernel", "moe", "--top-k", 9), "--top-k"),
    (("--kernel", "gated-ffn", "--tokens", 0), "--tokens"),
    (("--kernel", "mlp", "--device", "h100-sxm"), "--device"),
])
def test_errors_name_the_flag(args: tuple, flag: str) -> None:
    result = run(*args)
    assert result.exit_code == 2, result.output
    assert f"field '{flag}'" in result.output and "Traceback" not in result.output


@pytest.mark.parametrize("kernel,new,old", [
    ("gated-ffn", ("--pe", "16x16"), ("--rows", 16, "--cols", 16)),
    ("mlp", ("--tokens", 16), ("--batch", 16)),
    ("gated-ffn", ("--tokens", 8), ("--batch", 8)),
])
def test_old_spellings_are_hidden_aliases_that_warn(kernel: str, new: tuple, old: tuple) -> None:
    want, got = run("--kernel", kernel, *new, "--json"), run("--kernel", kernel, *old, "--json")
    assert want.exit_code == got.exit_code == 0, got.output
    assert json.loads(got.stdout) == json.loads(want.stdout)
    assert got.stderr.startswith(f"warning: {' '.join(str(a) for a in old[::2])} is deprecated")
    assert want.stderr == ""
    assert old[0] not in run("--help").output


def test_tokens_sets_every_kernels_token_count() -> None:
    ffn = run_json("--kernel", "gated-ffn", "--tokens", 8, "--hidden", 256, "--ffn", 512, "--pe", "16x16")
    assert ffn["cycles"] == run_style(gated_ffn(8, 256, 512), make_budget("alveo-u280", 16, 16), "intar").cycles
    assert run_json("--kernel", "moe", "--tokens", 8)["cycles"] < run_json("--kernel", "moe")["cycles"]
