"""Weighted combine of the k expert outputs of a token: ``sat8((sum_j g_j * y_j + 2**14) >> 15)``.

Spec: ``docs/kernel-arithmetic.md`` 1.6; golden model: ``verification.golden.combine``.

Timing contract: input beats carry ``data`` (lanes x int8, one expert's output slice), ``weight``
(uint16 Q1.15 gate weight) and ``last`` (the token's final expert). Stages: product (1 cycle),
int32 accumulate (1 cycle; the first beat after reset or after ``last`` starts fresh), round and
saturate into the output register (1 cycle). A ``last`` beat transferred at cycle c gives
``o.valid`` from cycle c + 3; one beat per cycle. The whole pipeline advances when
``en = ~o.valid | o.ready``; ``i.ready = en`` (combinational on ``o.ready``).
"""
from __future__ import annotations

from amaranth.hdl import Module, Signal, signed, unsigned
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from .requantizer import saturate

__all__ = ["Combiner", "combiner_input_layout", "LATENCY"]

ACC_BITS = 32
WEIGHT_BITS, WEIGHT_FRAC = 16, 15
LATENCY = 3


def combiner_input_layout(lanes: int) -> data.StructLayout:
    return data.StructLayout({
        "data": data.ArrayLayout(signed(8), lanes),
        "weight": unsigned(WEIGHT_BITS),
        "last": 1,
    })


class Combiner(wiring.Component):
    """``lanes`` parallel weighted accumulators; see the module docstring for the timing."""

    def __init__(self, lanes: int) -> None:
        if lanes < 1:
            raise ValueError(f"Combiner needs lanes >= 1, got {lanes}")
        self.lanes = lanes
        super().__init__({
            "i": In(stream.Signature(combiner_input_layout(lanes))),
            "o": Out(stream.Signature(data.ArrayLayout(signed(8), lanes))),
        })

    def elaborate(self, platform: object) -> Module:
        m = Module()
        lanes = self.lanes
        vec = data.ArrayLayout(signed(ACC_BITS), lanes)
        en = Signal()
        p_valid, p_last, f_valid, o_valid = Signal(), Signal(), Signal(), Signal()
        fresh = Signal(init=1)
        prod, acc, final = Signal(vec), Signal(vec), Signal(vec)
        out = Signal(data.ArrayLayout(signed(8), lanes))
        m.d.comb += [en.eq(~o_valid | self.o.ready), self.i.ready.eq(en),
                     self.o.valid.eq(o_valid), self.o.payload.eq(out)]

        rounded = []
        for lane in range(lanes):
            nxt = Signal(signed(ACC_BITS), name=f"nxt_{lane}")
            with m.If(fresh):
                m.d.comb += nxt.eq(prod[lane])
            with m.Else():
                m.d.comb += nxt.eq(acc[lane] + prod[lane])
            shifted = Signal(signed(ACC_BITS + 1 - WEIGHT_FRAC), name=f"shifted_{lane}")
            m.d.comb += shifted.eq((final[lane] + (1 << (WEIGHT_FRAC - 1))) >> WEIGHT_FRAC)
            rounded.append(saturate(m, shifted, 8))
            with m.If(en):
                m.d.sync += prod[lane].eq(self.i.payload.data[lane] * self.i.payload.weight)
                with m.If(p_valid):
                    m.d.sync += [acc[lane].eq(nxt), final[lane].eq(nxt)]
                m.d.sync += out[lane].eq(rounded[lane])

        with m.If(en):
            m.d.sync += [p_valid.eq(self.i.valid), p_last.eq(self.i.payload.last),
                         f_valid.eq(p_valid & p_last), o_valid.eq(f_valid)]
            with m.If(p_valid):
                m.d.sync += fresh.eq(p_last)
        return m
