"""Read a Hugging Face ``config.json`` from disk (offline) into a :class:`ModelConfig`.

Dispatches on ``model_type``. Supported: ``llama``, ``mistral`` (dense, llama-like), ``qwen3`` (dense), ``mixtral``,
``qwen2_moe``, ``qwen3_moe``, ``deepseek_v2``, ``deepseek_v3``, ``gpt_oss`` and ``gpt2``. Keys are read with
the same names and defaults as the ``transformers`` configuration classes; keys that do not
change the shape of the computation (dropouts, token ids, RoPE scaling ...) are ignored.

Every problem with the file raises :class:`accelerators.errors.ConfigError` naming the file,
the key, the value and what is allowed.
"""
from __future__ import annotations

import json
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from accelerators.errors import ConfigError
from archmodel.workload import FFN, Attention, ModelConfig, MoE

CONFIG_FILENAME = "config.json"
_MISSING: Any = object()


@dataclass(frozen=True)
class _Fields:
    """Typed, validated access to the keys of one parsed config file.

    A bad value does not stop the parse: it is recorded in ``problems`` and a neutral stand-in is
    returned, so one run reports every bad key of the file (``config_from_dict`` raises them together)."""

    raw: Mapping[str, Any]
    file: str
    problems: list[ConfigError] = field(default_factory=list)

    def _bad(self, key: str, value: Any, allowed: str, stand_in: Any) -> Any:
        self.problems.append(ConfigError(self.file, key, value, allowed))
        return stand_in

    def rule(self, key: str, value: Any, allowed: str) -> None:
        """A rule across keys, broken: recorded unless keys were already bad (their stand-in
        values would make it a restatement of those)."""
        if not self.problems:
            self.problems.append(ConfigError(self.file, key, value, allowed))

    def _get(self, key: str, default: Any) -> Any:
        value = self.raw.get(key, None)
        if value is None:  # absent, or null: transformers treats both as "use the default"
            if default is _MISSING:
                return self._bad(key, None, "this key is required for this model_type", _MISSING)
            return default
        return value

    def integer(self, key: str, default: Any = _MISSING, minimum: int = 1) -> int:
        value = self._get(key, default)
        if value is _MISSING:
            return max(minimum, 1)
        if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
            if self.raw.get(key) is None:  # a default derived from other keys' (bad) values
                return max(minimum, 1)
            return self._bad(key, value, f"an integer >= {minimum}", max(minimum, 1))
        return value

    def flag(self, key: str, default: bool) -> bool:
        value = self._get(key, default)
        if not isinstance(value, bool):
            return self._bad(key, value, "true or false", default)
        return value

    def text(self, key: str, default: str) -> str:
        value = self._get(key, default)
        if not isinstance(value, str) or not value:
            return self._bad(key, value, "a non-empty string", default or "?")
        return value

    def layer_list(self, key: str, num_layers: int) -> tuple[int, ...]:
        value = self._get(key, [])
        ok = isinstance(value, list) and all(
            isinstance(i, int) and not isinstance(i, bool) and 0 <= i < num_layers for i in value
        )
        if not ok:
            return self._bad(key, value, f"a list of layer indices in [0, {num_layers - 1}]", ())
        return tuple(sorted(set(value)))


def _gqa_attention(f: _Fields, hidden: int, heads: int, *, qkv_bias: bool, o_bias: bool,
                   qk_norm: bool = False) -> Attention:
    """MHA/GQA shape: head_dim defaults to hidden/heads, num_key_value_heads to heads."""
    kv_heads = f.integer("num_key_value_heads", default=heads)
    if heads % kv_heads:
        f.rule("num_key_value_heads", kv_heads,
               f"a divisor of num_attention_heads ({heads})")
    if f.raw.get("head_dim") is None and hidden % heads:
        f.rule("num_attention_heads", heads,
               f"a divisor of hidden_size ({hidden}) when head_dim is not given")
    head_dim = f.integer("head_dim", default=hidden // heads)
    return Attention(kind="mha" if kv_heads == heads else "gqa", num_heads=heads,
                     num_kv_heads=kv_heads, head_dim=head_dim, qkv_bias=qkv_bias,
                     o_bias=o_bias, qk_norm=qk_norm)


def _check_top_k(f: _Fields, top_k: int, experts: int, experts_key: str) -> None:
    if top_k > experts:
        f.rule("num_experts_per_tok", top_k,
               f"at most {experts_key} ({experts})")


def _common(f: _Fields, name: str, source: str, *, max_pos_default: int) -> dict[str, Any]:
    return {
        "name": name,
        "source": source,
        "model_type": f.text("model_type", ""),
        "num_layers": f.integer("num_hidden_layers"),
        "hidden_size": f.integer("hidden_size"),
        "vocab_size": f.integer("vocab_size"),
        "max_position_embeddings": f.integer("max_position_embeddings", default=max_pos_default),
        "hidden_act": f.text("hidden_act", "silu"),
    }


def _sliding_window(f: _Fields, *, flag: str | None) -> int:
    """Window when every layer uses one: mistral reads ``sliding_window``, Qwen also needs the flag."""
    if flag is not None and not f.flag(flag, False):
        return 0
    return f.integer("sliding_window", default=0, minimum=0)


def _parse_llama(f: _Fields, name: str, source: str) -> ModelConfig:
    """llama, mistral and qwen3: dense, SwiGLU, RMSNorm, RoPE. Mistral has no biases and keeps its
    ``sliding_window``; Qwen3 adds per-head q/k RMSNorm, and a window only with ``use_sliding_window``."""
    model_type = f.raw.get("model_type")
    mistral, qwen3 = model_type == "mistral", model_type == "qwen3"
    c = _common(f, name, source, max_pos_default=131072 if mistral else 32768 if qwen3 else 2048)
    heads = f.integer("num_attention_heads")
    bias = False if mistral else f.flag("attention_bias", False)
    attention = _gqa_attention(f, c["hidden_size"], heads, qkv_bias=bias, o_bias=bias, qk_norm=qwen3)
    ffn = FFN(f.integer("intermediate_size"), gated=True,
              bias=False if mistral else f.flag("mlp_bias", False))
    window = (_sliding_window(f, flag=None) if mistral
              else _sliding_window(f, flag="use_sliding_window") if qwen3 else 0)
    return ModelConfig(family="qwen3" if qwen3 else "llama", attention=attention, dense_ffn=ffn, moe=None,
                       num_dense_layers=c["num_layers"], num_moe_layers=0,
                       tie_word_embeddings=f.flag("tie_word_embeddings", False), sliding_window=window, **c)


def _parse_mixtral(f: _Fields, name: str, source: str) -> ModelConfig:
    """Mixtral: every layer is a top-k MoE of SwiGLU experts of intermediate_size."""
    c = _common(f, name, source, max_pos_default=131072)
    attention = _gqa_attention(f, c["hidden_size"], f.integer("num_attention_heads"),
                               qkv_bias=False, o_bias=False)
    experts = f.integer("num_local_experts")
    top_k = f.integer("num_experts_per_tok")
    _check_top_k(f, top_k, experts, "num_local_experts")
    moe = MoE(num_experts=experts, top_k=top_k,
              expert_intermediate_size=f.integer("intermediate_size"), gated=True)
    return ModelConfig(family="mixtral", attention=attention, dense_ffn=None, moe=moe,
                       num_dense_layers=0, num_moe_layers=c["num_layers"],
                       moe_layer_indices=tuple(range(c["num_layers"])),
                       tie_word_embeddings=f.flag("tie_word_embeddings", False),
                       sliding_window=_sliding_window(f, flag=None), **c)


def _parse_qwen_moe(f: _Fields, name: str, source: str) -> ModelConfig:
    """Qwen2-MoE / Qwen3-MoE: layer i is MoE unless listed in mlp_only_layers or
    (i + 1) % decoder_sparse_step != 0. Qwen2-MoE adds a gated shared expert and q/k/v biases;
    Qwen3-MoE has per-head q/k RMSNorm and no shared expert."""
    qwen3 = f.raw.get("model_type") == "qwen3_moe"
    c = _common(f, name, source, max_pos_default=32768)
    layers, hidden = c["num_layers"], c["hidden_size"]
    heads = f.integer("num_attention_heads")
    if qwen3:
        bias = f.flag("attention_bias", False)
        attention = _gqa_attention(f, hidden, heads, qkv_bias=bias, o_bias=bias, qk_norm=True)
    else:
        attention = _gqa_attention(f, hidden, heads, qkv_bias=True, o_bias=False)
    experts = f.integer("num_experts", minimum=0)
    step = f.integer("decoder_sparse_step", default=1)
    mlp_only = f.layer_list("mlp_only_layers", layers)
    moe_ids = tuple(i for i in range(layers)
                    if experts > 0 and i not in mlp_only and (i + 1) % step == 0)
    moe = None
    if moe_ids:
        top_k = f.integer("num_experts_per_tok")
        _check_top_k(f, top_k, experts, "num_experts")
        shared_size = 0 if qwen3 else f.integer("shared_expert_intermediate_size", default=0, minimum=0)
        moe = MoE(num_experts=experts, top_k=top_k,
                  expert_intermediate_size=f.integer("moe_intermediate_size"), gated=True,
                  num_shared_experts=1 if shared_size else 0,
                  shared_intermediate_size=shared_size, shared_expert_gate=bool(shared_size))
    dense_layers = layers - len(moe_ids)
    dense = FFN(f.integer("intermediate_size"), gated=True) if dense_layers else None
    return ModelConfig(family="qwen3_moe" if qwen3 else "qwen2_moe", attention=attention,
                       dense_ffn=dense, moe=moe, num_dense_layers=dense_layers,
                       num_moe_layers=len(moe_ids), moe_layer_indices=moe_ids,
                       tie_word_embeddings=f.flag("tie_word_embeddings", False),
                       sliding_window=_sliding_window(f, flag="use_sliding_window"), **c)


def _parse_deepseek(f: _Fields, name: str, source: str) -> ModelConfig:
    """DeepSeek-V2/V3: MLA attention; layer i is MoE when n_routed_experts is set,
    i >= first_k_dense_replace and i % moe_layer_freq == 0; n_shared_experts shared experts
    of moe_intermediate_size each."""
    v3 = f.raw.get("model_type") == "deepseek_v3"
    c = _common(f, name, source, max_pos_default=4096 if v3 else 2048)
    layers = c["num_layers"]
    heads = f.integer("num_attention_heads")
    bias = f.flag("attention_bias", False)
    nope, rope = f.integer("qk_nope_head_dim"), f.integer("qk_rope_head_dim")
    attention = Attention(kind="mla", num_heads=heads,
                          num_kv_heads=f.integer("num_key_value_heads", default=heads),
                          head_dim=nope + rope, q_lora_rank=f.integer("q_lora_rank", default=0, minimum=0),
                          kv_lora_rank=f.integer("kv_lora_rank"), qk_nope_head_dim=nope,
                          qk_rope_head_dim=rope, v_head_dim=f.integer("v_head_dim"),
                          qkv_bias=bias, o_bias=bias)
    experts = f.integer("n_routed_experts", default=0, minimum=0)
    first_dense = f.integer("first_k_dense_replace", default=0, minimum=0)
    if first_dense > layers:
        f.rule("first_k_dense_replace", first_dense,
               f"an integer in [0, num_hidden_layers={layers}]")
    freq = f.integer("moe_layer_freq", default=1)
    moe_ids = tuple(i for i in range(layers) if experts and i >= first_dense and i % freq == 0)
    moe = None
    if moe_ids:
        top_k = f.integer("num_experts_per_tok")
        _check_top_k(f, top_k, experts, "n_routed_experts")
        expert_size = f.integer("moe_intermediate_size")
        topk_method = f.text("topk_method", "noaux_tc" if v3 else "greedy")
        moe = MoE(num_experts=experts, top_k=top_k, expert_intermediate_size=expert_size,
                  gated=True, num_shared_experts=f.integer("n_shared_experts", default=0, minimum=0),
                  shared_intermediate_size=expert_size, router_bias=topk_method == "noaux_tc")
    dense_layers = layers - len(moe_ids)
    dense = FFN(f.integer("intermediate_size"), gated=True) if dense_layers else None
    return ModelConfig(family="deepseek_v3", attention=attention, dense_ffn=dense, moe=moe,
                       num_dense_layers=dense_layers, num_moe_layers=len(moe_ids),
                       moe_layer_indices=moe_ids,
                       tie_word_embeddings=f.flag("tie_word_embeddings", False),
                       num_nextn_predict_layers=f.integer("num_nextn_predict_layers", default=0, minimum=0),
                       **c)


def _parse_gpt2(f: _Fields, name: str, source: str) -> ModelConfig:
    """GPT-2: LayerNorm, learned positions, biases everywhere, non-gated GELU MLP of n_inner
    (null: 4 * n_embd), lm_head tied to the token embedding by default."""
    hidden, heads = f.integer("n_embd"), f.integer("n_head")
    if hidden % heads:
        f.rule("n_head", heads, f"a divisor of n_embd ({hidden})")
    positions = f.integer("n_positions", default=1024)
    layers = f.integer("n_layer")
    attention = Attention(kind="mha", num_heads=heads, num_kv_heads=heads, head_dim=hidden // heads,
                          qkv_bias=True, o_bias=True)
    ffn = FFN(f.integer("n_inner", default=4 * hidden), gated=False, bias=True)
    return ModelConfig(name=name, family="gpt2", num_layers=layers, hidden_size=hidden,
                       vocab_size=f.integer("vocab_size"), attention=attention, dense_ffn=ffn, moe=None,
                       num_dense_layers=layers, num_moe_layers=0,
                       tie_word_embeddings=f.flag("tie_word_embeddings", True),
                       max_position_embeddings=positions, source=source, model_type="gpt2",
                       hidden_act=f.text("activation_function", "gelu_new"), norm="layernorm",
                       position_embeddings=positions)


LAYER_TYPES = ("full_attention", "sliding_attention")


def _windowed_layers(f: _Fields, layers: int) -> tuple[int, ...]:
    """The ``sliding_attention`` layers of ``layer_types``; absent: every other layer from 0 (the
    ``transformers`` GptOssConfig default)."""
    value = f.raw.get("layer_types")
    if value is None:
        return tuple(range(0, layers, 2))
    if not (isinstance(value, list) and len(value) == layers and all(v in LAYER_TYPES for v in value)):
        f.rule("layer_types", value, f"a list of num_hidden_layers ({layers}) entries, each one of: "
               + ", ".join(LAYER_TYPES))
        return ()
    return tuple(i for i, v in enumerate(value) if v == "sliding_attention")


def _parse_gpt_oss(f: _Fields, name: str, source: str) -> ModelConfig:
    """gpt-oss: every layer a top-k MoE of SwiGLU experts with biases (router too); attention with
    q/k/v/o biases and a learned sink logit per head; layers alternate between a sliding window
    (``layer_types``) and full attention."""
    c = _common(f, name, source, max_pos_default=131072)
    bias = f.flag("attention_bias", True)
    attention = replace(_gqa_attention(f, c["hidden_size"], f.integer("num_attention_heads"),
                                       qkv_bias=bias, o_bias=bias), sinks=True)
    experts = f.integer("num_local_experts")
    top_k = f.integer("num_experts_per_tok")
    _check_top_k(f, top_k, experts, "num_local_experts")
    moe = MoE(num_experts=experts, top_k=top_k, expert_intermediate_size=f.integer("intermediate_size"),
              gated=True, router_bias=True, expert_bias=True)
    layers = c["num_layers"]
    return ModelConfig(family="gpt_oss", attention=attention, dense_ffn=None, moe=moe,
                       num_dense_layers=0, num_moe_layers=layers, moe_layer_indices=tuple(range(layers)),
                       tie_word_embeddings=f.flag("tie_word_embeddings", False),
                       sliding_window=f.integer("sliding_window", default=128, minimum=0),
                       sliding_window_layers=_windowed_layers(f, layers), **c)


_PARSERS: dict[str, Callable[[_Fields, str, str], ModelConfig]] = {
    "gpt_oss": _parse_gpt_oss,
    "llama": _parse_llama,
    "mistral": _parse_llama,
    "mixtral": _parse_mixtral,
    "qwen3": _parse_llama,
    "qwen2_moe": _parse_qwen_moe,
    "qwen3_moe": _parse_qwen_moe,
    "deepseek_v2": _parse_deepseek,
    "deepseek_v3": _parse_deepseek,
    "gpt2": _parse_gpt2,
}
SUPPORTED_MODEL_TYPES: tuple[str, ...] = tuple(sorted(_PARSERS))


def resolve_config_path(path: str | os.PathLike[str]) -> Path:
    """The config file itself, or ``config.json`` inside a directory; missing -> ConfigError."""
    p = Path(path)
    if p.is_dir():
        p = p / CONFIG_FILENAME
    if not p.is_file():
        raise ConfigError(str(p), None, str(path),
                          "an existing Hugging Face config.json file, or a directory containing one")
    return p


def read_config_dict(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Parse the JSON object in a config file; bad JSON -> ConfigError with line and column."""
    p = resolve_config_path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(str(p), None, type(exc).__name__, "a readable UTF-8 JSON file") from exc
    try:
        raw = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ConfigError(str(p), f"line {exc.lineno}", f"{exc.msg} (line {exc.lineno}, column {exc.colno})",
                          "valid JSON") from exc
    if not isinstance(raw, dict):
        raise ConfigError(str(p), None, type(raw).__name__, "a JSON object at the top level")
    return raw


def config_from_dict(raw: Mapping[str, Any], *, name: str, source: str = "",
                     file: str | None = None) -> ModelConfig:
    """Build a :class:`ModelConfig` from an already-parsed ``config.json`` mapping."""
    f = _Fields(raw=raw, file=file or source or "<config>")
    model_type = raw.get("model_type")
    if model_type is None:
        raise ConfigError(f.file, "model_type", None,
                          f"this key is required; supported: {', '.join(SUPPORTED_MODEL_TYPES)}")
    parser = _PARSERS.get(model_type) if isinstance(model_type, str) else None
    if parser is None:
        raise ConfigError(f.file, "model_type", model_type,
                          f"one of: {', '.join(SUPPORTED_MODEL_TYPES)}")
    try:
        model = parser(f, name, source)
    except ConfigError as error:
        # a rule across keys; when keys were bad too, it may only restate them (stand-in values)
        raise ConfigError.combine(f.problems or [error]) from None
    if f.problems:
        raise ConfigError.combine(f.problems)
    return model


def default_name(path: Path) -> str:
    """``.../Mixtral-8x7B-v0.1/config.json`` -> ``mixtral-8x7b-v0.1``; ``my-model.json`` -> ``my-model``."""
    stem = path.parent.name if path.name == CONFIG_FILENAME and path.parent.name else path.stem
    return stem.lower().replace("_", "-").replace(" ", "-")


def load_hf_config(path: str | os.PathLike[str], *, name: str | None = None,
                   source: str | None = None) -> ModelConfig:
    """Load a Hugging Face ``config.json`` (or a directory holding one) without network access.

    ``name`` defaults to the containing directory's name (lower-case); ``source`` to the path.
    """
    p = resolve_config_path(path)
    raw = read_config_dict(p)
    return config_from_dict(raw, name=name or default_name(p), source=source or str(path), file=str(p))
