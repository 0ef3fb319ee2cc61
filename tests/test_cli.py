"""The CLI contract other tools rely on: command names, JSON keys, exit code 2 on bad input."""
import json

import pytest
from click.testing import CliRunner

from moearch.cli.main import cli


def run(*args):
    result = CliRunner().invoke(cli, [str(a) for a in args])
    return result


def run_json(*args):
    result = run(*args, "--json")
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_model_json_contract():
    data = run_json("model", "--workload", "mixtral-8x7b", "--device", "h100-sxm", "--tp", 2, "--phase", "decode",
                    "--sequences", 32, "--context", 2048)
    assert {"latency_s", "bottleneck", "ops"} <= data.keys()
    assert data["bottleneck"] in ("compute", "memory", "comm", "overhead")
    names = [op["name"] for op in data["ops"]]
    assert {"qkv_proj", "attn_score", "router", "expert_up", "expert_down", "lm_head"} <= set(names)
    for op in data["ops"]:
        assert {"name", "flops", "bytes", "op_per_byte", "time_s", "bound", "unit", "tier"} <= op.keys()
    # The step latency is the sum of operator times x how often each runs.
    assert data["latency_s"] == pytest.approx(sum(op["time_s"] * op["count"] for op in data["ops"]), rel=1e-9)


def test_serve_json_contract_and_memory_fits():
    data = run_json("serve", "--workload", "mixtral-8x7b", "--device", "h100-sxm", "--devices", 2,
                    "--isl", 1024, "--osl", 256, "--schedule", "static")
    for key in ("batch", "ttft_s", "tpot_s", "output_tokens_per_s", "output_tokens_per_s_per_device",
                "bottleneck", "memory"):
        assert key in data
    assert data["output_tokens_per_s"] == pytest.approx(2 * data["output_tokens_per_s_per_device"])
    mem = data["memory"]
    # The auto batch by hand: the largest whose KV cache fits 90% of the memory the weights leave.
    # Mixtral-8x7B has 32 layers of GQA attention with 8 KV heads of 128 (bf16); tp 2 halves the KV
    # heads, so a token's K and V take 2 x 4 x 128 x 2 B x 32 layers = 64 KiB per device, and one
    # sequence of 1024 + 256 tokens 80 MiB.
    per_seq = 2 * (8 // 2) * 128 * 2 * 32 * (1024 + 256)
    assert per_seq == 83_886_080
    # Its 46.70 G parameters (bf16) split over the two devices: 46.70 GB each, of 80 GB.
    assert mem["weights_bytes"] == pytest.approx(46.70e9, rel=1e-3)
    assert mem["capacity_bytes"] == 80e9
    # floor(0.9 x (80 - 46.70) GB / 80 MiB) = floor(357.2) = 357 sequences.
    assert data["batch"] == 357 == int(0.9 * (mem["capacity_bytes"] - mem["weights_bytes"]) // per_seq)
    assert mem["kv_bytes"] == data["batch"] * per_seq
    # It fits the KV share of the free memory, and one more sequence would not.
    free = 0.9 * (mem["capacity_bytes"] - mem["weights_bytes"])
    assert mem["kv_bytes"] <= free < mem["kv_bytes"] + per_seq


def test_serve_fixed_batch():
    data = run_json("serve", "-w", "llama-2-7b", "-d", "a100-sxm-80g", "--isl", 128, "--osl", 128, "--concurrency", 8,
                    "--dtype", "fp16", "--schedule", "static")
    assert data["batch"] == 8
    assert data["ttft_s"] > 0 and data["tpot_s"] > 0


def test_devices_and_workloads_listings():
    devices = {d["name"] for d in run_json("devices")}
    assert {"a100-sxm-80g", "h100-sxm", "h200-sxm", "mi300x", "ascend-910b", "ascend-910c", "cloudmatrix384",
            "sn40l", "sn40l-node", "duplex", "alveo-u280", "alveo-u55c", "versal-vck190"} <= devices
    shown = run_json("devices", "show", "h100-sxm")
    assert shown["compute"]["peak"]["bf16"] == pytest.approx(989e12)
    names = {w["name"] for w in run_json("workloads")}
    assert "deepseek-v3" in names and "gpt2-medium" in names


def test_opb_crossover_of_expert_gemm():
    rows = {r["name"]: r for r in run_json("opb", "-w", "mixtral-8x7b", "-d", "h100-sxm")}
    ridge = rows["expert_up"]["ridge_op_per_byte"]
    assert ridge == pytest.approx(989e12 / 3.35e12)
    # An expert GEMM reaches the ridge once tokens per expert (B*2/8) are about the ridge: B ~ 4 x ridge.
    assert 4 * ridge * 0.95 <= rows["expert_up"]["crossover_batch"] <= 4 * ridge * 1.2
    assert "(1 - k/E)**(b*s)" in rows["expert_up"]["formula"]
    assert rows["attn_score"]["crossover_batch"] is None  # GQA decode attention never reaches the ridge


def test_roofline_writes_png(tmp_path):
    out = tmp_path / "r.png"
    result = run("roofline", "-w", "mixtral-8x7b", "-d", "h100-sxm", "--tp", 2, "-o", out)
    assert result.exit_code == 0, result.output
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert not [p for p in tmp_path.iterdir() if p.name != "r.png"]  # no temporary left behind


@pytest.mark.parametrize("args,needle", [
    (("model", "-w", "no-such-model", "-d", "h100-sxm"), "no-such-model"),
    (("model", "-w", "mixtral-8x7b", "-d", "no-such-device"), "no-such-device"),
    (("serve", "-w", "mixtral-8x7b", "-d", "a100-sxm-80g", "--isl", 128, "--osl", 128), "fits"),
    (("serve", "-w", "mixtral-8x7b", "-d", "a100-sxm-80g", "--isl", 128, "--osl", 128, "--schedule", "static"), "fits"),
    (("serve", "-w", "mixtral-8x7b", "-d", "h100-sxm", "--tp", 2, "--isl", 0, "--osl", 128), "isl"),
    (("model", "-w", "mixtral-8x7b", "-d", "h100-sxm", "--tp", 2, "--ep", 3), "ep"),
    (("model", "-w", "mixtral-8x7b", "-d", "h100-sxm", "--routing", "zipf:x"), "routing"),
])
def test_bad_input_exits_2_with_one_message(args, needle):
    result = run(*args)
    assert result.exit_code == 2
    assert needle in result.output
    assert "Traceback" not in result.output


def test_bad_device_file_exits_2(tmp_path):
    bad = tmp_path / "my-gpu.yaml"
    bad.write_text("name: my-gpu\nkind: gpu\nvendor: me\ndescription: x\ncompute: {peak: {bf16: 100 TB/s}}\n"
                   "memory: [{name: hbm, capacity: 80 GB, read_bandwidth: 2 TB/s, write_bandwidth: 2 TB/s}]\n"
                   "sources: {compute: me, memory: me}\n")
    result = run("model", "-w", "mixtral-8x7b", "-d", bad)
    assert result.exit_code == 2
    assert "my-gpu.yaml" in result.output and "compute.peak.bf16" in result.output and "100 TB/s" in result.output


def test_serve_pd_disaggregated_contract():
    data = run_json("serve-pd", "-w", "deepseek-v3", "-d", "cloudmatrix384", "--isl", 2048, "--osl", 256,
                    "--prefill-devices", 16, "--decode-devices", 160, "--decode-sequences", 32,
                    "--redundant", 32, "--shared-dies", 32)
    assert data["prefill_devices"] == 16 and data["decode_devices"] == 160
    assert data["ttft_s"] > 0 and data["tpot_s"] > 0
    # The deployment emits no more than its decode pool can: 160 packages x tokens/s each.
    assert data["output_tokens_per_s"] <= 160 * data["decode_tokens_per_s_per_device"] * (1 + 1e-9)
    # Multi-token prediction emits more than one token per step, so TPOT falls.
    mtp = run_json("serve-pd", "-w", "deepseek-v3", "-d", "cloudmatrix384", "--isl", 2048, "--osl", 256,
                   "--prefill-devices", 16, "--decode-devices", 160, "--decode-sequences", 32,
                   "--redundant", 32, "--shared-dies", 32, "--mtp", 0.7)
    assert mtp["tpot_s"] < data["tpot_s"]


def test_serve_pd_on_gpus_serves_closed_loop_clients():
    data = run_json("serve-pd", "-w", "deepseek-v3", "-d", "h100-sxm", "--isl", 1024, "--osl", 256,
                    "--prefill-devices", 16, "--decode-devices", 16, "--decode-sequences", 8, "--dtype", "fp8")
    assert data["concurrency"] == 8 * 16 and data["bound"] in ("clients", "prefill", "decode_slots")
    assert data["ttft_s"] >= data["prefill_s"] + data["transfer_s"] - 1e-12 and data["decode_batch"] <= 8
    cycle = data["ttft_s"] + 255 * data["tpot_s"]
    assert data["requests_per_s"] * cycle == pytest.approx(128, rel=1e-3)


def test_serve_pd_rejects_npu_flags_on_gpus_and_bad_layout():
    gpu = run("serve-pd", "-w", "deepseek-v3", "-d", "h100-sxm", "--isl", 128, "--osl", 128,
              "--prefill-devices", 8, "--decode-devices", 8, "--decode-sequences", 8, "--redundant", 3)
    assert gpu.exit_code == 2 and "--redundant" in gpu.output and "NPU" in gpu.output
    layout = run("serve-pd", "-w", "deepseek-v3", "-d", "cloudmatrix384", "--isl", 128, "--osl", 128,
                 "--prefill-devices", 8, "--decode-devices", 8, "--decode-sequences", 8, "--redundant", 3)
    assert layout.exit_code == 2 and "Traceback" not in layout.output


MODEL = ("-w", "mixtral-8x7b", "-d", "h100-sxm", "--tp", 2)


@pytest.mark.parametrize("args,new,old,value", [
    (("model", *MODEL, "--context", 512), "--sequences", "--batch", 16),
    (("serve", *MODEL, "--isl", 256, "--osl", 32), "--concurrency", "--batch", 8),
    (("serve", *MODEL, "--isl", 256, "--osl", 32), "--concurrency", "--batch", "auto"),
])
def test_old_spelling_is_a_hidden_alias_that_warns(args, new, old, value):
    want = run(*args, new, value, "--json")
    got = run(*args, old, value, "--json")
    assert want.exit_code == got.exit_code == 0, got.output
    assert json.loads(got.stdout) == json.loads(want.stdout)
    assert got.stderr.strip() == f"warning: {old} is deprecated and will be removed in the next release; use {new}"
    assert want.stderr == ""
    assert old not in run(args[0], "--help").output  # hidden
    both = run(*args, new, value, old, value)
    assert both.exit_code == 2 and old in both.output and "deprecated spelling" in both.output


def test_roofline_old_batch_spelling(tmp_path):
    new, old = tmp_path / "new.png", tmp_path / "old.png"
    assert run("roofline", *MODEL, "--sequences", 8, "-o", new).exit_code == 0
    result = run("roofline", *MODEL, "--batch", 8, "-o", old)
    assert result.exit_code == 0, result.output
    assert "--batch is deprecated" in result.stderr
    assert old.read_bytes() == new.read_bytes()


@pytest.mark.parametrize("args,flag", [
    (("model", *MODEL, "--sequences", 0), "--sequences"),
    (("serve", *MODEL, "--isl", 128, "--osl", 16, "--concurrency", "many"), "--concurrency"),
    (("serve", *MODEL, "--isl", 128, "--osl", 16, "--concurrency", 0), "--concurrency"),
    (("serve", "-w", "mixtral-8x7b", "-d", "a100-sxm-80g", "--isl", 128, "--osl", 128, "--schedule", "static"),
     "--concurrency"),
    (("serve", *MODEL, "--isl", 128, "--osl", 16, "--concurrency", 3, "--devices", 4), "--concurrency"),
])
def test_flag_errors_name_the_flag(args, flag):
    result = run(*args)
    assert result.exit_code == 2, result.output
    assert f"field '{flag}'" in result.output and "Traceback" not in result.output


PD = ("serve-pd", "-w", "deepseek-v3", "-d", "cloudmatrix384", "--isl", 1024, "--osl", 64, "--prefill-devices", 8,
      "--decode-devices", 16)


@pytest.mark.parametrize("new,old,value,rest", [
    ("--decode-sequences", "--decode-batch", 16, ()),
    ("--prefill-sequences", "--prefill-batch", 2, ("--decode-sequences", 16)),
])
def test_serve_pd_old_batch_spellings(new, old, value, rest):
    want = run(*PD, *rest, new, value, "--json")
    got = run(*PD, *rest, old, value, "--json")
    assert want.exit_code == got.exit_code == 0, got.output
    assert json.loads(got.stdout) == json.loads(want.stdout)
    assert f"warning: {old} is deprecated" in got.stderr and want.stderr == ""


@pytest.mark.parametrize("args,flag", [
    (PD, "--decode-sequences"),
    ((*PD, "--decode-sequences", 0), "--decode-sequences"),
    ((*PD, "--decode-sequences", 100000), "--decode-sequences"),
    ((*PD, "--decode-sequences", 8, "--prefill-sequences", 100000), "--prefill-sequences"),
    ((*PD, "--decode-sequences", 8, "--mtp", 1.5), "--mtp"),
])
def test_serve_pd_flag_errors_name_the_flag(args, flag):
    result = run(*args)
    assert result.exit_code == 2, result.output
    assert f"field '{flag}'" in result.output and "Traceback" not in result.output


@pytest.mark.parametrize("args,flag", [
    (("model", *MODEL, "--ep", 3), "--ep"),
    (("model", "-w", "mixtral-8x7b", "-d", "h100-sxm", "--tp", 2, "--devices", 3), "--devices"),
    (("model", *MODEL, "--routing", "zipf:x"), "--routing"),
    (("model", *MODEL, "--routing", "zipf:-1"), "--routing"),
    (("opb", "-w", "mixtral-8x7b", "-d", "h100-sxm", "--tp", 0), "--tp"),
    (("roofline", *MODEL, "--sequences", 0, "-o", "never.png"), "--sequences"),
    (("serve", *MODEL, "--isl", 0, "--osl", 16), "--isl"),
])
def test_model_flag_errors_name_the_flag(args, flag):
    result = run(*args)
    assert result.exit_code == 2, result.output
    assert f"field '{flag}'" in result.output and "Traceback" not in result.output
