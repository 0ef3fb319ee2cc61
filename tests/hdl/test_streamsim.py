"""The stream harness: transfer cycles, back-pressure, payload conversion and time-outs."""

import pytest
from amaranth.hdl import Module, Signal, signed
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from codegen.hdl.streamsim import run_streams

LAYOUT = data.StructLayout({"v": data.ArrayLayout(signed(8), 2), "tag": 3})


class Delay(wiring.Component):
    """A one-register stage that adds one to each lane (enable = ~valid | ready)."""

    i: In(stream.Signature(LAYOUT))
    o: Out(stream.Signature(LAYOUT))
    busy: Out(1)

    def elaborate(self, platform: object) -> Module:
        m = Module()
        valid = Signal()
        en = ~valid | self.o.ready
        m.d.comb += [self.i.ready.eq(en), self.o.valid.eq(valid), self.busy.eq(valid)]
        with m.If(en):
            m.d.sync += [valid.eq(self.i.valid), self.o.payload.tag.eq(self.i.payload.tag)]
            for lane in range(2):
                m.d.sync += self.o.payload.v[lane].eq(self.i.payload.v[lane] + 1)
        return m


class Silent(wiring.Component):
    i: In(stream.Signature(8))
    o: Out(stream.Signature(8))

    def elaborate(self, platform: object) -> Module:
        m = Module()
        dummy = Signal()
        m.d.sync += dummy.eq(~dummy)
        return m


def test_cycles_and_payloads() -> None:
    beats = [{"v": [i, -i], "tag": i % 8} for i in range(6)]
    dut = Delay()
    run = run_streams(dut, {"i": beats}, {"o": 6}, watch={"busy": dut.busy})
    assert run.accepted["i"] == tuple(range(6))
    assert run.cycles_of("o") == list(range(1, 7))
    assert run.payloads("o") == [{"v": [i + 1, 1 - i], "tag": i % 8} for i in range(6)]
    assert run.high["busy"] == 6 and run.cycles == 7


def test_backpressure_keeps_order_and_values() -> None:
    beats = [{"v": [i, i], "tag": 0} for i in range(-50, 50, 7)]
    run = run_streams(Delay(), {"i": beats}, {"o": len(beats)}, source_rate=0.5,
                      sink_rate=0.3, seed=9)
    assert [p["v"][0] for p in run.payloads("o")] == [i + 1 for i in range(-50, 50, 7)]
    assert run.cycles > 2 * len(beats)  # the random stalls really happened


def test_timeout() -> None:
    with pytest.raises(TimeoutError, match="Silent"):
        run_streams(Silent(), {"i": [1]}, {"o": 1}, max_cycles=50)
