"""Dataflow RDU (SN40L): fusion, the SRAM-capacity split, three-tier placement, the facade and the CLI."""
import json

import numpy as np
import pytest
from click.testing import CliRunner

from accelerators.catalog import load_device
from accelerators.errors import ConfigError
from moearch.cli.main import cli
from archmodel.devices.rdu import Fusion, RDUModel, fusion_pipelines, memory_map
from archmodel.optable import OperatorTable
from archmodel.parallel import Parallelism
from archmodel.placement import TIERS, greedy_place
from archmodel.precision import Precision
from archmodel.step import model_step, stored_weight_bytes, step_latency
from archmodel.workload import FFN, Attention, ModelConfig
from archmodel.workloads import load_workload

SRAM, HBM, DDR = 0, 1, 2
D, F = 4096, 11008  # Llama-2-7B hidden and FFN sizes


@pytest.fixture(scope="module")
def llama():
    return load_workload("llama-2-7b")


def device_args(sram=520e6, hbm=64e9, ddr=1.5e12, peak=1e15, bw=(1e14, 1e12, 1e11)):
    """Hand-made device values: (peak, read x3, write x3, capacity x3, link bw, link latency, overhead)."""
    return (peak, *bw, *bw, sram, hbm, ddr, np.inf, 0.0, 0.0)


def run(model, args, *, b, s, c, fusion=Fusion(), tp=1):
    table = OperatorTable(model)
    rdu = RDUModel(table, fusion)
    step = table.step_inputs(b=b, s=s, c=c, tp=tp)
    costs = table.evaluate(b=b, s=s, c=c, tp=tp)
    return table, rdu, rdu.step_times(costs, step, args), step


def layer_rows(table):
    return [i for i, op in enumerate(table.specs) if op.group in ("attention", "ffn")]


# ---- fusion: intermediates stay on chip ------------------------------------------------------------
def test_fused_layer_intermediates_produce_no_hbm_bytes(llama):
    # Decode, one sequence, 100 cached tokens. 200 kB of SRAM holds the layer's fused intermediates
    # (123 kB) but no weight or KV instance (the smallest, one layer's KV, is 1.65 MB), so HBM holds
    # every weight and the KV cache and the only HBM activations are the layer's input and output.
    table, _, times, _ = run(llama, device_args(sram=200e3), b=1, s=1, c=100)
    rows = layer_rows(table)
    hbm = sum(times.costs.count[i] * times.tier_bytes[i, HBM] for i in rows)
    weights = 4 * D * D * 2 + 3 * D * F * 2
    kv = 2 * 101 * D * 2 + 2 * D * 2  # K and V of 101 tokens read, one token's K and V written
    assert float(hbm) == 32 * (weights + kv + 2 * D * 2)
    # Every fused boundary went through SRAM instead: the producer's output written, the consumer's
    # input read. Outputs (x 2 B): attn_norm d, qkv 3d, context d, o_proj d, ffn_norm d, up/gate/act f
    # each = 7d + 3f. Inputs: qkv, score (q), o_proj, ffn_norm, up, gate d each = 6d; ffn_act reads
    # up and gate (2f), ffn_down f.
    sram = sum(times.costs.count[i] * times.tier_bytes[i, SRAM] for i in rows)
    assert float(sram) == 32 * (2 * (7 * D + 3 * F) + 2 * (6 * D + 3 * F))


def test_unfused_baseline_sends_every_activation_through_hbm(llama):
    table, _, fused, _ = run(llama, device_args(sram=200e3), b=1, s=1, c=100)
    _, _, unfused, _ = run(llama, device_args(sram=200e3), b=1, s=1, c=100, fusion=Fusion("op"))
    rows = layer_rows(table)
    acts = sum(unfused.costs.count[i] * (unfused.costs.act_in[i] + unfused.costs.act_out[i]) for i in rows)
    hbm_fused = sum(fused.costs.count[i] * fused.tier_bytes[i, HBM] for i in rows)
    hbm_unfused = sum(unfused.costs.count[i] * unfused.tier_bytes[i, HBM] for i in rows)
    assert float(hbm_unfused - hbm_fused) == float(acts) - 32 * 2 * D * 2
    assert float(sum(unfused.costs.count[i] * unfused.tier_bytes[i, SRAM] for i in rows)) == 0.0


def test_fused_time_is_max_of_sums_unfused_is_sum_of_maxes(llama):
    # Same placement for both (200 kB of SRAM: nothing persistent fits); compute-bound and
    # memory-bound rows overlap only inside a fused pipeline.
    args = device_args(sram=200e3, peak=1e12)
    table, _, fused, _ = run(llama, args, b=4, s=1, c=100)
    _, _, unfused, _ = run(llama, args, b=4, s=1, c=100, fusion=Fusion("op"))
    costs = unfused.costs
    peak, bw = 1e12, (1e14, 1e12, 1e11)
    per_tier = unfused.tier_bytes / np.array(bw)[None, :]  # (ops, tiers): one design point
    stage = np.maximum(costs.flops / peak, per_tier.max(axis=1))
    assert float(unfused.total) == pytest.approx(float((costs.count * stage).sum()), rel=1e-12)
    rows = layer_rows(table)
    flops = sum(fused.costs.flops[i] for i in rows) / peak
    mem = [sum(fused.tier_bytes[i, t] for i in rows) / bw[t] for t in range(3)]
    layer = float(np.maximum.reduce([flops, *mem]))
    head = float(sum(fused.costs.count[i] * fused.time[i] for i in range(len(table.specs)) if i not in rows))
    assert float(fused.total) == pytest.approx(32 * layer + head, rel=1e-12)
    assert float(fused.total) < float(unfused.total)


def test_split_where_intermediates_exceed_sram(llama):
    # Prefill of T tokens. Fused intermediates before ffn_up hold 14 T d bytes (attn_norm 2Td, qkv 6Td,
    # context 2Td, o_proj 2Td, ffn_norm 2Td); ffn_up's 2 T f bytes would pass a capacity of
    # 14 T d + T f, so the layer is cut there and ffn_up's output spills to HBM.
    T = 64
    cap = 14 * T * D + T * F
    table, _, times, _ = run(llama, device_args(sram=cap), b=1, s=T, c=0)
    assert times.sections[0] == ("attn_norm", "qkv_proj", "attn_score", "attn_context", "o_proj", "attn_allreduce",
                                 "ffn_norm", "ffn_up")
    assert times.sections[1] == ("ffn_gate", "ffn_act", "ffn_down", "ffn_allreduce")
    up, gate = table.names.index("ffn_up"), table.names.index("ffn_gate")
    w = D * F * 2
    assert float(times.tier_bytes[up, HBM]) == w + 2 * T * F  # its weights and its spilled output
    assert float(times.tier_bytes[up, SRAM]) == 2 * T * D  # its input came fused from ffn_norm
    assert float(times.tier_bytes[gate, HBM]) == w + 2 * T * D  # reads its input back from HBM
    # The whole layer's working set is 14 T d + 6 T f (up, gate and act outputs 2 T f each): at that
    # capacity nothing is cut, one byte less cuts the last boundary (ffn_act -> ffn_down).
    whole_set = 14 * T * D + 6 * T * F
    _, _, whole, _ = run(llama, device_args(sram=whole_set), b=1, s=T, c=0)
    assert whole.sections[0][0] == "attn_norm" and whole.sections[0][-1] == "ffn_allreduce"
    _, _, short, _ = run(llama, device_args(sram=whole_set - 1), b=1, s=T, c=0)
    assert short.sections[0][-1] == "ffn_act" and short.sections[1] == ("ffn_down", "ffn_allreduce")


# ---- placement ---------------------------------------------------------------------------------------
def test_greedy_placement_by_hand():
    # Families: A heat 1 (3 x 100 B), B heat 0.5 (2 x 50 B), C heat 2 (1 x 400 B); tiers 250 / 300 / 1000 B.
    # C first: fits only DDR. A: 2 in SRAM (50 left), 1 in HBM (200 left). B: 1 in SRAM, 1 in HBM.
    p = greedy_place(("A", "B", "C"), [[100], [50], [400]], [[3], [2], [1]], [[1.0], [0.5], [2.0]], (250, 300, 1000))
    assert p.placed[:, :, 0].tolist() == [[2, 1, 0], [1, 1, 0], [0, 0, 1]]
    assert p.feasible.all()
    tight = greedy_place(("A",), [[100]], [[3]], [[1.0]], (100, 100, 50))
    assert tight.overflow[0, 0] == 1 and not tight.feasible[0]


def big_layer_model(d: int, f: int, layers: int = 1) -> ModelConfig:
    return ModelConfig(name=f"test-{d}", family="llama", num_layers=layers, hidden_size=d, vocab_size=1000,
                       attention=Attention("mha", d // 128, d // 128, 128), dense_ffn=FFN(f, gated=True), moe=None,
                       num_dense_layers=layers, num_moe_layers=0)


def test_layer_weights_larger_than_sram_are_read_from_hbm():
    # d = 16384, f = 65536: every weight matrix of the layer exceeds the socket's 520 MB (the smallest,
    # o_proj, is 16384^2 x 2 B = 537 MB), so all 8.59 GB of layer weights stream from HBM at
    # 0.75 x 1.6 TB/s (sn40l efficiency).
    model = big_layer_model(16384, 65536)
    sn40l = load_device("sn40l")
    step = model_step(model, sn40l, b=1, s=1, c=0)
    names = step.costs.names
    layer_weights = (4 * 16384 ** 2 + 3 * 16384 * 65536) * 2
    assert layer_weights == 8_589_934_592
    for name in ("qkv_proj", "o_proj", "ffn_up", "ffn_gate", "ffn_down"):
        assert step.times.tiers[names.index(name)] == "hbm"
    hbm_weights = sum(float(step.costs.weights[names.index(n)]) for n in ("qkv_proj", "o_proj", "ffn_up", "ffn_gate",
                                                                           "ffn_down"))
    assert hbm_weights == layer_weights
    layer_time = sum(float(step.times.time[i]) for i, op in enumerate(step.costs.groups) if op in ("attention", "ffn"))
    assert layer_time == pytest.approx(layer_weights / (0.75 * 1.6e12), rel=1e-3)
    # The same layer on a socket with 10 GB of SRAM lives on chip: no HBM weight reads at all.
    table = OperatorTable(model)
    rdu = RDUModel(table)
    args = table.step_inputs(b=1, s=1, c=0)
    times = rdu.step_times(table.evaluate(b=1, s=1, c=0), args, device_args(sram=10e9))
    for name in ("qkv_proj", "o_proj", "ffn_up", "ffn_gate", "ffn_down"):
        assert times.tiers[names.index(name)] == "sram"
    for name in ("qkv_proj", "o_proj", "ffn_up", "ffn_gate"):
        assert float(times.tier_bytes[names.index(name), HBM]) == 0.0
    assert float(times.tier_bytes[names.index("ffn_down"), HBM]) == 16384 * 2  # only the layer's output


def test_cold_experts_go_to_ddr_before_dense_weights():
    # Mixtral-8x7B (93 GB) on one socket: 64 GB of HBM cannot hold it; routed experts (touched by a
    # fraction u/E of a decode step) are colder than dense attention weights and land in DDR.
    mixtral = load_workload("mixtral-8x7b")
    mm = memory_map(mixtral, load_device("sn40l"), b=4, s=1, c=512)
    ddr = {e.name for e in mm.tier("ddr").entries}
    assert ddr and all(name.startswith(("expert_", "embedding")) for name in ddr)
    assert not any(e.name.startswith(("qkv_proj", "o_proj")) for e in mm.tier("ddr").entries)
    for tier in mm.tiers:
        assert tier.used <= tier.capacity
        assert tier.used == pytest.approx(sum(e.bytes for e in tier.entries))
    assert not mm.overflow


def test_memory_map_accounts_for_every_weight_byte(llama):
    node = load_device("sn40l-node")
    parallel = Parallelism(tp=8)
    mm = memory_map(llama, node, b=1, s=1, c=2048, parallel=parallel)
    weights = sum(e.bytes for t in mm.tiers for e in t.entries if "weights" in e.name or "table" in e.name)
    assert weights == pytest.approx(stored_weight_bytes(llama, Precision(), parallel), rel=1e-12)
    kv = sum(e.bytes for t in mm.tiers for e in t.entries if e.name == "kv cache")
    assert kv == 32 * 2049 * 2 * (D // 8) * 2  # 32 layers x 2049 tokens x K,V x 512 dims per socket x 2 B
    assert mm.devices == 8 and [t.name for t in mm.tiers] == list(TIERS)


# ---- the facade, sweeps and validation ------------------------------------------------------------------
def test_rdu_kind_is_registered_and_totals_agree(llama):
    node = load_device("sn40l-node")
    parallel = Parallelism(tp=8)
    b = np.array([1.0, 8.0, 64.0])
    c = np.array([128.0, 2048.0, 4096.0])
    step = model_step(llama, node, b=b, s=1, c=c, parallel=parallel)
    sweep = step_latency(llama, node, b=b, s=1, c=c, parallel=parallel)
    np.testing.assert_allclose(step.latency, sweep, rtol=1e-12)
    assert step.bottleneck() == "memory"
    # Decode at batch 1 streams what is not in SRAM from HBM at 0.75 x 1.6 TB/s: within 1% of that.
    hbm = float((step.costs.count[:, None] * step.times.tier_bytes[:, HBM]).sum(axis=0)[0])
    assert float(step.latency[0]) == pytest.approx(hbm / 1.2e12, rel=0.01)


def test_infeasible_placement_is_infinite_time():
    model = big_layer_model(16384, 65536, layers=2)
    table = OperatorTable(model)
    rdu = RDUModel(table)
    args = table.step_inputs(b=1, s=1, c=0)
    total = rdu.step_total(args, device_args(sram=1e6, hbm=1e9, ddr=1e9))
    assert np.isinf(total)


def test_fusion_pipelines_for_mixed_dense_and_moe_layers():
    ds = load_workload("deepseek-v3")
    pipes = fusion_pipelines(OperatorTable(ds), Fusion())
    counts = sorted(p.count for p in pipes if len(p.ops) > 3)
    assert counts == [3.0, 58.0]  # 3 dense layers fuse attention + FFN, 58 attention + MoE


def test_bad_fusion_and_device_inputs_raise_config_error(llama):
    with pytest.raises(ConfigError, match="fusion"):
        Fusion("everything")
    with pytest.raises(ConfigError, match="no_such_op"):
        RDUModel(OperatorTable(llama), Fusion("custom", groups=(("qkv_proj", "no_such_op"),)))
    with pytest.raises(ConfigError, match="sram"):
        RDUModel(OperatorTable(llama)).device_args(load_device("a100-sxm-80g"), Precision(), Parallelism())
    with pytest.raises(ConfigError, match="rdu"):
        memory_map(llama, load_device("h100-sxm"), b=1, s=1, c=1)


def test_cli_model_prints_memory_map_for_the_node():
    result = CliRunner().invoke(cli, ["model", "-w", "llama-2-7b", "-d", "sn40l-node", "--memory-map", "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    tiers = {t["name"]: t for t in data["memory_map"]["tiers"]}
    assert set(tiers) == {"sram", "hbm", "ddr"}
    assert tiers["sram"]["capacity_bytes"] == 520e6 and tiers["sram"]["used_bytes"] <= 520e6
    assert {op["tier"] for op in data["ops"]} >= {"hbm", "sram"}
    bad = CliRunner().invoke(cli, ["model", "-w", "llama-2-7b", "-d", "h100-sxm", "--memory-map"])
    assert bad.exit_code == 2
