"""`moearch serve` schedules in flight by default: the auto concurrency is what the engine holds at
once, and the JSON names the limit that set it."""
import json
import math

import pytest
from click.testing import CliRunner

from accelerators import load_device
from archmodel.parallel import Parallelism
from archmodel.precision import Precision
from archmodel.serving import engine_preset, kv_pool
from archmodel.workloads import load_workload
from moearch.cli.main import cli

MIXTRAL = ("-w", "mixtral-8x7b", "-d", "h100-sxm", "--tp", 8, "--dtype", "fp8", "--isl", 128, "--osl", 128)


def run(*args):
    return CliRunner().invoke(cli, [str(a) for a in args])


def run_json(*args):
    result = run(*args, "--json")
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


def _kv_requests(engine, **limits):
    pool = kv_pool(load_workload("mixtral-8x7b"), load_device("h100-sxm"), Precision.of("fp8"), Parallelism(tp=8),
                   engine_preset(engine).with_limits(**limits))
    return pool.blocks // math.ceil((128 + 128) / pool.block_tokens)


def test_auto_concurrency_is_the_engine_cap_not_the_kv_cache():
    data = run_json("serve", *MIXTRAL, "--requests", 4096)
    # 8 x H100 hold tens of thousands of 256-token sequences; TensorRT-LLM admits max_batch_size of them.
    assert _kv_requests("trtllm") > 2048
    assert data["concurrency"] == 2048 and data["concurrency_limit"] == "max_batch_size"
    assert data["engine_limits"]["max_batch_size"] == 2048 and data["capacity"]["kv_requests"] == _kv_requests("trtllm")
    assert data["mean_batch"] <= 2048 and data["schedule"] == "inflight"
    static = run_json("serve", *MIXTRAL, "--schedule", "static")
    assert static["batch"] > 10 * data["concurrency"]  # the static batch no engine runs


def test_a_raised_batch_cap_leaves_the_kv_blocks_as_the_limit():
    data = run_json("serve", *MIXTRAL, "--max-batch-size", 10 ** 6, "--memory-fraction", 0.05, "--requests", 200)
    kv = _kv_requests("trtllm", memory_fraction=0.05)
    assert data["concurrency"] == kv and data["concurrency_limit"] == "kv_memory"
    assert data["capacity"] == {"requests_per_replica": kv, "limit": "kv_memory", "kv_requests": kv}


def test_vllm_preset_caps_at_its_max_num_seqs():
    data = run_json("serve", *MIXTRAL, "--engine", "vllm", "--requests", 300)
    assert data["concurrency"] == 256 and data["concurrency_limit"] == "max_batch_size"
    assert data["engine"] == "vllm" and data["engine_limits"]["kv_block_tokens"] == 16


def test_open_loop_rate_and_fixed_concurrency():
    data = run_json("serve", *MIXTRAL, "--rate", 20, "--requests", 100)
    assert data["rate"] == 20 and data["concurrency"] is None and data["concurrency_limit"] is None
    assert data["ttft_s"] > 0 and data["tpot_s"] > 0
    fixed = run_json("serve", *MIXTRAL, "--concurrency", 16, "--requests", 64)
    assert fixed["concurrency"] == 16 and fixed["concurrency_limit"] is None


@pytest.mark.parametrize("args,flag", [
    (("--rate", 5, "--concurrency", 8), "--rate"),
    (("--schedule", "static", "--max-num-tokens", 4096), "--max-num-tokens"),
    (("--max-batch-size", 0), "--max-batch-size"),
    (("--memory-fraction", 1.5), "--memory-fraction"),
    (("--rate", -1), "--rate"),
])
def test_serve_flag_errors_name_the_flag(args, flag):
    result = run("serve", *MIXTRAL, *args)
    assert result.exit_code == 2, result.output
    assert f"field '{flag}'" in result.output and "Traceback" not in result.output


def test_a_kind_without_mixed_steps_asks_for_the_static_schedule():
    """The RDU model times fused static batches: in flight is refused with one clear error, static runs."""
    args = ("serve", "-w", "mixtral-8x7b", "-d", "sn40l", "--devices", 2, "--isl", 1024, "--osl", 256)
    result = run(*args)
    assert result.exit_code == 2 and "Traceback" not in result.output
    assert "field '--schedule'" in result.output and "'static' on a rdu device" in result.output
    assert run_json(*args, "--schedule", "static")["tpot_s"] > 0
