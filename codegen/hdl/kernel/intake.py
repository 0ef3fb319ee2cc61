"""Token intake (``x_in -> x``), the weight request port ``wreq`` and the parameter block."""
from __future__ import annotations

from amaranth.hdl import Module, Signal, unsigned
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from ..hwutil import eq, wrap_inc
from .scope import KernelScope

__all__ = ['TokenIntake', 'add_load']


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


def add_load(scope: KernelScope) -> None:
    """The token intake ``x_in -> x``."""
    T, W, is_front, is_load = scope.take('T', 'W', 'is_front', 'is_load')
    kernel, layer_init, m, probes = scope.take('kernel', 'layer_init', 'm', 'probes')
    run, wpt, xbuf = scope.take('run', 'wpt', 'xbuf')
    # ---------------------------------------------------------------- load (x_in -> x)
    m.submodules.intake = intake = TokenIntake(W, wpt, T)
    wiring.connect(m, wiring.flipped(kernel.x_in), intake.x)
    m.d.comb += [intake.active.eq(run & (is_load | is_front)), intake.clear.eq(layer_init),
                 probes["x_fire"].eq(intake.fire),
                 xbuf.w_addr.eq(intake.w_addr), xbuf.w_lane.eq(intake.w_lane),
                 xbuf.w_en.eq(intake.w_en), xbuf.w_data.eq(intake.w_data)]
    xt, x_done_nxt = intake.tokens, intake.done_next

    scope.publish(locals(), 'x_done_nxt', 'xt')
