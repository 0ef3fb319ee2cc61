"""Continuous (mixed) batching: rows at the concatenated tokens, attention per group, Op/B per MoE layer."""
import numpy as np
import pytest

from accelerators.catalog import load_device
from accelerators.errors import ConfigError
from archmodel.devices.pim import SPLIT
from archmodel.mixed import layer_op_per_byte, mixed_step, row_kinds
from archmodel.parallel import Parallelism
from archmodel.step import model_step, operator_table
from archmodel.workloads import load_workload

TP2 = Parallelism(tp=2)
LAUNCH = 4e-6  # h100-sxm (and duplex) efficiency.kernel_overhead
# Mixtral-8x7B dimensions (its config.json): hidden, expert intermediate, heads, KV heads, head dim, vocab.
D_MODEL, F_E, HEADS, KV_HEADS, HEAD_DIM, VOCAB = 4096, 14336, 32, 8, 128, 32000


@pytest.fixture(scope="module")
def mixtral():
    return load_workload("mixtral-8x7b")


@pytest.fixture(scope="module")
def h100():
    return load_device("h100-sxm")


@pytest.fixture(scope="module")
def duplex():
    return load_device("duplex")


def val(costs_or_times, name, field, point=0):
    costs = getattr(costs_or_times, "costs", costs_or_times)
    arr = np.asarray(getattr(costs_or_times, field))
    return float(arr[costs.index(name)].reshape(-1)[point])


def moe_layer_op_per_byte(T: float) -> float:
    """One Mixtral MoE layer at T tokens, FP16, one device, by hand from the operator conventions:
    norm (4 FLOPs/element), router GEMM [T x d] @ [d x 8], up and gate and down GEMMs over the
    u = 8 (1 - (3/4)^T) touched experts with 2T routed tokens, SiLU-and-multiply (2 inputs, 1 output,
    4 FLOPs per input), weighted combine of k = 2 expert outputs (2 FLOPs per input)."""
    d, fe, routed = D_MODEL, F_E, 2 * T
    touched = 8 * (1 - 0.75 ** T)
    flops = (4 * T * d + 2 * T * 8 * d + 3 * 2 * routed * d * fe + 4 * 2 * routed * fe + 2 * T * 2 * d)
    nbytes = 2 * (2 * T * d                                  # norm: in + out
                  + d * 8 + T * d + T * 8                    # router: weights, in, out
                  + 3 * (touched * d * fe + routed * (d + fe))  # up, gate, down
                  + 3 * routed * fe                          # act: 2 in + 1 out
                  + 2 * T * d + T * d)                       # combine: k in + 1 out
    return flops / nbytes


def test_row_kinds_found_by_probing_the_table(mixtral):
    kinds = dict(zip(operator_table(mixtral).names, row_kinds(operator_table(mixtral))))
    assert kinds["attn_score"] == kinds["attn_context"] == "attention"
    assert kinds["lm_head"] == kinds["final_norm"] == "sequence"
    for name in ("qkv_proj", "o_proj", "router", "expert_up", "expert_down", "embedding", "moe_dispatch"):
        assert kinds[name] == "token"


@pytest.mark.parametrize("device", ["h100-sxm", "duplex"])
def test_decode_only_and_prefill_only_equal_model_step(mixtral, device):
    dev = load_device(device)
    for mixed, plain in ((mixed_step(mixtral, dev, 0, 0, 48, 1500, parallel=TP2),
                          model_step(mixtral, dev, b=48, s=1, c=1500, parallel=TP2)),
                         (mixed_step(mixtral, dev, 3, 300, 0, 0, prefill_context=200, parallel=TP2),
                          model_step(mixtral, dev, b=3, s=300, c=200, parallel=TP2))):
        np.testing.assert_allclose(mixed.times.time, plain.times.time, rtol=1e-12)
        np.testing.assert_allclose(mixed.costs.bytes, plain.costs.bytes, rtol=1e-12)
        np.testing.assert_allclose(mixed.costs.flops, plain.costs.flops, rtol=1e-12)
        assert mixed.times.units == plain.times.units
        assert float(mixed.latency) == pytest.approx(float(plain.latency), rel=1e-12)


def test_moe_layer_op_per_byte_fluctuates_with_the_prefill_share(mixtral, h100):
    """32 decodes, joined by 0, 1, 2 or 4 prefill chunks of 256 tokens: T = 32, 288, 544, 1056
    concatenated tokens. The MoE layer's Op/B follows T (tokens per expert), by hand."""
    chunks = np.array([0, 1, 2, 4])
    step = mixed_step(mixtral, h100, chunks, 256, 32, 2048)
    opb = layer_op_per_byte(step.costs, "moe")
    expected = [moe_layer_op_per_byte(32 + 256 * n) for n in chunks]
    np.testing.assert_allclose(opb, expected, rtol=1e-12)
    np.testing.assert_allclose(opb, [7.964, 68.92, 125.36, 226.57], atol=0.005)
    # The expert GEMM's Op/B is about the tokens per touched expert, 2T / u (FP16): ~8 -> ~72.
    up = step.costs.op_per_byte[step.costs.index("expert_up")]
    assert up[0] == pytest.approx(64 / (8 * (1 - 0.75 ** 32)), rel=0.01)
    assert up[1] == pytest.approx(576 / 8, rel=0.05)
    # A continuous-batching schedule: a chunk joins every other step, so Op/B jumps up and down by ~9x.
    schedule = mixed_step(mixtral, h100, np.array([0, 1, 0, 1, 0]), 256, 32, 2048)
    series = layer_op_per_byte(schedule.costs, "moe")
    assert np.all(np.diff(series)[::2] > 60) and np.all(np.diff(series)[1::2] < -60)


def test_gemms_see_concatenated_tokens_with_weights_read_once(mixtral, h100):
    P, S, Dn = 2, 128, 40
    step = mixed_step(mixtral, h100, P, S, Dn, 1000)
    decode = model_step(mixtral, h100, b=Dn, s=1, c=1000)
    T = P * S + Dn
    qkv_out = (HEADS + 2 * KV_HEADS) * HEAD_DIM
    assert val(step.costs, "qkv_proj", "weights") == val(decode.costs, "qkv_proj", "weights") == D_MODEL * qkv_out * 2
    assert val(step.costs, "qkv_proj", "act_in") == T * D_MODEL * 2
    assert val(step.costs, "qkv_proj", "flops") == 2 * T * D_MODEL * qkv_out
    # Logits: one row per sequence in the step (2 chunks + 40 decodes).
    assert val(step.costs, "lm_head", "flops") == 2 * (P + Dn) * D_MODEL * VOCAB


def test_attention_is_summed_over_groups(mixtral, h100):
    """Prefill chunks attend causally to their prefix plus themselves; decodes to their context."""
    P, S, prefix, Dn, ctx = 2, 128, 256, 40, 1000
    step = mixed_step(mixtral, h100, P, S, Dn, ctx, prefill_context=prefix)
    pairs = P * (S * prefix + S * (S + 1) / 2) + Dn * (ctx + 1)
    assert val(step.costs, "attn_score", "flops") == 2 * HEADS * HEAD_DIM * pairs
    cache = P * (prefix + S) + Dn * (ctx + 1)
    assert val(step.costs, "attn_score", "kv_read") == cache * KV_HEADS * HEAD_DIM * 2
    # GPU: one varlen kernel over both groups, compute and memory times add, one launch.
    pre = model_step(mixtral, h100, b=P, s=S, c=prefix)
    dec = model_step(mixtral, h100, b=Dn, s=1, c=ctx)
    for name in ("attn_score", "attn_context"):
        compute = val(pre.times, name, "compute") + val(dec.times, name, "compute")
        memory = val(pre.times, name, "memory") + val(dec.times, name, "memory")
        assert val(step.times, name, "time") == pytest.approx(max(compute, memory) + LAUNCH, rel=1e-12)


def test_duplex_attention_co_processing(mixtral, duplex):
    """Duplex: the prefill chunk's attention (high Op/B) on the xPU while the decodes' (GQA, Op/B 4)
    run on the Logic-PIM, concurrently: time = max(xPU time of the chunk, PIM time of the decodes)."""
    P, S, Dn, ctx = 1, 2048, 64, 2048
    step = mixed_step(mixtral, duplex, P, S, Dn, ctx, parallel=TP2)
    pre = model_step(mixtral, duplex, b=P, s=S, c=0, parallel=TP2)
    dec = model_step(mixtral, duplex, b=Dn, s=1, c=ctx, parallel=TP2)
    for name in ("attn_score", "attn_context"):
        i = step.costs.index(name)
        assert step.times.units[i] == "xpu+pim"
        assert int(step.times.assignment[i]) == SPLIT
        x_pre = max(val(pre.times, name, "xpu_compute"), val(pre.times, name, "xpu_memory"))
        p_dec = max(val(dec.times, name, "pim_compute"), val(dec.times, name, "pim_memory"))
        busy = val(step.times, name, "time") - LAUNCH
        assert busy == pytest.approx(max(x_pre, p_dec), rel=1e-12)
        # Better than either unit taking both groups.
        x_all = max(val(pre.times, name, "xpu_compute") + val(dec.times, name, "xpu_compute"),
                    val(pre.times, name, "xpu_memory") + val(dec.times, name, "xpu_memory"))
        p_all = max(val(pre.times, name, "pim_compute") + val(dec.times, name, "pim_compute"),
                    val(pre.times, name, "pim_memory") + val(dec.times, name, "pim_memory"))
        assert busy < min(x_all, p_all)
        # The PIM's share of the FLOPs is the decodes' share.
        share = val(dec.costs, name, "flops") / (val(pre.costs, name, "flops") + val(dec.costs, name, "flops"))
        assert float(step.times.pim_share[i]) == pytest.approx(share, rel=1e-12)


def test_mixed_step_is_vectorised(mixtral, duplex):
    chunks = np.array([0, 1, 2, 3])
    step = mixed_step(mixtral, duplex, chunks, 512, 64, 2048, parallel=TP2)
    assert step.latency.shape == (4,)
    for n in range(4):
        one = mixed_step(mixtral, duplex, int(n), 512, 64, 2048, parallel=TP2)
        assert float(one.latency) == pytest.approx(float(step.latency[n]), rel=1e-12)
    assert np.all(np.diff(step.latency) > 0)  # more prefill tokens, longer step


@pytest.mark.parametrize("args,field", [((-1, 10, 5, 100), "prefill_seqs"), ((1, 2.5, 5, 100), "prefill_tokens"),
                                        ((1, 10, 5, -3), "context"), ((0, 10, 0, 100), "at least one token")])
def test_bad_counts_are_config_errors(mixtral, h100, args, field):
    with pytest.raises(ConfigError) as err:
        mixed_step(mixtral, h100, *args)
    assert field in str(err.value) or field in err.value.allowed
