"""Model IR for decoder-only (MoE) transformers.

One frozen dataclass tree describes the shapes that cost models need; nothing here knows about
devices. Built-in models and user Hugging Face ``config.json`` files both end up as a
:class:`ModelConfig` (see :mod:`archmodel.workloads`).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

AttentionKind = Literal["mha", "gqa", "mla"]


@dataclass(frozen=True)
class Attention:
    """Self-attention shape. ``mla`` is DeepSeek's multi-head latent attention."""

    kind: AttentionKind
    num_heads: int
    num_kv_heads: int
    head_dim: int
    # Multi-head latent attention (kind == "mla") only; zero elsewhere.
    q_lora_rank: int = 0  # 0: queries are not compressed
    kv_lora_rank: int = 0
    qk_nope_head_dim: int = 0
    qk_rope_head_dim: int = 0
    v_head_dim: int = 0

    @property
    def group_size(self) -> int:
        """Query heads per KV head (1 for MHA; MLA decode with absorbed weights acts as one KV head)."""
        if self.kind == "mla":
            return self.num_heads
        return self.num_heads // self.num_kv_heads

    def kv_elements_per_token(self) -> int:
        """Elements stored in the KV cache per token and layer (MLA stores the compressed latent)."""
        if self.kind == "mla":
            return self.kv_lora_rank + self.qk_rope_head_dim
        return 2 * self.num_kv_heads * self.head_dim


@dataclass(frozen=True)
class FFN:
    """A dense feed-forward block: d -> intermediate (-> with a gate when ``gated``) -> d."""

    intermediate_size: int
    gated: bool  # SwiGLU-style: up, gate and down matrices; otherwise up and down

    @property
    def matrices(self) -> int:
        return 3 if self.gated else 2


@dataclass(frozen=True)
class MoE:
    """A mixture-of-experts FFN block."""

    num_experts: int
    top_k: int
    expert_intermediate_size: int
    gated: bool
    num_shared_experts: int = 0
    shared_intermediate_size: int = 0  # per shared expert

    @property
    def matrices(self) -> int:
        return 3 if self.gated else 2


@dataclass(frozen=True)
class ModelConfig:
    """A decoder-only transformer, dense or MoE."""

    name: str
    family: str  # mixtral | qwen2_moe | qwen3_moe | deepseek_v3 | llama | gpt2
    num_layers: int
    hidden_size: int
    vocab_size: int
    attention: Attention
    dense_ffn: FFN | None  # FFN of the dense layers (None when every layer is MoE)
    moe: MoE | None  # None for dense models
    num_dense_layers: int
    num_moe_layers: int
    tie_word_embeddings: bool = False
    max_position_embeddings: int = 4096
    source: str = ""  # where the numbers come from (a config.json URL or a path)

    @property
    def is_moe(self) -> bool:
        return self.moe is not None and self.num_moe_layers > 0
