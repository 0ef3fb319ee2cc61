"""Vector-to-scalar stream width adapter (e.g. a PE-array row of logits -> TopK).

Timing contract: an input beat of ``lanes`` elements transferred at cycle c is emitted as
``lanes`` output beats, lane 0 first, from cycle c + 1, one per cycle while ``o.ready`` is high.
The next vector is accepted in the cycle its predecessor's final element leaves (``i.ready``
is combinational on ``o.ready``), so an always-ready consumer sees one element every cycle.
The output payload is the element itself, so it connects directly to a scalar stream such as
:class:`~codegen.hdl.topk.TopK`'s input.
"""
from __future__ import annotations

from amaranth.hdl import Module, Shape, ShapeLike, Signal
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

__all__ = ["Serializer"]


class Serializer(wiring.Component):
    """One ``lanes``-element beat in, ``lanes`` single-element beats out."""

    def __init__(self, lanes: int, shape: ShapeLike) -> None:
        if lanes < 1:
            raise ValueError(f"Serializer needs lanes >= 1, got {lanes}")
        self.lanes, self.shape = lanes, Shape.cast(shape)
        super().__init__({
            "i": In(stream.Signature(data.ArrayLayout(self.shape, lanes))),
            "o": Out(stream.Signature(self.shape)),
        })

    def elaborate(self, platform: object) -> Module:
        m = Module()
        lanes = self.lanes
        buf = Signal(data.ArrayLayout(self.shape, lanes))  # element 0 leaves next
        full = Signal()
        lane = Signal(range(max(2, lanes)))
        leaving_final = Signal()
        m.d.comb += [
            self.o.valid.eq(full),
            self.o.payload.eq(buf[0]),
            leaving_final.eq(full & self.o.ready & (lane == lanes - 1)),
            self.i.ready.eq(~full | leaving_final),
        ]
        with m.If(self.o.valid & self.o.ready):
            m.d.sync += lane.eq(lane + 1)
            for j in range(lanes - 1):
                m.d.sync += buf[j].eq(buf[j + 1])
            with m.If(lane == lanes - 1):
                m.d.sync += full.eq(0)
        with m.If(self.i.valid & self.i.ready):
            m.d.sync += [buf.eq(self.i.payload), full.eq(1), lane.eq(0)]
        return m
