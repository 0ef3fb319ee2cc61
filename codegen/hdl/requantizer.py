"""Pipelined int32 -> int8 requantiser: ``sat8((acc * mult + 2**(shift-1)) >> shift)``.

Spec: ``docs/kernel-arithmetic.md`` section 1.1 (round half up, then saturate); golden model:
``verification.golden.requantize``.

Timing contract: the input beat carries ``acc`` (lanes x int32) together with ``mult`` (uint16) and
``shift`` (uint6), so the pair may change every beat. Three stages (multiply; round and shift;
saturate): a beat accepted at cycle c is on the output from cycle c + 3; one beat per cycle. The
whole pipeline advances when ``en = ~o.valid | o.ready``; ``i.ready = en`` (combinational on
``o.ready``).

Rounding is computed without a 64-bit constant: for ``shift >= 1`` and ``t = p >> (shift-1)``,
``(p + 2**(shift-1)) >> shift == floor((t + 1) / 2) == t - (t >> 1)``.
"""
from __future__ import annotations

from amaranth.hdl import Cat, Const, Module, Mux, Signal, signed, unsigned
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

__all__ = ["Requantizer", "requantizer_input_layout", "saturate"]

ACC_BITS, MULT_BITS, SHIFT_BITS = 32, 16, 6
PROD_BITS = ACC_BITS + MULT_BITS + 1  # signed 32 x unsigned 16 (as signed 17)


def requantizer_input_layout(lanes: int) -> data.StructLayout:
    return data.StructLayout({
        "acc": data.ArrayLayout(signed(ACC_BITS), lanes),
        "mult": unsigned(MULT_BITS),
        "shift": unsigned(SHIFT_BITS),
    })


def saturate(m: Module, value: Signal, width: int) -> Signal:
    """A signed ``width``-bit signal: ``value`` clamped by inspecting its high bits.

    ``value`` fits iff all bits from ``width - 1`` up equal its sign bit; otherwise the result is
    the most positive or most negative ``width``-bit value.
    """
    top = len(value) - 1
    high = value[width - 1:top]
    sign = value[top]
    out = Signal(signed(width))
    too_big = ~sign & high.any()
    too_small = sign & ~high.all()
    m.d.comb += out.eq(Mux(too_big, Const(2 ** (width - 1) - 1, signed(width)),
                           Mux(too_small, Const(-(2 ** (width - 1)), signed(width)),
                               value[:width].as_signed())))
    return out


class Requantizer(wiring.Component):
    """``lanes`` parallel requantisers sharing one (mult, shift) per beat."""

    def __init__(self, lanes: int = 1) -> None:
        if lanes < 1:
            raise ValueError(f"Requantizer needs lanes >= 1, got {lanes}")
        self.lanes = lanes
        super().__init__({
            "i": In(stream.Signature(requantizer_input_layout(lanes))),
            "o": Out(stream.Signature(data.ArrayLayout(signed(8), lanes))),
        })

    def elaborate(self, platform: object) -> Module:
        m = Module()
        lanes = self.lanes
        en = Signal()
        v1, v2, v3 = Signal(), Signal(), Signal()
        m.d.comb += [en.eq(~self.o.valid | self.o.ready), self.i.ready.eq(en),
                     self.o.valid.eq(v3)]

        # stage 1: product
        prod = Signal(data.ArrayLayout(signed(PROD_BITS), lanes))
        shift1 = Signal(unsigned(SHIFT_BITS))
        # stage 2: rounded shift; the result never needs more bits than the product
        shifted = Signal(data.ArrayLayout(signed(PROD_BITS), lanes))
        # stage 3: saturated
        out = Signal(data.ArrayLayout(signed(8), lanes))
        m.d.comb += self.o.payload.eq(out)

        shift_m1 = Signal(unsigned(SHIFT_BITS))
        m.d.comb += shift_m1.eq(shift1 - 1)
        rounded_shift, saturated = [], []
        for lane in range(lanes):
            # t = p >> (shift - 1); the result floor((t + 1) / 2) equals t - (t >> 1), written
            # with a same-width arithmetic shift by concatenation
            half = Signal(signed(PROD_BITS), name=f"half_{lane}")
            rounded = Signal(signed(PROD_BITS + 1), name=f"rounded_{lane}")
            m.d.comb += [half.eq(prod[lane] >> shift_m1),
                         rounded.eq(half - Cat(half[1:], half[-1]).as_signed())]
            rounded_shift.append(Mux(shift1.any(), rounded[:PROD_BITS].as_signed(), prod[lane]))
            saturated.append(saturate(m, shifted[lane], 8))

        with m.If(en):
            m.d.sync += [v1.eq(self.i.valid), v2.eq(v1), v3.eq(v2),
                         shift1.eq(self.i.payload.shift)]
            for lane in range(lanes):
                m.d.sync += [
                    prod[lane].eq(self.i.payload.acc[lane] * self.i.payload.mult),
                    shifted[lane].eq(rounded_shift[lane]),
                    out[lane].eq(saturated[lane]),
                ]
        return m
