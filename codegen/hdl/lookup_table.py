"""256-entry ROM lookup (activation tables, the gate EXP table) with ``lanes`` read ports.

Timing contract: one synchronous read port per lane; a beat accepted at cycle c is on the output
from cycle c + 1; one beat per cycle; ``i.ready = ~o.valid | o.ready`` (combinational on
``o.ready``). The read ports are enabled only when the stage advances, so a stalled output holds.

The index of each lane is 8 bits; with ``index_signed=True`` the input lanes are int8 and the ROM
is addressed by their two's-complement byte (``v & 0xFF``), as the spec's activation tables are.
"""
from __future__ import annotations

from collections.abc import Sequence

from amaranth.hdl import Module, Shape, ShapeLike, Signal, signed, unsigned
from amaranth.lib import data, stream, wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

__all__ = ["LookupTable"]

DEPTH = 256


class LookupTable(wiring.Component):
    """``out[l] = table[index[l]]`` for ``lanes`` lanes, from one 256-entry ROM."""

    def __init__(self, table: Sequence[int], value_shape: ShapeLike, *, lanes: int = 1,
                 index_signed: bool = False) -> None:
        shape = Shape.cast(value_shape)
        if len(table) != DEPTH:
            raise ValueError(f"LookupTable needs {DEPTH} entries, got {len(table)}")
        lo, hi = (-(2 ** (shape.width - 1)), 2 ** (shape.width - 1) - 1) if shape.signed else \
            (0, 2 ** shape.width - 1)
        bad = [v for v in table if not lo <= int(v) <= hi]
        if bad:
            raise ValueError(f"LookupTable entries {bad[:3]} do not fit {shape}")
        if lanes < 1:
            raise ValueError(f"LookupTable needs lanes >= 1, got {lanes}")
        self.table = tuple(int(v) for v in table)
        self.value_shape, self.lanes = shape, lanes
        index = signed(8) if index_signed else unsigned(8)
        super().__init__({
            "i": In(stream.Signature(data.ArrayLayout(index, lanes))),
            "o": Out(stream.Signature(data.ArrayLayout(shape, lanes))),
        })

    def elaborate(self, platform: object) -> Module:
        m = Module()
        m.submodules.rom = rom = Memory(shape=self.value_shape, depth=DEPTH, init=self.table)
        valid, en = Signal(), Signal()
        m.d.comb += [en.eq(~valid | self.o.ready), self.i.ready.eq(en), self.o.valid.eq(valid)]
        with m.If(en):
            m.d.sync += valid.eq(self.i.valid)
        for lane in range(self.lanes):
            port = rom.read_port(domain="sync")
            m.d.comb += [
                port.en.eq(en),
                port.addr.eq(self.i.payload[lane].as_unsigned()),
                self.o.payload[lane].eq(port.data),
            ]
        return m
