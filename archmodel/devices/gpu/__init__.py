"""GPU / NPU roofline with size-dependent efficiency, written symbolically and compiled to NumPy.

Per operator and device: ``time = max(compute, memory) + comm + launch``. Compute time divides
FLOPs by the matrix (or vector) peak times two factors that are properties of the device and its
kernels, not of any benchmark this model is validated against:

* ``efficiency.matmul``: the fraction of dense peak a large GEMM sustains (device file, from
  published GEMM microbenchmarks);
* tile and wave quantisation: a GEMM of M x N output is computed in tiles of ``tile_m`` x the
  device's ``compute.tile`` N, scheduled in waves over ``compute.units`` (SMs / AI cores); the
  padding and the idle part of the last wave do no useful work. As GEMM libraries do for skinny
  problems, ``tile_m`` is the smallest power of two >= M between 16 (the MMA instruction's M) and
  the device's tile M, and when there are fewer tiles than units the K loop is split so that
  every unit gets work (split-K). Attention kernels tile queries by 16 rows, as FlashAttention
  and flash-decoding do, so a decode step's few queries per KV head are not charged a large tile.

Memory time divides bytes by the tier's bandwidth times ``efficiency.memory`` (the fraction of peak
a streaming kernel reaches). ``efficiency.kernel_overhead`` is charged once per GEMM, attention and
collective launch (elementwise work is assumed fused into neighbouring kernels, its bytes still
counted). Collectives: ring all-reduce ``2 (n-1)/n * bytes / bw + 2 (n-1) * latency``; all-to-all
``bytes / bw + latency`` (the bytes already count only what leaves the device), over the scale-up
link when the group fits its domain, else scale-out.

The same expressions serve two compiled views: per operator (reports) and the step total (sweeps).
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np
import sympy as sp

from accelerators.errors import ConfigError

from ...optable import STEP_SYMBOLS, OperatorTable, OpCosts, OpSpec, compile_exprs, ep, tp
from ...parallel import Parallelism
from ...precision import Precision
from .. import DeviceKind
from ..args import DeviceArgs

COMPUTE, MEMORY, COMM, OVERHEAD, NONE = 0, 1, 2, 3, 4
BOUND_NAMES = ("compute", "memory", "comm", "overhead", "none")
MMA_TILE_M = 16

# Device symbols (effective values: peaks and bandwidths already times their efficiency).
Pm, Pv, BWw, BWm, NU, TM, TN, KO, BWtp, LATtp, BWep, LATep = sp.symbols(
    "P_m P_v BW_w BW_m N_u T_m T_n K_o BW_tp LAT_tp BW_ep LAT_ep", positive=True)
DEVICE_SYMBOLS = (Pm, Pv, BWw, BWm, NU, TM, TN, KO, BWtp, LATtp, BWep, LATep)


def wave_efficiency(m, n, instances, max_tile_m) -> sp.Expr:
    """Useful fraction of the matrix units' work when ``instances`` (m x n) outputs are tiled,
    split along K when tiles are fewer than units, and scheduled in waves."""
    m, inst = sp.Max(m, 1), sp.Max(instances, 1)
    tile_m = sp.Min(max_tile_m, sp.Max(MMA_TILE_M, 2 ** sp.ceiling(sp.log(m, 2))))
    tiles = sp.ceiling(m / tile_m) * sp.ceiling(n / TN) * sp.ceiling(inst)
    work = tiles * sp.Max(1, sp.floor(NU / tiles))
    waves = sp.ceiling(work / NU)
    return (m * n * inst / (tiles * tile_m * TN)) * (work / (waves * NU))


def op_time_exprs(op: OpSpec) -> tuple[sp.Expr, sp.Expr, sp.Expr, sp.Expr]:
    """(compute, memory, comm, launch) seconds of one instance of ``op``."""
    zero = sp.Integer(0)
    if op.kind == "allreduce":
        return zero, zero, 2 * (tp - 1) / tp * op.comm / BWtp + 2 * (tp - 1) * LATtp, KO * sp.Min(tp - 1, 1)
    if op.kind == "alltoall":
        return zero, zero, op.comm / BWep + LATep * sp.Min(ep - 1, 1), KO * sp.Min(ep - 1, 1)
    memory = op.weights / BWw + (op.act_in + op.act_out + op.kv_read + op.kv_write) / BWm
    if op.kind in ("gemm", "attention"):
        tile_m = MMA_TILE_M if op.kind == "attention" else TM
        return op.flops / (Pm * wave_efficiency(op.m, op.n, op.instances, tile_m)), memory, zero, KO
    return op.flops / Pv, memory, zero, zero


def _link(device, group: int) -> tuple[float, float]:
    """(bandwidth, latency) of the link a collective over ``group`` devices runs on."""
    up, out = device.interconnect.scale_up, device.interconnect.scale_out
    link = up if up is not None and group <= (up.domain or 1) else (out or up)
    if link is None:
        if group > 1:
            raise ValueError(f"{device.name}: {group} devices need an interconnect and the device file has none")
        return float("inf"), 0.0
    return link.bandwidth, link.latency or 0.0


def weights_tier(device, weight_bytes_per_device: float) -> str:
    """Where the weights live: main memory when they fit, else the device's own DDR tier (an RDU),
    else the host over its link (offload). A clear error when none of these can hold them."""
    main = device.main_memory
    if weight_bytes_per_device <= main.capacity:
        return main.name
    if main.name != "ddr" and device.has_tier("ddr") and weight_bytes_per_device <= device.tier("ddr").capacity:
        return "ddr"
    if device.interconnect.host is not None:
        return "host"
    raise ConfigError(None, "device", device.name,
                      f"a device or split whose memory holds the weights: {weight_bytes_per_device / 1e9:.1f} GB per "
                      f"device against {main.capacity / 1e9:.1f} GB of {main.name} and no host link; "
                      "use more devices (--devices/--tp/--ep/--pp) or a smaller --dtype")


@dataclass(frozen=True)
class RooflineArgs(DeviceArgs):
    """Values of DEVICE_SYMBOLS, in their order (effective: peaks and bandwidths times efficiency)."""

    matrix: float  # P_m, op/s of the matrix unit
    vector: float  # P_v, op/s of the vector unit
    weight_bw: float  # BW_w, B/s from the weights' tier
    main_bw: float  # BW_m, B/s of main memory
    units: float  # N_u, SMs / AI cores
    tile_m: float  # T_m
    tile_n: float  # T_n
    kernel_overhead: float  # K_o, s per launch
    tp_bw: float  # BW_tp, B/s of the tensor-parallel link
    tp_latency: float  # LAT_tp, s
    ep_bw: float  # BW_ep, B/s of the expert-parallel link
    ep_latency: float  # LAT_ep, s


def device_values(device, precision: Precision, parallel: Parallelism, weight_tier: str | None = None) -> RooflineArgs:
    """Values of DEVICE_SYMBOLS for ``device`` running at ``precision`` split as ``parallel``."""
    eff = device.efficiency
    if eff is None or device.compute.units is None or device.compute.tile is None:
        raise ValueError(f"{device.name}: the roofline model needs 'efficiency', 'compute.units' and "
                         "'compute.tile' in the device file")
    main = device.main_memory
    tier = weight_tier or main.name
    w_bw = device.interconnect.host.bandwidth if tier == "host" else device.tier(tier).read_bandwidth
    matrix = device.peak(precision.compute_dtype) * eff.matmul_at(precision.compute_dtype)
    vector = device.compute.vector or matrix
    tile_m, tile_n = device.compute.tile
    bw_tp, lat_tp = _link(device, parallel.tp)
    bw_ep, lat_ep = _link(device, parallel.ep)
    return RooflineArgs(matrix, vector, w_bw * eff.memory, main.read_bandwidth * eff.memory, device.compute.units,
                        tile_m, tile_n, eff.kernel_overhead, bw_tp, lat_tp, bw_ep, lat_ep)


@dataclass(frozen=True)
class StepTimes:
    """Per-operator results, arrays shaped like the costs ``(n_ops, *points)``."""

    costs: OpCosts
    compute: np.ndarray
    memory: np.ndarray
    comm: np.ndarray
    launch: np.ndarray
    units: tuple[str, ...]
    tiers: tuple[str, ...]

    @property
    def time(self) -> np.ndarray:
        """Seconds per instance of each operator."""
        return np.maximum(self.compute, self.memory) + self.comm + self.launch

    @property
    def bound(self) -> np.ndarray:
        """Codes into BOUND_NAMES: what limits each operator."""
        busy = np.maximum(self.compute, self.memory)
        code = np.where(self.comm > np.maximum(busy, self.launch), COMM,
                        np.where(self.launch > busy, OVERHEAD, np.where(self.compute >= self.memory, COMPUTE, MEMORY)))
        return np.where(self.time > 0, code, NONE)

    @property
    def total(self) -> np.ndarray:
        """Seconds of one forward step on one pipeline stage (operators x their count)."""
        return np.tensordot(self.costs.count, self.time, axes=1)

    def time_by_bound(self) -> np.ndarray:
        """Seconds attributed to each bound, shape ``(len(BOUND_NAMES), *points)``."""
        weighted = self.costs.count.reshape((-1,) + (1,) * (self.time.ndim - 1)) * self.time
        bound = self.bound
        return np.stack([np.where(bound == i, weighted, 0.0).sum(axis=0) for i in range(len(BOUND_NAMES))])

    def bottleneck(self) -> np.ndarray:
        """Index into BOUND_NAMES of the bound that takes most of the step."""
        return self.time_by_bound().argmax(axis=0)


UNIT_OF_KIND = {"gemm": "matrix", "attention": "matrix", "elementwise": "vector", "gather": "vector",
                "allreduce": "link", "alltoall": "link"}


class RooflineModel:
    """The GPU model of one operator table; compiled once, evaluated on arrays.

    The interface every device model follows (see ``archmodel.step.DEVICE_MODELS``):
    ``device_args(device, precision, parallel, weight_tier)`` -> its device symbols' values by name
    (a :class:`~archmodel.devices.args.DeviceArgs`: :class:`RooflineArgs` here),
    ``step_times(costs, step_args, device_args, weight_tier, main_tier)`` -> :class:`StepTimes`,
    ``step_total(step_args, device_args)`` -> seconds per step (the sweep path).

    Devices whose time is ``max(compute, memory) + comm + launch`` per operator with other
    expressions (NPU, FPGA) subclass it and override ``device_symbols``, ``units``,
    :meth:`op_exprs`, :meth:`device_args` and, when they move other bytes than the table
    counts, :meth:`reported_costs`.
    """

    device_symbols: tuple = DEVICE_SYMBOLS
    units: dict = UNIT_OF_KIND

    def __init__(self, table: OperatorTable):
        self.table = table
        self.exprs = [self.op_exprs(op) for op in table.specs]

    def op_exprs(self, op: OpSpec) -> tuple[sp.Expr, sp.Expr, sp.Expr, sp.Expr]:
        """(compute, memory, comm, launch) seconds of one instance of ``op``."""
        return op_time_exprs(op)

    @staticmethod
    def device_args(device, precision: Precision, parallel: Parallelism,
                    weight_tier: str | None = None) -> RooflineArgs:
        return device_values(device, precision, parallel, weight_tier)

    def reported_costs(self, costs: OpCosts, step_args: tuple, device_args: DeviceArgs | tuple) -> OpCosts:
        """The costs the per-operator report shows: the table's, unless the device moves other bytes."""
        return costs

    @cached_property
    def _per_op(self):
        flat = [self.table.substitute(e) for quad in self.exprs for e in quad]
        return compile_exprs(STEP_SYMBOLS + self.device_symbols, flat)

    @cached_property
    def _total(self):
        total = sum(op.count * (sp.Max(cp, mem) + cm + ln) for op, (cp, mem, cm, ln) in zip(self.table.specs, self.exprs))
        return compile_exprs(STEP_SYMBOLS + self.device_symbols, [self.table.substitute(total)])

    def step_total(self, step_args: tuple, device_args: DeviceArgs | tuple) -> np.ndarray:
        """Seconds per step for arrays of design points (the sweep path: no per-operator arrays)."""
        return np.asarray(self._total(*step_args, *device_args)[0], dtype=float)

    def op_tiers(self, weight_tier: str, main_tier: str) -> tuple[str, ...]:
        """The memory tier (or ``link``) each operator's time is charged to."""
        tiers = []
        for op in self.table.specs:
            if op.kind in ("allreduce", "alltoall"):
                tiers.append("link")
            elif op.name != "embedding" and op.weights != 0:
                tiers.append(weight_tier)
            else:
                tiers.append(main_tier)
        return tuple(tiers)

    def step_times(self, costs: OpCosts, step_args: tuple, device_args: DeviceArgs | tuple, weight_tier: str,
                   main_tier: str) -> StepTimes:
        flat = self._per_op(*step_args, *device_args)
        shape = costs.values["flops"].shape[1:]
        arr = [np.broadcast_to(np.asarray(x, dtype=float), shape) for x in flat]
        n = len(self.exprs)
        compute, memory, comm, launch = (np.stack([arr[4 * i + j] for i in range(n)]) for j in range(4))
        return StepTimes(self.reported_costs(costs, step_args, device_args), compute, memory, comm, launch,
                         units=tuple(self.units[op.kind] for op in self.table.specs),
                         tiers=self.op_tiers(weight_tier, main_tier))


# 7 nm-class at 0.75 V (archmodel.energy's node rule)
PLUGIN = DeviceKind("gpu", RooflineModel, energy_node=(7.0, 0.75))
