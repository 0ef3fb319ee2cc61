"""The schedule of one MoE layer on a PE-array budget: what the kernel generator emits.

``schedule_moe_layer(shape, tokens_per_expert, budget)`` returns a table of :class:`Stage` rows
(task, unit, mode, PE sub-array, loop bounds, source and destination buffers, start and end
cycles), the per-token-count :class:`ExpertVariant` table the kernel selects from at run time,
the predicted total cycles and the resource estimate. Every cycle count follows the hardware
timing contract of ``docs/kernel-arithmetic.md`` section 3 through :mod:`archmodel.fpga.timing`.

Stage cycles count from the stage's first cycle (the controller issues the first buffer read)
to its last cycle (the last result is written), inclusive; consecutive groups are separated by
``budget.switch_cycles`` (the in-circuit switch: schedule-ROM read + loop-bound load). Stages in
one dataflow group overlap. The datapath this model assumes (the generator should build it, or
this model must change with it):

* ``load``: the token stream (``stream_bytes`` int8 a word, ``docs/kernel-arithmetic.md`` §2)
  fills buffer ``x``: ``T * ceil(d / W)`` cycles, one word a cycle. The requantiser parameter
  block (:func:`param_block_words` words, ``codegen/hdl/interface.py``) is requested in the
  stage's first cycle and arrives on the weight stream meanwhile: ``max(T * ceil(d / W),
  1 + param words)``. In a dataflow front it follows the router's weight tile:
  the front ends no earlier than ``first router beat + d + param words``.
* ``router``: GEMM ``M=T, N=E, K=d`` on the whole array, A operand from ``x``; the int32 logits
  go to buffer ``logits``: ``1 + gemm_cycles`` (one buffer-read latency).
* ``topk``: one logit a cycle from ``logits``: ``T*E + 2`` (read latency, TopK latency 1).
* ``gate_norm``: one token every 20 cycles from ``sel``: ``20*T + 1``; the results fill the
  per-expert token lists and gate weights (``dispatch``).
  In **dataflow** the four stream (``E <= C``): router row blocks start when their tokens are
  loaded, each logit row is serialised to TopK (``E`` cycles a token), TopK feeds the
  GateNormalizer (II 20, latency 19); max-plus recurrences give the exact finish.
* Per expert with ``c > 0`` tokens (an expert without tokens has no stages and costs nothing),
  **sequential** variants run ``up`` (``M=c, N=f, K=d``; requantised into ``up_q``), ``gate``
  (gated only; its drain does requant, activation LUT, the product with ``up_q`` and RQhid into
  ``h``) and ``down`` (``M=c, N=d, K=f`` from ``h``, requantised into the ``y`` slots), each on
  the whole array: ``1 + gemm_cycles + post`` with post = 3 (up; 3 + 1 when not gated, the
  activation follows), 3 + 1 + 1 + 3 (gate), 3 (down). ``seq-stream`` (``c <= R``: one row tile)
  streams weights straight into the array; ``seq-tiled`` (``c > R``) runs column tiles outer,
  row tiles inner with a ``K x C`` weight-tile buffer so that weights are read once. The
  **dataflow** variant ``df`` splits the columns between up, gate and down in proportion to their
  MACs (sub-array A = up + gate, which share the ``x`` operand and ``K = d``; sub-array D =
  down) and pipelines row blocks in lockstep *phases*: the single weight port carries one word
  of ``C`` lanes a cycle, holding A's and D's weights side by side, so both sub-arrays advance
  on the same words. Phase ``p = 0 .. B`` (``B = ceil(c / R)``) runs A on row block ``p`` and D
  on row block ``p - 1``: ``nA * d``, ``max(nA * d, nD * f)`` and ``nD * f`` words for the first,
  middle and last phases (``nA`` gate tiles, or up tiles when not gated; ``nD`` down tiles). A
  beat waits only when its sub-array's drain bank is busy (``K < R``) or when a D beat would
  read an ``h`` column not yet written (:func:`_df_timing`); buffers hold two row blocks of
  ``up_q`` and ``h`` instead of all ``c`` rows, and weights are re-streamed for every row block.
  (An earlier version of this model let down's first tile consume ``h`` while gate produced
  it, at its own pace; with one weight port that needs a second weight stream or a buffer of
  down's weights, so the model now describes the lockstep datapath the RTL builds.)
* ``combine``: Combiner with ``W`` lanes: ``T * ceil(d / W) * k`` beats from the ``y`` slots,
  ``+ 1`` read latency ``+ 3`` combiner latency; the results leave on the output token stream.

No intermediate may go off chip (the kernel has no memory port besides its streams): a variant
whose buffers do not fit the budget's BRAM/URAM is not used; if none fits, ConfigError. Memory
bandwidth still limits a stage whose weights stream faster than the budget's off-chip bytes per
cycle: ``cycles = max(compute, weight bytes / bytes per cycle)``; ``compute_cycles`` is what an
RTL simulation with an always-valid weight stream measures.
"""
from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

import numpy as np

from accelerators.errors import ConfigError

from .budget import Budget, make_budget
from .resources import Buffer, DesignParts, Resources, bram36_blocks, estimate_resources
from .styles import split_columns
from .tasks import MoELayer, MoELayerShape, check_counts
from .timing import (BUFFER_READ_LATENCY, COMBINER_LATENCY, GATE_NORM_II, GATE_NORM_LATENCY,
                     GATED_PRODUCT_LATENCY, LUT_LATENCY, REQUANT_LATENCY, TOPK_LATENCY, ceil_div,
                     gemm_cycles, pipeline_finish)

__all__ = ["ExpertVariant", "ScheduleResult", "Stage", "VARIANTS", "expert_cycles", "expert_stages",
           "param_block_words", "schedule_moe_layer"]

Mode = Literal["dataflow", "sequential"]
VARIANTS: tuple[str, ...] = ("seq-stream", "seq-tiled", "df")
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


def _mem_cycles(nbytes: int, budget: Budget) -> int:
    return math.ceil(nbytes / budget.offchip_bytes_per_cycle) if nbytes else 0


def _pe_stage(index: int, task: str, group: int, expert: int | None, variant: str | None, m: int, n: int,
              k: int, rows: int, cols: int, col_offset: int, src: tuple[str, ...], dst: str, post: int,
              start: int, budget: Budget, weights: bool, loop_order: str, mode: Mode = "sequential") -> Stage:
    compute = BUFFER_READ_LATENCY + gemm_cycles(m, n, k, rows, cols) + post
    wbytes = k * n if weights else 0
    cycles = max(compute, _mem_cycles(wbytes, budget))
    return Stage(index, task, "pe", mode, group, expert, variant, rows, cols, col_offset, m, n, k,
                 ceil_div(m, rows), ceil_div(n, cols), loop_order, src, dst, start, start + cycles, compute, wbytes)


def _unit_stage(index: int, task: str, unit: str, group: int, lanes: int, m: int, n: int, src: tuple[str, ...],
                dst: str, start: int, cycles: int, mode: Mode = "sequential") -> Stage:
    return Stage(index, task, unit, mode, group, None, None, 0, lanes, 0, m, n, 1, 0, 0, "-", src, dst,
                 start, start + cycles, cycles, 0)


def _shape(shape: MoELayerShape) -> MoELayer:
    return shape if isinstance(shape, MoELayer) else MoELayer(shape.tokens, shape.hidden, shape.ffn,
                                                                shape.experts, shape.top_k, shape.gated)


# ----------------------------------------------------------------------------------------------
# front: load, router, top-k, gate normalisation


def param_block_words(shape: MoELayerShape) -> int:
    """Words of the per-layer requantiser parameter block the kernel reads on its weight stream:
    the gate requantiser, then ``RQup``, (``RQgate``, ``RQhid``,) ``RQdown`` per expert."""
    return 1 + shape.experts * (4 if shape.gated else 2)


def _front_sequential(s: MoELayer, b: Budget, W: int, start: int, group0: int) -> list[Stage]:
    T, d, E = s.tokens, s.hidden, s.experts
    words = max(T * ceil_div(d, W), 1 + param_block_words(s))
    out = [_unit_stage(0, "load", "stream", group0, W, T, d, ("in",), "x", start, words)]
    t = out[-1].end + b.switch_cycles
    out.append(_pe_stage(1, "router", group0 + 1, None, None, T, E, d, b.rows, b.cols, 0, ("x", "w:router"),
                         "logits", 0, t, b, True, "n,m"))
    t = out[-1].end + b.switch_cycles
    out.append(_unit_stage(2, "topk", "topk", group0 + 2, 1, T, E, ("logits",), "sel", t,
                           BUFFER_READ_LATENCY + T * E + TOPK_LATENCY))
    t = out[-1].end + b.switch_cycles
    out.append(_unit_stage(3, "gate_norm", "gate_norm", group0 + 3, s.top_k, T, s.top_k, ("sel",), "dispatch",
                           t, BUFFER_READ_LATENCY + GATE_NORM_II * (T - 1) + GATE_NORM_LATENCY + 1))
    return out


def _front_dataflow(s: MoELayer, b: Budget, W: int, start: int, group: int) -> list[Stage] | None:
    """load -> router -> serializer -> TopK -> GateNormalizer streaming (needs E <= C)."""
    T, d, E, R = s.tokens, s.hidden, s.experts, b.rows
    if E > b.cols:
        return None
    wpt = ceil_div(d, W)
    blocks = ceil_div(T, R)
    m = np.arange(blocks, dtype=np.int64)
    last_token = np.minimum((m + 1) * R, T) - 1
    loaded = start + (last_token + 1) * wpt - 1              # cycle of each block's last word
    ready = loaded + 1 + BUFFER_READ_LATENCY                 # first beat may enter the array
    first_beat = pipeline_finish(ready, max(d, R))           # tiles back to back at period max(K, R)
    # weight stream: E x d router weights, once (one column tile; the tile is buffered when blocks > 1)
    mem = _mem_cycles(d * E, b)
    tok = np.arange(T, dtype=np.int64)
    row_out = first_beat[tok // R] + d + 1 + tok % R        # contract: row r valid at c0 + K + 1 + r
    ser = pipeline_finish(row_out, E)                        # serializer takes a row when the last left
    topk_out = ser + E + TOPK_LATENCY                        # last logit at ser + E; out valid + 1
    gate_acc = pipeline_finish(topk_out, GATE_NORM_II)
    gate_out = gate_acc + GATE_NORM_LATENCY
    params_end = int(first_beat[0]) + d + param_block_words(s)  # the block follows the router tile
    end = int(max(gate_out[-1] + 1, start + mem, params_end))
    load_end = start + T * wpt
    router_end = int(row_out[-1]) + 1
    return [
        _unit_stage(0, "load", "stream", group, W, T, d, ("in",), "x", start, load_end - start, "dataflow"),
        Stage(1, "router", "pe", "dataflow", group, None, None, R, b.cols, 0, T, E, d, blocks, 1, "m,n",
              ("x", "w:router"), "serializer", int(first_beat[0]) - BUFFER_READ_LATENCY, router_end,
              router_end - int(first_beat[0]) + BUFFER_READ_LATENCY, d * E),
        _unit_stage(2, "topk", "topk", group, 1, T, E, ("serializer",), "gate_norm", int(ser[0]),
                    int(topk_out[-1]) + 1 - int(ser[0]), "dataflow"),
        _unit_stage(3, "gate_norm", "gate_norm", group, s.top_k, T, s.top_k, ("topk",), "dispatch",
                    int(gate_acc[0]), end - int(gate_acc[0]), "dataflow"),
    ]


# ----------------------------------------------------------------------------------------------
# experts


def _df_split(s: MoELayer, cols: int) -> tuple[int, ...] | None:
    parts = 3 if s.gated else 2
    if cols < parts:
        return None
    return split_columns([s.hidden * s.ffn] * parts, cols)


def expert_stages(shape: MoELayerShape, expert: int, count: int, budget: Budget, variant: str,
                  start: int = 0, index: int = 0, group: int = 0) -> tuple[Stage, ...]:
    """The stages of one expert with ``count`` tokens in ``variant`` (empty for ``count == 0``)."""
    s = _shape(shape)
    if variant not in VARIANTS:
        raise ConfigError(None, "variant", variant, f"one of {', '.join(VARIANTS)}")
    if count == 0:
        return ()
    R, C, d, f = budget.rows, budget.cols, s.hidden, s.ffn
    e = f"e{expert}"
    if variant in ("seq-stream", "seq-tiled"):
        if variant == "seq-stream" and count > R:
            raise ConfigError(None, "variant", variant, f"seq-stream needs count <= rows = {R}, got {count}")
        order = "n,m"
        out: list[Stage] = []
        t = start
        up_dst = "up_q" if s.gated else "h"
        out.append(_pe_stage(index, f"{e}.up", group, expert, variant, count, f, d, R, C, 0, ("x", f"w:{e}.up"),
                             up_dst, POST_UP_GATED if s.gated else POST_UP_PLAIN, t, budget, True, order))
        if s.gated:
            t = out[-1].end + budget.switch_cycles
            out.append(_pe_stage(index + 1, f"{e}.gate", group + 1, expert, variant, count, f, d, R, C, 0,
                                 ("x", f"w:{e}.gate", "up_q"), "h", POST_GATE, t, budget, True, order))
        t = out[-1].end + budget.switch_cycles
        out.append(_pe_stage(index + len(out), f"{e}.down", group + len(out), expert, variant, count, d, f, R, C, 0,
                             ("h", f"w:{e}.down"), "y", POST_DOWN, t, budget, True, order))
        return tuple(out)
    split = _df_split(s, C)
    if split is None:
        raise ConfigError(None, "variant", variant, f"df needs at least {3 if s.gated else 2} PE columns")
    return _expert_dataflow(s, expert, count, budget, split, start, index, group)


@dataclass(frozen=True)
class _DfTimes:
    """Event cycles of one dataflow expert (absolute; see :func:`_df_timing`)."""

    acc_a: tuple[int, ...]      # accumulate cycle of each A tile's last beat, in order
    acc_d: tuple[int, ...]      # the same for D tiles
    first_d_beat: int           # first beat of sub-array D


def _df_timing(blocks: int, tiles_a: int, tiles_d: int, d: int, f: int, rows: int, width_h: int,
               post_h: int, start: int) -> _DfTimes:
    """Beat times of the lockstep dataflow expert (the RTL's ``expert_df`` stage).

    One word of the weight stream a cycle feeds both sub-arrays: phase ``p = 0 .. blocks`` has
    A (up and gate, ``K = d``, ``tiles_a`` tiles) on row block ``p`` (``p < blocks``) and D
    (down, ``K = f``, ``tiles_d`` tiles) on row block ``p - 1`` (``p >= 1``); its words are the
    ``max`` of the two parts' beats, back to back. The first beat is at ``start + 1`` (one
    buffer read) and a beat follows the previous one a cycle later unless (PE contract) the
    sub-array's previous tile still occupies the drain bank (``acc[n] = max(last beat + 1,
    acc[n-1] + R)``; the next beat of that sub-array waits for ``acc[n-1]``), or a D beat of the
    first D tile reads an ``h`` column not yet written (``h`` tile ``t`` of a block is written
    at ``acc + R + post_h``; the read is issued a cycle later, the beat a cycle after that).
    Either wait holds both sub-arrays (they share the word). Work is proportional to the
    number of tiles, not of beats; without possible waits (``d, f >= R`` and every ``h``
    column written early enough) the beats are simply consecutive.
    """
    la, ld = tiles_a * d, tiles_d * f
    lens = [max(la if p < blocks else 0, ld if p >= 1 else 0) for p in range(blocks + 1)]
    lag = post_h + rows + 3  # last A beat of an h tile -> earliest D beat reading it
    fast = d >= rows and f >= rows and all(
        lens[p - 1] - (t + 1) * d + t * width_h + 1 >= lag
        for p in range(1, blocks + 1) for t in (0, tiles_a - 1))
    if fast:
        acc_a: list[int] = []
        acc_d: list[int] = []
        base = start + 1  # beat time of the phase's slot 0
        for p, n in enumerate(lens):
            if p < blocks:
                acc_a += [base + (t + 1) * d for t in range(tiles_a)]
            if p >= 1:
                acc_d += [base + (t + 1) * f for t in range(tiles_d)]
            base += n
        return _DfTimes(tuple(acc_a), tuple(acc_d), start + 1 + lens[0])
    acc_a, acc_d = [], []
    first_d, first_d_slot = -1, -1
    t_prev, g_prev, base = start, -1, 0
    for p, n in enumerate(lens):
        ev: list[tuple[int, int, str, int]] = []  # (slot, 0 = bound / 1 = tile end, kind, tile)
        if p < blocks:
            for t in range(tiles_a):
                ev += [(t * d, 0, "a", t), (t * d + d - 1, 1, "A", t)]
        if p >= 1:
            for t in range(tiles_d):
                ev += [(t * f, 0, "d", t), (t * f + f - 1, 1, "D", t)]
            ev += [(t * width_h, 0, "h", t) for t in range(tiles_a)]
        ev.sort()
        for slot, _, kind, t in ev:
            g = base + slot
            now = t_prev + (g - g_prev)
            if kind == "a" and acc_a:
                now = max(now, acc_a[-1])
            elif kind == "d" and acc_d:
                now = max(now, acc_d[-1])
            elif kind == "h":
                now = max(now, acc_a[(p - 1) * tiles_a + t] + rows + post_h + 2)
            elif kind == "A":
                acc_a.append(max(now + 1, acc_a[-1] + rows) if acc_a else now + 1)
            elif kind == "D":
                acc_d.append(max(now + 1, acc_d[-1] + rows) if acc_d else now + 1)
            if kind in "dh" and (first_d < 0 or g == first_d_slot):
                first_d, first_d_slot = now, g  # after every bound at D's first slot
            t_prev, g_prev = now, g
        base += n
    return _DfTimes(tuple(acc_a), tuple(acc_d), first_d)


def _expert_dataflow(s: MoELayer, expert: int, count: int, b: Budget, split: tuple[int, ...], start: int,
                     index: int, group: int) -> tuple[Stage, ...]:
    R, d, f = b.rows, s.hidden, s.ffn
    e = f"e{expert}"
    blocks = ceil_div(count, R)
    cu = split[0]
    cg = split[1] if s.gated else 0
    cd = split[-1]
    width_h = cg if s.gated else cu
    tiles_a, tiles_up, tiles_d = ceil_div(f, width_h), ceil_div(f, cu), ceil_div(d, cd)
    h_post = POST_GATE if s.gated else POST_UP_PLAIN
    tm = _df_timing(blocks, tiles_a, tiles_d, d, f, R, width_h, h_post, start)
    last_a = blocks * tiles_a - 1
    # row r of a tile leaves the array at acc + 1 + r; the last row's drain writes at + post
    up_end = (tm.acc_a[(blocks - 1) * tiles_a + tiles_up - 1] + R + POST_UP_GATED + 1 if s.gated
              else tm.acc_a[last_a] + R + POST_UP_PLAIN + 1)
    h_end = tm.acc_a[last_a] + R + h_post + 1
    y_end = tm.acc_d[-1] + R + POST_DOWN + 1
    wbytes_up = d * f * blocks
    mem = _mem_cycles(wbytes_up * (3 if s.gated else 2), b)
    end = int(max(y_end, start + mem))
    out = [Stage(index, f"{e}.up", "pe", "dataflow", group, expert, "df", R, cu, 0, count, f, d, blocks, tiles_up,
                 "m,n", ("x", f"w:{e}.up"), "up_q" if s.gated else "h", start, up_end, up_end - start, wbytes_up)]
    if s.gated:
        out.append(Stage(index + 1, f"{e}.gate", "pe", "dataflow", group, expert, "df", R, cg, cu, count, f, d,
                         blocks, tiles_a, "m,n", ("x", f"w:{e}.gate", "up_q"), "h", start, h_end, h_end - start,
                         wbytes_up))
    down_start = tm.first_d_beat - BUFFER_READ_LATENCY
    out.append(Stage(index + len(out), f"{e}.down", "pe", "dataflow", group, expert, "df", R, cd, b.cols - cd, count,
                     d, f, blocks, tiles_d, "m,n", ("h", f"w:{e}.down"), "y", down_start, end,
                     y_end - down_start, wbytes_up))
    return tuple(out)


def expert_cycles(shape: MoELayerShape, count: int, budget: Budget, variant: str) -> int:
    """Cycles of one expert's stages (switches between its own stages included)."""
    st = expert_stages(shape, 0, count, budget, variant)
    return st[-1].end - st[0].start if st else 0


# ----------------------------------------------------------------------------------------------
# buffers and feasibility


def _fixed_buffers(s: MoELayer, b: Budget, W: int, front_seq: bool) -> list[Buffer]:
    T, d, E, k = s.tokens, s.hidden, s.experts, s.top_k
    tbits = max(1, (T - 1).bit_length())
    bufs = [
        Buffer("x", 8 * T, d, banks=W, lane_bits=8),         # one word per hidden index: any R rows gather
        Buffer("dispatch.tokens", tbits, T * k),             # per-expert token lists
        Buffer("dispatch.gates", 16, T * k),                 # Q1.15 gate weight per (token, rank)
        Buffer("y", 8 * W, T * k * ceil_div(d, W), lane_bits=8),  # expert outputs awaiting combine
        Buffer("exp_rom", 16, 256, rom=True),                # GateNormalizer EXP table (a ROM in logic)
    ]
    if front_seq:
        bufs += [Buffer("logits", 32 * min(E, b.cols), T * ceil_div(E, b.cols)),
                 Buffer("sel", k * (32 + max(1, (E - 1).bit_length())), T)]
    return bufs


def _seq_buffers(s: MoELayer, b: Budget, count: int) -> list[Buffer]:
    R, C, f = b.rows, b.cols, s.ffn
    rt = ceil_div(count, R)
    bufs = [Buffer("h", 8 * R, rt * f, banks=C, lane_bits=8)]       # LaneBanks: C banks of R byte lanes
    if s.gated:
        bufs.append(Buffer("up_q", 8 * R, rt * f, banks=C, lane_bits=8))
    if count > R:
        bufs.append(Buffer("wtile", 8 * C, max(s.hidden, f)))
    return bufs


def _df_buffers(s: MoELayer, b: Budget) -> list[Buffer]:
    R, f = b.rows, s.ffn
    bufs = [Buffer("h.blocks", 8 * R, 2 * f)]
    if s.gated:
        bufs.append(Buffer("up_q.blocks", 8 * R, 2 * f))
    return bufs


def _capacity_blocks(b: Budget) -> float:
    return b.bram36 + 8.0 * b.uram  # a URAM288 holds eight BRAM36's bits (UG573)


def _blocks(bufs: Sequence[Buffer]) -> float:
    return sum(bram36_blocks(x.width_bits, x.depth) for x in bufs if x.depth > 64)


# ----------------------------------------------------------------------------------------------
# the schedule


def _choose_variants(s: MoELayer, b: Budget, counts: Sequence[int], style: str, fixed: float,
                     allowed: Sequence[str] = VARIANTS) -> dict[int, str]:
    """Variant per token count: the fastest whose buffers fit next to the fixed ones."""
    cap = _capacity_blocks(b)
    if fixed > cap:
        raise ConfigError(None, "budget", f"{b.device}: {b.bram36} BRAM36, {b.uram} URAM",
                          f"at least {fixed:g} BRAM36-equivalents for the token, dispatch and output buffers")
    df_ok = _df_split(s, b.cols) is not None and fixed + _blocks(_df_buffers(s, b)) <= cap

    def pick(c: int, reserve: float) -> str | None:
        seq = "seq-stream" if c <= b.rows else "seq-tiled"
        options = []
        if style in ("sequential", "intar") and seq in allowed \
                and fixed + reserve + _blocks(_seq_buffers(s, b, c)) <= cap:
            options.append(seq)
        if style in ("dataflow", "intar") and df_ok and "df" in allowed:
            options.append("df")
        if not options:
            return None
        return min(options, key=lambda v: (expert_cycles(s, c, b, v), v != seq))

    reserve = 0.0
    chosen = {c: pick(c, reserve) for c in counts if c > 0}
    if any(v == "df" for v in chosen.values()) and any(v != "df" for v in chosen.values()):
        reserve = _blocks(_df_buffers(s, b))  # both kinds in one design: their buffers coexist
        chosen = {c: pick(c, reserve) for c in counts if c > 0}
    bad = sorted(c for c, v in chosen.items() if v is None)
    if bad:
        raise ConfigError(None, "budget", f"{b.device}: {b.rows}x{b.cols}, {b.bram36} BRAM36, {b.uram} URAM",
                          f"enough on-chip memory for an expert with {bad[0]} tokens in style {style!r} "
                          f"with variants {', '.join(allowed)} (the kernel keeps every intermediate on chip)")
    return chosen  # type: ignore[return-value]


def _variant_table(s: MoELayer, b: Budget, chosen: dict[int, str]) -> tuple[ExpertVariant, ...]:
    out: list[ExpertVariant] = []
    counts = sorted(chosen)
    i = 0
    while i < len(counts):
        j = i
        while j + 1 < len(counts) and chosen[counts[j + 1]] == chosen[counts[i]] and counts[j + 1] == counts[j] + 1:
            j += 1
        name = chosen[counts[i]]
        split = _df_split(s, b.cols) if name == "df" else (b.cols,)
        assert split is not None
        out.append(ExpertVariant(name, "dataflow" if name == "df" else "sequential", counts[i], counts[j], split,
                                 "m,n" if name == "df" else "n,m", expert_cycles(s, counts[i], b, name),
                                 expert_cycles(s, counts[j], b, name)))
        i = j + 1
    return tuple(out)


def schedule_moe_layer(shape: MoELayerShape, tokens_per_expert: Sequence[int], budget: Budget | str, *,
                       rows: int | None = None, cols: int | None = None, style: str = "intar",
                       stream_bytes: int = 16, variant_counts: Sequence[int] | None = None,
                       front: str | None = None, variants: Sequence[str] | None = None) -> ScheduleResult:
    """Schedule one MoE layer for the kernel generator.

    ``shape``: tokens ``T``, hidden ``d``, ffn ``f``, experts ``E``, ``top_k``, ``gated`` (a
    :class:`MoELayer` or ``verification.golden.MoEShape``). ``tokens_per_expert``: ``E`` counts
    summing to ``T * top_k``. ``budget``: a :class:`Budget`, or a device name (then ``rows`` x
    ``cols`` is the PE array, default :func:`~archmodel.fpga.resources.default_array`).
    ``style``: ``intar`` (per group, the faster of dataflow and sequential), ``dataflow`` or
    ``sequential``. ``stream_bytes``: token stream width ``W`` (a power of two, 1..64).
    ``variant_counts``: the token counts the variant table covers (default ``1..T``).
    ``front``: ``"dataflow"`` or ``"sequential"`` forces that front mode (default: by style).
    ``variants``: the expert variants the schedule may use (default all of :data:`VARIANTS`);
    a generator whose RTL lacks a variant passes the ones it implements.
    """
    s = _shape(shape)
    counts = check_counts(s, tokens_per_expert)
    if isinstance(budget, str):
        budget = make_budget(budget, rows, cols)
    elif rows is not None or cols is not None:
        budget = budget.with_array(rows or budget.rows, cols or budget.cols)
        if budget.rows < 1 or budget.cols < 1 or budget.pe_dsps > budget.fpga.dsp:
            raise ConfigError(None, "rows x cols", f"{budget.rows} x {budget.cols}",
                              f"at least 1 x 1 and at most {budget.fpga.dsp * budget.macs_per_dsp} MACs on {budget.device}")
    if style not in ("intar", "dataflow", "sequential"):
        raise ConfigError(None, "style", style, "one of intar, dataflow, sequential")
    if stream_bytes not in (1, 2, 4, 8, 16, 32, 64):
        raise ConfigError(None, "stream_bytes", stream_bytes, "a power of two 1..64 (token stream word bytes)")
    W = stream_bytes
    b = budget
    if front not in (None, "dataflow", "sequential"):
        raise ConfigError(None, "front", front, "dataflow or sequential")
    allowed = tuple(VARIANTS if variants is None else variants)
    if not allowed or any(v not in VARIANTS for v in allowed):
        raise ConfigError(None, "variants", list(allowed), f"a non-empty subset of {', '.join(VARIANTS)}")

    # front group: dataflow or sequential (whichever is faster under intar)
    df_front_ok = style in ("dataflow", "intar") if front is None else front == "dataflow"
    front_df = _front_dataflow(s, b, W, 0, 0) if df_front_ok else None
    if front_df is None and (front == "dataflow" or (front is None and style == "dataflow")):
        raise ConfigError(None, "front" if front else "style", front or style,
                          f"E <= cols for a streaming router (E = {s.experts}, cols = {b.cols})")
    seq_front_ok = style in ("sequential", "intar") if front is None else front == "sequential"
    front_sq = _front_sequential(s, b, W, 0, 0) if seq_front_ok else None
    if front_df is not None and (front_sq is None or front_df[-1].end <= front_sq[-1].end):
        front = front_df
    else:
        assert front_sq is not None
        front = front_sq
    front_is_seq = front is front_sq
    fixed = _blocks(_fixed_buffers(s, b, W, front_is_seq))
    table_counts = sorted(set(variant_counts if variant_counts is not None else range(1, s.tokens + 1))
                          | {c for c in counts if c > 0})
    for c in table_counts:
        if not isinstance(c, int) or not 1 <= c <= s.tokens:
            raise ConfigError(None, "variant_counts", c, f"token counts in 1..{s.tokens}")
    chosen = _choose_variants(s, b, table_counts, style, fixed, allowed)

    stages = list(front)
    clock = stages[-1].end
    group = stages[-1].group + 1
    per_expert: list[str | None] = []
    for e, c in enumerate(counts):
        if c == 0:
            per_expert.append(None)
            continue
        v = chosen[c]
        per_expert.append(v)
        st = expert_stages(s, e, c, b, v, clock + b.switch_cycles, len(stages), group)
        stages.extend(st)
        clock = st[-1].end
        group = st[-1].group + 1
    beats = s.tokens * ceil_div(s.hidden, W) * s.top_k
    stages.append(_unit_stage(len(stages), "combine", "combiner", group, W, s.tokens, s.hidden, ("y", "dispatch"),
                              "out", clock + b.switch_cycles, BUFFER_READ_LATENCY + beats + COMBINER_LATENCY))
    total = stages[-1].end
    variants = _variant_table(s, b, chosen)

    used = {v for v in chosen.values()}
    bufs = _fixed_buffers(s, b, W, front_is_seq)
    seq_counts = [c for c, v in chosen.items() if v != "df"]
    if seq_counts:
        bufs += _seq_buffers(s, b, max(seq_counts))
    if "df" in used:
        bufs += _df_buffers(s, b)
    # one physical R x C array; a df variant re-routes its column groups (in-circuit switch)
    splits = (3 if s.gated else 2) - 1 if "df" in used else 0
    parts = DesignParts(pe_arrays=((b.rows, b.cols),), requant_lanes=b.cols * (2 if s.gated else 1), lut_lanes=b.cols,
                        hidden_product_lanes=b.cols if s.gated else 0, combiner_lanes=W,
                        topk=(s.experts, s.top_k), gate_norm=(s.experts, s.top_k),
                        controllers=(3 if s.gated else 2) if "df" in used else 1, mode_switch_splits=splits,
                        buffers=tuple(bufs), serializer_lanes=0 if front_is_seq else s.experts,
                        datapath=(W, b.cols, b.rows, s.tokens, s.gated))
    return ScheduleResult(s, b, style, W, counts, tuple(stages), variants, tuple(per_expert), total,
                          estimate_resources(parts, b), tuple(bufs))
