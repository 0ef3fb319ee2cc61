"""Combine: :class:`CombineFeed`, ``y`` slots weighted by the gates into the Combiner and out."""
from __future__ import annotations

from amaranth.hdl import Module, Signal, signed
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from ..combiner import Combiner
from ..geometry import KernelGeometry
from ..hwutil import eq, select
from .links import STAGE_END

__all__ = ['CombineFeed']


class CombineFeed(wiring.Component):
    """The ``combine`` stage: the ``k`` ``y`` slots of every output word (read ports ``y_rd``,
    one per bank of ``2 ** lg`` word-address banks) and the token's gates (read port ``gates``)
    into the :class:`~codegen.hdl.combiner.Combiner` (submodule ``comb``), whose output is
    ``y_out``. ``comb_end``: the layer's last output word leaves; ``y_fire``: an output beat."""

    def __init__(self, geom: KernelGeometry, stage: wiring.Signature, *, lg: int,
                 y_rd: wiring.Signature, gates: wiring.Signature) -> None:
        self.geom, self.lg = geom, lg
        W = geom.stream_bytes
        super().__init__({
            "stage": In(stage), "y_rd": In(y_rd).array(1 << lg), "gates": In(gates),
            "y_out": Out(stream.Signature(data.ArrayLayout(signed(8), W))),
            "comb_end": Out(STAGE_END), "y_fire": Out(1)})

    def elaborate(self, platform: object) -> Module:
        m = Module()
        g, st, lg = self.geom, self.stage, self.lg
        T, W, k, wpt = g.tokens, g.stream_bytes, g.top_k, g.words_per_token
        run, load, is_comb = st.run, st.load, st.is_comb
        g_rd, y_ports = self.gates, list(self.y_rd)
        m.submodules.comb = comb = Combiner(W)
        ct = Signal(range(T + 1))
        cw = Signal(range(max(2, wpt)))
        cj = Signal(range(max(2, k)))
        cbase = Signal(range(T * k * wpt + 1))
        cjw = Signal(range(k * wpt + 1))
        cfeed = Signal()
        cpv = Signal()
        cp_j = Signal.like(cj)
        cp_last = Signal()
        c_fire = comb.i.valid & comb.i.ready
        c_rd_en = ~cpv | c_fire
        c_issue = run & is_comb & cfeed & c_rd_en
        with m.If(c_issue):
            m.d.sync += [cpv.eq(1), cp_j.eq(cj), cp_last.eq(eq(cj, k - 1))]
            with m.If(eq(cj, k - 1)):
                m.d.sync += [cj.eq(0), cjw.eq(0)]
                with m.If(eq(cw, wpt - 1)):
                    m.d.sync += [cw.eq(0), ct.eq(ct + 1), cbase.eq(cbase + k * wpt)]
                    with m.If(eq(ct, T - 1)):
                        m.d.sync += cfeed.eq(0)
                with m.Else():
                    m.d.sync += cw.eq(cw + 1)
            with m.Else():
                m.d.sync += [cj.eq(cj + 1), cjw.eq(cjw + wpt)]
        with m.Elif(c_rd_en):
            m.d.sync += cpv.eq(0)
        with m.If(load):
            m.d.sync += [ct.eq(0), cw.eq(0), cj.eq(0), cbase.eq(0), cjw.eq(0), cpv.eq(0),
                         cfeed.eq(is_comb)]
        y_addr = Signal(range(T * k * wpt + 1))
        y_bank = Signal(max(1, lg))
        m.d.comb += y_addr.eq(cbase + cjw + cw)
        for y_rd in y_ports:
            m.d.comb += [y_rd.addr.eq(y_addr >> lg), y_rd.en.eq(c_rd_en)]
        if lg:
            with m.If(c_rd_en):
                m.d.sync += y_bank.eq(y_addr[:lg])
        y_word = select([rd.data.as_value() for rd in y_ports], y_bank)
        m.d.comb += [g_rd.addr.eq(ct), g_rd.en.eq(c_rd_en),
                     comb.i.valid.eq(cpv & run & is_comb),
                     comb.i.payload.weight.eq(select([g_rd.data[i] for i in range(k)], cp_j)),
                     comb.i.payload.last.eq(cp_last)]
        for lane in range(W):
            m.d.comb += comb.i.payload.data[lane].eq(y_word[8 * lane:8 * lane + 8])
        out_n = Signal(range(T * wpt + 1))
        y_fire = self.y_out.valid & self.y_out.ready
        wiring.connect(m, comb.o, wiring.flipped(self.y_out))
        m.d.comb += self.y_fire.eq(y_fire)
        with m.If(y_fire):
            m.d.sync += out_n.eq(out_n + 1)
        with m.If(load):
            m.d.sync += out_n.eq(0)
        m.d.comb += self.comb_end.done.eq(y_fire & (eq(out_n, T * wpt - 1)))
        return m
