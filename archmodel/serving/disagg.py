"""Prefill/decode-disaggregated serving at a client concurrency, on any device kind (closed loop).

Two pools of engine workers serve the two phases (DistServe, Splitwise; NVIDIA Dynamo and SGLang
run them so): a request is prefilled by one attention replica of the prefill pool, its KV cache is
sent to the decode pool, and it decodes there in an in-flight batch. ``concurrency`` clients each
send their next request when the previous one ends. In steady state (Little's law):

* request rate ``lambda = concurrency / (TTFT + (osl - 1) TPOT)``;
* prefill: ``c`` servers (the pool's attention replicas) of service time ``t_p`` (one ISL-token
  prefill step on the worker's split, every replica with its own request); the wait in the queue
  is the M/D/c mean by the Allen-Cunneen approximation (Erlang C times ``t_p / (c (1 - rho))``,
  halved for deterministic service). When ``rho`` would reach 1 the pool is the bottleneck:
  ``lambda = c / t_p`` and the clients wait for it, ``TTFT = concurrency / lambda - (osl - 1) TPOT``;
* KV transfer: the request's whole cache (``ModelConfig.kv_cache_bytes``) over the prefill
  replica's scale-out links (one per device of its tensor-parallel group), plus one link latency;
* decode: the requests in the decode phase, ``lambda (osl - 1) TPOT``, spread over the decode
  replicas; TPOT is the mean decode step at that batch over contexts ISL .. ISL + OSL - 1. A batch
  cap (the engine's ``max_batch_size`` per replica, or what the KV memory holds) bounds it; beyond
  it the decode pool is the bottleneck and requests wait for a slot (counted in TTFT).

The fixed point is found by damped iteration (at most 200 passes, relative change < 1e-6).
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from accelerators.errors import ConfigError

from ..parallel import Parallelism
from ..precision import Precision
from ..step import kv_bytes_per_sequence, model_step, stored_weight_bytes
from ..workload import ModelConfig

__all__ = ["PhasePool", "DisaggregatedRun", "erlang_c", "simulate_disaggregated"]


@dataclass(frozen=True)
class PhasePool:
    """``workers`` engine instances of one phase, each split as ``parallel`` (``dp`` attention
    replicas per worker); ``max_batch``: sequences one replica holds (None: its KV memory decides)."""

    workers: int
    parallel: Parallelism
    max_batch: int | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.workers, int) or self.workers < 1:
            raise ConfigError(None, "pool.workers", self.workers, "a whole number >= 1")
        if self.max_batch is not None and (not isinstance(self.max_batch, int) or self.max_batch < 1):
            raise ConfigError(None, "pool.max_batch", self.max_batch, "a whole number >= 1, or none")

    @property
    def replicas(self) -> int:
        return self.workers * self.parallel.dp

    @property
    def devices(self) -> int:
        return self.workers * self.parallel.devices


@dataclass(frozen=True)
class DisaggregatedRun:
    """The steady state of a disaggregated deployment under ``concurrency`` closed-loop clients."""

    concurrency: int
    isl: int
    osl: int
    ttft_s: float
    prefill_s: float  # one prefill step (service time)
    queue_s: float  # waiting for a prefill replica, or for a decode slot when decode binds
    transfer_s: float  # KV cache to the decode pool
    tpot_s: float
    decode_batch: float  # sequences per decode replica
    requests_per_s: float
    output_tokens_per_s: float
    prefill_utilisation: float
    bound: str  # "clients" (neither pool saturated), "prefill", "decode_slots"
    prefill_devices: int
    decode_devices: int

    def to_json(self) -> dict:
        return asdict(self)


def erlang_c(servers: int, load: float) -> float:
    """Probability that an arrival waits in an M/M/c queue with offered ``load`` (Erlangs)."""
    if load <= 0:
        return 0.0
    if load >= servers:
        return 1.0
    term, total = 1.0, 1.0
    for n in range(1, servers):
        term *= load / n
        total += term
    last = term * load / servers / (1 - load / servers)
    return last / (total + last)


def _transfer_s(model: ModelConfig, device, precision: Precision, pool: PhasePool, isl: int) -> float:
    link = device.interconnect.scale_out or device.interconnect.scale_up
    if link is None:
        raise ConfigError(None, "device", device.name, "a device with a scale-out or scale-up link: the prefill "
                          "pool sends each request's KV cache to the decode pool over it")
    nbytes = model.kv_cache_bytes(isl, precision.kv_bytes)
    return nbytes / (link.bandwidth * pool.parallel.tp) + (link.latency or 0.0)


def _decode_cap(model: ModelConfig, device, precision: Precision, pool: PhasePool, tokens: int) -> int:
    """Sequences one decode replica holds: its KV memory after the weights, and ``max_batch``."""
    free = device.main_memory.capacity - stored_weight_bytes(model, precision, pool.parallel)
    per_seq = kv_bytes_per_sequence(model, precision, pool.parallel, tokens)
    fits = int(free // per_seq) if per_seq > 0 else 1 << 30
    if fits < 1:
        raise ConfigError(None, "decode pool", pool.parallel.devices,
                          f"a split whose memory holds the weights and one {tokens}-token sequence per device")
    return min(fits, pool.max_batch) if pool.max_batch else fits


def simulate_disaggregated(model: ModelConfig, device, *, isl: int, osl: int, concurrency: int,
                           prefill: PhasePool, decode: PhasePool,
                           precision: Precision = Precision()) -> DisaggregatedRun:
    """The closed-loop steady state described in the module docstring."""
    for name, value in (("isl", isl), ("osl", osl), ("concurrency", concurrency)):
        if not isinstance(value, (int, np.integer)) or value < 1:
            raise ConfigError(None, name, value, "a whole number >= 1")
    t_p = float(model_step(model, device, b=1, s=isl, c=0, precision=precision, parallel=prefill.parallel).latency)
    t_x = _transfer_s(model, device, precision, prefill, isl)
    cap = _decode_cap(model, device, precision, decode, isl + osl)
    steps = max(osl - 1, 1)
    # the mean step over contexts isl .. isl + osl - 2 (32 evenly spaced points: exact for the
    # context-linear KV reads), at batches 1 .. cap (every whole batch up to 64, then geometric)
    contexts = isl + np.linspace(0.0, steps - 1, min(steps, 32))
    top = min(cap, concurrency)
    batches = np.unique(np.concatenate([np.arange(1, min(top, 64) + 1),
                                        np.geomspace(64, max(top, 64), 48).round()]).clip(1, top)).astype(float)
    grid = np.asarray(model_step(model, device, b=batches[:, None], s=1, c=contexts[None, :], precision=precision,
                                 parallel=decode.parallel).latency).mean(axis=1)
    servers = prefill.replicas

    def tpot_at(batch: float) -> float:
        return float(np.interp(min(max(batch, 1.0), batches[-1]), batches, grid))

    ttft, tpot, lam, queue, bound = t_p + t_x, tpot_at(concurrency / decode.replicas), 0.0, 0.0, "clients"
    for _ in range(200):
        lam = concurrency / (ttft + steps * tpot)
        limit_p = servers / t_p
        limit_d = decode.replicas * cap / (steps * tpot)
        if lam >= min(limit_p, limit_d) * (1 - 1e-9):
            lam = min(limit_p, limit_d)
            bound = "prefill" if limit_p <= limit_d else "decode_slots"
        else:
            bound = "clients"
        batch = min(lam * steps * tpot / decode.replicas, cap)
        new_tpot = tpot_at(batch)
        if bound == "clients":
            load = lam * t_p
            queue = erlang_c(servers, load) * t_p / (servers * (1 - load / servers)) / 2
            new_ttft = queue + t_p + t_x
        else:
            new_ttft = max(concurrency / lam - steps * new_tpot, t_p + t_x)
            queue = new_ttft - t_p - t_x
        change = abs(new_ttft - ttft) / ttft + abs(new_tpot - tpot) / tpot
        ttft, tpot = 0.5 * (ttft + new_ttft), 0.5 * (tpot + new_tpot)
        if change < 1e-6:
            break
    return DisaggregatedRun(
        concurrency=int(concurrency), isl=int(isl), osl=int(osl), ttft_s=ttft, prefill_s=t_p, queue_s=queue,
        transfer_s=t_x, tpot_s=tpot, decode_batch=min(lam * steps * tpot / decode.replicas, cap),
        requests_per_s=lam, output_tokens_per_s=lam * osl, prefill_utilisation=min(lam * t_p / servers, 1.0),
        bound=bound, prefill_devices=prefill.devices, decode_devices=decode.devices)

