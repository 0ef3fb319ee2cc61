"""Composition of Experts: many expert models kept in a slow tier, cached in HBM on demand.

Samba-CoE (Prabhakar et al., MICRO 2024) serves 150 Llama-2-7B experts behind a router on one
8-socket SN40L node: every expert lives in DDR; when a request is routed to an expert that is not
in HBM, its weights are copied DDR -> HBM (*model switching*) and kept there, least recently used
out first, in the HBM that the running model's KV cache and the router leave free. The same
scheme on a GPU system keeps the experts in host memory and copies them over PCIe.

**Switching time** of one expert = its weight bytes / the bandwidth of the copy path
(:func:`switch_path`):

* RDU: every socket the expert is sharded over (tensor parallel over the node's ``devices``
  sockets) copies its shard from its own DDR at ``rdu.ddr_to_hbm``, all in parallel: the node moves
  8 x 125 GB/s = 1 TB/s (the paper's "over 1 TB/s").
* GPU: the copy crosses ``host_links`` host links of ``interconnect.host.bandwidth`` each.
  ``HOST_LINKS_PAPER = 1`` is the paper's accounting: its 31x (DGX A100) and 15-16x (DGX H100)
  speedups are 1 TB/s / 32 GB/s = 31.25 and 1 TB/s / 64 GB/s = 15.6, i.e. the whole expert goes
  through *one* PCIe x16 link; eight links in parallel would make them 3.9x and 1.95x. One link is
  what happens when the expert is loaded into one GPU (a 13.5 GB Llama-2-7B fits one 80 GB GPU)
  or funnelled through one loader stream and scattered over NVLink; ``host_links = devices`` is
  the upper bound where every GPU pulls its own shard over its own x16 link (in a DGX the PCIe
  switches' uplinks and the CPUs' memory bandwidth may cap that lower; no figure for that cap is
  in the catalog, so it is not modelled).

**Request stream** (:func:`simulate_coe`): ``requests`` requests, each routed to one expert by a
seeded draw (uniform or Zipf popularity), are served ``batch`` at a time in arrival order. Within
a batch, the requests of one expert form one sub-batch (a *run*); runs execute one after another
on the whole system (the expert tensor-parallel over all ``devices``). A run whose expert is not
cached first pays one switch. A run's time is the prefill of its sub-batch (ISL tokens) plus
OSL - 1 decode steps with a growing KV cache (as :mod:`archmodel.serve`), from the device's own
model (RDU dataflow model or GPU roofline) through the sweep path. If a router model is given,
each batch first pays the router's prefill over the batch's prompts and the router stays in HBM.
Switches are not overlapped with compute (the paper reports switching as an added cost).

The LRU simulation is an event loop over requests (O(requests)); :func:`che_hit_rate` is the
closed-form (Che et al.) expectation it is checked against.
"""
from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass

import numpy as np

from accelerators.errors import ConfigError
from accelerators.kinds.rdu import RduSpec

from .parallel import Parallelism
from .precision import Precision
from .routing import Routing, expert_popularity
from .step import step_latency
from .workload import ModelConfig

HOST_LINKS_PAPER = 1  # host links one GPU-system switch uses: the accounting behind the paper's 31x / 15-16x


@dataclass(frozen=True)
class SwitchPath:
    """How an expert's weights travel on a switch: ``links`` parallel links of ``link_bandwidth``."""

    source: str  # "ddr" (RDU) or "host" (GPU system)
    links: int
    link_bandwidth: float  # bytes/s per link
    link_name: str

    @property
    def bandwidth(self) -> float:
        return self.links * self.link_bandwidth

    def time(self, nbytes: float) -> float:
        """Seconds to copy ``nbytes`` (bytes / bandwidth, exactly)."""
        return nbytes / self.bandwidth


def switch_path(device, devices: int, host_links: int = HOST_LINKS_PAPER) -> SwitchPath:
    """The copy path of a switch on ``devices`` x ``device`` (see the module docstring)."""
    _whole("devices", devices)
    if device.kind == "rdu":
        rdu = device.section(RduSpec)
        if rdu is None:
            raise ConfigError(device.name, "rdu.ddr_to_hbm", None, "a DDR->HBM bandwidth for an RDU")
        return SwitchPath("ddr", devices, rdu.ddr_to_hbm, "DDR->HBM per socket")
    host = device.interconnect.host
    if host is None:
        raise ConfigError(device.name, "interconnect.host", None,
                          "a host link (bandwidth per direction) to copy experts from host memory")
    _whole("host-links", host_links)
    if host_links > devices:
        raise ConfigError(None, "host-links", host_links, f"at most the number of devices ({devices})")
    return SwitchPath("host", host_links, host.bandwidth, host.name)


def expert_bytes(model: ModelConfig, precision: Precision = Precision()) -> float:
    """Bytes copied on a switch: every parameter of the expert model (norms included)."""
    return model.weight_bytes(precision.weight_bytes)


def switch_time(model: ModelConfig, device, devices: int, precision: Precision = Precision(),
                host_links: int = HOST_LINKS_PAPER) -> float:
    """Seconds to bring one expert from DDR (RDU) or host memory (GPU) into HBM."""
    return switch_path(device, devices, host_links).time(expert_bytes(model, precision))


# ---- routing and the LRU cache ------------------------------------------------------------------
def route_requests(requests: int, experts: int, routing: Routing = Routing(), seed: int = 0) -> np.ndarray:
    """Expert index of each request: a seeded draw from uniform or Zipf popularity (expert 0 hottest)."""
    p = expert_popularity(experts, 1, routing)
    return np.random.default_rng(seed).choice(experts, size=requests, p=p / p.sum())


@dataclass(frozen=True)
class CacheTrace:
    """What the LRU cache did: one row per run (an expert's sub-batch within a batch)."""

    run_batch: np.ndarray  # batch index of each run
    run_expert: np.ndarray
    run_size: np.ndarray  # requests in the run
    run_miss: np.ndarray  # True: the run paid a switch
    compulsory: int  # distinct experts seen (first-touch misses)

    @property
    def accesses(self) -> int:
        return int(self.run_size.size)

    @property
    def misses(self) -> int:
        return int(self.run_miss.sum())

    @property
    def hits(self) -> int:
        return self.accesses - self.misses

    @property
    def hit_rate(self) -> float:
        return self.hits / self.accesses if self.accesses else 0.0


def simulate_lru(expert_ids: np.ndarray, batch: int, slots: int) -> CacheTrace:
    """Serve ``expert_ids`` in batches of ``batch`` through an LRU cache of ``slots`` experts.

    Each batch's experts are accessed once, in order of first appearance in the batch."""
    _whole("batch", batch)
    _whole("cache slots", slots)
    cache: OrderedDict[int, None] = OrderedDict()
    ids = np.asarray(expert_ids).tolist()
    run_batch, run_expert, run_size, run_miss = [], [], [], []
    seen = set()
    for k, start in enumerate(range(0, len(ids), batch)):
        groups: dict[int, int] = {}
        for e in ids[start:start + batch]:
            groups[e] = groups.get(e, 0) + 1
        for e, n in groups.items():
            if e in cache:
                cache.move_to_end(e)
                miss = False
            else:
                miss = True
                if len(cache) >= slots:
                    cache.popitem(last=False)
                cache[e] = None
                seen.add(e)
            run_batch.append(k)
            run_expert.append(e)
            run_size.append(n)
            run_miss.append(miss)
    return CacheTrace(np.array(run_batch, dtype=int), np.array(run_expert, dtype=int), np.array(run_size, dtype=int),
                      np.array(run_miss, dtype=bool), len(seen))


def che_hit_rate(popularity: np.ndarray, slots: int) -> float:
    """Che's approximation of an LRU cache's hit rate under independent requests of ``popularity``:
    the characteristic time ``t`` solves ``sum_i (1 - exp(-p_i t)) = slots`` and the hit rate is
    ``sum_i p_i (1 - exp(-p_i t))``. Uniform popularity gives exactly ``slots / N``."""
    p = np.asarray(popularity, dtype=float)
    p = p / p.sum()
    if slots >= p.size:
        return 1.0
    lo, hi = 0.0, 1.0
    while (1 - np.exp(-p * hi)).sum() < slots:
        hi *= 2
    for _ in range(200):
        mid = 0.5 * (lo + hi)
        if (1 - np.exp(-p * mid)).sum() < slots:
            lo = mid
        else:
            hi = mid
    return float((p * (1 - np.exp(-p * hi))).sum())


# ---- the serving simulation ---------------------------------------------------------------------
@dataclass(frozen=True)
class CoEResult:
    device: str
    devices: int
    expert_model: str
    experts: int
    batch: int
    isl: int
    osl: int
    requests: int
    routing: str
    expert_bytes: float
    switch: SwitchPath
    switch_time_s: float  # one expert, DDR/host -> HBM
    cache_slots: int
    hbm_free_bytes: float  # HBM left for cached experts (all devices)
    trace: CacheTrace
    compute_time_s: float  # prefill + decode of all runs
    router_time_s: float
    total_time_s: float

    @property
    def switches(self) -> int:
        return self.trace.misses

    @property
    def switch_time_total_s(self) -> float:
        return self.switches * self.switch_time_s

    @property
    def output_tokens_per_s(self) -> float:
        return self.requests * self.osl / self.total_time_s

    def to_json(self) -> dict:
        t = self.trace
        return {
            "device": self.device, "devices": self.devices, "expert_model": self.expert_model,
            "experts": self.experts, "batch": self.batch, "isl": self.isl, "osl": self.osl,
            "requests": self.requests, "routing": self.routing,
            "expert_bytes": self.expert_bytes,
            "switch_source": self.switch.source, "switch_link": self.switch.link_name,
            "switch_links": self.switch.links, "switch_bandwidth_bytes_per_s": self.switch.bandwidth,
            "switch_time_s": self.switch_time_s,
            "cache_slots": self.cache_slots, "hbm_free_bytes": self.hbm_free_bytes,
            "accesses": t.accesses, "hits": t.hits, "switches": t.misses, "compulsory_switches": t.compulsory,
            "hit_rate": t.hit_rate,
            "switch_time_total_s": self.switch_time_total_s,
            "switch_time_per_request_s": self.switch_time_total_s / self.requests,
            "switch_share": self.switch_time_total_s / self.total_time_s,
            "compute_time_s": self.compute_time_s, "router_time_s": self.router_time_s,
            "total_time_s": self.total_time_s, "output_tokens_per_s": self.output_tokens_per_s,
        }


def run_times(model: ModelConfig, device, parallel: Parallelism, precision: Precision, batch: int, isl: int,
              osl: int) -> np.ndarray:
    """Seconds to serve a sub-batch of n = 1..batch requests: prefill of ISL, then OSL - 1 decode
    steps (contexts ISL .. ISL + OSL - 2), one vectorised call each."""
    n = np.arange(1, batch + 1, dtype=float)
    prefill = step_latency(model, device, b=n, s=isl, c=0, precision=precision, parallel=parallel)
    if osl <= 1:
        return np.asarray(prefill, dtype=float)
    contexts = isl + np.arange(osl - 1, dtype=float)
    decode = step_latency(model, device, b=n[:, None], s=1, c=contexts[None, :], precision=precision,
                          parallel=parallel)
    return np.asarray(prefill, dtype=float) + np.asarray(decode, dtype=float).sum(axis=1)


def simulate_coe(expert_model: ModelConfig, device, *, experts: int, batch: int, osl: int, isl: int = 128,
                 requests: int = 1000, devices: int | None = None, seed: int = 0, routing: Routing = Routing(),
                 host_links: int = HOST_LINKS_PAPER, precision: Precision = Precision(),
                 router_model: ModelConfig | None = None) -> CoEResult:
    """Serve a routed request stream over ``experts`` copies of ``expert_model`` (see the module docstring)."""
    for name, value in (("experts", experts), ("batch", batch), ("osl", osl), ("isl", isl), ("requests", requests)):
        _whole(name, value)
    devices = device.chips if devices is None else devices
    _whole("devices", devices)
    parallel = Parallelism.for_devices(devices)
    path = switch_path(device, devices, host_links)
    size = expert_bytes(expert_model, precision)
    kvB = precision.kv_bytes
    router_bytes = 0.0
    kv = batch * (isl + osl) * expert_model.kv_cache_bytes_per_token(kvB)
    if router_model is not None:
        router_bytes = router_model.weight_bytes(precision.weight_bytes)
        kv += batch * isl * router_model.kv_cache_bytes_per_token(kvB)
    hbm = devices * device.main_memory.capacity
    free = hbm - router_bytes - kv
    slots = int(free // size) if free > 0 else 0
    if slots < 1:
        raise ConfigError(None, "batch", batch,
                          f"a load that leaves HBM for one expert: {devices} x {device.main_memory.capacity / 1e9:.0f} GB "
                          f"HBM holds the router ({router_bytes / 1e9:.1f} GB) and KV cache ({kv / 1e9:.1f} GB) but not "
                          f"a {size / 1e9:.1f} GB expert; use more --devices or a smaller --batch")
    if path.source == "ddr":
        ddr = devices * device.tier("ddr").capacity if device.has_tier("ddr") else 0.0
        if experts * size + router_bytes > ddr:
            raise ConfigError(None, "experts", experts,
                              f"at most {int((ddr - router_bytes) // size)} experts of {size / 1e9:.1f} GB in "
                              f"{devices} x DDR ({ddr / 1e12:.2f} TB)")
    ids = route_requests(requests, experts, routing, seed)
    trace = simulate_lru(ids, batch, slots)
    per_run = run_times(expert_model, device, parallel, precision, batch, isl, osl)
    compute = float(per_run[trace.run_size - 1].sum())
    router = 0.0
    if router_model is not None:
        sizes = np.bincount(np.arange(requests) // batch)
        router_per = np.asarray(step_latency(router_model, device, b=np.arange(1, batch + 1, dtype=float), s=isl, c=0,
                                             precision=precision, parallel=parallel), dtype=float)
        router = float(router_per[sizes - 1].sum())
    one_switch = path.time(size)
    total = compute + router + trace.misses * one_switch
    label = routing.kind if routing.kind == "uniform" else f"zipf:{routing.skew:g}"
    return CoEResult(device=device.name, devices=devices, expert_model=expert_model.name, experts=experts, batch=batch,
                     isl=isl, osl=osl, requests=requests, routing=label, expert_bytes=size, switch=path,
                     switch_time_s=one_switch, cache_slots=slots, hbm_free_bytes=free, trace=trace,
                     compute_time_s=compute, router_time_s=router, total_time_s=total)


def _whole(name: str, value) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ConfigError(None, name, value, "a whole number >= 1")
