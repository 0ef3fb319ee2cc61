"""Splits no engine runs are refused with the reason (issue 15, item 2): heads kept whole by tensor
parallelism, whole experts per expert-parallel rank."""
from __future__ import annotations

import pytest
from click.testing import CliRunner

from accelerators.catalog import load_device
from accelerators.errors import ConfigError
from archmodel.mixed import mixed_step
from archmodel.parallel import Parallelism, check_split
from archmodel.step import model_step, step_latency
from archmodel.workloads import load_workload
from moearch.cli.main import cli

MIXTRAL, H100 = load_workload("mixtral-8x7b"), load_device("h100-sxm")


@pytest.mark.parametrize("model, parallel, field, words", [
    ("mixtral-8x7b", Parallelism(tp=3), "tp", "32 attention heads"),
    ("qwen2-57b-a14b", Parallelism(tp=8), "tp", "28 attention heads"),
    ("llama-3.1-70b", Parallelism(tp=16, dp=1), None, None),       # 8 KV heads replicated twice: runs
    ("qwen3-235b-a22b", Parallelism(tp=8), None, None),             # 4 KV heads replicated: runs
    ("mixtral-8x7b", Parallelism(tp=1, ep=3, dp=3), "ep", "8 routed experts"),
    ("mixtral-8x7b", Parallelism(tp=1, ep=32, dp=32), None, None),  # each expert split over 4 ranks
    ("deepseek-v3", Parallelism(tp=1, ep=16, dp=16), None, None),
    ("deepseek-v3", Parallelism(tp=1, ep=24, dp=24), "ep", "256 routed experts"),
])
def test_split_rules(model, parallel, field, words):
    m = load_workload(model)
    if field is None:
        check_split(m, parallel)
        return
    with pytest.raises(ConfigError) as info:
        check_split(m, parallel)
    assert info.value.field == field and words in info.value.allowed


def test_every_step_path_refuses_the_split():
    bad = Parallelism(tp=3)
    for call in (lambda: model_step(MIXTRAL, H100, b=1, s=1, c=128, parallel=bad),
                 lambda: step_latency(MIXTRAL, H100, b=1, s=1, c=128, parallel=bad),
                 lambda: mixed_step(MIXTRAL, H100, 1, 128, 4, 256, parallel=bad)):
        with pytest.raises(ConfigError, match="attention heads"):
            call()


def test_the_npu_pool_model_averages_experts_over_its_packages():
    """CloudMatrix384's EP over 160 packages: 256 experts made whole by redundant copies (ExpertLayout)."""
    v3, cm = load_workload("deepseek-v3"), load_device("cloudmatrix384")
    step = model_step(v3, cm, b=8, s=1, c=1024, parallel=Parallelism(tp=1, ep=160, dp=160))
    assert float(step.latency) > 0


def test_the_cli_names_the_flag():
    result = CliRunner().invoke(cli, ["serve", "-w", "mixtral-8x7b", "-d", "h100-sxm", "--tp", "3",
                                      "--isl", "128", "--osl", "128"])
    assert result.exit_code == 2 and "field '--tp': got 3" in result.output and "Traceback" not in result.output


@pytest.mark.parametrize("command", [
    ["serve", "-w", "llama-2-7b", "-d", "a100-sxm-80g", "--isl", "4000", "--osl", "500"],
    ["compare", "-w", "llama-2-7b", "-d", "a100-sxm-80g", "--isl", "4000", "--osl", "500"],
    ["serve-pd", "-w", "llama-2-7b", "-d", "a100-sxm-80g", "--isl", "4000", "--osl", "500",
     "--prefill-devices", "1", "--decode-devices", "1", "--concurrency", "4"],
])
def test_sequences_beyond_the_models_positions_are_refused_unless_asked(command):
    """Llama-2-7B has 4,096 positions: 4,000 + 500 tokens is refused, and modelled with the flag."""
    refused = CliRunner().invoke(cli, command)
    assert refused.exit_code == 2 and "field '--isl + --osl': got 4500" in refused.output
    assert "4096 positions of llama-2-7b" in refused.output and "Traceback" not in refused.output
    allowed = CliRunner().invoke(cli, [*command, "--beyond-max-positions", "--json"])
    assert allowed.exit_code == 0, allowed.output
