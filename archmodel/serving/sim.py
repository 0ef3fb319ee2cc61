"""An engine-faithful serving simulation: in-flight batching with chunked prefill and paged KV blocks.

Requests of ``isl`` prompt tokens and ``osl`` output tokens run on one engine replica the way
TensorRT-LLM, vLLM and SGLang schedule them (iteration-level scheduling, Orca; chunked prefill,
Sarathi-Serve), within an :class:`~archmodel.serving.engines.EnginePreset`'s limits:

* a request is **admitted** (first come, first served) when fewer than ``max_batch_size`` run and
  the KV blocks for its whole sequence (``ceil((isl + osl) / kv_block_tokens)``) are free; the
  blocks are held until it finishes (TensorRT-LLM's default ``GUARANTEED_NO_EVICT`` policy; vLLM
  and SGLang allocate on demand and preempt, which this simulation does not model). A layer with
  a sliding window holds only the blocks its window spans (``ceil(window / kv_block_tokens) + 1``
  at most): vLLM's hybrid KV cache manager reserves a sliding-window layer's slots "only for the
  most recent sliding_window_size tokens" and TensorRT-LLM keeps one block pool per attention
  window size (vLLM docs, "Hybrid KV Cache Manager"; TensorRT-LLM docs, "KV Cache System");
* each **step** gives every decoding request one token, then fills what is left of
  ``max_num_tokens`` with prompt chunks in admission order (a whole prompt only when
  ``chunked_prefill`` is off); an engine without ``mixed_steps`` runs a prefill-only step whenever
  prompt work is waiting and a decode-only step otherwise;
* the request's first output token comes from the step that runs its last prompt chunk; each
  later step it decodes in yields one more.

The schedule (which request runs what in which step) is integer bookkeeping done first; the
steps are then timed together in one vectorised :func:`archmodel.mixed.mixed_step` call (prefill
chunks of one step are timed as ``n`` chunks of their mean length over their mean cached prefix;
decodes at their mean context, exact for the linear KV reads). Runs of identical decode steps are
scheduled as one block. Closed loop (``concurrency`` clients, each sending its next request when
the previous one finishes) needs no step times to schedule; an open loop (``rate`` requests/s)
does, and is scheduled by fixed-point iteration on the step times until the run's length changes by
less than 0.1 % (``passes`` and ``converged`` in the result).

Reported: TTFT as a request sees it (arrival to first token: queueing plus its prefill steps),
TPOT the mean inter-token latency after the first token, and throughput in steady state: the
first ``concurrency`` requests (the warm-up wave) and the drain after the last arrival are left
out of all three.
"""
from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass, field

import numpy as np

from accelerators.errors import ConfigError

from ..mixed import mixed_step
from ..parallel import Parallelism
from ..precision import Precision
from ..routing import Routing
from ..step import kv_bytes_per_token, stored_weight_bytes
from ..workload import ModelConfig
from .engines import EnginePreset

LIMITS = ("kv_memory", "max_batch_size", "max_num_tokens", "concurrency")


@dataclass(frozen=True)
class KvPool:
    blocks: int  # KV blocks per device (every device of a replica holds its share of each block)
    block_tokens: int
    bytes_per_token: float  # per device, every layer
    kv_bytes: float  # per device
    window_share: float = 0.0  # share of bytes_per_token in sliding-window layers
    window: int = 0  # their window in tokens

    def blocks_for(self, tokens: int) -> float:
        """Blocks (of every layer's share of ``block_tokens`` tokens) a sequence of ``tokens`` holds:
        a full layer all of its tokens', a windowed layer only those its window spans."""
        full = math.ceil(tokens / self.block_tokens)
        if not self.window_share:
            return float(full)
        windowed = min(full, math.ceil(self.window / self.block_tokens) + 1)
        return (1 - self.window_share) * full + self.window_share * windowed


def kv_pool(model: ModelConfig, device, precision: Precision, parallel: Parallelism, engine: EnginePreset) -> KvPool:
    """The paged KV cache the engine allocates on each device of a replica."""
    capacity = float(device.main_memory.capacity)
    weights = stored_weight_bytes(model, precision, parallel)
    if engine.fraction_of == "free":
        kv = engine.memory_fraction * (capacity - weights)
    else:
        kv = engine.memory_fraction * capacity - weights
    per_token = kv_bytes_per_token(model, precision, parallel)
    blocks = int(max(kv, 0.0) // (per_token * engine.kv_block_tokens)) if per_token > 0 else 0
    share = model.windowed_layers() / model.num_layers
    return KvPool(blocks, engine.kv_block_tokens, per_token, max(kv, 0.0), share, model.sliding_window if share else 0)


@dataclass(frozen=True)
class Capacity:
    """The most requests of ``isl + osl`` tokens one engine replica runs at once, and the limit that sets it."""

    requests: int  # per replica
    limit: str  # "kv_memory" or "max_batch_size"
    kv_requests: int  # what the KV blocks alone would hold
    pool: KvPool

    def to_json(self) -> dict:
        return {"requests_per_replica": self.requests, "limit": self.limit, "kv_requests": self.kv_requests}


def engine_capacity(model: ModelConfig, device, precision: Precision, parallel: Parallelism, engine: EnginePreset,
                    isl: int, osl: int) -> Capacity:
    """How many ``isl + osl`` sequences the engine holds at once: the KV blocks its memory share
    gives (each sequence keeps ``KvPool.blocks_for(isl + osl)`` blocks to the end) or
    ``max_batch_size``, whichever is fewer. A sequence that does not fit at all is a ConfigError."""
    pool = kv_pool(model, device, precision, parallel, engine)
    need = pool.blocks_for(isl + osl)
    if need > pool.blocks:
        raise ConfigError(None, "isl + osl", isl + osl,
                          f"a sequence that fits the engine's KV cache: {pool.blocks * pool.block_tokens} tokens "
                          f"({pool.kv_bytes / 1e9:.1f} GB per device after weights of "
                          f"{stored_weight_bytes(model, precision, parallel) / 1e9:.1f} GB); use more devices")
    kv = int(pool.blocks // need)
    if engine.max_batch_size is not None and engine.max_batch_size < kv:
        return Capacity(engine.max_batch_size, "max_batch_size", kv, pool)
    return Capacity(kv, "kv_memory", kv, pool)


@dataclass
class _Schedule:
    """Step runs: each run is ``count`` steps of the same prefill chunks and decode count; the decode
    context grows by one token a step."""

    p_seqs: list = field(default_factory=list)
    p_tokens: list = field(default_factory=list)
    p_ctx: list = field(default_factory=list)
    d_seqs: list = field(default_factory=list)
    d_ctx: list = field(default_factory=list)  # mean decode context in the run's first step
    count: list = field(default_factory=list)
    bound: list = field(default_factory=list)  # the limit that kept a waiting request out, or "concurrency"
    not_before: list = field(default_factory=list)  # open loop: the run starts no earlier (an idle engine)

    def add(self, chunks: list[tuple[int, int]], d_seqs: int, d_ctx: float, count: int, bound: str,
            not_before: float = 0.0) -> None:
        n = len(chunks)
        self.p_seqs.append(n)
        self.p_tokens.append(round(sum(c for c, _ in chunks) / n) if n else 0)
        self.p_ctx.append(round(sum(x for _, x in chunks) / n) if n else 0)
        self.d_seqs.append(d_seqs)
        self.d_ctx.append(d_ctx)
        self.count.append(count)
        self.bound.append(bound)
        self.not_before.append(not_before)

    def steps(self) -> dict[str, np.ndarray]:
        """One entry per step (runs expanded)."""
        count = np.asarray(self.count, dtype=int)
        rep = lambda a: np.repeat(np.asarray(a, dtype=float), count)  # noqa: E731
        offset = np.arange(count.sum()) - np.repeat(np.cumsum(count) - count, count)
        return {"p_seqs": rep(self.p_seqs), "p_tokens": rep(self.p_tokens), "p_ctx": rep(self.p_ctx),
                "d_seqs": rep(self.d_seqs), "d_ctx": rep(self.d_ctx) + offset * (rep(self.d_seqs) > 0),
                "bound": np.repeat(np.asarray(self.bound, dtype=object), count),
                "not_before": np.where(offset == 0, rep(self.not_before), 0.0)}

    @property
    def n_steps(self) -> int:
        return int(sum(self.count))


def _schedule(n: int, isl: int, osl: int, engine: EnginePreset, pool: KvPool, concurrency: int | None,
              arrivals: np.ndarray | None, step_s: np.ndarray | None):
    """Run the scheduler. Returns the step runs and, per request, the step index after which it
    arrived (-1: before the first step; open loop: its arrival time instead), the step of its
    first token and the step it finished."""
    need = pool.blocks_for(isl + osl)
    cap = engine.max_batch_size or n
    sched = _Schedule()
    arrived_after = np.full(n, -1, dtype=float)
    first = np.full(n, -1, dtype=int)
    done = np.full(n, -1, dtype=int)
    prompt_left: dict[int, int] = {}  # admitted requests still in prefill -> prompt tokens left
    decoding: dict[int, int] = {}  # admitted requests past prefill -> output tokens generated
    waiting: deque[int] = deque()
    free = float(pool.blocks)  # blocks_for may be fractional (windowed layers)
    issued = 0
    clock = idle_until = 0.0

    def duration(step: int) -> float:
        if step_s is None or len(step_s) == 0:
            return 0.0
        return float(step_s[min(step, len(step_s) - 1)])

    if arrivals is None:
        issued = min(concurrency or n, n)
        waiting.extend(range(issued))
    while (done < 0).any():
        if arrivals is not None:
            while issued < n and arrivals[issued] <= clock + 1e-12:
                waiting.append(issued)
                arrived_after[issued] = arrivals[issued]
                issued += 1
        bound = "concurrency"
        while waiting:
            if len(prompt_left) + len(decoding) >= cap:
                bound = "max_batch_size"
                break
            if free < need - 1e-9 * need:  # need may be fractional (windowed layers): sums drift
                bound = "kv_memory"
                break
            r = waiting.popleft()
            free -= need
            prompt_left[r] = isl
        step = sched.n_steps
        if not prompt_left and not decoding:  # open loop, idle until the next arrival
            clock = max(clock, float(arrivals[issued])) if arrivals is not None else clock
            idle_until = clock
            continue
        run_prefill = bool(prompt_left)
        decodes = list(decoding) if (engine.mixed_steps or not prompt_left) else []
        budget = engine.max_num_tokens - (len(decodes) if engine.mixed_steps else 0)
        chunks: list[tuple[int, int]] = []
        finished_prefill = []
        if run_prefill:
            for r, left in list(prompt_left.items()):
                if budget <= 0:
                    bound = "max_num_tokens" if bound == "concurrency" else bound
                    break
                take = min(left, budget) if engine.chunked_prefill else (left if left <= budget else 0)
                if take == 0:
                    bound = "max_num_tokens" if bound == "concurrency" else bound
                    break
                chunks.append((take, isl - left))
                budget -= take
                prompt_left[r] = left - take
                if prompt_left[r] == 0:
                    finished_prefill.append(r)
        d_ctx = (sum(isl + decoding[r] - 1 for r in decodes) / len(decodes)) if decodes else 0.0
        # A run of identical decode-only steps: nothing can change until the first request finishes
        # (closed loop), or the next arrival (open loop).
        count = 1
        if not chunks and not prompt_left and decodes:
            count = min(osl - decoding[r] for r in decodes)
            if arrivals is not None and issued < n:
                t, k = clock, 0
                while k < count and t < arrivals[issued]:
                    t += duration(step + k)
                    k += 1
                count = max(k, 1)
        if not chunks and not decodes:
            raise ConfigError(None, "max_num_tokens", engine.max_num_tokens,
                              f"at least the prompt length {isl} when chunked prefill is off")
        sched.add(chunks, len(decodes), d_ctx, count, bound, idle_until)
        idle_until = 0.0
        last = step + count - 1
        for k in range(count):
            clock += duration(step + k)
        for r in decodes:
            decoding[r] += count
        for r in finished_prefill:
            del prompt_left[r]
            first[r] = last
            decoding[r] = 1
        for r in [r for r, g in decoding.items() if g >= osl]:
            del decoding[r]
            done[r] = last
            free += need
            if arrivals is None and issued < n:
                waiting.append(issued)
                arrived_after[issued] = last
                issued += 1
    return sched, arrived_after, first, done


@dataclass(frozen=True)
class SimResult:
    engine: str
    concurrency: int | None  # closed-loop clients on all replicas (None: open loop)
    rate: float | None  # open-loop arrivals per second on all replicas
    requests: int
    isl: int
    osl: int
    devices: int
    ttft_s: float  # mean over the steady-state requests
    tpot_s: float
    output_tokens_per_s: float  # steady state, all replicas
    steps: int  # forward steps of one replica
    mean_batch: float  # mean sequences in a steady-state step
    bound: str  # the limit that most often kept a waiting request out (one of LIMITS; "concurrency": none did)
    bound_steps: dict[str, int]  # steady-state steps per limit
    kv_blocks: int  # KV blocks per device
    passes: int = 1  # scheduling passes (open loop: fixed-point iterations)
    converged: bool = True

    @property
    def output_tokens_per_s_per_device(self) -> float:
        return self.output_tokens_per_s / self.devices

    def to_json(self) -> dict:
        return {
            "engine": self.engine, "concurrency": self.concurrency, "rate": self.rate, "requests": self.requests,
            "isl": self.isl, "osl": self.osl, "devices": self.devices, "ttft_s": self.ttft_s,
            "tpot_s": self.tpot_s, "output_tokens_per_s": self.output_tokens_per_s,
            "output_tokens_per_s_per_device": self.output_tokens_per_s_per_device, "steps": self.steps,
            "mean_batch": self.mean_batch, "bound": self.bound, "bound_steps": dict(self.bound_steps),
            "kv_blocks": self.kv_blocks, "passes": self.passes, "converged": self.converged,
        }


def _check_args(isl, osl, concurrency, rate, requests, parallel: Parallelism) -> None:
    for name, value in (("isl", isl), ("osl", osl)):
        if not isinstance(value, (int, np.integer)) or value < 1:
            raise ConfigError(None, name, value, "a whole number >= 1")
    if (concurrency is None) == (rate is None):
        raise ConfigError(None, "concurrency", concurrency, "give exactly one of concurrency (closed loop) or rate")
    if concurrency is not None and (not isinstance(concurrency, (int, np.integer)) or concurrency < 1
                                    or concurrency % parallel.dp):
        raise ConfigError(None, "concurrency", concurrency, f"a whole number >= 1, a multiple of dp = {parallel.dp}")
    if rate is not None and not (isinstance(rate, (int, float)) and math.isfinite(rate) and rate > 0):
        raise ConfigError(None, "rate", rate, "a number of requests per second > 0")
    if requests is not None and (not isinstance(requests, (int, np.integer)) or requests < 1):
        raise ConfigError(None, "requests", requests, "a whole number >= 1")
    if parallel.pp != 1:
        raise ConfigError(None, "pp", parallel.pp, "1 (pipeline stages are not simulated yet; use serve)")


def _time_steps(sched: _Schedule, model, device, precision, parallel, routing) -> tuple[dict, np.ndarray]:
    st = sched.steps()
    lat = mixed_step(model, device, st["p_seqs"], st["p_tokens"], st["d_seqs"], np.round(st["d_ctx"]),
                     prefill_context=st["p_ctx"], precision=precision, parallel=parallel, routing=routing).latency
    return st, np.asarray(lat, dtype=float).reshape(-1)


def simulate(model: ModelConfig, device, *, isl: int, osl: int, engine: EnginePreset,
             concurrency: int | None = None, rate: float | None = None, requests: int | None = None,
             precision: Precision = Precision(), parallel: Parallelism = Parallelism(),
             routing: Routing = Routing(), seed: int = 0, max_passes: int = 8) -> SimResult:
    """Simulate ``requests`` requests of ``isl`` in, ``osl`` out on ``parallel.dp`` identical engine
    replicas: ``concurrency`` closed-loop clients, or Poisson arrivals at ``rate`` requests/s (seeded).
    ``requests`` defaults to ten per client (closed loop; at least 100) or 200 (open loop)."""
    _check_args(isl, osl, concurrency, rate, requests, parallel)
    dp = parallel.dp
    per_conc = None if concurrency is None else int(concurrency) // dp
    n = int(requests if requests is not None else (max(10 * per_conc, 100) if per_conc else 200))
    pool = engine_capacity(model, device, precision, parallel, engine, isl, osl).pool  # refuses a sequence that cannot fit
    arrivals = None
    if rate is not None:
        arrivals = np.cumsum(np.random.default_rng(seed).exponential(dp / float(rate), n))
    step_s = None
    passes, converged = 0, True
    prev = None
    while True:
        passes += 1
        sched, arrived_after, first, done = _schedule(n, isl, osl, engine, pool, per_conc, arrivals, step_s)
        st, lat = _time_steps(sched, model, device, precision, parallel, routing)
        key = float(lat.sum())
        if arrivals is None or (prev is not None and abs(key - prev) <= 1e-3 * prev):
            break
        if passes >= max_passes:
            converged = False
            break
        prev, step_s = key, lat
    return _summarise(engine, concurrency, rate, n, isl, osl, parallel, pool, passes, converged,
                      st, lat, arrived_after, first, done, arrivals is None, per_conc)


def _summarise(engine, concurrency, rate, n, isl, osl, parallel, pool, passes, converged,
               st, lat, arrived_after, first, done, closed, per_conc) -> SimResult:
    # A step ends its time after the later of the previous step's end and the arrival that woke an
    # idle engine: end[i] = c[i] + max(0, max_j<=i (not_before[j] - c[j-1])) with c the cumulative times.
    c = np.cumsum(lat)
    end = c + np.maximum(np.maximum.accumulate(st["not_before"] - (c - lat)), 0.0)
    if closed:
        arrival = np.where(arrived_after < 0, 0.0, end[np.maximum(arrived_after, 0).astype(int)])
        lo, hi = per_conc, n - per_conc
    else:
        arrival = arrived_after
        lo, hi = n // 10, n - n // 10
    if hi <= lo:
        lo, hi = 0, n
    steady = np.arange(lo, hi)
    ttft = end[first] - arrival
    tpot = (end[done] - end[first]) / (osl - 1) if osl > 1 else np.zeros(n)
    tokens = st["d_seqs"] + np.bincount(first, minlength=len(lat))[: len(lat)]
    t0, t1 = arrival[steady[0]], arrival[steady[-1]]
    if t1 > t0:
        window = (end > t0) & (end <= t1)
        span = t1 - t0
    else:
        window, span = np.ones(len(lat), dtype=bool), end[-1]
    throughput = float(tokens[window].sum() / span) * parallel.dp
    bounds = st["bound"][window]
    counts = {lim: int((bounds == lim).sum()) for lim in LIMITS}
    bound = max(LIMITS, key=lambda k: counts[k])
    return SimResult(
        engine=engine.name, concurrency=concurrency, rate=rate, requests=n, isl=isl, osl=osl,
        devices=parallel.devices, ttft_s=float(ttft[steady].mean()), tpot_s=float(tpot[steady].mean()),
        output_tokens_per_s=throughput, steps=len(lat),
        mean_batch=float((st["d_seqs"] + st["p_seqs"])[window].mean()), bound=bound, bound_steps=counts,
        kv_blocks=pool.blocks, passes=passes, converged=converged)
