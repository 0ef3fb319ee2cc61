"""Model IR for decoder-only (MoE) transformers.

One frozen dataclass tree describes the shapes that cost models need; nothing here knows about
devices. Built-in models and user Hugging Face ``config.json`` files both end up as a
:class:`ModelConfig` (see :mod:`archmodel.workloads`).

Parameter counting convention (``total_params`` / ``active_params``):

* every weight matrix, bias, norm weight (RMSNorm: d; LayerNorm: weight and bias, 2d), router
  (and DeepSeek-V3's per-expert score-correction bias), learned position table, the input
  embedding and the lm_head are counted;
* a tied lm_head (``tie_word_embeddings``) is counted once, as the embedding;
* rotary embeddings have no parameters; DeepSeek's multi-token-prediction module
  (``num_nextn_predict_layers``) is *not* part of the main model and is not counted;
* ``active_params`` is the count one token touches: everything above, except that each MoE layer
  contributes its router, its shared experts and ``top_k`` routed experts instead of all of them.
  Embeddings are counted in full (the convention behind the published "active" figures such as
  Mixtral-8x7B's 12.9B and DeepSeek-V3's 37B).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

AttentionKind = Literal["mha", "gqa", "mla"]
NormKind = Literal["rmsnorm", "layernorm"]


@dataclass(frozen=True)
class Attention:
    """Self-attention shape. ``mla`` is DeepSeek's multi-head latent attention."""

    kind: AttentionKind
    num_heads: int
    num_kv_heads: int
    head_dim: int  # MLA: query/key head dim, qk_nope_head_dim + qk_rope_head_dim
    # Multi-head latent attention (kind == "mla") only; zero elsewhere.
    q_lora_rank: int = 0  # 0: queries are not compressed
    kv_lora_rank: int = 0
    qk_nope_head_dim: int = 0
    qk_rope_head_dim: int = 0
    v_head_dim: int = 0
    qkv_bias: bool = False  # bias on the input projections (q, k, v; MLA: q_a/q and kv_a)
    o_bias: bool = False  # bias on the output projection
    qk_norm: bool = False  # per-head RMSNorm on queries and keys (Qwen3)
    sinks: bool = False  # a learned per-head logit in every softmax's denominator (gpt-oss)

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

    def params(self, hidden_size: int) -> int:
        """Parameters of one attention block (projections, biases, and norms inside the block)."""
        d = hidden_size
        if self.kind == "mla":
            return self._mla_params(d)
        q_out = self.num_heads * self.head_dim
        kv_out = self.num_kv_heads * self.head_dim
        count = d * q_out + 2 * d * kv_out + q_out * d
        if self.qkv_bias:
            count += q_out + 2 * kv_out
        if self.o_bias:
            count += d
        if self.qk_norm:
            count += 2 * self.head_dim
        if self.sinks:
            count += self.num_heads
        return count

    def _mla_params(self, d: int) -> int:
        h = self.num_heads
        q_head = self.qk_nope_head_dim + self.qk_rope_head_dim
        if self.q_lora_rank:
            # q_a_proj, q_a_layernorm, q_b_proj
            q = d * self.q_lora_rank + self.q_lora_rank + self.q_lora_rank * h * q_head
            q_in_bias = self.q_lora_rank
        else:
            q = d * h * q_head
            q_in_bias = h * q_head
        kv_a_out = self.kv_lora_rank + self.qk_rope_head_dim
        # kv_a_proj_with_mqa, kv_a_layernorm, kv_b_proj
        kv = d * kv_a_out + self.kv_lora_rank + self.kv_lora_rank * h * (self.qk_nope_head_dim + self.v_head_dim)
        o = h * self.v_head_dim * d
        count = q + kv + o
        if self.qkv_bias:
            count += q_in_bias + kv_a_out
        if self.o_bias:
            count += d
        return count


@dataclass(frozen=True)
class FFN:
    """A dense feed-forward block: d -> intermediate (-> with a gate when ``gated``) -> d."""

    intermediate_size: int
    gated: bool  # SwiGLU-style: up, gate and down matrices; otherwise up and down
    bias: bool = False  # biases on every projection (GPT-2's c_fc / c_proj)

    @property
    def matrices(self) -> int:
        return 3 if self.gated else 2

    def params(self, hidden_size: int) -> int:
        f = self.intermediate_size
        count = self.matrices * hidden_size * f
        if self.bias:
            count += (self.matrices - 1) * f + hidden_size
        return count


@dataclass(frozen=True)
class MoE:
    """A mixture-of-experts FFN block."""

    num_experts: int
    top_k: int
    expert_intermediate_size: int
    gated: bool
    num_shared_experts: int = 0
    shared_intermediate_size: int = 0  # per shared expert
    router_bias: bool = False  # a per-expert bias on the routing scores (DeepSeek-V3 noaux_tc)
    shared_expert_gate: bool = False  # a d -> 1 sigmoid gate on the shared expert (Qwen2-MoE)
    expert_bias: bool = False  # biases on every expert projection (gpt-oss: gate_up 2f, down d)

    @property
    def matrices(self) -> int:
        return 3 if self.gated else 2

    def expert_params(self, hidden_size: int) -> int:
        """Parameters of one routed expert."""
        count = self.matrices * hidden_size * self.expert_intermediate_size
        if self.expert_bias:
            count += (self.matrices - 1) * self.expert_intermediate_size + hidden_size
        return count

    def shared_params(self, hidden_size: int) -> int:
        """Parameters of all shared experts together, with their gate."""
        count = self.num_shared_experts * self.matrices * hidden_size * self.shared_intermediate_size
        if self.shared_expert_gate and self.num_shared_experts:
            count += hidden_size
        return count

    def router_params(self, hidden_size: int) -> int:
        return hidden_size * self.num_experts + (self.num_experts if self.router_bias else 0)

    def params(self, hidden_size: int) -> int:
        """Parameters of the whole block: all routed experts, shared experts and router."""
        return (
            self.num_experts * self.expert_params(hidden_size)
            + self.shared_params(hidden_size)
            + self.router_params(hidden_size)
        )

    def active_params(self, hidden_size: int) -> int:
        """Parameters one token touches: top_k routed experts, the shared experts, the router."""
        return (
            self.top_k * self.expert_params(hidden_size)
            + self.shared_params(hidden_size)
            + self.router_params(hidden_size)
        )


@dataclass(frozen=True)
class ModelConfig:
    """A decoder-only transformer, dense or MoE."""

    name: str
    family: str  # mixtral | qwen2_moe | qwen3_moe | deepseek_v3 | gpt_oss | llama | qwen3 | gpt2
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
    # Added fields (all defaulted, so older constructors keep working):
    model_type: str = ""  # the Hugging Face model_type the config came from (e.g. mistral, deepseek_v2)
    hidden_act: str = "silu"
    norm: NormKind = "rmsnorm"
    position_embeddings: int = 0  # rows of a learned absolute position table (GPT-2); 0 for RoPE
    moe_layer_indices: tuple[int, ...] = ()  # which layers are MoE; () means the last num_moe_layers
    sliding_window: int = 0  # attention window in tokens; 0: full attention
    sliding_window_layers: tuple[int, ...] = ()  # the windowed layers; () with a window: every layer
    num_nextn_predict_layers: int = 0  # DeepSeek multi-token-prediction modules (not counted)

    @property
    def is_moe(self) -> bool:
        return self.moe is not None and self.num_moe_layers > 0

    # ---- layer layout -------------------------------------------------------------------------
    def moe_layers(self) -> tuple[int, ...]:
        """Indices (0-based) of the MoE layers."""
        if self.moe_layer_indices:
            return self.moe_layer_indices
        return tuple(range(self.num_layers - self.num_moe_layers, self.num_layers))

    def is_moe_layer(self, index: int) -> bool:
        return index in self.moe_layers()

    # ---- parameters ---------------------------------------------------------------------------
    def norm_params(self) -> int:
        """Parameters of one normalisation layer."""
        return self.hidden_size * (2 if self.norm == "layernorm" else 1)

    def embedding_params(self) -> int:
        """Token embedding plus any learned position table."""
        return (self.vocab_size + self.position_embeddings) * self.hidden_size

    def lm_head_params(self) -> int:
        return 0 if self.tie_word_embeddings else self.vocab_size * self.hidden_size

    def param_breakdown(self) -> dict[str, int]:
        """Total parameters by group; the values sum to :meth:`total_params`."""
        d = self.hidden_size
        dense = self.dense_ffn.params(d) * self.num_dense_layers if self.dense_ffn else 0
        routed = shared = router = 0
        if self.moe is not None and self.num_moe_layers:
            routed = self.num_moe_layers * self.moe.num_experts * self.moe.expert_params(d)
            shared = self.num_moe_layers * self.moe.shared_params(d)
            router = self.num_moe_layers * self.moe.router_params(d)
        return {
            "embedding": self.embedding_params(),
            "attention": self.num_layers * self.attention.params(d),
            "norms": (2 * self.num_layers + 1) * self.norm_params(),
            "dense_ffn": dense,
            "routed_experts": routed,
            "shared_experts": shared,
            "router": router,
            "lm_head": self.lm_head_params(),
        }

    def total_params(self) -> int:
        """All parameters of the main model (see the module docstring for the convention)."""
        return sum(self.param_breakdown().values())

    def active_params(self) -> int:
        """Parameters used per token: top_k routed experts instead of all of them."""
        total = self.total_params()
        if self.moe is None or not self.num_moe_layers:
            return total
        d = self.hidden_size
        idle = (self.moe.num_experts - self.moe.top_k) * self.moe.expert_params(d)
        return total - self.num_moe_layers * idle

    def weight_bytes(self, bytes_per_element: float) -> float:
        """Bytes to hold every parameter at ``bytes_per_element`` (e.g. 2 for bf16, 0.5 for int4)."""
        return self.total_params() * bytes_per_element

    def windowed_layers(self) -> int:
        """How many layers attend over the last ``sliding_window`` tokens only."""
        if not self.sliding_window:
            return 0
        return len(self.sliding_window_layers) if self.sliding_window_layers else self.num_layers

    # ---- KV cache -----------------------------------------------------------------------------
    def kv_cache_bytes_per_token(self, bytes_per_element: float) -> float:
        """KV-cache bytes one cached token occupies across all layers."""
        return self.num_layers * self.attention.kv_elements_per_token() * bytes_per_element

    def kv_cache_bytes(self, tokens: int, bytes_per_element: float) -> float:
        """KV-cache bytes of one sequence holding ``tokens`` tokens (a windowed layer keeps its window)."""
        windowed = self.windowed_layers()
        kept = min(tokens, self.sliding_window) if windowed else tokens
        layer_token = self.attention.kv_elements_per_token() * bytes_per_element
        return ((self.num_layers - windowed) * tokens + windowed * kept) * layer_token

    def kv_tokens_kept(self, tokens: float) -> float:
        """Tokens of KV one sequence of ``tokens`` tokens keeps, averaged over the layers: a full
        layer keeps every token, a windowed layer its last ``sliding_window`` (what vLLM's hybrid KV
        cache manager and TensorRT-LLM's per-window pools allocate)."""
        windowed = self.windowed_layers()
        if not windowed:
            return float(tokens)
        return ((self.num_layers - windowed) * tokens + windowed * min(tokens, self.sliding_window)) / self.num_layers
