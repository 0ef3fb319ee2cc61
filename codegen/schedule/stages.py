"""Schedule rows and results: :class:`Stage`, :class:`ExpertVariant`, :class:`ScheduleResult`, and
the stage builders every part of the schedule uses (see :mod:`codegen.schedule` for the datapath)."""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Literal

from archmodel.fpga.budget import Budget
from archmodel.fpga.resources import Buffer, Resources
from archmodel.moe_layer import MoELayer
from archmodel.fpga.timing import (BUFFER_READ_LATENCY, GATED_PRODUCT_LATENCY, LUT_LATENCY, REQUANT_LATENCY,
                                   ceil_div, gemm_cycles)

__all__ = ["POST_DOWN", "POST_GATE", "POST_UP_GATED", "POST_UP_PLAIN", "ExpertVariant", "Mode",
           "ScheduleResult", "Stage", "mem_cycles", "pe_stage", "unit_stage"]

Mode = Literal["dataflow", "sequential"]
#: drain pipeline after the PE array, per GEMM role
POST_UP_GATED = REQUANT_LATENCY
POST_UP_PLAIN = REQUANT_LATENCY + LUT_LATENCY
POST_GATE = REQUANT_LATENCY + LUT_LATENCY + GATED_PRODUCT_LATENCY + REQUANT_LATENCY
POST_DOWN = REQUANT_LATENCY


@dataclass(frozen=True)
class Stage:
    """One row of the schedule table."""

    index: int
    task: str                   # load | router | topk | gate_norm | e<i>.up | e<i>.gate | e<i>.down | combine
    unit: str                   # stream | pe | topk | gate_norm | combiner
    mode: Mode
    group: int                  # stages with the same group run concurrently
    expert: int | None
    variant: str | None         # the expert variant the stage belongs to
    rows: int                   # PE rows used (0: not on the PE array)
    cols: int                   # PE columns (sub-array width) or the unit's lanes
    col_offset: int             # first PE column of the sub-array
    m: int                      # loop bounds: M (tokens, on rows), N (on columns), K (beats per tile)
    n: int
    k: int
    row_tiles: int
    col_tiles: int
    loop_order: str             # "n,m": column tiles outer; "m,n": row tiles outer
    src: tuple[str, ...]        # buffers / streams read
    dst: str                    # buffer / stream written
    start: int
    end: int                    # last cycle + 1
    compute_cycles: int         # cycles with an always-valid weight stream
    weight_bytes: int           # bytes streamed from off-chip memory

    @property
    def cycles(self) -> int:
        return self.end - self.start

    def as_dict(self) -> dict:
        d = {f: getattr(self, f) for f in self.__dataclass_fields__}
        d["src"] = list(self.src)
        d["cycles"] = self.cycles
        return d


@dataclass(frozen=True)
class ExpertVariant:
    """A precomputed stage sequence for one expert, chosen at run time by its token count."""

    name: str                   # seq-stream | seq-tiled | df
    mode: Mode
    min_tokens: int
    max_tokens: int
    col_split: tuple[int, ...]  # PE columns of (up, [gate,] down); sequential: (C,)
    loop_order: str
    cycles_at_min: int
    cycles_at_max: int

    def as_dict(self) -> dict:
        d = {f: getattr(self, f) for f in self.__dataclass_fields__}
        d["col_split"] = list(self.col_split)
        return d


@dataclass(frozen=True)
class ScheduleResult:
    shape: MoELayer
    budget: Budget
    style: str
    stream_bytes: int
    tokens_per_expert: tuple[int, ...]
    stages: tuple[Stage, ...]
    variants: tuple[ExpertVariant, ...]
    expert_variant: tuple[str | None, ...]
    total_cycles: int
    resources: Resources
    buffers: tuple[Buffer, ...] = field(repr=False)

    @property
    def latency_s(self) -> float:
        return self.total_cycles / self.budget.clock_hz

    def variant_for(self, count: int) -> ExpertVariant | None:
        """The variant the kernel runs for an expert with ``count`` tokens (None for 0)."""
        for v in self.variants:
            if v.min_tokens <= count <= v.max_tokens:
                return v
        return None

    def as_dict(self) -> dict:
        s = self.shape
        return {
            "kernel": "moe", "style": self.style, "device": self.budget.device,
            "shape": {"tokens": s.tokens, "hidden": s.hidden, "ffn": s.ffn, "experts": s.experts,
                      "top_k": s.top_k, "gated": s.gated},
            "array": [self.budget.rows, self.budget.cols], "clock_hz": self.budget.clock_hz,
            "stream_bytes": self.stream_bytes, "tokens_per_expert": list(self.tokens_per_expert),
            "cycles": self.total_cycles, "latency_s": self.latency_s,
            "stages": [st.as_dict() for st in self.stages],
            "variants": [v.as_dict() for v in self.variants],
            "expert_variant": list(self.expert_variant),
            "resources": self.resources.as_dict(), "fits": self.resources.fits(self.budget),
            "buffers": [{"name": b.name, "width_bits": b.width_bits, "depth": b.depth} for b in self.buffers],
        }


# ----------------------------------------------------------------------------------------------
# building blocks


def mem_cycles(nbytes: int, budget: Budget) -> int:
    return math.ceil(nbytes / budget.offchip_bytes_per_cycle) if nbytes else 0


def pe_stage(index: int, task: str, group: int, expert: int | None, variant: str | None, m: int, n: int,
              k: int, rows: int, cols: int, col_offset: int, src: tuple[str, ...], dst: str, post: int,
              start: int, budget: Budget, weights: bool, loop_order: str, mode: Mode = "sequential") -> Stage:
    compute = BUFFER_READ_LATENCY + gemm_cycles(m, n, k, rows, cols) + post
    wbytes = k * n if weights else 0
    cycles = max(compute, mem_cycles(wbytes, budget))
    return Stage(index, task, "pe", mode, group, expert, variant, rows, cols, col_offset, m, n, k,
                 ceil_div(m, rows), ceil_div(n, cols), loop_order, src, dst, start, start + cycles, compute, wbytes)


def unit_stage(index: int, task: str, unit: str, group: int, lanes: int, m: int, n: int, src: tuple[str, ...],
                dst: str, start: int, cycles: int, mode: Mode = "sequential") -> Stage:
    return Stage(index, task, unit, mode, group, None, None, 0, lanes, 0, m, n, 1, 0, 0, "-", src, dst,
                 start, start + cycles, cycles, 0)
