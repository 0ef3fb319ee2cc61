"""The offline Hugging Face config.json loader: per-family parsing, defaults, and error messages."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from accelerators.errors import ConfigError
from archmodel.workloads import SUPPORTED_MODEL_TYPES, load_hf_config, load_workload


def write(tmp_path: Path, cfg: dict[str, Any], name: str = "config.json") -> Path:
    path = tmp_path / name
    path.write_text(json.dumps(cfg, indent=2))
    return path


LLAMA_TINY = {
    "model_type": "llama", "hidden_size": 8, "intermediate_size": 16, "num_hidden_layers": 2,
    "num_attention_heads": 2, "num_key_value_heads": 1, "vocab_size": 10,
}


# ---- llama / mistral --------------------------------------------------------------------------

def test_tiny_llama_counted_by_hand(tmp_path):
    m = load_hf_config(write(tmp_path, LLAMA_TINY))
    # head_dim = 8 / 2 = 4; q 8x8, k and v 8x4 each, o 8x8 -> 192; SwiGLU 3*8*16 = 384;
    # two RMSNorms of 8 per layer; final norm 8; embedding and lm_head 10x8 each.
    assert m.attention.head_dim == 4 and m.attention.kind == "gqa"
    assert m.attention.params(8) == 192
    assert m.total_params() == 2 * (192 + 384 + 16) + 8 + 80 + 80 == 1352
    assert m.kv_cache_bytes_per_token(2) == 2 * 2 * 1 * 4 * 2


def test_num_key_value_heads_defaults_to_heads_and_makes_mha(tmp_path):
    cfg = {k: v for k, v in LLAMA_TINY.items() if k != "num_key_value_heads"}
    m = load_hf_config(write(tmp_path, cfg))
    assert m.attention.num_kv_heads == 2 and m.attention.kind == "mha" and m.attention.group_size == 1


def test_null_head_dim_and_kv_heads_use_defaults(tmp_path):
    m = load_hf_config(write(tmp_path, {**LLAMA_TINY, "head_dim": None, "num_key_value_heads": None}))
    assert (m.attention.head_dim, m.attention.num_kv_heads) == (4, 2)


def test_explicit_head_dim_wins(tmp_path):
    m = load_hf_config(write(tmp_path, {**LLAMA_TINY, "head_dim": 16}))
    assert m.attention.head_dim == 16
    assert m.attention.params(8) == 8 * 32 + 2 * 8 * 16 + 32 * 8


def test_llama_biases_and_tied_embeddings(tmp_path):
    plain = load_hf_config(write(tmp_path, LLAMA_TINY, "a.json"))
    biased = load_hf_config(write(tmp_path, {**LLAMA_TINY, "attention_bias": True, "mlp_bias": True,
                                             "tie_word_embeddings": True}, "b.json"))
    # q/k/v/o biases: 8 + 4 + 4 + 8 = 24; MLP biases: 16 + 16 + 8 = 40; per layer, two layers;
    # the tied lm_head removes 80.
    assert biased.total_params() - plain.total_params() == 2 * (24 + 40) - 80


def test_mistral_is_dense_llama_like_with_window(tmp_path):
    m = load_hf_config(write(tmp_path, {**LLAMA_TINY, "model_type": "mistral", "sliding_window": 4096}))
    assert m.family == "llama" and m.model_type == "mistral"
    assert m.moe is None and m.dense_ffn.gated and m.sliding_window == 4096


# ---- MoE families -----------------------------------------------------------------------------

def test_mixtral_every_layer_moe(tmp_path):
    cfg = {**LLAMA_TINY, "model_type": "mixtral", "num_local_experts": 4, "num_experts_per_tok": 2}
    m = load_hf_config(write(tmp_path, cfg))
    assert m.dense_ffn is None and m.num_moe_layers == 2 and m.moe.expert_intermediate_size == 16
    assert m.total_params() - m.active_params() == 2 * (4 - 2) * 3 * 8 * 16


QWEN2_MOE = {
    "model_type": "qwen2_moe", "hidden_size": 8, "intermediate_size": 32, "num_hidden_layers": 6,
    "num_attention_heads": 2, "num_key_value_heads": 1, "vocab_size": 10, "num_experts": 4,
    "num_experts_per_tok": 2, "moe_intermediate_size": 4, "shared_expert_intermediate_size": 12,
    "decoder_sparse_step": 2, "mlp_only_layers": [3],
}


def test_qwen2_moe_sparse_step_mlp_only_and_shared_expert(tmp_path):
    m = load_hf_config(write(tmp_path, QWEN2_MOE))
    # (i+1) % 2 == 0 -> layers 1, 3, 5; layer 3 is forced dense.
    assert m.moe_layers() == (1, 5)
    assert (m.num_moe_layers, m.num_dense_layers) == (2, 4)
    assert m.dense_ffn.intermediate_size == 32
    assert (m.moe.num_shared_experts, m.moe.shared_intermediate_size, m.moe.shared_expert_gate) == (1, 12, True)
    assert m.attention.qkv_bias and not m.attention.o_bias
    # shared expert 3*8*12 + its gate 8; router 8*4
    assert m.moe.shared_params(8) == 296 and m.moe.router_params(8) == 32
    assert m.moe.active_params(8) == 2 * 3 * 8 * 4 + 296 + 32


def test_qwen3_moe_has_qk_norm_and_no_shared(tmp_path):
    cfg = {**QWEN2_MOE, "model_type": "qwen3_moe", "head_dim": 16, "decoder_sparse_step": 1,
           "mlp_only_layers": []}
    m = load_hf_config(write(tmp_path, cfg))
    assert m.family == "qwen3_moe" and m.attention.qk_norm and not m.attention.qkv_bias
    assert m.moe.num_shared_experts == 0 and m.num_moe_layers == 6 and m.dense_ffn is None
    assert m.attention.params(8) == 8 * 32 + 2 * 8 * 16 + 32 * 8 + 2 * 16


def test_qwen_sliding_window_needs_the_flag(tmp_path):
    off = load_hf_config(write(tmp_path, {**QWEN2_MOE, "sliding_window": 64}, "a.json"))
    on = load_hf_config(write(tmp_path, {**QWEN2_MOE, "sliding_window": 64, "use_sliding_window": True}, "b.json"))
    assert (off.sliding_window, on.sliding_window) == (0, 64)


DEEPSEEK = {
    "model_type": "deepseek_v3", "hidden_size": 16, "intermediate_size": 40, "num_hidden_layers": 6,
    "num_attention_heads": 2, "vocab_size": 10, "q_lora_rank": 4, "kv_lora_rank": 6,
    "qk_nope_head_dim": 3, "qk_rope_head_dim": 2, "v_head_dim": 5, "n_routed_experts": 8,
    "num_experts_per_tok": 2, "moe_intermediate_size": 4, "n_shared_experts": 2,
    "first_k_dense_replace": 1, "moe_layer_freq": 2,
}


def test_deepseek_mla_counted_by_hand(tmp_path):
    m = load_hf_config(write(tmp_path, DEEPSEEK))
    a = m.attention
    assert a.kind == "mla" and a.head_dim == 5 and a.num_kv_heads == 2
    # q_a 16x4 + norm 4 + q_b 4x(2*5); kv_a 16x(6+2) + norm 6 + kv_b 6x(2*(3+5)); o (2*5)x16
    assert a.params(16) == (64 + 4 + 40) + (128 + 6 + 96) + 160 == 498
    assert a.kv_elements_per_token() == 8
    assert m.kv_cache_bytes_per_token(2) == 6 * 8 * 2


def test_deepseek_layer_pattern_and_shared_experts(tmp_path):
    m = load_hf_config(write(tmp_path, DEEPSEEK))
    # i >= 1 and i % 2 == 0 -> 2, 4
    assert m.moe_layers() == (2, 4) and (m.num_dense_layers, m.num_moe_layers) == (4, 2)
    assert (m.moe.num_shared_experts, m.moe.shared_intermediate_size) == (2, 4)
    assert m.moe.router_bias  # deepseek_v3 defaults to noaux_tc
    assert m.moe.shared_params(16) == 2 * 3 * 16 * 4


def test_deepseek_v2_without_q_compression(tmp_path):
    cfg = {**DEEPSEEK, "model_type": "deepseek_v2", "q_lora_rank": None}
    m = load_hf_config(write(tmp_path, cfg))
    assert m.attention.q_lora_rank == 0 and not m.moe.router_bias
    assert m.attention.params(16) == 16 * 2 * 5 + (128 + 6 + 96) + 160


def test_deepseek_dense_when_no_routed_experts(tmp_path):
    cfg = {k: v for k, v in DEEPSEEK.items() if k != "n_routed_experts"}
    m = load_hf_config(write(tmp_path, cfg))
    assert m.moe is None and m.num_dense_layers == 6 and not m.is_moe


# ---- gpt2 -------------------------------------------------------------------------------------

def test_gpt2_tiny_counted_by_hand(tmp_path):
    cfg = {"model_type": "gpt2", "n_embd": 8, "n_head": 2, "n_layer": 1, "n_positions": 5,
           "vocab_size": 10, "n_inner": None}
    m = load_hf_config(write(tmp_path, cfg))
    # attn 4*64 + 3*8 + 8 = 288; MLP 2*8*32 + 32 + 8 = 552; 2 LayerNorms 2*16; final LN 16;
    # wte 10*8 + wpe 5*8; tied lm_head.
    assert m.dense_ffn.intermediate_size == 32 and not m.dense_ffn.gated
    assert m.total_params() == 288 + 552 + 32 + 16 + 80 + 40 == 1008


# ---- paths ------------------------------------------------------------------------------------

def test_directory_path_and_default_name(tmp_path):
    model_dir = tmp_path / "My_Model"
    model_dir.mkdir()
    write(model_dir, LLAMA_TINY)
    m = load_hf_config(model_dir)
    assert m.name == "my-model" and m.source == str(model_dir)
    assert load_workload(str(model_dir)).total_params() == 1352
    assert load_workload(model_dir / "config.json").name == "my-model"


def test_user_copy_of_builtin_matches_builtin(tmp_path):
    from archmodel.workloads.registry import CONFIG_DIR
    path = tmp_path / "config.json"
    path.write_text((CONFIG_DIR / "deepseek-v3.json").read_text())
    assert load_workload(str(path)).total_params() == load_workload("deepseek-v3").total_params()


# ---- errors -----------------------------------------------------------------------------------

def _error(path) -> ConfigError:
    with pytest.raises(ConfigError) as err:
        load_hf_config(path)
    return err.value


def test_missing_file(tmp_path):
    e = _error(tmp_path / "nope" / "config.json")
    assert "nope" in e.file and "config.json" in e.allowed


def test_bad_json_names_line(tmp_path):
    path = tmp_path / "config.json"
    path.write_text('{\n  "model_type": "llama",\n  "hidden_size": 8,,\n}')
    e = _error(path)
    assert e.file == str(path) and e.field == "line 3" and "line 3" in str(e)


def test_top_level_must_be_object(tmp_path):
    e = _error(write(tmp_path, [1, 2]))  # type: ignore[arg-type]
    assert "object" in e.allowed


def test_unsupported_model_type_lists_supported(tmp_path):
    e = _error(write(tmp_path, {**LLAMA_TINY, "model_type": "bert"}))
    assert e.field == "model_type" and e.value == "bert"
    for t in ("llama", "mistral", "mixtral", "qwen2_moe", "qwen3_moe", "deepseek_v2", "deepseek_v3", "gpt2"):
        assert t in e.allowed
    assert set(SUPPORTED_MODEL_TYPES) == {"llama", "mistral", "mixtral", "qwen3", "qwen2_moe", "qwen3_moe",
                                          "deepseek_v2", "deepseek_v3", "gpt_oss", "gpt2"}


GPT_OSS_TINY = {"model_type": "gpt_oss", "hidden_size": 64, "intermediate_size": 32, "num_hidden_layers": 4,
                "num_attention_heads": 4, "num_key_value_heads": 2, "head_dim": 16, "vocab_size": 100,
                "num_local_experts": 8, "num_experts_per_tok": 2, "sliding_window": 16}


def test_gpt_oss_layer_types_choose_the_windowed_layers(tmp_path):
    default = load_hf_config(write(tmp_path, GPT_OSS_TINY, "a.json"))
    listed = load_hf_config(write(tmp_path, {**GPT_OSS_TINY, "layer_types": ["full_attention"] * 3
                                             + ["sliding_attention"]}, "b.json"))
    assert (default.sliding_window_layers, listed.sliding_window_layers) == ((0, 2), (3,))
    assert default.sliding_window == 16 and default.moe.expert_bias and default.attention.sinks


def test_gpt_oss_bad_layer_types_name_the_key(tmp_path):
    e = _error(write(tmp_path, {**GPT_OSS_TINY, "layer_types": ["sliding_attention", "chunked"]}))
    assert e.field == "layer_types" and "num_hidden_layers (4)" in e.allowed and "sliding_attention" in e.allowed


def test_missing_model_type(tmp_path):
    e = _error(write(tmp_path, {k: v for k, v in LLAMA_TINY.items() if k != "model_type"}))
    assert e.field == "model_type" and e.value is None and "llama" in e.allowed


@pytest.mark.parametrize("key", ["hidden_size", "num_hidden_layers", "vocab_size", "intermediate_size"])
def test_missing_required_key(tmp_path, key):
    path = write(tmp_path, {k: v for k, v in LLAMA_TINY.items() if k != key})
    e = _error(path)
    assert (e.file, e.field, e.value) == (str(path), key, None) and "required" in e.allowed
    assert key in str(e) and str(path) in str(e)


@pytest.mark.parametrize(("key", "value"), [
    ("hidden_size", 0), ("num_hidden_layers", -2), ("vocab_size", 3.5), ("num_attention_heads", True),
    ("intermediate_size", "4096"),
])
def test_non_positive_or_non_integer_sizes(tmp_path, key, value):
    e = _error(write(tmp_path, {**LLAMA_TINY, key: value}))
    assert e.field == key and e.value == value and "integer >= 1" in e.allowed


def test_top_k_larger_than_experts(tmp_path):
    cfg = {**LLAMA_TINY, "model_type": "mixtral", "num_local_experts": 4, "num_experts_per_tok": 5}
    e = _error(write(tmp_path, cfg))
    assert e.field == "num_experts_per_tok" and e.value == 5 and "num_local_experts (4)" in e.allowed


def test_top_k_larger_than_experts_deepseek(tmp_path):
    e = _error(write(tmp_path, {**DEEPSEEK, "num_experts_per_tok": 9}))
    assert e.field == "num_experts_per_tok" and "n_routed_experts (8)" in e.allowed


def test_kv_heads_must_divide_heads(tmp_path):
    e = _error(write(tmp_path, {**LLAMA_TINY, "num_attention_heads": 4, "num_key_value_heads": 3}))
    assert e.field == "num_key_value_heads" and e.value == 3


def test_heads_must_divide_hidden_without_head_dim(tmp_path):
    e = _error(write(tmp_path, {**LLAMA_TINY, "num_attention_heads": 3, "num_key_value_heads": 1}))
    assert e.field == "num_attention_heads" and e.value == 3


def test_mlp_only_layers_out_of_range(tmp_path):
    e = _error(write(tmp_path, {**QWEN2_MOE, "mlp_only_layers": [6]}))
    assert e.field == "mlp_only_layers" and e.value == [6] and "[0, 5]" in e.allowed


def test_first_k_dense_replace_beyond_layers(tmp_path):
    e = _error(write(tmp_path, {**DEEPSEEK, "first_k_dense_replace": 7}))
    assert e.field == "first_k_dense_replace" and e.value == 7


def test_bad_boolean(tmp_path):
    e = _error(write(tmp_path, {**LLAMA_TINY, "tie_word_embeddings": "yes"}))
    assert e.field == "tie_word_embeddings" and "true or false" in e.allowed


def test_every_bad_key_of_a_config_in_one_error(tmp_path):
    """Four independent mistakes in one config.json: one ConfigError naming all four (file, key,
    value and what is allowed for each), so the user fixes them in one run."""
    cfg = {**LLAMA_TINY, "model_type": "mixtral", "num_local_experts": 4, "num_experts_per_tok": 2,
           "hidden_size": -8, "vocab_size": "many", "tie_word_embeddings": "yes"}
    del cfg["num_hidden_layers"]
    path = write(tmp_path, cfg)
    with pytest.raises(ConfigError) as info:
        load_hf_config(path)
    error = info.value
    assert {p.field for p in error.problems} == {"hidden_size", "vocab_size", "tie_word_embeddings",
                                                 "num_hidden_layers"}, str(error)
    for problem in error.problems:
        assert problem.file == str(path) and str(problem) in str(error)
    assert "4 problems" in str(error)
