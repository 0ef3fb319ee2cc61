"""Dataflow RDU (SambaNova SN40L): fused streaming pipelines over a three-tier memory.

What the model computes, per device (one SN40L socket; ``sn40l-node`` is 8 sockets that run the
operator table tensor-parallel, ``tp`` = 8 by default, over the sockets' peer-to-peer link):

**Fusion.** The operators of a *fusion group* run as one streaming pipeline: each operator is a
stage mapped onto its share of the PCUs, stages pass tiles through PMU buffers, and all stages run
at once. The default group is the decoder layer (attention rows + FFN or MoE rows of one layer;
``Fusion("block")`` fuses attention and FFN/MoE separately, ``Fusion("op")`` is the unfused
baseline with one operator per kernel, ``Fusion("custom", groups=...)`` fuses operator names of the
user's choice). Rows are taken in operator-table order; the boundary between two consecutive
compute rows carries the producer's ``act_out`` and the consumer's ``act_in``; collectives
(all-reduce, all-to-all) are stages inside the stream and carry no boundary.

**What fits on chip.** A fused boundary keeps its intermediate in PMUs (SRAM). The pipeline's
working set is the sum of its fused intermediates held at once, each as a whole tensor of the
step's tokens (conservative: a GEMM's K-reduction and a softmax row need their whole input).
Walking the group in order, a boundary whose intermediate would push the working set past the
SRAM capacity is *cut*: the producer writes to HBM, the consumer reads from HBM, and a new
pipeline (*section*) starts. A section's first input and last output always go through HBM
(between kernel calls activations live in HBM). Fused intermediates never produce HBM bytes.

**Placement (three tiers).** SRAM first holds the largest pipeline working set; HBM first holds
two section-boundary activations (one read, one written). The rest of each tier takes persistent
tensors by the greedy heat policy of :mod:`archmodel.placement`: weights per layer and per expert,
the KV cache and the embedding table, hottest (most bytes read per stored byte) first into SRAM,
then HBM while they fit, then DDR (cold experts end there first). Each operator reads its weights
and KV from the tiers they live in, in proportion.

**Time of a section** (all resources work concurrently in a stream, so the slowest one sets the
pace)::

    t_section = max( sum_i flops_i / P,                      # PCUs, shares balanced to the work
                     sum_i bytes_i,sram / BW_sram,
                     sum_i bytes_i,hbm  / BW_hbm,
                     sum_i bytes_i,ddr  / BW_ddr,
                     sum_i link_bytes_i / BW_link )
                + sum_i collective latency_i + section overhead

With PCU shares proportional to each stage's FLOPs every stage takes the same time, so the compute
term is the group's FLOPs over the socket's peak. A step is the sum over sections x their count
(layers). The unfused baseline pays ``sum_i max(...)`` (no overlap between operators) plus its
intermediates' HBM traffic; fusion pays ``max(sum ...)``.

For reports, a section's time is attributed to its operators in proportion to each operator's own
stage time ``max(compute_i, memory_i per tier, link_i)`` plus its own latencies, so per-operator
times add up to the step exactly; ``compute``/``memory``/``comm`` of an operator are its own
stage's resource times (``memory`` the slowest of its tiers), which set its ``bound``.

Software factors come from the device file's ``efficiency`` section (sn40l.yaml cites them); a
user's RDU file without one gets the same values from the module constants:

* ``matmul`` -> ``COMPUTE_EFFICIENCY = 1.0``: no sustained-GEMM figure is published for SN40L; the
  peak is an upper bound.
* ``memory`` -> ``OFFCHIP_EFFICIENCY = 0.75``: Prabhakar et al., "SambaNova SN40L: Unleashing
  Agentic AI with Dataflow", DAC 2025 talk abstract: token generation reaches "over 75% of peak
  performance" on 8 and 16 RDUs (decode is HBM-bound, so this is the sustained share of peak HBM
  bandwidth; a lower bound). Applied to HBM and DDR streams; SRAM is taken at its (lower-bound)
  catalog bandwidth.
* ``kernel_overhead`` -> ``SECTION_OVERHEAD_S = 0``, charged once per section: the same abstract:
  streaming dataflow turns consecutive calls of a kernel into one call with a pipelined outer
  loop, removing the synchronisation between calls.

The sockets' peer-to-peer link has no published bandwidth or latency; when the device file has no
``interconnect.scale_up``, collectives are not charged (time 0, tier ``link (no figure)``).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property

import numpy as np
import sympy as sp

from accelerators.errors import ConfigError

from ...optable import STEP_SYMBOLS, OperatorTable, OpCosts, compile_exprs
from ...parallel import Parallelism
from ...placement import TIERS, Placement, greedy_place, table_families
from ...precision import Precision
from ...routing import Routing
from ...step_base import operator_table, touched_experts
from .. import DeviceKind
from .fusion import FUSION_GROUPS, Fusion, Pipeline, fusion_pipelines
from .memory_map import MapEntry, MemoryMap, TierUse
from ..gpu import StepTimes

COMPUTE_EFFICIENCY = 1.0
OFFCHIP_EFFICIENCY = 0.75
SECTION_OVERHEAD_S = 0.0

FIELDS = ("flops", "weights", "act_in", "act_out", "kv_read", "kv_write", "comm")
COLLECTIVES = ("allreduce", "alltoall")
SRAM, HBM, DDR = 0, 1, 2


@dataclass(frozen=True)
class RDUEfficiency:
    """Software factors of the RDU model (see the module docstring for their sources)."""

    compute: float = COMPUTE_EFFICIENCY
    offchip: float = OFFCHIP_EFFICIENCY
    section_overhead: float = SECTION_OVERHEAD_S

    @classmethod
    def of(cls, device) -> "RDUEfficiency":
        """The device file's ``efficiency`` section, else the module defaults."""
        eff = device.efficiency
        if eff is None:
            return cls()
        return cls(compute=eff.matmul, offchip=eff.memory, section_overhead=eff.kernel_overhead)


@dataclass(frozen=True)
class FusedStepTimes(StepTimes):
    """RDU step times: ``attributed`` is each operator's share of its sections (per instance);
    ``tier_bytes`` its bytes by tier (``(n_ops, 3, *points)``, per instance, order ``TIERS``);
    ``sections`` the fused sections the step runs (per layer pattern, first design point)."""

    attributed: np.ndarray = field(repr=False, default_factory=lambda: np.zeros(0))
    tier_bytes: np.ndarray = field(repr=False, default_factory=lambda: np.zeros(0))
    placement: Placement | None = field(repr=False, default=None)
    sections: tuple[tuple[str, ...], ...] = ()

    @property
    def time(self) -> np.ndarray:
        """Seconds per instance of each operator: its share of the fused sections it runs in."""
        return self.attributed


@dataclass(frozen=True)
class _DeviceValues:
    peak: float
    read: tuple[float, float, float]
    write: tuple[float, float, float]
    capacity: tuple[float, float, float]
    link_bw: float
    link_lat: float
    overhead: float

    def astuple(self) -> tuple:
        return (self.peak, *self.read, *self.write, *self.capacity, self.link_bw, self.link_lat, self.overhead)

    @classmethod
    def of(cls, args: tuple) -> "_DeviceValues":
        return cls(args[0], tuple(args[1:4]), tuple(args[4:7]), tuple(args[7:10]), args[10], args[11], args[12])


class RDUModel:
    """The SN40L model of one operator table, following the interface of
    :class:`archmodel.devices.gpu.RooflineModel` (``device_args``, ``step_times``, ``step_total``).
    The ``weight_tier`` the facade passes is ignored: placement is this model's own decision."""

    #: a step is one schedule of fused sections, not per-operator times that a mixed prefill and
    #: decode step could combine: the in-flight simulation refuses this kind (``archmodel.mixed``)
    mixes_steps = False

    def __init__(self, table: OperatorTable, fusion: Fusion = Fusion(), efficiency: RDUEfficiency | None = None):
        self.table = table
        self.fusion = fusion
        self.efficiency = efficiency
        self.pipelines = fusion_pipelines(table, fusion)
        self.families = table_families(table)
        specs = table.specs
        self.collective = tuple(op.kind in COLLECTIVES for op in specs)
        self.weight_family: tuple[int | None, ...] = tuple(
            next((k for k, fam in enumerate(self.families) if fam.kind == "weights" and i in fam.ops), None)
            for i in range(len(specs)))
        kv = [k for k, fam in enumerate(self.families) if fam.kind == "kv"]
        self.kv_family: int | None = kv[0] if kv else None

    # ---- device ------------------------------------------------------------------------------
    def device_args(self, device, precision: Precision, parallel: Parallelism, weight_tier: str | None = None) -> tuple:
        """Effective peak, read/write bandwidth and capacity of SRAM, HBM and DDR, link, overhead."""
        for name in ("sram", "hbm"):
            if not device.has_tier(name):
                raise ConfigError(device.name, "memory", [t.name for t in device.memory],
                                  "an RDU device with 'sram' and 'hbm' tiers (and optionally 'ddr')")
        eff = self.efficiency or RDUEfficiency.of(device)
        read, write, cap = [], [], []
        for name in TIERS:
            if device.has_tier(name):
                tier = device.tier(name)
                scale = 1.0 if name == "sram" else eff.offchip
                read.append(tier.read_bandwidth * scale)
                write.append(tier.write_bandwidth * scale)
                cap.append(tier.capacity)
            else:
                read.append(np.inf)
                write.append(np.inf)
                cap.append(0.0)
        up = device.interconnect.scale_up
        link_bw, link_lat = (up.bandwidth, up.latency or 0.0) if up is not None else (np.inf, 0.0)
        return _DeviceValues(device.peak(precision.compute_dtype) * eff.compute, tuple(read), tuple(write),
                             tuple(cap), link_bw, link_lat, eff.section_overhead).astuple()

    # ---- compiled costs ----------------------------------------------------------------------
    @cached_property
    def _compiled(self):
        exprs = [getattr(op, f) for op in self.table.specs for f in FIELDS]
        exprs += [e for fam in self.families for e in (fam.instance_bytes, fam.instances, fam.reads)]
        return compile_exprs(STEP_SYMBOLS, [self.table.substitute(sp.sympify(e, strict=True)) for e in exprs])

    def _costs(self, step_args: tuple) -> tuple[dict[str, list[np.ndarray]], tuple[np.ndarray, ...], tuple]:
        vals = [np.asarray(v, dtype=float) for v in self._compiled(*step_args)]
        n, nf = len(self.table.specs), len(FIELDS)
        ops = {f: [vals[i * nf + j] for i in range(n)] for j, f in enumerate(FIELDS)}
        fam = vals[n * nf:]
        shape = np.broadcast_shapes(*(np.shape(a) for a in step_args))
        fam_arrays = tuple(np.stack([np.broadcast_to(fam[3 * k + j], shape) for k in range(len(self.families))])
                           for j in range(3))
        return ops, fam_arrays, shape

    # ---- fusion cuts -------------------------------------------------------------------------
    def _next_compute(self, pipe: Pipeline) -> list[bool]:
        """For each position: is there a later non-collective row in the pipeline?"""
        flags, later = [], False
        for i in reversed(pipe.ops):
            flags.append(later)
            later = later or not self.collective[i]
        return flags[::-1]

    def _cuts(self, ops, shape, sram_cap) -> tuple[list[list], np.ndarray, np.ndarray]:
        """Cut masks per pipeline position, the largest fused working set, and the largest pair of
        activations crossing a section boundary through HBM."""
        reserve = np.zeros(shape)
        spill = np.zeros(shape)
        cuts = []
        for pipe in self.pipelines:
            held = np.zeros(shape)
            has_next = self._next_compute(pipe)
            mask_list: list[np.ndarray | None] = []
            first = True
            for pos, i in enumerate(pipe.ops):
                if self.collective[i]:
                    mask_list.append(None)
                    continue
                out = np.broadcast_to(ops["act_out"][i], shape)
                if first:
                    spill = np.maximum(spill, 2 * np.broadcast_to(ops["act_in"][i], shape))
                    first = False
                if not has_next[pos]:
                    spill = np.maximum(spill, 2 * out)
                    reserve = np.maximum(reserve, held)
                    mask_list.append(None)
                    continue
                cut = held + out > sram_cap
                reserve = np.maximum(reserve, np.where(cut, held, 0.0))
                spill = np.maximum(spill, np.where(cut, 2 * out, 0.0))
                held = np.where(cut, 0.0, held + out)
                mask_list.append(cut)
            reserve = np.maximum(reserve, held)
            cuts.append(mask_list)
        return cuts, reserve, spill

    # ---- placement ---------------------------------------------------------------------------
    def _placement(self, fam_arrays, dev: _DeviceValues, reserve, spill) -> Placement:
        inst, count, reads = fam_arrays
        stored = inst * count
        heat = np.divide(reads, stored, out=np.zeros_like(stored), where=stored > 0)
        caps = (dev.capacity[SRAM] - reserve, dev.capacity[HBM] - spill, dev.capacity[DDR])
        return greedy_place(tuple(f.name for f in self.families), inst, count, heat, caps)

    # ---- the walk ----------------------------------------------------------------------------
    def _analyse(self, step_args: tuple, dev_args: tuple, detail: bool):
        dev = _DeviceValues.of(dev_args)
        ops, fam_arrays, shape = self._costs(step_args)
        cuts, reserve, spill = self._cuts(ops, shape, dev.capacity[SRAM])
        placement = self._placement(fam_arrays, dev, reserve, spill)
        frac = placement.fractions
        tp_, ep_ = step_args[6], step_args[7]
        n = len(self.table.specs)
        zero = np.zeros(shape)
        read, write = dev.read, dev.write

        # Per-operator work that does not depend on the pipeline: compute, link, weights and KV.
        compute = [ops["flops"][i] / dev.peak for i in range(n)]
        link, lat = [], []
        fixed = []  # (n, 3) arrays: bytes read and written per tier (weights, KV)
        fixed_rw = []
        for i, op in enumerate(self.table.specs):
            if op.kind == "allreduce":
                link.append(2 * (tp_ - 1) / tp_ * ops["comm"][i] / dev.link_bw)
                lat.append(2 * (tp_ - 1) * dev.link_lat + zero)
            elif op.kind == "alltoall":
                link.append(ops["comm"][i] / dev.link_bw)
                lat.append(np.minimum(ep_ - 1, 1) * dev.link_lat + zero)
            else:
                link.append(zero)
                lat.append(zero)
            rd = [zero, zero, zero]
            wr = [zero, zero, zero]
            wf = self.weight_family[i]
            if wf is not None:
                rd = [rd[t] + ops["weights"][i] * frac[wf, t] for t in range(3)]
            if self.kv_family is not None and i in self.families[self.kv_family].ops:
                rd = [rd[t] + ops["kv_read"][i] * frac[self.kv_family, t] for t in range(3)]
                wr = [wr[t] + ops["kv_write"][i] * frac[self.kv_family, t] for t in range(3)]
            fixed_rw.append((rd, wr))
            fixed.append([rd[t] / read[t] + wr[t] / write[t] for t in range(3)])

        total = zero.copy()
        per_op = {key: [zero] * n for key in ("time", "compute", "memory", "comm", "launch")}
        tier_bytes = [[zero, zero, zero] for _ in range(n)]
        section_names: list[tuple[str, ...]] = []
        first_point = (0,) * len(shape)
        for pipe, masks in zip(self.pipelines, cuts):
            has_next = self._next_compute(pipe)
            acc_c, acc_m, acc_k, acc_l = zero, [zero, zero, zero], zero, zero
            sid = np.zeros(shape, dtype=int)
            rec = []  # detail: (row, sid, c, m[3], k, lat)
            prev_cut = None
            names_now: list[str] = []
            for pos, i in enumerate(pipe.ops):
                if not self.collective[i]:
                    in_sram = np.zeros(shape, dtype=bool)
                    if prev_cut is not None:
                        # Close the sections whose boundary before this row was cut.
                        sec = np.maximum.reduce([acc_c, *acc_m, acc_k]) + acc_l + dev.overhead
                        total = total + pipe.count * np.where(prev_cut, sec, 0.0)
                        acc_c, acc_k, acc_l = (np.where(prev_cut, 0.0, a) for a in (acc_c, acc_k, acc_l))
                        acc_m = [np.where(prev_cut, 0.0, a) for a in acc_m]
                        sid = sid + prev_cut
                        in_sram = ~prev_cut
                        if bool(np.asarray(prev_cut)[first_point]):
                            section_names.append(tuple(names_now))
                            names_now = []
                    out_sram = ~masks[pos] if has_next[pos] else np.zeros(shape, dtype=bool)
                    a_in, a_out = ops["act_in"][i], ops["act_out"][i]
                    rd, wr = fixed_rw[i]
                    rd = [rd[SRAM] + np.where(in_sram, a_in, 0.0), rd[HBM] + np.where(in_sram, 0.0, a_in), rd[DDR]]
                    wr = [wr[SRAM] + np.where(out_sram, a_out, 0.0), wr[HBM] + np.where(out_sram, 0.0, a_out), wr[DDR]]
                    mem = [rd[t] / read[t] + wr[t] / write[t] for t in range(3)]
                    prev_cut = masks[pos] if has_next[pos] else None
                else:
                    rd, wr = fixed_rw[i]
                    mem = fixed[i]
                names_now.append(self.table.specs[i].name)
                acc_c = acc_c + compute[i]
                acc_m = [acc_m[t] + mem[t] for t in range(3)]
                acc_k = acc_k + link[i]
                acc_l = acc_l + lat[i]
                if detail:
                    rec.append((i, sid, compute[i] + zero, [m + zero for m in mem], link[i] + zero, lat[i],
                                [rd[t] + wr[t] + zero for t in range(3)]))
            sec = np.maximum.reduce([acc_c, *acc_m, acc_k]) + acc_l + dev.overhead
            total = total + pipe.count * sec
            section_names.append(tuple(names_now))
            if detail:
                self._attribute(pipe, rec, dev, per_op, tier_bytes)
        total = np.where(placement.feasible, total, np.inf)
        if not detail:
            return total
        return total, per_op, tier_bytes, placement, tuple(section_names), reserve, spill

    def _attribute(self, pipe: Pipeline, rec: list, dev: _DeviceValues, per_op: dict, tier_bytes: list) -> None:
        """Split each section's time over its rows in proportion to their own stage times."""
        stage = [np.maximum.reduce([c, *m, k]) for _, _, c, m, k, _, _ in rec]
        for p, (i, sid, c, m, k, lat, tb) in enumerate(rec):
            same = [rec[q][1] == sid for q in range(len(rec))]
            sums_c = sum(np.where(sm, rec[q][2], 0.0) for q, sm in enumerate(same))
            sums_m = [sum(np.where(sm, rec[q][3][t], 0.0) for q, sm in enumerate(same)) for t in range(3)]
            sums_k = sum(np.where(sm, rec[q][4], 0.0) for q, sm in enumerate(same))
            weight = sum(np.where(sm, stage[q], 0.0) for q, sm in enumerate(same))
            busy = np.maximum.reduce([np.asarray(v, dtype=float) for v in (sums_c, *sums_m, sums_k)])
            first = np.ones_like(sid, dtype=bool) if p == 0 else (sid != rec[p - 1][1])
            share = np.divide(stage[p], weight, out=np.zeros_like(weight), where=weight > 0)
            attributed = busy * share + lat + np.where(first, dev.overhead, 0.0)
            scale = pipe.count / float(self.table.specs[i].count)
            per_op["time"][i] = per_op["time"][i] + scale * attributed
            per_op["compute"][i] = per_op["compute"][i] + scale * c
            per_op["memory"][i] = per_op["memory"][i] + scale * np.maximum.reduce(m)
            per_op["comm"][i] = per_op["comm"][i] + scale * k
            per_op["launch"][i] = per_op["launch"][i] + scale * (lat + np.where(first, dev.overhead, 0.0))
            tier_bytes[i] = [tier_bytes[i][t] + scale * tb[t] for t in range(3)]

    # ---- the interface -----------------------------------------------------------------------
    def step_total(self, step_args: tuple, device_args: tuple) -> np.ndarray:
        """Seconds per step for arrays of design points (the sweep path)."""
        return np.asarray(self._analyse(step_args, device_args, detail=False), dtype=float)

    def step_times(self, costs: OpCosts, step_args: tuple, device_args: tuple, weight_tier: str | None = None,
                   main_tier: str | None = None) -> FusedStepTimes:
        total, per_op, tier_bytes, placement, sections, _, _ = self._analyse(step_args, device_args, detail=True)
        shape = costs.values["flops"].shape[1:]
        stack = lambda key: np.stack([np.broadcast_to(a, shape) for a in per_op[key]])  # noqa: E731
        tb = np.stack([np.stack([np.broadcast_to(x, shape) for x in row]) for row in tier_bytes])
        feasible = np.broadcast_to(placement.feasible, shape)
        attributed = np.where(feasible, stack("time"), np.inf)
        return FusedStepTimes(costs, stack("compute"), stack("memory"), stack("comm"), stack("launch"),
                              units=self._units(), tiers=self._tier_labels(placement, tb, device_args),
                              attributed=attributed, tier_bytes=tb, placement=placement, sections=sections)

    def _units(self) -> tuple[str, ...]:
        unit = {"allreduce": "link", "alltoall": "link", "gather": "pmu"}
        return tuple(unit.get(op.kind, "pcu") for op in self.table.specs)

    def _tier_labels(self, placement: Placement, tier_bytes: np.ndarray, device_args: tuple) -> tuple[str, ...]:
        """Where each operator's data lives at the first design point: its weights' tiers, else its
        KV cache's, else the tiers its activations touch."""
        first = (slice(None),) + (0,) * (placement.placed.ndim - 2)
        linked = np.isfinite(_DeviceValues.of(device_args).link_bw)
        labels = []
        for i in range(len(self.table.specs)):
            if self.collective[i]:
                labels.append("link" if linked else "link (no figure)")
                continue
            fam = self.weight_family[i]
            if fam is None and self.kv_family is not None and i in self.families[self.kv_family].ops:
                fam = self.kv_family
            if fam is not None:
                where = placement.placed[fam][first]
                names = [TIERS[t] for t in range(3) if where[t] > 0]
                if placement.overflow[fam].reshape(-1)[0] > 0:
                    names.append("overflow")
            else:
                where = tier_bytes[i].reshape(3, -1)[:, 0]
                names = [TIERS[t] for t in range(3) if where[t] > 0]
            labels.append("+".join(names) or "sram")
        return tuple(labels)

    # ---- memory map --------------------------------------------------------------------------
    def memory_map(self, step_args: tuple, device_args: tuple, device_name: str = "", devices: int = 1) -> "MemoryMap":
        """Per tier: the tensors placed (first design point), bytes used and capacity, per device."""
        _, _, _, placement, _, reserve, spill = self._analyse(step_args, device_args, detail=True)
        dev = _DeviceValues.of(device_args)
        pick = lambda a: float(np.asarray(a).reshape(-1)[0])  # noqa: E731
        tiers = []
        for t, name in enumerate(TIERS):
            entries = []
            if t == SRAM and pick(reserve) > 0:
                entries.append(MapEntry("activations (fused pipeline buffers)", pick(reserve), 1.0))
            if t == HBM and pick(spill) > 0:
                entries.append(MapEntry("activations (section boundaries)", pick(spill), 1.0))
            for k, fam in enumerate(self.families):
                count = pick(placement.placed[k, t])
                if count > 0:
                    entries.append(MapEntry(fam.name, count * pick(placement.instance_bytes[k]), count))
            tiers.append(TierUse(name, dev.capacity[t], sum(e.bytes for e in entries), tuple(entries)))
        overflow = tuple(MapEntry(fam.name, pick(placement.overflow[k]) * pick(placement.instance_bytes[k]),
                                  pick(placement.overflow[k]))
                         for k, fam in enumerate(self.families) if pick(placement.overflow[k]) > 0)
        return MemoryMap(device_name, devices, tuple(tiers), overflow)


def memory_map(model, device, *, b, s, c, precision: Precision = Precision(), parallel: Parallelism = Parallelism(),
               fusion: Fusion = Fusion(), routing: Routing = Routing()) -> MemoryMap:
    """The memory map of ``model`` on an RDU ``device`` for one design point (per device/socket)."""
    if device.kind != "rdu":
        raise ConfigError(None, "device", device.name, "a device of kind 'rdu' for a memory map")
    table = operator_table(model, parallel.pp)
    u = touched_experts(model, b, s, parallel, routing)
    rdu = RDUModel(table, fusion)
    args = table.step_inputs(b=b, s=s, c=c, wB=precision.weight_bytes, aB=precision.activation_bytes,
                             kvB=precision.kv_bytes, tp=parallel.tp, ep=parallel.ep, u=u)
    return rdu.memory_map(args, rdu.device_args(device, precision, parallel), device.name, parallel.devices)


__all__ = ["FUSION_GROUPS", "Fusion", "FusedStepTimes", "MapEntry", "MemoryMap", "Pipeline", "RDUEfficiency",
           "RDUModel", "TierUse", "fusion_pipelines", "memory_map"]


# 7 nm-class at 0.75 V (archmodel.energy's node rule)
PLUGIN = DeviceKind("rdu", RDUModel, energy_node=(7.0, 0.75))
