"""Logic-PIM (Duplex): an xPU plus processing units on the HBM logic die, per operator.

Duplex (Yun et al., MICRO 2024, arXiv 2409.01141) pairs an H100-class xPU with Logic-PIM:
processing units on the HBM logic die that reach the DRAM dies through extra TSVs, with
``pim.bandwidth_multiple`` times the bandwidth the xPU sees (4x) and a compute rate of
``pim.op_per_byte`` times that bandwidth (8 Op/B). Both units share the same HBM, so an operator
can run on either without moving its data. This model decides, per operator and design point:

* **xPU**: the GPU roofline with size-dependent efficiency, by the very expressions of
  :class:`~archmodel.devices.gpu.RooflineModel` (``op_time_exprs``), evaluated on the same
  device values (``device_values``);
* **Logic-PIM**: ``max(flops / P_pim, bytes / BW_pim)``. ``BW_pim = multiple x HBM read
  bandwidth x efficiency.memory``: the PIM reads the same DRAM dies, so it sustains the same
  fraction of its peak as the xPU's streaming kernels (the device file's measured figure; no
  measurement of a Logic-PIM exists), and with ``multiple = 1`` it has exactly the xPU's memory
  system. ``P_pim = op_per_byte x multiple x HBM read bandwidth`` is the PIM's peak
  (``Device.pim_peak``), at every datatype. Weights kept on the host tier (offload) reach the
  PIM at the host link's bandwidth, as they reach the xPU, and a split expert GEMM then takes at
  least all its weights over that one shared link;
* each operator runs on the unit that finishes it first. Launch overhead is the xPU's (the xPU
  issues PIM kernels too), the same on either unit, so it does not change the choice;
* **expert co-processing**: an expert GEMM (a GEMM over the touched experts, ``instances = u``) is
  split. Experts are sorted by the tokens routed to them; the fewest-token fraction ``f`` of the
  touched experts runs on the PIM, the rest on the xPU, concurrently; the step waits for the later
  of the two. Under uniform top-k routing an expert receives Binomial(T, k/E) tokens (``T`` tokens in
  the expert-parallel group), so the share of routed tokens held by the fewest-token fraction ``f``
  of touched experts is the Lorenz curve ``L_T(f)`` of the zero-truncated binomial (exact,
  piecewise linear between its classes). It is tabulated once per ``k/E`` over a grid of ``T`` and
  of ``f`` (:func:`lorenz_table`); the xPU part is the roofline of the same GEMM with
  ``u (1 - f)`` experts and ``T k (1 - L)`` tokens, the PIM part ``f`` of the weights and ``L`` of
  the FLOPs and activations. ``f`` is chosen, per design point and by vectorised bisection on the
  grid, where the two parts cross (the time ``max(xPU part, PIM part)`` is smallest there when the
  xPU part falls and the PIM part rises with ``f``); ``f = 0`` (xPU alone) and ``f = 1`` (PIM alone)
  are always candidates, so the split is never slower than either unit alone. With a skewed router
  the experts touched ``u`` follow the routing, the Lorenz curve stays the uniform one;
* **attention co-processing** (mixed batches, :mod:`archmodel.mixed`): each group of sequences
  (prefill chunks, decodes) goes to one unit, the groups on different units run concurrently
  (:meth:`PIMModel.combine_groups`).

Both units read the HBM at the same time during co-processing; the model takes their bandwidths
as independent (the PIM's through its own TSVs), as Duplex's co-processing does.
"""
from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property, lru_cache
from typing import Any

import numpy as np
import sympy as sp

from accelerators.errors import ConfigError
from accelerators.kinds.pim import PimSpec

from ...optable import STEP_SYMBOLS, OpCosts, OperatorTable, OpSpec, compile_exprs, u
from ...parallel import Parallelism
from ...precision import Precision
from ...routing import Routing
from ...step_base import compiled_model, operator_table, timed_step
from .. import DeviceKind
from ..gpu import BOUND_NAMES, DEVICE_SYMBOLS, RooflineArgs, StepTimes, device_values, op_time_exprs

# Logic-PIM device symbols: bandwidth to HBM-resident data, bandwidth to the weights (the host
# link when weights are offloaded), compute rate, and the bandwidth of a weight link the two units
# share during co-processing (the host link when offloaded; infinite when weights are in HBM,
# where each unit has its own path to the DRAM dies).
BWp, BWpw, Pp, BWsh = sp.symbols("BW_pim BW_pim_w P_pim BW_shared", positive=True)
PIM_SYMBOLS = (BWp, BWpw, Pp, BWsh)
# Expert split: fraction of touched experts on the PIM, fraction of routed tokens they hold.
fr, gl = sp.symbols("f_pim L_pim", nonnegative=True)
ALL_SYMBOLS = STEP_SYMBOLS + DEVICE_SYMBOLS + PIM_SYMBOLS

XPU, PIM, SPLIT, LINK = 0, 1, 2, 3
UNIT_NAMES = ("xpu", "pim", "xpu+pim", "link")
COLLECTIVES = ("allreduce", "alltoall")

# Lorenz-curve table: exact rows for every whole T up to EXACT_T, then a geometric grid
# (GRID_PER_OCTAVE rows an octave) up to MAX_T, beyond which the curve is taken as the last row
# (there sigma/mean of the per-expert count is below 1% for k/E >= 1/32: L(f) ~ f).
EXACT_T = 1024
GRID_PER_OCTAVE = 4
MAX_T = 2 ** 24
SPLIT_STEPS = 128  # f on a grid of 1/128 of the touched experts (7 bisection steps)
WINDOW_SIGMAS = 10.0  # binomial mass kept beyond EXACT_T: mean +- 10 sd (tail < 1e-22)
_EPS = 1e-12


def _tokens_index(step_args: tuple) -> np.ndarray:
    """Tokens in one expert-parallel group, ``b s eg``: what each expert's count is drawn from."""
    names = [sym.name for sym in STEP_SYMBOLS]
    return step_args[names.index("b")] * step_args[names.index("s")] * step_args[names.index("eg")]


def _binomial_lorenz_row(T: int, q: float, f: np.ndarray) -> np.ndarray:
    """``L_T(f)``: share of the T k routed tokens held by the fewest-token fraction ``f`` of the
    touched experts, each expert's count ~ Binomial(T, q), zero-token experts left out."""
    if T < 1 or q >= 1.0:
        return f.copy()  # no tokens, or every expert gets every token: all experts equal
    if T <= EXACT_T:
        lo, hi = 1, T
    else:
        mean, sd = T * q, math.sqrt(T * q * (1 - q))
        lo, hi = max(1, int(mean - WINDOW_SIGMAS * sd)), min(T, int(math.ceil(mean + WINDOW_SIGMAS * sd)))
    n = np.arange(lo, hi + 1, dtype=float)
    # log pmf at lo, then the ratio pmf(n+1)/pmf(n) = (T-n)/(n+1) * q/(1-q), summed in log space.
    log0 = (math.lgamma(T + 1) - math.lgamma(lo + 1) - math.lgamma(T - lo + 1)
            + lo * math.log(q) + (T - lo) * math.log1p(-q))
    steps = np.log((T - n[:-1]) / (n[:-1] + 1)) + math.log(q / (1 - q))
    logpmf = log0 + np.concatenate(([0.0], np.cumsum(steps)))
    pmf = np.exp(logpmf - logpmf.max())
    experts = np.cumsum(pmf)
    tokens = np.cumsum(n * pmf)
    F = np.concatenate(([0.0], experts / experts[-1]))
    G = np.concatenate(([0.0], tokens / tokens[-1]))
    return np.interp(f, F, G)


@lru_cache(maxsize=16)
def lorenz_table(q: float, steps: int = SPLIT_STEPS) -> tuple[np.ndarray, np.ndarray]:
    """``(T grid, L)`` with ``L[i, j] = L_{T_i}(j / steps)`` for top-k routing with ``q = k/E``."""
    octaves = int(round(math.log2(MAX_T / EXACT_T)))
    geometric = np.unique(np.round(EXACT_T * 2.0 ** (np.arange(1, octaves * GRID_PER_OCTAVE + 1) / GRID_PER_OCTAVE)))
    grid = np.concatenate((np.arange(0, EXACT_T + 1, dtype=float), geometric))
    f = np.arange(steps + 1, dtype=float) / steps
    table = np.stack([_binomial_lorenz_row(int(T), q, f) for T in grid])
    table[:, 0], table[:, -1] = 0.0, 1.0
    grid.setflags(write=False)
    table.setflags(write=False)
    return grid, table


def is_expert_gemm(op: OpSpec) -> bool:
    """A GEMM repeated over the touched experts (``instances`` depends on ``u``)."""
    return op.kind == "gemm" and u in sp.sympify(op.instances, strict=True).free_symbols


def pim_time_exprs(op: OpSpec) -> tuple[sp.Expr, sp.Expr]:
    """(compute, memory) seconds of one instance of ``op`` on the Logic-PIM."""
    return op.flops / Pp, op.weights / BWpw + (op.act_in + op.act_out + op.kv_read + op.kv_write) / BWp


def split_exprs(op: OpSpec) -> tuple[sp.Expr, sp.Expr, sp.Expr, sp.Expr, sp.Expr]:
    """(xPU compute, xPU memory, PIM compute, PIM memory, shared-link floor) of an expert GEMM whose
    fewest-token fraction ``fr`` of experts, holding the fraction ``gl`` of its tokens, runs on the
    PIM. The floor is all its weights over a link both parts share (zero when weights are in HBM).

    The xPU part is the same GEMM (``instances`` x ``m`` tokens) with ``instances (1 - fr)`` experts
    and ``instances m (1 - gl)`` tokens, timed by the roofline's own expressions."""
    xpu_part = OpSpec(
        name=op.name, kind=op.kind, group=op.group, count=op.count,
        flops=op.flops * (1 - gl), weights=op.weights * (1 - fr), act_in=op.act_in * (1 - gl),
        act_out=op.act_out * (1 - gl), kv_read=op.kv_read * (1 - gl), kv_write=op.kv_write * (1 - gl),
        m=op.m * (1 - gl) / sp.Max(1 - fr, _EPS), n=op.n, kdim=op.kdim, instances=op.instances * (1 - fr))
    cx, mx, _, _ = op_time_exprs(xpu_part)
    pim_part = OpSpec(
        name=op.name, kind=op.kind, group=op.group, count=op.count,
        flops=op.flops * gl, weights=op.weights * fr, act_in=op.act_in * gl, act_out=op.act_out * gl,
        kv_read=op.kv_read * gl, kv_write=op.kv_write * gl)
    cp, mp = pim_time_exprs(pim_part)
    return cx, mx, cp, mp, op.weights / BWsh


def pim_values(device, weight_tier: str | None = None, bandwidth_multiple=None, op_per_byte=None) -> tuple:
    """Values of PIM_SYMBOLS (sustained bandwidths, peak compute); ``bandwidth_multiple`` / ``op_per_byte`` (scalars or arrays, for
    sweeps) override the device file's ``pim`` section."""
    spec = device.section(PimSpec)
    if spec is None and (bandwidth_multiple is None or op_per_byte is None):
        raise ConfigError(device.name, "pim", None,
                          "a 'pim' section (bandwidth_multiple, op_per_byte), or both given as arguments")
    if not device.has_tier("hbm"):
        raise ConfigError(device.name, "memory", [t.name for t in device.memory], "a Logic-PIM device needs an 'hbm' tier")
    mult = spec.bandwidth_multiple if bandwidth_multiple is None else bandwidth_multiple
    opb = spec.op_per_byte if op_per_byte is None else op_per_byte
    for field, value in (("pim.bandwidth_multiple", mult), ("pim.op_per_byte", opb)):
        arr = np.asarray(value, dtype=float)
        if not (np.all(np.isfinite(arr)) and np.all(arr > 0)):
            raise ConfigError(None, field, value, "a finite number > 0 (or an array of them)")
    if device.efficiency is None:
        raise ConfigError(device.name, "efficiency", None, "an 'efficiency' section (memory: the sustained fraction)")
    peak_bw = np.asarray(mult, dtype=float) * device.tier("hbm").read_bandwidth
    bw = peak_bw * device.efficiency.memory
    if weight_tier == "host":
        if device.interconnect.host is None:
            raise ConfigError(device.name, "interconnect.host", None, "a host link when weights are offloaded")
        bw_w = np.full_like(bw, device.interconnect.host.bandwidth * device.efficiency.memory)
        shared = bw_w
    else:
        bw_w, shared = bw, np.full_like(bw, np.inf)
    return bw, bw_w, np.asarray(opb, dtype=float) * peak_bw, shared


@dataclass(frozen=True)
class PIMArgs(RooflineArgs):
    """Values of DEVICE_SYMBOLS + PIM_SYMBOLS: the xPU's roofline values, then the Logic-PIM's
    (scalars or arrays, for sweeps over the PIM's knobs)."""

    pim_bw: object  # BW_p, sustained B/s of the PIM (bandwidth multiple x HBM x efficiency.memory)
    pim_weight_bw: object  # BW_pw, B/s of the PIM's weight stream (the host link when offloaded)
    pim_peak: object  # P_p, op/s of the PIM
    shared_bw: object  # BW_sh, B/s the xPU and PIM share (inf unless offloaded)


@dataclass(frozen=True)
class PIMStepTimes(StepTimes):
    """:class:`StepTimes` plus where each operator ran. ``compute``/``memory`` are those of the unit
    that finishes last (for a split, the critical part), so ``time`` is the co-processed time.

    ``assignment``: codes into UNIT_NAMES per operator and point; ``pim_share``: fraction of the
    operator's FLOPs done on the PIM; ``xpu_*``/``pim_*``: the whole operator on one unit."""

    assignment: np.ndarray
    pim_share: np.ndarray
    xpu_compute: np.ndarray
    xpu_memory: np.ndarray
    pim_compute: np.ndarray
    pim_memory: np.ndarray


def unit_label(codes: np.ndarray) -> str:
    """One label for an operator over all points: its unit if the same everywhere, else 'xpu+pim'."""
    values = np.unique(codes)
    return UNIT_NAMES[int(values[0])] if values.size == 1 else UNIT_NAMES[SPLIT]


class PIMModel:
    """Duplex (xPU + Logic-PIM) model of one operator table; the RooflineModel interface
    (``device_args``, ``step_times``, ``step_total``) plus ``combine_groups`` for mixed batches."""

    def __init__(self, table: OperatorTable):
        self.table = table
        specs = table.specs
        self.collective = np.array([op.kind in COLLECTIVES for op in specs])
        self.split_ops = tuple(i for i, op in enumerate(specs) if is_expert_gemm(op))
        moe = table.model.moe
        self.q = moe.top_k / moe.num_experts if moe is not None else 1.0

    @staticmethod
    def device_args(device, precision: Precision, parallel: Parallelism, weight_tier: str | None = None, *,
                    bandwidth_multiple=None, op_per_byte=None) -> PIMArgs:
        """Roofline device values for the xPU, then the Logic-PIM's (``PIM_SYMBOLS``)."""
        return PIMArgs(*device_values(device, precision, parallel, weight_tier),
                       *pim_values(device, weight_tier, bandwidth_multiple, op_per_byte))

    # -- compiled expressions -------------------------------------------------------------------
    @cached_property
    def _per_op(self):
        """Per operator: xPU (compute, memory, comm, launch) then PIM (compute, memory)."""
        flat = []
        for op in self.table.specs:
            cx, mx, cm, ln = op_time_exprs(op)
            cp, mp = (sp.Integer(0), sp.Integer(0)) if op.kind in COLLECTIVES else pim_time_exprs(op)
            flat += [self.table.substitute(e) for e in (cx, mx, cm, ln, cp, mp)]
        return compile_exprs(ALL_SYMBOLS, flat)

    @cached_property
    def _split_groups(self) -> tuple[tuple[tuple[int, ...], Callable[..., Any]], ...]:
        """Expert GEMMs with identical costs (up and gate) share one split search."""
        groups: dict[tuple, list[int]] = {}
        for i in self.split_ops:
            op = self.table.specs[i]
            key = tuple(sp.srepr(self.table.substitute(getattr(op, fld))) for fld in
                        ("flops", "weights", "act_in", "act_out", "m", "n", "kdim", "instances"))
            groups.setdefault(key, []).append(i)
        out = []
        for members in groups.values():
            exprs = [self.table.substitute(e) for e in split_exprs(self.table.specs[members[0]])]
            out.append((tuple(members), compile_exprs(ALL_SYMBOLS + (fr, gl), exprs)))
        return tuple(out)

    @cached_property
    def _total(self):
        """Step seconds of every operator except the expert GEMMs' busy time (searched numerically)."""
        total = sp.Integer(0)
        for i, op in enumerate(self.table.specs):
            cx, mx, cm, ln = op_time_exprs(op)
            if op.kind in COLLECTIVES:
                total += op.count * (sp.Max(cx, mx) + cm + ln)
            elif i in self.split_ops:
                total += op.count * ln
            else:
                cp, mp = pim_time_exprs(op)
                total += op.count * (sp.Min(sp.Max(cx, mx), sp.Max(cp, mp)) + ln)
        return compile_exprs(ALL_SYMBOLS, [self.table.substitute(total)])

    # -- expert split ---------------------------------------------------------------------------
    def _lorenz_lookup(self, tokens: np.ndarray):
        """``share(j)``: ``L_T(j / SPLIT_STEPS)`` per point, linear between the two grid rows around T."""
        grid, table = lorenz_table(self.q)
        i0 = np.clip(np.searchsorted(grid, tokens, side="right") - 1, 0, grid.size - 2)
        w = np.clip((tokens - grid[i0]) / (grid[i0 + 1] - grid[i0]), 0.0, 1.0)

        def share(j: np.ndarray) -> np.ndarray:
            a, b_ = table[i0, j], table[i0 + 1, j]
            return a + w * (b_ - a)
        return share

    def _split_search(self, fn, args: tuple, shape: tuple) -> tuple[np.ndarray, np.ndarray]:
        """Per point: the smallest ``max(xPU part, PIM part)`` over the grid of ``f`` found by
        bisection on the crossing, with ``f = 0`` and ``f = 1`` always compared; and its grid index."""
        tokens = np.broadcast_to(_tokens_index(args[:len(STEP_SYMBOLS)]), shape)
        share = self._lorenz_lookup(tokens)

        def busy(j: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
            cx, mx, cp, mp, floor = (np.broadcast_to(np.asarray(v, dtype=float), shape)
                                     for v in fn(*args, j / SPLIT_STEPS, share(j)))
            return np.maximum(cx, mx), np.maximum(cp, mp), floor

        lo = np.zeros(shape, dtype=np.int64)
        hi = np.full(shape, SPLIT_STEPS, dtype=np.int64)
        x0, _, _ = busy(lo)  # xPU alone (it reads every weight itself: at least the floor)
        _, p1, _ = busy(hi)  # PIM alone
        best = np.minimum(x0, p1)
        best_j = np.where(x0 <= p1, lo, hi)
        for _ in range(int(math.ceil(math.log2(SPLIT_STEPS)))):
            mid = (lo + hi) // 2
            x, p, floor = busy(mid)
            t = np.maximum(np.maximum(x, p), floor)
            better = t < best
            best = np.where(better, t, best)
            best_j = np.where(better, mid, best_j)
            right = p < x  # the PIM finishes first: give it more experts
            lo = np.where(right, mid, lo)
            hi = np.where(right, hi, mid)
        return best, best_j

    # -- interface ------------------------------------------------------------------------------
    def step_total(self, step_args: tuple, device_args: tuple) -> np.ndarray:
        """Seconds per step for arrays of design points (the sweep path: no per-operator arrays)."""
        args = tuple(step_args) + tuple(device_args)
        total = np.asarray(self._total(*args)[0], dtype=float)
        shape = np.broadcast_shapes(total.shape, *(np.shape(a) for a in args))
        total = np.broadcast_to(total, shape)
        for members, fn in self._split_groups:
            best, _ = self._split_search(fn, args, shape)
            total = total + sum(self.table.specs[i].count for i in members) * best
        return total

    def step_times(self, costs: OpCosts, step_args: tuple, device_args: tuple, weight_tier: str,
                   main_tier: str) -> PIMStepTimes:
        args = tuple(step_args) + tuple(device_args)
        flat = self._per_op(*args)
        shape = np.broadcast_shapes(costs.values["flops"].shape[1:], *(np.shape(a) for a in args))
        arr = [np.broadcast_to(np.asarray(x, dtype=float), shape) for x in flat]
        n = len(self.table.specs)
        cx, mx, cm, ln, cp, mp = (np.stack([arr[6 * i + j] for i in range(n)]) for j in range(6))
        tx, tp = np.maximum(cx, mx), np.maximum(cp, mp)
        link = self.collective.reshape((-1,) + (1,) * len(shape))
        on_pim = (tp < tx) & ~link
        assignment = np.where(link, LINK, np.where(on_pim, PIM, XPU))
        compute, memory = np.where(on_pim, cp, cx), np.where(on_pim, mp, mx)
        share = on_pim.astype(float)
        for members, fn in self._split_groups:
            _, j = self._split_search(fn, args, shape)
            tokens = np.broadcast_to(_tokens_index(step_args), shape)
            lj = self._lorenz_lookup(tokens)(j)
            sx, smx, scp, smp, floor = (np.broadcast_to(np.asarray(v, dtype=float), shape)
                                        for v in fn(*args, j / SPLIT_STEPS, lj))
            pim_critical = np.maximum(scp, smp) > np.maximum(sx, smx)
            code = np.where(j <= 0, XPU, np.where(j >= SPLIT_STEPS, PIM, SPLIT))
            for i in members:
                compute[i] = np.where(pim_critical, scp, sx)
                memory[i] = np.maximum(np.where(pim_critical, smp, smx), floor)
                assignment[i] = code
                share[i] = lj
        tiers = []
        for op in self.table.specs:
            if op.kind in COLLECTIVES:
                tiers.append("link")
            elif op.name != "embedding" and op.weights != 0:
                tiers.append(weight_tier)
            else:
                tiers.append(main_tier)
        units = tuple(unit_label(assignment[i]) for i in range(n))
        return PIMStepTimes(costs, compute, memory, cm, ln, units=units, tiers=tuple(tiers),
                            assignment=assignment, pim_share=share, xpu_compute=cx, xpu_memory=mx,
                            pim_compute=cp, pim_memory=mp)

    # -- mixed batches --------------------------------------------------------------------------
    @staticmethod
    def combine_groups(parts: list[PIMStepTimes], i: int) -> tuple[dict[str, np.ndarray], str]:
        """Attention co-processing: row ``i`` of several groups of sequences (prefill chunks,
        decodes), each group whole on one unit, groups on different units concurrent; groups on the
        same unit share one kernel (their compute and memory times add). The assignment with the
        smallest ``max(xPU, PIM)`` wins. Returns the combined row's fields and its unit label."""
        xc = np.stack([p.xpu_compute[i] for p in parts])
        xm = np.stack([p.xpu_memory[i] for p in parts])
        pc = np.stack([p.pim_compute[i] for p in parts])
        pm = np.stack([p.pim_memory[i] for p in parts])
        work = np.stack([p.costs.flops[i] + p.costs.bytes[i] for p in parts]) > 0
        g = len(parts)
        best: dict[str, Any] | None = None
        for mask in range(2 ** g):
            on_pim = np.array([(mask >> k) & 1 for k in range(g)], dtype=bool).reshape((g,) + (1,) * (xc.ndim - 1))
            c_x, m_x = np.where(on_pim, 0.0, xc).sum(0), np.where(on_pim, 0.0, xm).sum(0)
            c_p, m_p = np.where(on_pim, pc, 0.0).sum(0), np.where(on_pim, pm, 0.0).sum(0)
            t_x, t_p = np.maximum(c_x, m_x), np.maximum(c_p, m_p)
            t = np.maximum(t_x, t_p)
            pim_busy = (on_pim & work).any(0)
            xpu_busy = (~on_pim & work).any(0)
            code = np.where(pim_busy & xpu_busy, SPLIT, np.where(pim_busy, PIM, XPU))
            share_num = np.where(on_pim, np.stack([p.costs.flops[i] for p in parts]), 0.0).sum(0)
            cand = dict(time=t, compute=np.where(t_p > t_x, c_p, c_x), memory=np.where(t_p > t_x, m_p, m_x),
                        assignment=code, share=share_num)
            if best is None:
                best = cand
            else:
                better = t < best["time"]
                best = {k: np.where(better, v, best[k]) for k, v in cand.items()}
        assert best is not None  # the loop ran over at least one unit
        flops = np.stack([p.costs.flops[i] for p in parts]).sum(0)
        share = np.divide(best["share"], flops, out=np.zeros_like(flops), where=flops > 0)
        row = dict(compute=best["compute"], memory=best["memory"],
                   comm=np.stack([p.comm[i] for p in parts]).sum(0),
                   launch=np.stack([p.launch[i] for p in parts]).max(0),
                   assignment=best["assignment"], pim_share=share,
                   xpu_compute=xc.sum(0), xpu_memory=xm.sum(0), pim_compute=pc.sum(0), pim_memory=pm.sum(0))
        return row, unit_label(best["assignment"])


def pim_step_latency(model, device, *, b, s, c, precision: Precision = Precision(),
                     parallel: Parallelism = Parallelism(), weight_tier: str | None = None,
                     bandwidth_multiple=None, op_per_byte=None) -> np.ndarray:
    """Seconds per step on a Logic-PIM device for arrays of design points, the PIM's bandwidth
    multiple and Op/B (scalars or arrays) overriding the device file: the DSE sweep path."""
    table = operator_table(model, parallel.pp)
    dm = compiled_model(PIMModel, model, parallel.pp)
    tier = weight_tier or device.main_memory.name
    args = table.step_inputs(b=b, s=s, c=c, wB=precision.weight_bytes, aB=precision.activation_bytes,
                             kvB=precision.kv_bytes, tp=parallel.tp, ep=parallel.ep)
    dev = dm.device_args(device, precision, parallel, tier, bandwidth_multiple=bandwidth_multiple,
                         op_per_byte=op_per_byte)
    return dm.step_total(args, dev)



def operator_assignment(model, device, *, batches=(32, 64, 128), context: int = 2048,
                        precision: Precision = Precision(), parallel: Parallelism = Parallelism()) -> list[dict]:
    """Per decode batch and operator: Op/B, the unit it runs on, the PIM's share of its FLOPs and
    its time on the xPU alone, the PIM alone and as scheduled (seconds, launch included)."""
    if device.kind != "pim":
        raise ConfigError(device.name, "kind", device.kind, "a 'pim' device (the Logic-PIM model)")
    b = np.asarray(batches, dtype=float)
    step = timed_step(model, device, compiled_model(PIMModel, model, parallel.pp), b=b, s=1, c=context,
                      precision=precision, parallel=parallel, routing=Routing(), weight_tier=None)
    t, costs = step.times, step.costs
    assert isinstance(t, PIMStepTimes)
    alone_x = np.maximum(t.xpu_compute, t.xpu_memory) + t.comm + t.launch
    alone_p = np.where(t.assignment == LINK, alone_x, np.maximum(t.pim_compute, t.pim_memory) + t.launch)
    rows = []
    for j, batch in enumerate(batches):
        for i, name in enumerate(costs.names):
            rows.append({"batch": int(batch), "name": name, "kind": costs.kinds[i], "count": float(costs.count[i]),
                         "op_per_byte": float(costs.op_per_byte[i, j]), "unit": UNIT_NAMES[int(t.assignment[i, j])],
                         "pim_share": float(t.pim_share[i, j]), "time_s": float(t.time[i, j]),
                         "xpu_time_s": float(alone_x[i, j]), "pim_time_s": float(alone_p[i, j]),
                         "bound": BOUND_NAMES[int(t.bound[i, j])], "step_s": float(step.latency[j])})
    return rows


# 7 nm-class at 0.75 V (archmodel.energy's node rule)
PLUGIN = DeviceKind("pim", PIMModel, energy_node=(7.0, 0.75))
