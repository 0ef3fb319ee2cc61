"""Serving estimate: an offline max-throughput run of ``batch`` requests of ISL in, OSL out.

Like an offline throughput benchmark (e.g. TensorRT-LLM's ``benchmark``): the batch is prefilled
(time to first token), then decoded one token per sequence per step, the KV cache growing by one
token a step; output tokens/s = batch x OSL / (prefill + decode). The first output token comes
from the prefill, so a request takes OSL - 1 decode steps. With ``pp`` pipeline stages the batch
runs as ``pp`` micro-batches, so a decode round costs ``pp`` stage times of a micro-batch.

``batch="auto"`` takes the largest batch whose KV cache fits: after the weights, a fraction
``KV_CACHE_FRACTION`` of the free memory holds KV (TensorRT-LLM's default
``kv_cache_free_gpu_mem_fraction`` of 0.9; the rest is activations and workspace).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from accelerators.errors import ConfigError

from .parallel import Parallelism
from .precision import Precision
from .routing import Routing
from .step import kv_bytes_per_sequence, model_step, stored_weight_bytes
from .devices.gpu import BOUND_NAMES, weights_tier
from .energy import step_energy
from .workload import ModelConfig

KV_CACHE_FRACTION = 0.9


@dataclass(frozen=True)
class MemoryUse:
    weights_bytes: float  # per device
    kv_bytes: float  # per device, at the full context ISL + OSL
    capacity_bytes: float  # main memory per device


@dataclass(frozen=True)
class ServeResult:
    batch: int  # concurrent sequences on all devices
    devices: int
    isl: int
    osl: int
    ttft_s: float
    tpot_s: float
    prefill_s: float
    decode_s: float
    output_tokens_per_s: float  # all devices together
    bottleneck: str
    memory: MemoryUse
    weight_tier: str
    energy_j_per_token: float = float("nan")  # all devices, per output token (archmodel.energy)
    energy_defaults: tuple[str, ...] = ()  # energy fields that fell back to the defaults by kind

    @property
    def output_tokens_per_s_per_device(self) -> float:
        return self.output_tokens_per_s / self.devices

    def to_json(self) -> dict:
        return {
            "batch": self.batch, "devices": self.devices, "isl": self.isl, "osl": self.osl,
            "ttft_s": self.ttft_s, "tpot_s": self.tpot_s, "prefill_s": self.prefill_s, "decode_s": self.decode_s,
            "output_tokens_per_s": self.output_tokens_per_s,
            "output_tokens_per_s_per_device": self.output_tokens_per_s_per_device,
            "bottleneck": self.bottleneck, "weight_tier": self.weight_tier,
            "energy_j_per_token": self.energy_j_per_token, "energy_defaults": list(self.energy_defaults),
            "memory": {"weights_bytes": self.memory.weights_bytes, "kv_bytes": self.memory.kv_bytes,
                       "capacity_bytes": self.memory.capacity_bytes},
        }


def max_batch(model: ModelConfig, device, precision: Precision, parallel: Parallelism, tokens: int) -> int:
    """Largest number of sequences per tensor-parallel group whose KV cache of ``tokens`` fits."""
    capacity = device.main_memory.capacity
    free = capacity - stored_weight_bytes(model, precision, parallel)
    per_seq = kv_bytes_per_sequence(model, precision, parallel, tokens)
    if free <= 0 or per_seq <= 0:
        return 0
    return int(KV_CACHE_FRACTION * free // per_seq)


def serve(model: ModelConfig, device, *, isl: int, osl: int, batch: int | str = "auto",
          precision: Precision = Precision(), parallel: Parallelism = Parallelism(),
          routing: Routing = Routing()) -> ServeResult:
    """Estimate TTFT, TPOT and throughput of ``batch`` requests (``"auto"``: the largest that fits)."""
    for name, value in (("isl", isl), ("osl", osl)):
        if not isinstance(value, (int, np.integer)) or value < 1:
            raise ConfigError(None, name, value, "a whole number >= 1")
    weights = stored_weight_bytes(model, precision, parallel)
    capacity = device.main_memory.capacity
    tier = weights_tier(device, weights)
    replicas = parallel.dp
    if batch == "auto":
        per_group = max_batch(model, device, precision, parallel, isl + osl)
        if per_group < 1:
            need = weights / 1e9
            raise ConfigError(None, "batch", "auto",
                              f"no sequence of {isl + osl} tokens fits: weights take {need:.1f} GB of "
                              f"{capacity / 1e9:.1f} GB per device; use more devices (--devices/--tp/--ep/--pp) "
                              "or a smaller --dtype")
    else:
        if not isinstance(batch, (int, np.integer)) or batch < 1:
            raise ConfigError(None, "batch", batch, "a whole number >= 1 or 'auto'")
        if batch % replicas:
            raise ConfigError(None, "batch", batch, f"a multiple of the data-parallel degree {replicas}")
        per_group = batch // replicas
        # Weights that do not fit stream from the host tier each step (offload); the KV cache must
        # still fit main memory next to whatever weights stay there.
        resident = weights if tier == device.main_memory.name else 0.0
        kv_need = kv_bytes_per_sequence(model, precision, parallel, isl + osl) * per_group
        if resident + kv_need > capacity:
            raise ConfigError(None, "batch", batch,
                              f"at most {max_batch(model, device, precision, parallel, isl + osl) * replicas} "
                              f"sequences of {isl + osl} tokens fit ({(resident + kv_need) / 1e9:.1f} GB needed, "
                              f"{capacity / 1e9:.1f} GB per device)")
    pp = parallel.pp
    micro = per_group / pp
    prefill = model_step(model, device, b=micro, s=isl, c=0, precision=precision, parallel=parallel,
                         routing=routing, weight_tier=tier)
    contexts = isl + np.arange(max(osl - 1, 0), dtype=float)
    prefill_s = float(prefill.latency) * (2 * pp - 1)
    if osl > 1:
        decode = model_step(model, device, b=micro, s=1, c=contexts, precision=precision, parallel=parallel,
                            routing=routing, weight_tier=tier)
        decode_s = float(decode.latency.sum()) * pp
        by_bound = prefill.times.time_by_bound() * (2 * pp - 1) + decode.times.time_by_bound().sum(axis=1) * pp
    else:
        decode_s = 0.0
        by_bound = prefill.times.time_by_bound()
    total = prefill_s + decode_s
    sequences = per_group * replicas
    kv = kv_bytes_per_sequence(model, precision, parallel, isl + osl) * per_group
    # Energy: every device runs each of the pp micro-batches through its stage (dynamic energy of
    # the steps), and draws static power (if the device file gives it) for the whole run.
    e_prefill = step_energy(prefill, device, precision, parallel)
    dynamic = float(e_prefill.dynamic_j)
    if osl > 1:
        dynamic += float(step_energy(decode, device, precision, parallel).dynamic_j.sum())
    energy = parallel.devices * (pp * dynamic + e_prefill.figures.static_power * total)
    return ServeResult(
        batch=int(sequences), devices=parallel.devices, isl=isl, osl=osl, ttft_s=prefill_s,
        tpot_s=decode_s / (osl - 1) if osl > 1 else 0.0, prefill_s=prefill_s, decode_s=decode_s,
        output_tokens_per_s=sequences * osl / total, bottleneck=BOUND_NAMES[int(np.argmax(by_bound))],
        memory=MemoryUse(weights, kv, capacity), weight_tier=tier,
        energy_j_per_token=energy / (sequences * osl), energy_defaults=e_prefill.figures.defaulted)
