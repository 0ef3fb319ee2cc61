"""The controller of the MoE kernel: steps through the schedule ROM, one stage at a time.

One-hot states (no ``m.FSM``, so the Verilog has no partial ``case``): ``sw1`` (the schedule-ROM
read of the next row is issued; the datapath reads the expert's requantisers), ``sw2`` (the row
is on the ROM port: the loop bounds are loaded, per-stage counters reset), optional extra wait
cycles when the schedule's ``switch_cycles`` is above 2, then ``run`` for the stage's cycles.
The datapath raises ``done`` in the stage's last cycle; the controller then picks the next row:

* inside the front or a variant block, the next row;
* after the front or an expert's last row, the next expert with tokens: ``e' > e`` (``>= 0``
  after the front) with ``count[e'] > 0``, running the first row of the variant block whose
  token range holds ``count[e']``. Experts without tokens are skipped in the same cycle: they
  cost nothing and no weight request is ever made for them;
* after the last expert, ``combine``; after ``combine``, row 0 of the next layer.

So consecutive stages are separated by exactly ``switch_cycles`` cycles with ``run`` low, as the
schedule model (``archmodel.fpga.budget.DEFAULT_SWITCH_CYCLES``) assumes.
"""
from __future__ import annotations

from amaranth.hdl import Const, Module, Mux, Signal, unsigned
from amaranth.lib import data, wiring
from amaranth.lib.wiring import In, Out

from .hwutil import eq, is_zero, select
from .schedule_rom import Program, ScheduleRom, StageTask, rom_layout

__all__ = ["Controller"]


class Controller(wiring.Component):
    """Sequencer of a :class:`~codegen.hdl.schedule_rom.Program`.

    Ports: ``done`` (in: the running stage's last cycle), ``counts`` (in: tokens per expert,
    valid once the front has finished), ``run`` (a stage runs; the kernel's ``stage_valid``),
    ``first`` (the stage's first cycle), ``load`` (the loop-bound load cycle before it),
    ``sw1`` (the ROM-read cycle), ``row`` (the row running or about to run), ``expert`` (its
    expert), ``count`` (that expert's tokens, loaded with ``expert``), ``fields`` (the row's
    ROM contents, valid from ``load`` on), ``layer_start`` (pulses with ``first`` of row 0).
    """

    def __init__(self, program: Program) -> None:
        self.program = program
        g = program.geom
        self.count_bits = max(1, g.tokens.bit_length())
        super().__init__({
            "done": In(1),
            "counts": In(data.ArrayLayout(unsigned(self.count_bits), g.experts)),
            "run": Out(1),
            "first": Out(1),
            "load": Out(1),
            "sw1": Out(1),
            "row": Out(range(max(2, len(program.rows)))),
            "expert": Out(g.expert_bits),
            "count": Out(self.count_bits),
            "fields": Out(rom_layout(g, program.has_df)),
            "layer_start": Out(1),
        })

    def elaborate(self, platform: object) -> Module:
        m = Module()
        prog = self.program
        g = prog.geom
        m.submodules.rom = rom = ScheduleRom(prog)

        sw1 = Signal(init=1)
        sw2, wait, run, first = Signal(), Signal(), Signal(), Signal()
        extra = prog.switch_cycles - 2
        wait_cnt = Signal(range(max(2, extra + 1)))
        row = Signal.like(self.row)
        expert = Signal.like(self.expert)
        count = Signal.like(self.count)

        m.d.comb += [
            rom.addr.eq(row), rom.en.eq(sw1),
            self.fields.eq(rom.data),
            self.run.eq(run), self.first.eq(first), self.load.eq(sw2), self.sw1.eq(sw1),
            self.row.eq(row), self.expert.eq(expert), self.count.eq(count),
            self.layer_start.eq(first & is_zero(row)),
        ]

        # ---- next expert with tokens, and the variant block for its count
        task = self.fields.task
        is_front = eq(task, StageTask.FRONT) | eq(task, StageTask.GATE_NORM)
        e_start = Signal(range(g.experts + 1))
        m.d.comb += e_start.eq(Mux(is_front, 0, expert + 1))
        nxt = Signal(g.expert_bits)
        found = Signal()
        sel_e = Const(0, g.expert_bits)
        any_e = Const(0, 1)
        for e in reversed(range(g.experts)):
            ok = self.counts[e].any() & (is_zero(e_start) if e == 0 else e_start <= e)
            sel_e = Mux(ok, e, sel_e)
            any_e = ok | any_e
        m.d.comb += [nxt.eq(sel_e), found.eq(any_e)]
        nxt_count = Signal.like(count)
        m.d.comb += nxt_count.eq(select([self.counts[e] for e in range(g.experts)], nxt))
        block = Const(0, len(row))
        for r in reversed(prog.ranges):
            inside = Const(1, 1)
            if r.min_tokens > 1:  # the count of a selected expert is >= 1
                inside = inside & (nxt_count >= r.min_tokens)
            if r.max_tokens < (1 << len(nxt_count)) - 1:
                inside = inside & (nxt_count <= r.max_tokens)
            block = Mux(inside, r.row, block)
        block_row = Signal.like(row)
        m.d.comb += block_row.eq(block)

        # ---- state register updates (one-hot)
        with m.If(sw1):
            m.d.sync += [sw1.eq(0), sw2.eq(1)]
        with m.If(sw2):
            m.d.sync += sw2.eq(0)
            if extra:
                m.d.sync += [wait.eq(1), wait_cnt.eq(0)]
            else:
                m.d.sync += [run.eq(1), first.eq(1)]
        if extra:
            with m.If(wait):
                m.d.sync += wait_cnt.eq(wait_cnt + 1)
                with m.If(eq(wait_cnt, extra - 1)):
                    m.d.sync += [wait.eq(0), run.eq(1), first.eq(1)]
        with m.If(first):
            m.d.sync += first.eq(0)
        with m.If(run & self.done):
            m.d.sync += [run.eq(0), first.eq(0), sw1.eq(1)]
            with m.If(eq(task, StageTask.COMBINE)):
                m.d.sync += [row.eq(0), expert.eq(0), count.eq(0)]
            with m.Elif(~self.fields.last):
                m.d.sync += row.eq(row + 1)
            with m.Elif(found):
                m.d.sync += [row.eq(block_row), expert.eq(nxt), count.eq(nxt_count)]
            with m.Else():
                m.d.sync += [row.eq(prog.combine_row), expert.eq(0), count.eq(0)]
        return m
