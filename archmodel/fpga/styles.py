"""Execution styles of a task chain on one FPGA budget: dataflow, sequential, InTAR, and partial
reconfiguration for comparison.

A *schedule* splits the chain into consecutive groups. A group of one task runs **sequentially**:
the whole ``R x C`` PE array, loop order column tile outer (``n``), row tile inner (``m``), so the
weights are read from off-chip once through a ``K x C`` weight-tile buffer (re-streamed for every
row tile when that buffer does not fit), and the result goes to
an on-chip buffer when it fits (else off-chip: written once, read back by the consumer once per
pass over it). A group of several tasks runs as **dataflow**: the PE columns are split across its
GEMMs in proportion to their MACs (largest remainder, at least one column each), every task gets
its own sub-array ``R x c_i`` and streams row blocks (loop order ``m`` outer) to its consumers.
A consumer starts when its producer's first row block is out (``start_p + first_p``), or, for a
*blocking* producer, when the producer has finished; it cannot finish before its producer has
finished plus one row block of its own work. So the group runs at the pace of its slowest stage
and buffers between stages hold the skew: a double-buffered row block per streamed edge, the whole
output for a blocking edge. GEMM-to-GEMM edges stream at tile granularity along the consumer's K
(see ``_stream_edge``); edges into or out of a vector task at row-block granularity. Weights of a
streaming task are held on chip when they fit, else re-read for every row block. Memory traffic of
a group shares the off-chip bandwidth; a group takes ``max(pipeline cycles, bytes / bytes-per-cycle)``.

**InTAR** (He et al., FCCM 2025) picks, from problem size and resources, the partition of the
chain into groups that minimises total cycles (dynamic programming over split points: group
costs are independent, so the optimum is exact), paying ``switch_cycles`` between groups for the
in-circuit mode switch. Pure dataflow is the one-group partition, pure sequential the all-
singletons partition, so InTAR is never slower than either under this model; it is *strictly*
faster when a mixed schedule wins. **Partial reconfiguration** runs the InTAR partition but
replaces each in-circuit switch by loading a partial bitstream through the ICAP
(:func:`partial_reconfiguration`).

Simplifications (stated, not hidden): an intermediate that crosses a group boundary stays on chip
iff it alone fits the budget's on-chip bytes (the resource estimate then reports whether all live
buffers fit together); off-chip latency is not modelled, only bandwidth; cycles of vector tasks
(softmax) are ``passes * ceil(elements / lanes) + 3`` with ``lanes = C`` (buffer read, exp ROM and
accumulate registers).
"""
from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, replace
from functools import lru_cache
from typing import Literal

from accelerators.errors import ConfigError

from .budget import Budget
from .resources import Buffer, DesignParts, Resources, estimate_resources
from .tasks import Task, TaskChain
from .timing import BUFFER_READ_LATENCY, LUT_LATENCY, ceil_div, gemm_cycles

__all__ = ["STYLES", "GroupTiming", "PartialReconfig", "StyleResult", "TaskTiming", "VECTOR_LATENCY",
           "evaluate_partition", "partial_reconfiguration", "run_style", "split_columns"]

Style = Literal["dataflow", "sequential", "intar"]
STYLES: tuple[str, ...] = ("dataflow", "sequential", "intar")
#: Vector unit pipeline: buffer read (1) + exp ROM (LUT, 1) + accumulate register (1).
VECTOR_LATENCY = BUFFER_READ_LATENCY + LUT_LATENCY + 1


@dataclass(frozen=True)
class TaskTiming:
    """One task's place in the schedule (cycles relative to the kernel start)."""

    task: str
    mode: str                 # "dataflow" | "sequential"
    group: int
    rows: int                 # PE sub-array (0 for a vector task)
    cols: int                 # PE sub-array columns, or the vector unit's lanes
    start: int
    end: int
    compute_cycles: int
    offchip_bytes: int
    output: str               # "onchip", "offchip" (spilled), "streamed" or "kernel-output"

    @property
    def cycles(self) -> int:
        return self.end - self.start


@dataclass(frozen=True)
class GroupTiming:
    tasks: tuple[TaskTiming, ...]
    cycles: int
    memory_cycles: int
    buffers: tuple[Buffer, ...]      # group-internal buffers (skew, held weights, weight tiles)
    stored: tuple[Buffer, ...]       # outputs kept on chip for later groups


@dataclass(frozen=True)
class StyleResult:
    kernel: str
    style: str
    budget: Budget
    groups: tuple[GroupTiming, ...]
    cycles: int
    resources: Resources

    @property
    def stages(self) -> tuple[TaskTiming, ...]:
        return tuple(t for g in self.groups for t in g.tasks)

    @property
    def latency_s(self) -> float:
        return self.cycles / self.budget.clock_hz

    @property
    def switches(self) -> int:
        return max(0, len(self.groups) - 1)

    def as_dict(self) -> dict:
        return {
            "kernel": self.kernel, "style": self.style, "device": self.budget.device,
            "array": [self.budget.rows, self.budget.cols], "clock_hz": self.budget.clock_hz,
            "cycles": self.cycles, "latency_s": self.latency_s, "switches": self.switches,
            "stages": [{"task": t.task, "mode": t.mode, "group": t.group, "rows": t.rows, "cols": t.cols,
                        "start": t.start, "end": t.end, "cycles": t.cycles, "offchip_bytes": t.offchip_bytes,
                        "output": t.output} for t in self.stages],
            "resources": self.resources.as_dict(),
            "fits": self.resources.fits(self.budget),
        }


def split_columns(macs: Sequence[int], cols: int) -> tuple[int, ...]:
    """Columns per GEMM in proportion to ``macs``: largest remainder, each at least one."""
    n = len(macs)
    if n == 0:
        return ()
    if n > cols:
        raise ValueError(f"{n} GEMMs cannot share {cols} columns")
    total = sum(macs)
    spare = cols - n  # one column each first
    if total == 0:
        shares = [spare / n] * n
    else:
        shares = [spare * m / total for m in macs]
    base = [int(s) for s in shares]
    left = spare - sum(base)
    order = sorted(range(n), key=lambda i: (-(shares[i] - base[i]), i))
    for i in order[:left]:
        base[i] += 1
    return tuple(b + 1 for b in base)


def _row_blocks(t: Task, rows: int) -> int:
    return t.instances * ceil_div(t.m, rows)


def _vector_cycles(t: Task, lanes: int, rows_of_work: int | None = None) -> int:
    m = t.m if rows_of_work is None else rows_of_work
    inst = t.instances if rows_of_work is None else 1
    elements = inst * m * t.n
    if elements == 0:
        return 0
    return t.passes * ceil_div(elements, lanes) + VECTOR_LATENCY


def _compute(t: Task, rows: int, cols: int) -> int:
    if t.kind == "gemm":
        return gemm_cycles(t.m, t.n, t.k, rows, cols, t.instances)
    return _vector_cycles(t, cols)


def _one_block(t: Task, rows: int, cols: int) -> int:
    """Cycles for one row block of ``t`` (its first output block, and its last block's work)."""
    if t.kind == "gemm":
        return gemm_cycles(min(t.m, rows), t.n, t.k, rows, cols)
    return _vector_cycles(t, cols, min(t.m, rows))


def _stream_edge(p: Task, t: Task, rows: int, cp: int, ct: int) -> tuple[int, int]:
    """(first, tail) of a streamed edge ``p -> t``: ``t`` starts ``first`` cycles after ``p`` starts
    and ends at least ``tail`` cycles after ``p`` ends.

    * A GEMM reading a GEMM's output as its A operand consumes it along K, one producer column
      tile at a time: it starts once ``p``'s first tile is out (``K_p + R + 1``, the contract's
      isolated tile) and, after ``p``'s last tile, still runs the rest of its last row block:
      that block's tiles minus the ``K_t`` beats that overlapped, at least a drain (``R + 1``).
    * A side input combined in the drain (up for gate): ``t`` may start at once and its last
      drain follows ``p``'s by ``R + 1``.
    * A vector task (softmax) needs whole rows: row-block granularity on either side.
    """
    if t.kind == "gemm" and p.kind == "gemm":
        if t.a_from != p.name and t.weights_offchip:
            return 0, rows + 1
        block = _one_block(t, rows, ct)
        return p.k + rows + 1, max(block - t.k, rows + 1)
    return _one_block(p, rows, cp), _one_block(t, rows, ct)


def _fits(nbytes: int, budget: Budget) -> bool:
    return nbytes <= budget.onchip_bytes


def _b_source(t: Task) -> str | None:
    """The producer of an on-chip B operand (K^T, V), if any."""
    if t.kind != "gemm" or t.weights_offchip:
        return None
    others = [p for p in t.inputs if p != t.a_from]
    return others[0] if others else t.a_from


def _stored_buffer(name: str, t: Task, rows: int) -> Buffer:
    return Buffer(f"{name}.out", 8 * rows, t.instances * ceil_div(t.m, rows) * t.n)


def evaluate_group(chain: TaskChain, lo: int, hi: int, budget: Budget, start: int, index: int) -> GroupTiming | None:
    """Timing of tasks ``lo:hi`` as one group starting at cycle ``start`` (None: infeasible)."""
    tasks = chain.tasks[lo:hi]
    names = {t.name for t in tasks}
    R, C = budget.rows, budget.cols
    dataflow = len(tasks) > 1
    gemms = [t for t in tasks if t.kind == "gemm"]
    if len(gemms) > C:
        return None
    cols = dict(zip((t.name for t in gemms), split_columns([t.macs for t in gemms], C))) if dataflow else \
        {t.name: C for t in gemms}
    produced_before = {t.name for t in chain.tasks[:lo]}
    kernel_input_fits = _fits(max((t.in_bytes for t in chain.tasks if t.a_from is None and t.kind == "gemm"),
                                  default=0), budget)
    first_input_reader = next((t.name for t in chain.tasks if t.kind == "gemm" and t.a_from is None), None)

    timings: dict[str, tuple[int, int]] = {}
    rows_out: list[TaskTiming] = []
    buffers: list[Buffer] = []
    stored: list[Buffer] = []
    total_bytes = 0
    for t in tasks:
        c = cols.get(t.name, C)
        r = R if t.kind == "gemm" else 0
        compute = _compute(t, R, c)
        mb = _row_blocks(t, R)
        t0 = 0
        floor = 0
        for p in t.inputs:
            if p not in names:
                continue
            ps, pf = timings[p]
            pt = chain.task(p)
            if p in t.blocking:
                t0 = max(t0, pf)
            else:
                first, tail = _stream_edge(pt, t, R, cols.get(p, C), c)
                t0 = max(t0, ps + first)
                floor = max(floor, pf + tail)
        finish = max(t0 + compute, floor)
        timings[t.name] = (t0, finish)

        # off-chip bytes of this task
        nbytes = 0
        n_passes = ceil_div(t.n, c) if t.kind == "gemm" else t.passes
        if t.weight_bytes:
            if mb == 1:
                nbytes += t.weight_bytes  # one row tile: the weights stream straight into the array
            elif not dataflow and _fits(t.k * c, budget):
                nbytes += t.weight_bytes  # n outer: a K x C weight-tile buffer, weights read once
                buffers.append(Buffer(f"{t.name}.wtile", 8 * c, t.k))
            elif dataflow and _fits(t.weight_bytes, budget):
                nbytes += t.weight_bytes  # held on chip across row blocks
                buffers.append(Buffer(f"{t.name}.weights", 8 * c, t.instances * t.k * ceil_div(t.n, c)))
            else:
                nbytes += t.weight_bytes * mb  # re-streamed for every row tile, no buffer
                buffers.append(Buffer(f"{t.name}.wtile", 8 * c, t.k))
        if t.a_from is None and t.kind == "gemm":
            if kernel_input_fits:
                nbytes += t.in_bytes if t.name == first_input_reader else 0
            else:
                nbytes += t.in_bytes * (1 if dataflow else n_passes)
        b_src = _b_source(t)
        for p in t.inputs:
            if p in names or p not in produced_before or _fits(chain.task(p).out_bytes, budget):
                continue  # streamed inside the group, or stored on chip by its group
            if p == t.a_from:  # A operand re-read once per pass (column tile) in sequential
                nbytes += t.in_bytes * (1 if dataflow else n_passes)
            if p == b_src:  # an on-chip B operand (K^T, V): re-read for every row block
                nbytes += t.instances * t.k * t.n * ceil_div(t.m, R)
            if p not in (t.a_from, b_src):  # a side input (up for gate's drain): read once
                nbytes += chain.task(p).out_bytes
        # this task's output
        consumers = chain.consumers(t.name)
        inside = [q for q in consumers if q.name in names]
        outside = [q for q in consumers if q.name not in names]
        output = "kernel-output" if not consumers else "streamed"
        if not consumers:
            nbytes += t.out_bytes
        for q in inside:
            if t.name in q.blocking:
                if _fits(t.out_bytes, budget):
                    buffers.append(_stored_buffer(t.name, t, R))
                else:
                    nbytes += t.out_bytes * 2  # spilled: written, read back
                    output = "offchip"
            else:
                buffers.append(Buffer(f"{t.name}->{q.name}.skew", 8 * R, 2 * t.instances * t.n))
        if outside:
            if _fits(t.out_bytes, budget):
                stored.append(_stored_buffer(t.name, t, R))
                output = "onchip"
            else:
                nbytes += t.out_bytes
                output = "offchip"
        total_bytes += nbytes
        rows_out.append(TaskTiming(t.name, "dataflow" if dataflow else "sequential", index, r, c,
                                   start + t0, start + finish, compute, nbytes, output))

    pipeline = max(f for _, f in timings.values())
    memory = math.ceil(total_bytes / budget.offchip_bytes_per_cycle)
    cycles = max(pipeline, memory)
    if cycles > pipeline:  # memory-bound: the stages that ended the pipeline stretch to the group's end
        rows_out = [replace(x, end=start + cycles) if x.end == start + pipeline else x for x in rows_out]
    return GroupTiming(tuple(rows_out), cycles, memory, tuple(buffers), tuple(stored))


def evaluate_partition(chain: TaskChain, cuts: Sequence[int], budget: Budget, style: str) -> StyleResult:
    """Time the chain split at ``cuts`` (group start indices after 0), with switches between groups."""
    bounds = [0, *cuts, len(chain.tasks)]
    groups: list[GroupTiming] = []
    clock = 0
    for i in range(len(bounds) - 1):
        if i:
            clock += budget.switch_cycles
        g = evaluate_group(chain, bounds[i], bounds[i + 1], budget, clock, i)
        if g is None:
            gemms = sum(1 for t in chain.tasks[bounds[i]:bounds[i + 1]] if t.kind == "gemm")
            raise ConfigError(None, "style", style, f"a schedule whose dataflow groups have at most "
                              f"{budget.cols} GEMMs (one PE column each); this group has {gemms}")
        groups.append(g)
        clock += g.cycles
    return StyleResult(chain.name, style, budget, tuple(groups), clock, _resources(chain, groups, budget))


def _resources(chain: TaskChain, groups: Sequence[GroupTiming], budget: Budget) -> Resources:
    R, C = budget.rows, budget.cols
    sizes = [len(g.tasks) for g in groups]
    vec_per_group = [sum(1 for t in g.tasks if t.rows == 0) for g in groups]
    gemm_per_group = [sum(1 for t in g.tasks if t.rows > 0) for g in groups]
    mixed = len(groups) > 1 and max(gemm_per_group) > 1
    if len(groups) == 1 and gemm_per_group[0] > 1:
        arrays = tuple((R, t.cols) for t in groups[0].tasks if t.rows > 0)  # fixed sub-arrays
    else:
        arrays = ((R, C),)
    scratch = max(groups, key=lambda g: sum(b.bytes for b in g.buffers)).buffers  # groups reuse scratch
    stored = tuple(b for g in groups for b in g.stored)
    input_reader = next((t for t in chain.tasks if t.kind == "gemm" and t.a_from is None), None)
    inputs: tuple[Buffer, ...] = ()
    if input_reader is not None and _fits(input_reader.in_bytes, budget):
        inputs = (Buffer("input", 8 * R, ceil_div(input_reader.m, R) * input_reader.k),)
    parts = DesignParts(pe_arrays=arrays, requant_lanes=C, vector_lanes=C * max(vec_per_group),
                        controllers=max(sizes), mode_switch_splits=(max(gemm_per_group) - 1) if mixed else 0,
                        buffers=inputs + stored + scratch)
    return estimate_resources(parts, budget)


@lru_cache(maxsize=256)
def _intar_cuts(chain: TaskChain, budget: Budget) -> tuple[int, ...]:
    n = len(chain.tasks)
    best: list[float] = [0.0] + [float("inf")] * n
    back = [0] * (n + 1)
    for j in range(1, n + 1):
        for i in range(j):
            if best[i] == float("inf"):
                continue
            g = evaluate_group(chain, i, j, budget, 0, 0)
            if g is None:
                continue
            cost = best[i] + g.cycles + (budget.switch_cycles if i else 0)
            if cost < best[j]:
                best[j], back[j] = cost, i
    cuts: list[int] = []
    j = n
    while j > 0:
        j = back[j]
        if j:
            cuts.append(j)
    return tuple(sorted(cuts))


def run_style(chain: TaskChain, budget: Budget, style: str) -> StyleResult:
    """Time ``chain`` on ``budget`` in ``style`` (dataflow | sequential | intar)."""
    if style == "dataflow":
        return evaluate_partition(chain, (), budget, style)
    if style == "sequential":
        return evaluate_partition(chain, tuple(range(1, len(chain.tasks))), budget, style)
    if style == "intar":
        return evaluate_partition(chain, _intar_cuts(chain, budget), budget, style)
    raise ConfigError(None, "style", style, f"one of {', '.join(STYLES)}")


# Partial reconfiguration -------------------------------------------------------------------

#: UG909 (Vivado Partial Reconfiguration), "Configuration Time", UltraScale+ table: ICAP/MCAP
#: 200 MHz x 32 bit = 6.4 Gb/s; on SSI devices (U280, U55C: 3 SLRs) 125 MHz x 32 bit = 4.0 Gb/s.
#: (The 7-series ICAPE2 figure, 100 MHz x 32 bit = 3.2 Gb/s = 400 MB/s, is the conservative
#: rate of an ICAP driven at 100 MHz; we use the UltraScale+ table for UltraScale+ parts.)
ICAP_BYTES_PER_S_MONOLITHIC = 6.4e9 / 8
ICAP_BYTES_PER_S_SSI = 4.0e9 / 8
#: Configuration bits per LUT of fabric: PG156 Table 3-4 lists the full VU190 bitstream at
#: 577.1 Mb; DS890 gives the VU190 1,074,240 CLB LUTs: 537 bits per LUT (KU040: 122.1 Mb /
#: 242,400 = 504; VU095: 273.5 Mb / 537,600 = 509; we take the largest device's figure).
CONFIG_BITS_PER_LUT = 577.1e6 / 1_074_240


@dataclass(frozen=True)
class PartialReconfig:
    """InTAR's partition with each in-circuit switch replaced by a partial reconfiguration."""

    region_fraction: float       # share of the fabric the reconfigurable region covers
    bitstream_bytes: float       # partial bitstream per reconfiguration
    icap_bytes_per_s: float
    seconds_per_switch: float
    switches: int
    compute_s: float             # the schedule's cycles without the in-circuit switches
    total_s: float


def partial_reconfiguration(result: StyleResult, icap_bytes_per_s: float | None = None) -> PartialReconfig:
    """Milliseconds per region: partial bitstream bytes / ICAP bandwidth. The region covers the
    largest fraction of any resource the design uses (a PR region must contain its DSP and BRAM
    columns); its bitstream is that fraction of the device's LUTs times :data:`CONFIG_BITS_PER_LUT`."""
    b = result.budget
    f = b.fpga
    res = result.resources
    fraction = min(1.0, max(res.dsp / f.dsp, res.lut / f.lut, res.ff / f.ff,
                            res.bram36 / f.bram36 if f.bram36 else 0.0, res.uram / f.uram if f.uram else 0.0))
    bits = fraction * f.lut * CONFIG_BITS_PER_LUT
    icap = icap_bytes_per_s or (ICAP_BYTES_PER_S_SSI if b.ssi else ICAP_BYTES_PER_S_MONOLITHIC)
    per_switch = bits / 8 / icap
    compute = (result.cycles - result.switches * b.switch_cycles) / b.clock_hz
    return PartialReconfig(fraction, bits / 8, icap, per_switch, result.switches, compute,
                           compute + result.switches * per_switch)
