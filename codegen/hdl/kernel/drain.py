"""The PE array's drain: sink counters, row routing, requantise / activation / gate path into ``h``."""
from __future__ import annotations

from amaranth.hdl import Mux, Signal, signed, unsigned
from amaranth.lib import data

from ..hwutil import eq, wrap_inc
from .scope import KernelScope

__all__ = ['add_drain_counters', 'add_drain_path']


def add_drain_counters(scope: KernelScope) -> None:
    """Drain counters (the sink) and the routing of the PE array's rows."""
    C, E, R, fm = scope.take('C', 'E', 'R', 'fm')
    fn, g, is_down, is_exp = scope.take('fn', 'g', 'is_down', 'is_exp')
    is_front, is_gate, is_router, l_wr = scope.take('is_front', 'is_gate', 'is_router', 'l_wr')
    load, m, max_reqs, mrows = scope.take('load', 'm', 'max_reqs', 'mrows')
    n_tiles, nte, pe, probes = scope.take('n_tiles', 'nte', 'pe', 'probes')
    q_down, q_gate, q_up, rq1 = scope.take('q_down', 'q_gate', 'q_up', 'rq1')
    rt, rtt, seq_front, ser = scope.take('rt', 'rtt', 'seq_front', 'ser')
    # ---------------------------------------------------------------- drain counters
    # the "sink" is the last stage of the running GEMM's drain: a row written there
    sink_fire = Signal()
    sn = Signal.like(fn)
    sm = Signal.like(fm)
    sr = Signal(range(max(2, R)))
    si = Signal(range(rtt * R + 1))   # sm * R + sr
    so = Signal(range(max_reqs * C + 1))  # sn * C
    sm_nxt = Signal.like(sm)
    sink_last = (sn == n_tiles - 1) & (sm == rt - 1) & (eq(sr, R - 1))
    gemm_done = sink_fire & sink_last
    m.d.comb += sm_nxt.eq(sm)
    with m.If(load):
        m.d.comb += sm_nxt.eq(0)
    with m.Elif(sink_fire & (eq(sr, R - 1))):
        m.d.comb += sm_nxt.eq(Mux(sm == rt - 1, 0, sm + 1))
    m.d.sync += sm.eq(sm_nxt)
    with m.If(sink_fire):
        m.d.sync += [sr.eq(wrap_inc(sr, R)), si.eq(si + 1)]
        with m.If((eq(sr, R - 1)) & (sm == rt - 1)):
            m.d.sync += [sn.eq(sn + 1), so.eq(so + C), si.eq(0)]
    with m.If(load):
        m.d.sync += [sn.eq(0), sr.eq(0), si.eq(0), so.eq(0)]
    row_ok = si < mrows

    pe_out_fire = pe.o.valid & pe.o.ready
    m.d.comb += probes["pe_out_fire"].eq(pe_out_fire)
    # PE output routing
    m.d.comb += [rq1.i.payload.acc.eq(pe.o.payload.data),
                 rq1.i.payload.mult.eq(Mux(is_down, q_down[:16], Mux(is_gate, q_gate[:16], q_up[:16])) if g.gated
                                       else Mux(is_down, q_down[:16], q_up[:16])),
                 rq1.i.payload.shift.eq(Mux(is_down, q_down[16:], Mux(is_gate, q_gate[16:], q_up[16:])) if g.gated
                                        else Mux(is_down, q_down[16:], q_up[16:]))]
    with m.If(is_exp):
        m.d.comb += [rq1.i.valid.eq(pe.o.valid), pe.o.ready.eq(rq1.i.ready)]
    with m.Else():
        m.d.comb += pe.o.ready.eq(1)
    if not seq_front:
        with m.If(is_front):
            m.d.comb += [ser.i.valid.eq(pe.o.valid & row_ok),
                         pe.o.ready.eq(Mux(row_ok, ser.i.ready, 1))]
    if not seq_front:
        for e in range(E):
            m.d.comb += ser.i.payload[e].eq(pe.o.payload.data[e])
    if seq_front:
        m.d.comb += [l_wr.addr.eq(si * nte + sn), l_wr.data.eq(pe.o.payload.data),
                     l_wr.en.eq(is_router & pe_out_fire & row_ok)]

    scope.publish(locals(), 'gemm_done', 'pe_out_fire', 'row_ok', 'sink_fire', 'sm', 'sm_nxt', 'sn', 'so', 'sr')


def add_drain_path(scope: KernelScope) -> None:
    """Requantise / activation / gate path: rq1 -> up_q, LUT, ``* up_q`` -> RQhid -> ``h``."""
    C, R, cg, cu = scope.take('C', 'R', 'cg', 'cu')
    g, has_df, has_seq, hbuf = scope.take('g', 'has_df', 'has_seq', 'hbuf')
    is_df, is_down, is_front, is_gate = scope.take('is_df', 'is_down', 'is_front', 'is_gate')
    is_router, is_up, load, lut = scope.take('is_router', 'is_up', 'load', 'lut')
    m, ntf, pe_out_fire, q_hid = scope.take('m', 'ntf', 'pe_out_fire', 'q_hid')
    rq1, rq2, rt, sink_fire = scope.take('rq1', 'rq2', 'rt', 'sink_fire')
    sm, sn, sr, upq = scope.take('sm', 'sn', 'sr', 'upq')
    upqdf, = scope.take('upqdf')
    # rq1 output routing: up (gated) -> up_q; up (plain) / gate -> LUT; down -> y writer
    lut_path = (is_up & (not g.gated)) | is_gate
    m.d.comb += [lut.i.valid.eq(rq1.o.valid & lut_path), lut.i.payload.eq(rq1.o.payload)]
    if has_df:
        # dataflow expert: the LUT takes the gate group's rows (gated) or the up group's
        # (plain); its input is the requantiser's lanes side by side in either mode
        df_lut_src = rq1.group_out(1 if g.gated else 0)
        with m.If(is_df):
            m.d.comb += lut.i.valid.eq(df_lut_src.valid)
    rq1_o_fire = rq1.o.valid & rq1.o.ready
    y_ready = Signal()
    with m.If(lut_path):
        m.d.comb += rq1.o.ready.eq(lut.i.ready)
    with m.Elif(is_down):
        m.d.comb += rq1.o.ready.eq(y_ready)
    with m.Else():
        m.d.comb += rq1.o.ready.eq(1)

    hrow = Signal(data.ArrayLayout(unsigned(8), C))
    if g.gated:
        # gate drain: LUT -> product with up_q (one register) -> Requantizer RQhid -> h
        mn = Signal.like(sn)
        mm = Signal.like(sm)
        mr = Signal.like(sr)
        lut_in_fire = lut.i.valid & lut.i.ready
        with m.If(lut_in_fire & is_gate):
            m.d.sync += mr.eq(wrap_inc(mr, R))
            with m.If(eq(mr, R - 1)):
                m.d.sync += mm.eq(Mux(mm == rt - 1, 0, mm + 1))
                with m.If(mm == rt - 1):
                    m.d.sync += mn.eq(mn + 1)
        with m.If(load):
            m.d.sync += [mn.eq(0), mm.eq(0), mr.eq(0)]
        # the up_q operand of the product, lane by lane (sequential: the up_q row of the
        # gate tile; dataflow: the up_q window of the gate group's columns, lanes cu..cA-1)
        upq_op = Signal(data.ArrayLayout(unsigned(8), C))
        if has_seq:
            m.d.comb += [upq.c_addr.eq(mm * ntf + mn), upq.c_lane.eq(mr),
                         upq.c_en.eq(lut.i.ready)]
            m.d.comb += upq_op.eq(upq.c_data)
        if has_df:
            with m.If(is_df):
                m.d.comb += upq_op.eq(0)
                for c in range(cg):
                    m.d.comb += upq_op[cu + c].eq(upqdf.r_data[c])
        pv2 = Signal()
        prod = Signal(data.ArrayLayout(signed(16), C))
        en2 = ~pv2 | rq2.i.ready
        m.d.comb += lut.o.ready.eq(Mux(is_gate | is_df, en2, 1))
        with m.If(en2):
            m.d.sync += pv2.eq(lut.o.valid & (is_gate | is_df))
            for c in range(C):
                m.d.sync += prod[c].eq(lut.o.payload[c] * upq_op[c].as_signed())
        m.d.comb += [rq2.i.valid.eq(pv2), rq2.i.payload.mult.eq(q_hid[:16]),
                     rq2.i.payload.shift.eq(q_hid[16:]), rq2.o.ready.eq(1)]
        for c in range(C):
            m.d.comb += rq2.i.payload.acc[c].eq(prod[c])
        # up (gated) -> up_q
        if has_seq:
            m.d.comb += [upq.w_addr.eq(sm * ntf + sn), upq.w_lane.eq(sr),
                         upq.w_en.eq(is_up & rq1_o_fire)]
            for c in range(C):
                m.d.comb += upq.w_data[c].eq(rq1.o.payload[c])
        m.d.comb += hrow.eq(rq2.o.payload)
        h_write = is_gate & rq2.o.valid
        with m.If(is_up):
            m.d.comb += sink_fire.eq(rq1_o_fire)
        with m.Elif(is_gate):
            m.d.comb += sink_fire.eq(rq2.o.valid)
    else:
        m.d.comb += lut.o.ready.eq(1)
        m.d.comb += hrow.eq(lut.o.payload)
        h_write = is_up & lut.o.valid
        with m.If(is_up):
            m.d.comb += sink_fire.eq(lut.o.valid)
    with m.If(is_router | is_front):
        m.d.comb += sink_fire.eq(pe_out_fire)
    with m.If(is_down):
        m.d.comb += sink_fire.eq(rq1_o_fire)
    if has_seq:
        m.d.comb += [hbuf.w_addr.eq(sm * ntf + sn), hbuf.w_lane.eq(sr),
                     hbuf.w_en.eq(h_write)]
        for c in range(C):
            m.d.comb += hbuf.w_data[c].eq(hrow[c])

    scope.publish(locals(), 'y_ready')
