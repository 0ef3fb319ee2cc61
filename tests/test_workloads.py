"""Built-in workloads: catalog, published shapes, published parameter counts, KV-cache sizes."""
from __future__ import annotations

import json
from dataclasses import replace

import pytest
from hypothesis import given
from hypothesis import strategies as st

from accelerators.errors import ConfigError
from archmodel.workload import FFN, Attention, ModelConfig, MoE
from archmodel.workloads import list_workloads, load_workload, source_url
from archmodel.workloads.registry import CONFIG_DIR

ALIASES = {"deepseek-r1": "deepseek-v3"}
STORED = [
    "deepseek-v3", "gpt-oss-120b", "gpt-oss-20b", "gpt2-medium", "llama-2-7b", "llama-3.1-70b", "llama-3.1-8b", "llama-3.3-70b",
    "mixtral-8x22b", "mixtral-8x7b", "qwen2-57b-a14b", "qwen3-235b-a22b", "qwen3-30b-a3b", "qwen3-32b",
]
NAMES = sorted([*STORED, *ALIASES])


def test_catalog_lists_exactly_the_shipped_config_files():
    assert list_workloads() == NAMES
    assert sorted(p.stem for p in CONFIG_DIR.glob("*.json")) == STORED


@pytest.mark.parametrize("alias, stored", sorted(ALIASES.items()))
def test_alias_has_its_architecture_and_its_own_source(alias, stored):
    a, s = load_workload(alias), load_workload(stored)
    assert a.name == alias and a.source != s.source and "DeepSeek-R1" in a.source
    assert (a.num_layers, a.hidden_size, a.attention, a.moe) == (s.num_layers, s.hidden_size, s.attention, s.moe)
    assert a.total_params() == s.total_params()


@pytest.mark.parametrize("name", NAMES)
def test_builtin_carries_its_huggingface_source(name):
    model = load_workload(name)
    assert model.name == name
    assert model.source == source_url(name)
    assert model.source.startswith("https://huggingface.co/") and model.source.endswith("/config.json")


@pytest.mark.parametrize("name", STORED)
def test_builtin_json_is_plain_huggingface(name):
    """The files are the published configs: HF key names, and nothing of ours inside."""
    raw = json.loads((CONFIG_DIR / f"{name}.json").read_text())
    assert "model_type" in raw and "architectures" in raw
    assert not any(key.startswith("_moearch") for key in raw)


def test_lookup_ignores_case_and_surrounding_space():
    assert load_workload("  Mixtral-8x7B ").name == "mixtral-8x7b"


def test_unknown_name_lists_the_catalog():
    with pytest.raises(ConfigError) as err:
        load_workload("mixtral-8x9b")
    assert err.value.field == "workload" and err.value.value == "mixtral-8x9b"
    for name in NAMES:
        assert name in err.value.allowed
    assert "mixtral-8x9b" in str(err.value)


# ---- shapes as published ---------------------------------------------------------------------

def test_mixtral_8x7b_shape():
    m = load_workload("mixtral-8x7b")
    assert (m.hidden_size, m.num_layers, m.vocab_size) == (4096, 32, 32000)
    assert (m.attention.kind, m.attention.num_heads, m.attention.num_kv_heads, m.attention.head_dim) == (
        "gqa", 32, 8, 128)
    assert (m.moe.num_experts, m.moe.top_k, m.moe.expert_intermediate_size) == (8, 2, 14336)
    assert (m.num_dense_layers, m.num_moe_layers, m.dense_ffn) == (0, 32, None)
    assert m.moe.gated and m.moe.num_shared_experts == 0 and not m.tie_word_embeddings


def test_mixtral_8x22b_shape():
    m = load_workload("mixtral-8x22b")
    assert (m.hidden_size, m.num_layers, m.vocab_size) == (6144, 56, 32768)
    assert (m.attention.num_heads, m.attention.num_kv_heads, m.attention.head_dim) == (48, 8, 128)
    assert (m.moe.num_experts, m.moe.top_k, m.moe.expert_intermediate_size) == (8, 2, 16384)


def test_deepseek_v3_shape():
    m = load_workload("deepseek-v3")
    a = m.attention
    assert a.kind == "mla" and a.num_heads == 128
    assert (a.q_lora_rank, a.kv_lora_rank, a.qk_nope_head_dim, a.qk_rope_head_dim, a.v_head_dim) == (
        1536, 512, 128, 64, 128)
    assert a.head_dim == 192
    assert (m.hidden_size, m.num_layers, m.vocab_size) == (7168, 61, 129280)
    assert (m.num_dense_layers, m.num_moe_layers) == (3, 58)
    assert m.moe_layers() == tuple(range(3, 61))
    assert not m.is_moe_layer(2) and m.is_moe_layer(3)
    assert m.dense_ffn == FFN(18432, gated=True)
    assert (m.moe.num_experts, m.moe.top_k, m.moe.expert_intermediate_size) == (256, 8, 2048)
    assert (m.moe.num_shared_experts, m.moe.shared_intermediate_size) == (1, 2048)
    assert m.moe.router_bias  # noaux_tc: e_score_correction_bias
    assert m.num_nextn_predict_layers == 1


def test_qwen3_moe_shapes():
    big = load_workload("qwen3-235b-a22b")
    assert (big.hidden_size, big.num_layers, big.vocab_size) == (4096, 94, 151936)
    assert (big.attention.num_heads, big.attention.num_kv_heads, big.attention.head_dim) == (64, 4, 128)
    assert big.attention.qk_norm and not big.attention.qkv_bias
    assert (big.moe.num_experts, big.moe.top_k, big.moe.expert_intermediate_size) == (128, 8, 1536)
    assert big.num_moe_layers == 94 and big.dense_ffn is None
    small = load_workload("qwen3-30b-a3b")
    assert (small.hidden_size, small.num_layers) == (2048, 48)
    assert (small.attention.num_heads, small.attention.num_kv_heads, small.attention.head_dim) == (32, 4, 128)
    assert (small.moe.num_experts, small.moe.top_k, small.moe.expert_intermediate_size) == (128, 8, 768)


def test_qwen2_57b_shape():
    m = load_workload("qwen2-57b-a14b")
    assert (m.hidden_size, m.num_layers) == (3584, 28)
    assert (m.attention.num_heads, m.attention.num_kv_heads, m.attention.head_dim) == (28, 4, 128)
    assert m.attention.qkv_bias and not m.attention.o_bias
    assert (m.moe.num_experts, m.moe.top_k, m.moe.expert_intermediate_size) == (64, 8, 2560)
    assert (m.moe.num_shared_experts, m.moe.shared_intermediate_size) == (1, 20480)
    assert m.moe.shared_expert_gate
    assert m.sliding_window == 0  # use_sliding_window is false


@pytest.mark.parametrize(("name", "hidden", "inter", "layers", "heads", "kv", "vocab", "kind"), [
    ("llama-2-7b", 4096, 11008, 32, 32, 32, 32000, "mha"),
    ("llama-3.1-8b", 4096, 14336, 32, 32, 8, 128256, "gqa"),
    ("llama-3.3-70b", 8192, 28672, 80, 64, 8, 128256, "gqa"),
    ("llama-3.1-70b", 8192, 28672, 80, 64, 8, 128256, "gqa"),
])
def test_llama_shapes(name, hidden, inter, layers, heads, kv, vocab, kind):
    m = load_workload(name)
    assert (m.hidden_size, m.num_layers, m.vocab_size) == (hidden, layers, vocab)
    assert (m.attention.kind, m.attention.num_heads, m.attention.num_kv_heads) == (kind, heads, kv)
    assert m.attention.head_dim == hidden // heads
    assert m.dense_ffn == FFN(inter, gated=True) and m.moe is None and not m.is_moe
    assert m.num_dense_layers == layers and m.hidden_act == "silu" and m.norm == "rmsnorm"


def test_gpt2_medium_shape():
    m = load_workload("gpt2-medium")
    assert (m.hidden_size, m.num_layers, m.vocab_size) == (1024, 24, 50257)
    assert (m.attention.kind, m.attention.num_heads, m.attention.head_dim) == ("mha", 16, 64)
    assert m.dense_ffn == FFN(4096, gated=False, bias=True)  # n_inner null -> 4 * n_embd
    assert m.tie_word_embeddings and m.norm == "layernorm" and m.position_embeddings == 1024
    assert m.hidden_act == "gelu_new"


# ---- published parameter counts ---------------------------------------------------------------
# Totals and actives from the model cards / papers; tolerance 2% (the published figures are
# rounded to two or three significant digits).

PUBLISHED = [
    ("mixtral-8x7b", 46.7e9, 12.9e9),      # Mistral AI, "Mixtral of Experts" (2024)
    ("mixtral-8x22b", 141e9, 39e9),        # Mistral AI, Mixtral 8x22B announcement (2024)
    ("deepseek-v3", 671e9, 37e9),          # DeepSeek-V3 technical report; 671B excludes the 14B MTP module
    ("qwen3-235b-a22b", 235e9, 22e9),      # Qwen3 model card
    ("qwen3-30b-a3b", 30.5e9, 3.3e9),      # Qwen3 model card
    ("qwen2-57b-a14b", 57e9, 14e9),        # Qwen2 technical report
    ("llama-2-7b", 6.74e9, 6.74e9),        # Llama 2 model card
    ("llama-3.1-8b", 8.03e9, 8.03e9),      # Llama 3.1 model card
    ("llama-3.3-70b", 70.6e9, 70.6e9),     # Llama 3.3 model card
    ("llama-3.1-70b", 70.6e9, 70.6e9),     # Llama 3.1 model card
    ("qwen3-32b", 32.8e9, 32.8e9),         # Qwen3 model card (32.8B, 31.2B non-embedding)
    ("gpt2-medium", 355e6, 355e6),         # Radford et al. 2019 (345M originally; 355M as counted by HF)
]


@pytest.mark.parametrize(("name", "total", "active"), PUBLISHED)
def test_published_parameter_counts(name, total, active):
    m = load_workload(name)
    assert m.total_params() == pytest.approx(total, rel=0.02)
    assert m.active_params() == pytest.approx(active, rel=0.02)


# OpenAI, "gpt-oss-120b & gpt-oss-20b model card" (2025), table 1: total 116.83B / 20.91B and
# active 5.13B / 3.61B per token; the card's active count leaves out the input embedding
# (201,088 x 2,880), which our convention counts.
@pytest.mark.parametrize(("name", "total", "active"), [("gpt-oss-120b", 116.83e9, 5.13e9),
                                                       ("gpt-oss-20b", 20.91e9, 3.61e9)])
def test_gpt_oss_parameter_counts(name, total, active):
    m = load_workload(name)
    embedding = m.vocab_size * m.hidden_size
    assert m.total_params() == pytest.approx(total, rel=0.001)
    assert m.active_params() - embedding == pytest.approx(active, rel=0.002)


def test_gpt_oss_alternates_windowed_and_full_layers():
    m = load_workload("gpt-oss-120b")
    assert (m.sliding_window, m.windowed_layers(), m.sliding_window_layers[:3]) == (128, 18, (0, 2, 4))
    assert m.attention.sinks and m.attention.qkv_bias and m.moe.expert_bias and m.moe.router_bias
    per_layer_token = m.attention.kv_elements_per_token()  # 2 x 8 KV heads x 64
    assert m.kv_cache_bytes(8192, 1) == (18 * 8192 + 18 * 128) * per_layer_token
    assert m.kv_cache_bytes(100, 1) == 36 * 100 * per_layer_token


@pytest.mark.parametrize(("name", "exact"), [
    # exact element counts of the released checkpoints (sum over the safetensors shapes)
    ("llama-2-7b", 6_738_415_616),
    ("llama-3.1-8b", 8_030_261_248),
    ("mixtral-8x7b", 46_702_792_704),
    ("gpt2-medium", 354_823_168),
])
def test_exact_checkpoint_parameter_counts(name, exact):
    assert load_workload(name).total_params() == exact


def test_mixtral_8x7b_counts_by_hand():
    d, f, L, V = 4096, 14336, 32, 32000
    attention = d * d * 2 + d * 1024 * 2
    layer = attention + 8 * 3 * d * f + d * 8 + 2 * d
    assert load_workload("mixtral-8x7b").total_params() == L * layer + d + 2 * V * d
    active_layer = attention + 2 * 3 * d * f + d * 8 + 2 * d
    assert load_workload("mixtral-8x7b").active_params() == L * active_layer + d + 2 * V * d


def test_breakdown_sums_to_total_and_tied_head_is_free():
    for name in NAMES:
        m = load_workload(name)
        assert sum(m.param_breakdown().values()) == m.total_params()
    gpt2 = load_workload("gpt2-medium")
    assert gpt2.param_breakdown()["lm_head"] == 0
    assert gpt2.param_breakdown()["embedding"] == (50257 + 1024) * 1024
    untied = replace(gpt2, tie_word_embeddings=False)
    assert untied.total_params() - gpt2.total_params() == 50257 * 1024


def test_weight_bytes_scale_with_precision():
    m = load_workload("mixtral-8x7b")
    assert m.weight_bytes(2) == 2 * m.total_params()
    assert m.weight_bytes(0.5) == m.total_params() / 2


# ---- KV cache ---------------------------------------------------------------------------------

@pytest.mark.parametrize(("name", "expected"), [
    ("llama-2-7b", 2 * 32 * 4096 * 2),          # 2 (K,V) x layers x d x 2 B = 524288
    ("mixtral-8x7b", 2 * 32 * 8 * 128 * 2),     # GQA: 8 KV heads of 128 = 131072
    ("llama-3.3-70b", 2 * 80 * 8 * 128 * 2),
    ("qwen3-235b-a22b", 2 * 94 * 4 * 128 * 2),
    ("deepseek-v3", 61 * (512 + 64) * 2),       # MLA: compressed latent + decoupled RoPE key
    ("gpt2-medium", 2 * 24 * 1024 * 2),
])
def test_kv_cache_bytes_per_token_fp16(name, expected):
    assert load_workload(name).kv_cache_bytes_per_token(2) == expected


def test_kv_cache_named_values():
    assert load_workload("llama-2-7b").kv_cache_bytes_per_token(2) == 524288
    assert load_workload("mixtral-8x7b").kv_cache_bytes_per_token(2) == 131072
    assert load_workload("deepseek-v3").kv_cache_bytes_per_token(1) == 61 * 576


def test_sliding_window_caps_sequence_cache():
    m = replace(load_workload("mixtral-8x7b"), sliding_window=4096)
    per_token = m.kv_cache_bytes_per_token(2)
    assert m.kv_cache_bytes(1000, 2) == 1000 * per_token
    assert m.kv_cache_bytes(32768, 2) == 4096 * per_token
    assert load_workload("mixtral-8x7b").kv_cache_bytes(32768, 2) == 32768 * per_token


# ---- properties -------------------------------------------------------------------------------

def _toy(d: int, heads: int, kv_div: int, layers: int, dense: int, experts: int, top_k: int,
         shared: int, f: int) -> ModelConfig:
    kv = heads // kv_div
    moe_layers = layers - dense
    return ModelConfig(
        name="toy", family="deepseek_v3", num_layers=layers, hidden_size=d, vocab_size=97,
        attention=Attention(kind="mha" if kv == heads else "gqa", num_heads=heads,
                            num_kv_heads=kv, head_dim=8),
        dense_ffn=FFN(4 * d, gated=True) if dense else None,
        moe=MoE(num_experts=experts, top_k=top_k, expert_intermediate_size=f, gated=True,
                num_shared_experts=shared, shared_intermediate_size=f) if moe_layers else None,
        num_dense_layers=dense, num_moe_layers=moe_layers)


@given(d=st.integers(8, 64), heads=st.sampled_from([4, 8]), kv_div=st.sampled_from([1, 2, 4]),
       layers=st.integers(1, 6), dense=st.integers(0, 6), experts=st.integers(1, 16),
       shared=st.integers(0, 2), f=st.integers(1, 32), data=st.data())
def test_active_never_exceeds_total_and_counts_top_k(d, heads, kv_div, layers, dense, experts,
                                                     shared, f, data):
    dense = min(dense, layers)
    top_k = data.draw(st.integers(1, experts))
    m = _toy(d, heads, kv_div, layers, dense, experts, top_k, shared, f)
    assert 0 < m.active_params() <= m.total_params()
    moe_layers = layers - dense
    assert m.total_params() - m.active_params() == moe_layers * (experts - top_k) * 3 * d * f
    if top_k == experts or moe_layers == 0:
        assert m.active_params() == m.total_params()
    assert m.kv_cache_bytes_per_token(1) == layers * 2 * (heads // kv_div) * 8


def test_qwen3_dense_has_qk_norm_and_its_own_head_dim():
    m = load_workload("qwen3-32b")
    assert m.moe is None and m.family == "qwen3"
    assert (m.attention.num_heads, m.attention.num_kv_heads, m.attention.head_dim) == (64, 8, 128)
    assert m.attention.qk_norm and m.attention.num_heads * m.attention.head_dim != m.hidden_size
