"""codegen.generate_kernel / spec_from_args: the Python API writes what `moearch codegen` writes."""
from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

import codegen
from accelerators.errors import ConfigError
from moearch.cli.main import cli
from codegen.generate import spec_from_args, spec_from_options
from codegen.spec import KernelSpec

ARGS = ["--shape", "d=32,f=64,experts=4,top_k=1", "--tokens", "8", "--pe", "4x4", "--activation", "relu",
        "--stream-bytes", "8", "--no-gated", "--no-rtl"]


def test_spec_from_args_is_the_commands_spec() -> None:
    spec, rtl = spec_from_args(ARGS)
    assert rtl is False
    assert spec == KernelSpec(tokens=8, hidden=32, ffn=64, experts=4, top_k=1, gated=False, activation="relu",
                              pe_rows=4, pe_cols=4, stream_bytes=8).validate()
    assert spec == spec_from_options(shape="d=32,f=64,experts=4,top_k=1", layer=None, scale=None, tokens=8,
                                     device="alveo-u280", pe="4x4", gated=False, activation="relu", stream_bytes=8,
                                     style="intar", name="moe_kernel")
    assert spec_from_args(ARGS[:-1])[1] is True


@pytest.mark.parametrize("args, field", [(["--shape", "d=32,f=64,experts=4,top_k=1"], "codegen arguments"),
                                         (["--tokens", "4", "--stream-bytes", "3", "--shape", "d=8"],
                                          "codegen arguments"),
                                         (["--tokens", "4", "--shape", "d=8,f=8,experts=4,top_k=5"], "top_k")])
def test_bad_arguments_are_config_errors(args, field) -> None:
    with pytest.raises(ConfigError) as info:
        spec_from_args(args)
    assert info.value.field == field


def test_generate_kernel_writes_what_the_cli_writes(tmp_path) -> None:
    spec, rtl = spec_from_args(ARGS)
    result = codegen.generate_kernel(spec, tmp_path / "api", rtl=rtl)
    assert result.plan.rows == 4 and result.manifest["shape"]["tokens"] == 8
    cli_out = tmp_path / "cli"
    run = CliRunner().invoke(cli, ["codegen", *ARGS, "--out", str(cli_out)])
    assert run.exit_code == 0, run.output
    api_manifest = json.loads((tmp_path / "api" / "manifest.json").read_text())
    cli_manifest = json.loads((cli_out / "manifest.json").read_text())
    assert api_manifest == cli_manifest  # same files, same hashes, same predictions
    assert result.files == tuple(sorted(p.relative_to(cli_out).as_posix() for p in cli_out.rglob("*")
                                        if p.is_file()))
