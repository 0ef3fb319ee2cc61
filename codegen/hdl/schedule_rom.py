"""The schedule ROM of the MoE kernel: the stage table a plan's schedule states, as ROM rows.

:func:`build_program` turns an ``archmodel.fpga.schedule.ScheduleResult`` (duck-typed) into a
:class:`Program`: the ROM rows, the per-token-count variant ranges the controller selects from at
run time, and the row indices of the front and of the combine stage.

Row order (the ``stage`` port reports the row index):

* the front: a sequential front is four rows ``load``, ``router``, ``topk``, ``gate_norm`` (each
  its own stage, switch cycles between them); a dataflow front is one row ``front`` (load, router,
  serializer, top-k and gate normalisation streaming concurrently, one stage);
* one block of rows per expert variant the schedule uses, in the order of first appearance in
  its variant table: ``up``, (``gate``), ``down`` for a sequential variant; one row
  ``expert_df`` (mode dataflow: up, gate and down concurrently on the column groups of the
  array, ``codegen.hdl.top``) for ``df``. An expert with ``c`` tokens runs the block of the
  variant whose ``[min_tokens, max_tokens]`` range holds ``c``, with ``M = c``;
* ``combine``.

Each row holds ``task``, ``mode`` (0 sequential, 1 dataflow), ``variant`` (0 none, 1
seq-stream, 2 seq-tiled, 3 df), ``last`` (the final row of the front or of a variant block),
``k`` (beats per tile), ``col_tiles``, ``n`` (GEMM N), ``m`` (static rows; 0 for expert rows,
whose M is the expert's run-time token count), ``src`` and ``dst`` (buffer codes); an
``expert_df`` row holds ``k = d``, ``col_tiles`` = the A sub-array's tiles per row block and
``n = f``. The RTL has two expert blocks (``RTL_BLOCKS``); every kernel style of
:mod:`codegen.schedule.styles` names the block that runs it and its ROM code (``seq-stream``,
``seq-tiled``: the sequential block; ``df``: the dataflow block), and both front modes; a style
with no block is rejected (:class:`UnsupportedSchedule`).
"""
from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum
from typing import Any

from amaranth.hdl import Module, unsigned
from amaranth.lib import data, wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from ..schedule.styles import STYLES, expert_style
from .interface import KernelGeometry

__all__ = ["Buf", "EXPERT_TASKS", "Program", "RomRow", "ScheduleRom", "StageTask", "SUPPORTED_FRONTS",
           "SUPPORTED_VARIANTS", "UnsupportedSchedule", "VARIANT_CODES", "build_program",
           "rom_layout"]

#: the kernel blocks the RTL has: a style whose ``rtl_block`` is another cannot be generated
RTL_BLOCKS = ("sequential", "dataflow")
SUPPORTED_VARIANTS = tuple(name for name, style in STYLES.items() if style.rtl_block in RTL_BLOCKS)
SUPPORTED_FRONTS = ("sequential", "dataflow")
VARIANT_CODES: dict[str | None, int] = {None: 0, **{name: STYLES[name].rom_code for name in SUPPORTED_VARIANTS}}


class UnsupportedSchedule(ValueError):
    """The schedule selects something the RTL does not implement."""


class StageTask(IntEnum):
    LOAD = 0
    ROUTER = 1
    TOPK = 2
    GATE_NORM = 3
    FRONT = 4  # dataflow front: load + router + top-k + gate normalisation in one stage
    UP = 5
    GATE = 6
    DOWN = 7
    COMBINE = 8
    DF = 9  # dataflow expert: up, gate, down concurrently on the split array (one stage)


#: ROM tasks that belong to an expert (the ``expert`` port names it)
EXPERT_TASKS = (StageTask.UP, StageTask.GATE, StageTask.DOWN, StageTask.DF)


class Buf(IntEnum):
    """Buffer / stream codes of the ``src`` and ``dst`` fields."""

    NONE = 0
    IN = 1        # token input stream
    X = 2
    LOGITS = 3
    SEL = 4
    DISPATCH = 5  # per-expert token lists and gate weights
    UP_Q = 6
    H = 7
    Y = 8
    OUT = 9       # output token stream


@dataclass(frozen=True)
class RomRow:
    name: str
    task: StageTask
    mode: int
    variant: str | None
    last: bool
    k: int
    col_tiles: int
    n: int
    m: int
    src: Buf
    dst: Buf


@dataclass(frozen=True)
class VariantRange:
    min_tokens: int
    max_tokens: int
    row: int  # first ROM row of the variant's block
    name: str


@dataclass(frozen=True)
class Program:
    geom: KernelGeometry
    rows: tuple[RomRow, ...]
    front: str  # "sequential" | "dataflow"
    ranges: tuple[VariantRange, ...]
    combine_row: int
    switch_cycles: int

    @property
    def has_df(self) -> bool:
        """The program has a dataflow expert block (the array is split in its stage)."""
        return any(r.task == StageTask.DF for r in self.rows)

    @property
    def has_seq(self) -> bool:
        """The program has a sequential expert block."""
        return any(r.task == StageTask.UP for r in self.rows)

    @property
    def front_rows(self) -> tuple[int, ...]:
        return tuple(range(1 if self.front == "dataflow" else 4))

    def variant_for(self, count: int) -> VariantRange:
        for r in self.ranges:
            if r.min_tokens <= count <= r.max_tokens:
                return r
        raise ValueError(f"no variant for {count} tokens")

    def expert_rows(self, count: int) -> tuple[int, ...]:
        """The ROM rows an expert with ``count`` tokens runs (none for 0)."""
        if count == 0:
            return ()
        start = self.variant_for(count).row
        end = start
        while not self.rows[end].last:
            end += 1
        return tuple(range(start, end + 1))

    def stage_sequence(self, counts: Any) -> list[tuple[int, int | None]]:
        """``(row, expert)`` of every stage one layer runs, in order."""
        out: list[tuple[int, int | None]] = [(r, None) for r in self.front_rows]
        for e, c in enumerate(counts):
            out += [(r, e) for r in self.expert_rows(int(c))]
        out.append((self.combine_row, None))
        return out


def _ceil(a: int, b: int) -> int:
    return -(-a // b)


def build_program(schedule: Any) -> Program:
    """The ROM program of ``schedule`` (an ``archmodel.fpga.schedule.ScheduleResult``)."""
    g = KernelGeometry.from_schedule(schedule)
    R, C, T, d, f, E = g.rows, g.cols, g.tokens, g.hidden, g.ffn, g.experts
    front_mode = schedule.stages[0].mode
    if front_mode not in SUPPORTED_FRONTS:
        raise UnsupportedSchedule(f"front mode {front_mode!r}")
    if front_mode == "dataflow" and E > C:
        raise UnsupportedSchedule(f"a dataflow front needs E <= C (E = {E}, C = {C})")
    switch = int(schedule.budget.switch_cycles)
    if switch < 2:
        raise UnsupportedSchedule(f"switch_cycles = {switch}: the controller needs 2 (ROM read "
                                  f"and loop-bound load)")
    rows: list[RomRow] = []
    if front_mode == "dataflow":
        rows.append(RomRow("front", StageTask.FRONT, 1, None, True, d, 1, E, T, Buf.IN,
                           Buf.DISPATCH))
    else:
        rows += [
            RomRow("load", StageTask.LOAD, 0, None, False, 0, 0, d, T, Buf.IN, Buf.X),
            RomRow("router", StageTask.ROUTER, 0, None, False, d, _ceil(E, C), E, T, Buf.X,
                   Buf.LOGITS),
            RomRow("topk", StageTask.TOPK, 0, None, False, 0, 0, E, T, Buf.LOGITS, Buf.SEL),
            RomRow("gate_norm", StageTask.GATE_NORM, 0, None, True, 0, 0, g.top_k, T, Buf.SEL,
                   Buf.DISPATCH),
        ]
    ranges: list[VariantRange] = []
    block_row: dict[str, int] = {}
    covered: set[int] = set()
    for v in schedule.variants:
        name = v.name
        style = expert_style(name)
        if style.rtl_block not in RTL_BLOCKS:
            raise UnsupportedSchedule(f"expert variant {name!r} (the RTL implements "
                                      f"{', '.join(SUPPORTED_VARIANTS)})")
        limit = style.max_tokens(R)
        if limit is not None and v.max_tokens > limit:
            raise UnsupportedSchedule(f"{name} for up to {v.max_tokens} tokens on {R} rows")
        if style.rtl_block == "dataflow":
            lay = g.df
            if lay is None or tuple(int(c) for c in v.col_split) != lay.split:
                raise UnsupportedSchedule(f"df column split {tuple(v.col_split)} (the RTL splits "
                                          f"{C} columns as {lay.split if lay else None})")
            if name not in block_row:
                block_row[name] = len(rows)
                rows.append(RomRow("expert_df", StageTask.DF, 1, name, True, d, lay.tiles_a, f, 0,
                                   Buf.X, Buf.Y))
        elif name not in block_row:
            block_row[name] = len(rows)
            up_dst = Buf.UP_Q if g.gated else Buf.H
            rows.append(RomRow("up", StageTask.UP, 0, name, False, d, _ceil(f, C), f, 0, Buf.X,
                               up_dst))
            if g.gated:
                rows.append(RomRow("gate", StageTask.GATE, 0, name, False, d, _ceil(f, C), f, 0,
                                   Buf.X, Buf.H))
            rows.append(RomRow("down", StageTask.DOWN, 0, name, True, f, _ceil(d, C), d, 0, Buf.H,
                               Buf.Y))
        ranges.append(VariantRange(int(v.min_tokens), int(v.max_tokens), block_row[name], name))
        covered |= set(range(int(v.min_tokens), int(v.max_tokens) + 1))
    missing = sorted(set(range(1, T + 1)) - covered)
    if missing:
        raise UnsupportedSchedule(f"the variant table does not cover token counts {missing[:5]}"
                                  f" (the kernel needs a variant for every count 1..{T})")
    combine_row = len(rows)
    rows.append(RomRow("combine", StageTask.COMBINE, 0, None, True, 0, 0, d, T, Buf.Y, Buf.OUT))
    return Program(g, tuple(rows), front_mode, tuple(ranges), combine_row, switch)


def _bits(n: int) -> int:
    return max(1, int(n).bit_length())


def rom_layout(geom: KernelGeometry, df: bool = False) -> data.StructLayout:
    """The ROM row layout (``df``: the program has an ``expert_df`` row)."""
    kmax = max(geom.hidden, geom.ffn)
    tiles = max(_ceil(geom.experts, geom.cols), _ceil(geom.ffn, geom.cols),
                _ceil(geom.hidden, geom.cols))
    if df and geom.df is not None:
        tiles = max(tiles, geom.df.tiles_a)
    return data.StructLayout({
        "task": unsigned(4),
        "mode": unsigned(1),
        "variant": unsigned(2),
        "last": unsigned(1),
        "k": unsigned(_bits(kmax)),
        "col_tiles": unsigned(_bits(tiles)),
        "n": unsigned(_bits(max(geom.hidden, geom.ffn, geom.experts))),
        "m": unsigned(_bits(geom.tokens)),
        "src": unsigned(4),
        "dst": unsigned(4),
    })


def encode_row(row: RomRow) -> dict[str, int]:
    return {"task": int(row.task), "mode": row.mode, "variant": VARIANT_CODES[row.variant],
            "last": int(row.last), "k": row.k, "col_tiles": row.col_tiles, "n": row.n,
            "m": row.m, "src": int(row.src), "dst": int(row.dst)}


class ScheduleRom(wiring.Component):
    """The ROM (``lib.memory.Memory``, synchronous read, latency 1) of a :class:`Program`.

    ``addr`` and ``en`` in; ``data`` (:func:`rom_layout`) is the row addressed in the last
    cycle ``en`` was high (it holds otherwise).
    """

    def __init__(self, program: Program) -> None:
        self.program = program
        self.layout = rom_layout(program.geom, program.has_df)
        super().__init__({
            "addr": In(range(max(2, len(program.rows)))),
            "en": In(1),
            "data": Out(self.layout),
        })

    def elaborate(self, platform: object) -> Module:
        m = Module()
        init = [self.layout.const(encode_row(r)).as_value().value for r in self.program.rows]
        m.submodules.rom = rom = Memory(shape=unsigned(self.layout.size),
                                        depth=max(2, len(init)), init=init)
        port = rom.read_port(domain="sync")
        m.d.comb += [port.addr.eq(self.addr), port.en.eq(self.en),
                     self.data.as_value().eq(port.data)]
        return m
