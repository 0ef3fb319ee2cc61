"""Operator table: FLOPs and bytes against hand-derived formulas, and the mechanisms of the papers."""
import numpy as np
import pytest

from archmodel.optable import OperatorTable
from archmodel.parallel import Parallelism
from archmodel.precision import Precision
from archmodel.routing import Routing, experts_touched
from archmodel.step import kv_bytes_per_token, stored_weight_bytes
from archmodel.workloads import load_workload


@pytest.fixture(scope="module")
def mixtral():
    return load_workload("mixtral-8x7b")


@pytest.fixture(scope="module")
def llama7b():
    return load_workload("llama-2-7b")


def op(costs, name, field, point=0):
    return float(np.asarray(getattr(costs, field))[costs.index(name)].reshape(-1)[point])


def test_qkv_projection_by_hand(llama7b):
    # Llama-2-7B decode, one sequence: [1 x 4096] @ [4096 x 3*4096], fp16.
    costs = OperatorTable(llama7b).evaluate(b=1, s=1, c=100)
    assert op(costs, "qkv_proj", "flops") == 2 * 4096 * 3 * 4096
    assert op(costs, "qkv_proj", "weights") == 4096 * 3 * 4096 * 2
    assert op(costs, "qkv_proj", "kv_write") == 2 * 4096 * 2  # K and V of one token, 32 heads x 128
    # Attention reads the whole cache (100 cached + 1 new token) of K for the score, V for the context.
    assert op(costs, "attn_score", "kv_read") == 101 * 4096 * 2
    assert op(costs, "attn_score", "flops") == 2 * 32 * 128 * 101


def test_prefill_attention_is_causal(llama7b):
    costs = OperatorTable(llama7b).evaluate(b=2, s=512, c=0)
    # Query i attends to keys 1..i: s(s+1)/2 pairs per head and sequence.
    assert op(costs, "attn_score", "flops") == 2 * 2 * 32 * 128 * (512 * 513 / 2)


def test_uniform_routing_touches_expected_experts():
    assert experts_touched(1, 8, 2) == pytest.approx(2.0)
    assert experts_touched(10_000, 8, 2) == pytest.approx(8.0)
    # Two tokens: 8 * (1 - (3/4)^2) = 3.5 experts.
    assert experts_touched(2, 8, 2) == pytest.approx(3.5)


def test_zipf_routing_touches_fewer_experts_than_uniform():
    uniform = experts_touched(16, 64, 4)
    skewed = experts_touched(16, 64, 4, Routing("zipf", 1.2))
    assert skewed < uniform
    assert experts_touched(16, 64, 4, Routing("zipf", 0.0)) == pytest.approx(uniform)


@pytest.mark.parametrize("batch", [8, 16, 32, 64, 128])
def test_expert_gemm_op_per_byte_is_tokens_per_expert(mixtral, batch):
    """Duplex/SN40L mechanism: an expert GEMM's Op/B (fp16) is the tokens per touched expert,
    B*k / (E (1 - (1-k/E)^B)), which is B*k/E once the batch touches every expert."""
    costs = OperatorTable(mixtral).evaluate(b=batch, s=1, c=1024)
    per_touched = batch * 2 / experts_touched(batch, 8, 2)
    # GEMM [M x 4096] @ [4096 x 14336]: Op/B = M / (1 + M/14336 + M/4096) with 2-byte elements.
    exact = per_touched / (1 + per_touched / 14336 + per_touched / 4096)
    assert op(costs, "expert_up", "op_per_byte") == pytest.approx(exact, rel=1e-9)
    assert op(costs, "expert_down", "op_per_byte") == pytest.approx(exact, rel=1e-9)
    if batch >= 32:
        assert op(costs, "expert_up", "op_per_byte") == pytest.approx(batch * 2 / 8, rel=0.02)


@pytest.mark.parametrize("name,group", [("mixtral-8x7b", 4), ("llama-3.3-70b", 8), ("qwen3-235b-a22b", 16)])
def test_gqa_decode_attention_op_per_byte_is_group_size(name, group):
    """Duplex mechanism: GQA decode attention's Op/B (fp16) is about the query-group size."""
    costs = OperatorTable(load_workload(name)).evaluate(b=32, s=1, c=4096)
    assert op(costs, "attn_score", "op_per_byte") == pytest.approx(group, rel=0.01)
    assert op(costs, "attn_context", "op_per_byte") == pytest.approx(group, rel=0.01)


def test_mla_cache_is_the_latent(mixtral):
    ds = load_workload("deepseek-v3")
    per_token = kv_bytes_per_token(ds, Precision.of("bf16"), Parallelism())
    assert per_token == 61 * (512 + 64) * 2


@pytest.mark.parametrize("name", ["mixtral-8x7b", "llama-2-7b", "deepseek-v3", "qwen2-57b-a14b", "gpt2-medium"])
def test_stored_weights_match_parameter_count(name):
    """The table's GEMM weights plus the embedding equal the model's parameters (norms and biases
    aside, < 0.5%); an independent count from the workload IR."""
    model = load_workload(name)
    stored = stored_weight_bytes(model, Precision.of("fp16"), Parallelism())
    assert stored == pytest.approx(model.weight_bytes(2.0), rel=5e-3)


def test_kv_bytes_match_workload_ir(mixtral, llama7b):
    for model in (mixtral, llama7b):
        assert kv_bytes_per_token(model, Precision.of("fp16"), Parallelism()) == model.kv_cache_bytes_per_token(2.0)


def test_tensor_parallel_splits_weights_and_kv(llama7b):
    one = stored_weight_bytes(llama7b, Precision(), Parallelism())
    four = stored_weight_bytes(llama7b, Precision(), Parallelism(tp=4))
    assert four == pytest.approx(one / 4, rel=1e-6)
    # Mixtral has 8 KV heads: tp=16 replicates them, so KV per device stops shrinking at tp=8.
    m = load_workload("mixtral-8x7b")
    assert kv_bytes_per_token(m, Precision(), Parallelism(tp=16)) == kv_bytes_per_token(m, Precision(), Parallelism(tp=8))


def test_expert_parallel_all_to_all_bytes(mixtral):
    costs = OperatorTable(mixtral).evaluate(b=64, s=1, c=0, tp=1, ep=8)
    # Each device sends its tokens' k copies of d activations, 7/8 of them off-device.
    assert op(costs, "moe_dispatch", "comm") == pytest.approx(64 * 2 * 4096 * 2 * 7 / 8)
    assert op(costs, "moe_dispatch", "comm") == op(costs, "moe_combine", "comm")


def test_vectorised_equals_pointwise(mixtral):
    table = OperatorTable(mixtral)
    batches = np.array([1, 7, 64, 300])
    contexts = np.array([0, 100, 2048, 9000])
    many = table.evaluate(b=batches[:, None], s=1, c=contexts[None, :])
    for i, bb in enumerate(batches):
        for j, cc in enumerate(contexts):
            one = table.evaluate(b=bb, s=1, c=cc)
            np.testing.assert_allclose(many.flops[:, i, j], one.flops, rtol=1e-12)
            np.testing.assert_allclose(many.bytes[:, i, j], one.bytes, rtol=1e-12)


def test_formula_prints_uniform_routing(mixtral):
    text = str(OperatorTable(mixtral).formula("expert_up", "weights"))
    assert "E" in text and "k" in text and "f_e" in text
