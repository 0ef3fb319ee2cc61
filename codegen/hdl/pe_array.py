"""Output-stationary R x C int8 MAC array with int32 accumulators.

Timing contract (also in ``docs/kernel-arithmetic.md``, "Hardware timing"):

* Input beat (``i`` stream): ``a`` (R x int8, row r's activation), ``b`` (C x int8, column c's
  weight), ``last``. Every accepted beat performs R*C MACs ``acc[r][c] (+)= a[r] * b[c]``; the
  first beat after reset or after a ``last`` beat starts a new accumulation. int32, wrapping.
* Pipeline: product registers (1 cycle), then accumulators (1 cycle). The ``last`` beat also
  copies the R x C results into a drain bank.
* Output (``o`` stream): R beats per tile, row 0 first: ``data`` (C x int32), ``row``, ``last``
  (on row R-1). A tile whose ``last`` beat transfers at cycle c has row r valid from cycle
  c + 2 + r with an always-ready consumer and a free drain bank (latency 2, drain R cycles).
  If the bank is still draining the previous tile, the last beat waits in the product stage and
  the rows follow the previous tile's rows without a gap.
* Draining overlaps the next tile. ``i.ready`` falls only while a ``last`` beat waits in the
  product stage and the bank still holds rows other than one leaving in this cycle
  (``i.ready`` depends combinationally on ``o.ready``). Back-to-back tiles of K beats with an
  always-ready consumer: one tile every ``max(K, R)`` cycles.
* ``busy`` is 1 in each cycle in which the accumulators perform R*C MACs.
"""
from __future__ import annotations

from amaranth.hdl import Module, Signal, signed
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out
from amaranth.utils import ceil_log2

__all__ = ["PEArray", "pe_input_layout", "pe_output_layout"]

ACC_BITS = 32


def pe_input_layout(rows: int, cols: int) -> data.StructLayout:
    return data.StructLayout({
        "a": data.ArrayLayout(signed(8), rows),
        "b": data.ArrayLayout(signed(8), cols),
        "last": 1,
    })


def pe_output_layout(rows: int, cols: int) -> data.StructLayout:
    return data.StructLayout({
        "data": data.ArrayLayout(signed(ACC_BITS), cols),
        "row": max(1, ceil_log2(rows)),
        "last": 1,
    })


class PEArray(wiring.Component):
    """R x C output-stationary int8 MAC array; see the module docstring for the timing."""

    def __init__(self, rows: int, cols: int) -> None:
        if rows < 1 or cols < 1:
            raise ValueError(f"PEArray needs rows, cols >= 1, got {rows} x {cols}")
        self.rows, self.cols = rows, cols
        super().__init__({
            "i": In(stream.Signature(pe_input_layout(rows, cols))),
            "o": Out(stream.Signature(pe_output_layout(rows, cols))),
            "busy": Out(1),
        })

    def elaborate(self, platform: object) -> Module:
        m = Module()
        rows, cols = self.rows, self.cols
        acc_row = data.ArrayLayout(signed(ACC_BITS), cols)

        # products are kept sign-extended to the accumulator width (the adders then see equal
        # operand widths, which keeps Verilator's width lint quiet)
        prod = Signal(data.ArrayLayout(acc_row, rows))
        p_valid, p_last = Signal(), Signal()
        acc = Signal(data.ArrayLayout(acc_row, rows))
        fresh = Signal(init=1)  # the next accumulated beat starts a new tile
        bank = Signal(data.ArrayLayout(acc_row, rows))  # drain bank, row 0 leaves first
        bank_valid = Signal()
        row = Signal(self.o.payload.row.shape())

        leaving_last_row = self.o.valid & self.o.ready & (row == rows - 1)
        bank_free = ~bank_valid | leaving_last_row
        en = Signal()
        m.d.comb += en.eq(~(p_valid & p_last) | bank_free)
        m.d.comb += [self.i.ready.eq(en), self.busy.eq(p_valid & en)]

        # stage 1: products
        with m.If(en):
            m.d.sync += [p_valid.eq(self.i.valid), p_last.eq(self.i.payload.last)]
            for r in range(rows):
                for c in range(cols):
                    m.d.sync += prod[r][c].eq(self.i.payload.a[r] * self.i.payload.b[c])

        # stage 2: accumulate; a last beat also fills the drain bank
        nxt = [[Signal(signed(ACC_BITS), name=f"nxt_{r}_{c}") for c in range(cols)]
               for r in range(rows)]
        for r in range(rows):
            for c in range(cols):
                with m.If(fresh):
                    m.d.comb += nxt[r][c].eq(prod[r][c])
                with m.Else():
                    m.d.comb += nxt[r][c].eq(acc[r][c] + prod[r][c])
        accumulate = p_valid & en
        with m.If(accumulate):
            m.d.sync += fresh.eq(p_last)
            for r in range(rows):
                for c in range(cols):
                    m.d.sync += acc[r][c].eq(nxt[r][c])

        # drain: the bank shifts up one row per transfer
        m.d.comb += [
            self.o.valid.eq(bank_valid),
            self.o.payload.data.eq(bank[0]),
            self.o.payload.row.eq(row),
            self.o.payload.last.eq(row == rows - 1),
        ]
        with m.If(self.o.valid & self.o.ready):
            m.d.sync += row.eq(row + 1)
            for r in range(rows - 1):
                m.d.sync += bank[r].eq(bank[r + 1])
            with m.If(row == rows - 1):
                m.d.sync += bank_valid.eq(0)
        with m.If(accumulate & p_last):
            m.d.sync += [bank_valid.eq(1), row.eq(0)]
            for r in range(rows):
                for c in range(cols):
                    m.d.sync += bank[r][c].eq(nxt[r][c])
        return m
