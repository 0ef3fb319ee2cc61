"""Combine: ``y`` slots weighted by the gates into the Combiner and out on ``y_out``."""
from __future__ import annotations

from amaranth.hdl import Signal
from amaranth.lib import wiring

from ..hwutil import eq, select
from .scope import KernelScope

__all__ = ['add_combine']


def add_combine(scope: KernelScope) -> None:
    """Combine: ``y`` slots and gates into the Combiner, whose output is ``y_out``."""
    T, W, comb, g_rd = scope.take('T', 'W', 'comb', 'g_rd')
    is_comb, k, kernel, lg = scope.take('is_comb', 'k', 'kernel', 'lg')
    load, m, probes, run = scope.take('load', 'm', 'probes', 'run')
    wpt, y_ports = scope.take('wpt', 'y_ports')
    # ---------------------------------------------------------------- combine
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
    for _, y_rd in y_ports:
        m.d.comb += [y_rd.addr.eq(y_addr >> lg), y_rd.en.eq(c_rd_en)]
    if lg:
        with m.If(c_rd_en):
            m.d.sync += y_bank.eq(y_addr[:lg])
    y_word = select([rd.data.as_value() for _, rd in y_ports], y_bank)
    m.d.comb += [g_rd.addr.eq(ct), g_rd.en.eq(c_rd_en),
                 comb.i.valid.eq(cpv & run & is_comb),
                 comb.i.payload.weight.eq(select([g_rd.data[i] for i in range(k)], cp_j)),
                 comb.i.payload.last.eq(cp_last)]
    for lane in range(W):
        m.d.comb += comb.i.payload.data[lane].eq(y_word[8 * lane:8 * lane + 8])
    out_n = Signal(range(T * wpt + 1))
    y_fire = kernel.y_out.valid & kernel.y_out.ready
    wiring.connect(m, comb.o, wiring.flipped(kernel.y_out))
    m.d.comb += probes["y_fire"].eq(y_fire)
    with m.If(y_fire):
        m.d.sync += out_n.eq(out_n + 1)
    with m.If(load):
        m.d.sync += out_n.eq(0)
    comb_done = y_fire & (eq(out_n, T * wpt - 1))

    scope.publish(locals(), 'comb_done')
