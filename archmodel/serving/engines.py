"""Serving-engine presets: the scheduling limits an engine runs with by default, each with its source.

A preset is what the simulation in :mod:`archmodel.serving.sim` needs of an engine:

* ``max_batch_size``: most requests in flight at once (TensorRT-LLM ``max_batch_size``, vLLM
  ``max_num_seqs``, SGLang ``max_running_requests``; ``None``: no cap but the KV cache);
* ``max_num_tokens``: most tokens one forward step takes, prefill chunks and decodes together
  (TensorRT-LLM ``max_num_tokens``, vLLM ``max_num_batched_tokens``; for SGLang, which runs
  prefill and decode in separate steps by default, the prefill tokens of a step:
  ``chunked_prefill_size``);
* ``kv_block_tokens``: tokens per paged KV block (TensorRT-LLM ``tokens_per_block``, vLLM
  ``block_size``, SGLang ``page_size``);
* ``memory_fraction`` and ``fraction_of``: the KV cache gets ``memory_fraction`` of the memory
  left after the weights (``"free"``, TensorRT-LLM ``free_gpu_memory_fraction``) or the engine
  gets ``memory_fraction`` of all memory for weights and KV together (``"total"``, vLLM
  ``gpu_memory_utilization``, SGLang ``mem_fraction_static``);
* ``chunked_prefill``: a prompt longer than the step's free token budget is split over steps;
* ``mixed_steps``: prefill chunks and decodes share one step (in-flight batching); when false the
  engine alternates prefill-only and decode-only steps, prefill first.

``SOURCES`` gives, for every figure, where it was read; ``UNCONFIRMED`` names the figures the
search of the engines' documentation could not confirm (they are the engine's source defaults as
the authors know them, and the first thing to check against a real deployment).
"""
from __future__ import annotations

from dataclasses import dataclass, fields, replace

from accelerators.errors import ConfigError


@dataclass(frozen=True)
class EnginePreset:
    name: str
    max_batch_size: int | None
    max_num_tokens: int
    kv_block_tokens: int
    memory_fraction: float
    fraction_of: str  # "free" (after weights) or "total"
    chunked_prefill: bool
    mixed_steps: bool

    def __post_init__(self) -> None:
        if self.max_batch_size is not None and (not isinstance(self.max_batch_size, int) or self.max_batch_size < 1):
            raise ConfigError(None, "max_batch_size", self.max_batch_size, "a whole number >= 1 (or none)")
        for name in ("max_num_tokens", "kv_block_tokens"):
            value = getattr(self, name)
            if not isinstance(value, int) or value < 1:
                raise ConfigError(None, name, value, "a whole number >= 1")
        if not 0.0 < self.memory_fraction <= 1.0:
            raise ConfigError(None, "memory_fraction", self.memory_fraction, "a number in (0, 1]")
        if self.fraction_of not in ("free", "total"):
            raise ConfigError(None, "fraction_of", self.fraction_of, "'free' or 'total'")

    def with_limits(self, **limits) -> "EnginePreset":
        """The preset with some limits overridden (``None`` values are ignored)."""
        allowed = {f.name for f in fields(self)} - {"name"}
        for key in limits:
            if key not in allowed:
                raise ConfigError(None, key, limits[key], f"allowed: {', '.join(sorted(allowed))}")
        return replace(self, **{k: v for k, v in limits.items() if v is not None})

    def to_json(self) -> dict:
        return {f.name: getattr(self, f.name) for f in fields(self)}


PRESETS: dict[str, EnginePreset] = {
    "trtllm": EnginePreset("trtllm", max_batch_size=2048, max_num_tokens=8192, kv_block_tokens=32,
                           memory_fraction=0.9, fraction_of="free", chunked_prefill=False, mixed_steps=True),
    "vllm": EnginePreset("vllm", max_batch_size=256, max_num_tokens=8192, kv_block_tokens=16,
                         memory_fraction=0.9, fraction_of="total", chunked_prefill=True, mixed_steps=True),
    "sglang": EnginePreset("sglang", max_batch_size=None, max_num_tokens=8192, kv_block_tokens=1,
                           memory_fraction=0.9, fraction_of="total", chunked_prefill=True, mixed_steps=False),
}

SOURCES: dict[str, dict[str, str]] = {
    "trtllm": {
        "max_batch_size": "TensorRT-LLM BuildConfig / LLM-API default max_batch_size 2048 (as the issue states); "
                          "the trtllm-serve pages disagree by version (mintlify.com/NVIDIA/TensorRT-LLM "
                          "deployment/trtllm-serve lists 256, cli/trtllm-serve lists 8)",
        "max_num_tokens": "trtllm-serve --max_num_tokens default 8192 (mintlify.com/NVIDIA/TensorRT-LLM/"
                          "deployment/trtllm-serve; nemo_deploy TensorRTLLMAPIDeployable max_num_tokens=8192)",
        "kv_block_tokens": "KvCacheConfig tokens_per_block 32",
        "memory_fraction": "KvCacheConfig free_gpu_memory_fraction default 0.9: 'allocate 90% of free GPU "
                           "memory for KV cache' (nvidia.github.io/TensorRT-LLM/examples/kvcacheconfig.html)",
        "fraction_of": "same page: a fraction of the memory free after weights and buffers",
        "chunked_prefill": "LLM-API enable_chunked_prefill default false (the tuning guide turns it on with "
                           "--enable_chunked_context)",
        "mixed_steps": "in-flight batching schedules context and generation requests in one step "
                       "(nvidia.github.io/TensorRT-LLM/performance/performance-tuning-guide/"
                       "tuning-max-batch-size-and-max-num-tokens.html)",
    },
    "vllm": {
        "max_batch_size": "max_num_seqs 256 (the long-standing vLLM default; V1 raises it on large GPUs)",
        "max_num_tokens": "max_num_batched_tokens 8192 for online serving (docs.hivenet.com advanced vLLM "
                          "settings: 'Max batched tokens ... 8192'; vllm-project/vllm#4580 records the older 512)",
        "kv_block_tokens": "block_size default 16 (vLLM optimisation reference: '--block-size 16' default)",
        "memory_fraction": "gpu_memory_utilization default 0.9 (vLLM engine arguments, e.g. "
                           "unsloth.ai vLLM engine arguments page; docs.hivenet.com: 'GPU memory fraction 0.9')",
        "fraction_of": "gpu_memory_utilization is the share of all GPU memory the instance uses "
                       "(weights, activations and KV cache)",
        "chunked_prefill": "vLLM V1 enables chunked prefill by default (docs/configuration/optimization.md)",
        "mixed_steps": "chunked prefill batches prefill chunks with decodes in one step (same page)",
    },
    "sglang": {
        "max_batch_size": "max_running_requests: no default cap, derived from the KV pool "
                          "(docs.sglang.ai server arguments)",
        "max_num_tokens": "chunked_prefill_size 8192 on GPUs > 60 GB (mintlify.com/sgl-project/sglang/api/"
                          "server-args: auto-calculated, 'Large GPUs (>60GB): 8192+')",
        "kv_block_tokens": "page_size default 1 token",
        "memory_fraction": "mem_fraction_static default 0.9 (docs.sglang.ai/backend/server_arguments.html; "
                           "newer versions derive it from the GPU's memory)",
        "fraction_of": "mem_fraction_static: the share of GPU memory for weights and the KV pool",
        "chunked_prefill": "chunked prefill on unless --chunked-prefill-size -1 (huggingface.co/docs/"
                           "inference-endpoints/engines/sglang)",
        "mixed_steps": "enable_mixed_chunk default false: prefill and decode run as separate batches",
    },
}

UNCONFIRMED: dict[str, tuple[str, ...]] = {
    "trtllm": ("max_batch_size", "kv_block_tokens", "chunked_prefill"),
    "vllm": ("max_batch_size",),
    "sglang": ("kv_block_tokens", "mixed_steps"),
}


def engine_preset(name: str) -> EnginePreset:
    """The preset named ``name`` (``trtllm``, ``vllm``, ``sglang``)."""
    try:
        return PRESETS[name.strip().lower()]
    except (KeyError, AttributeError):
        raise ConfigError(None, "engine", name, f"allowed: {', '.join(PRESETS)}") from None
