"""Token intake (``x_in -> x``): :class:`TokenIntake`."""
from __future__ import annotations

from amaranth.hdl import Module, Signal, unsigned
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from ..hwutil import eq, wrap_inc

__all__ = ['TokenIntake']


class TokenIntake(wiring.Component):
    """The token stream ``x`` into the x buffer: ``words`` words a token, ``tokens`` tokens a layer.

    ``x.ready`` while ``active`` and the layer's tokens are not all in; each beat is one buffer
    write (``w_*``: word ``w_addr`` of token ``w_lane``, byte ``i`` of the beat in bank ``i``).
    ``tokens`` counts the tokens completely loaded, ``done_next`` is high from the cycle the last
    word is accepted on, ``clear`` (the first cycle of a layer) starts over."""

    def __init__(self, lanes: int, words: int, tokens: int) -> None:
        self.lanes, self.words, self.ntokens = lanes, words, tokens
        super().__init__({
            "x": In(stream.Signature(unsigned(8 * lanes))),
            "active": In(1),
            "clear": In(1),
            "w_addr": Out(range(max(2, words))),
            "w_lane": Out(range(tokens + 1)),
            "w_data": Out(data.ArrayLayout(unsigned(8), lanes)),
            "w_en": Out(1),
            "fire": Out(1),
            "tokens": Out(range(tokens + 1)),
            "done_next": Out(1),
        })

    def elaborate(self, platform: object) -> Module:
        m = Module()
        W, wpt, T = self.lanes, self.words, self.ntokens
        xw = Signal(range(max(2, wpt)))
        xt = self.tokens
        x_done = Signal()
        x_fire = self.fire
        m.d.comb += [self.x.ready.eq(self.active & ~x_done),
                     x_fire.eq(self.x.valid & self.x.ready),
                     self.w_addr.eq(xw), self.w_lane.eq(xt), self.w_en.eq(x_fire)]
        for lane in range(W):
            m.d.comb += self.w_data[lane].eq(self.x.payload[8 * lane:8 * lane + 8])
        x_token_end = x_fire & (eq(xw, wpt - 1))
        m.d.comb += self.done_next.eq(x_done | (x_token_end & (eq(xt, T - 1))))
        with m.If(x_fire):
            m.d.sync += xw.eq(wrap_inc(xw, wpt))
            with m.If(x_token_end):
                m.d.sync += xt.eq(xt + 1)
                with m.If(eq(xt, T - 1)):
                    m.d.sync += x_done.eq(1)
        with m.If(self.clear):
            m.d.sync += [xw.eq(0), xt.eq(0), x_done.eq(0)]
        return m
