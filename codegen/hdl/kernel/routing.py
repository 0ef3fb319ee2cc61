"""The router's back end: top-k and the gate normaliser with the per-expert dispatcher."""
from __future__ import annotations

from amaranth.hdl import Mux, Signal, unsigned
from amaranth.lib import data, wiring

from ..hwutil import eq, select, wrap_inc
from .scope import KernelScope

__all__ = ['add_topk', 'add_gate_norm']


def add_topk(scope: KernelScope) -> None:
    """Top-k: logits (sequential front) or the serializer (dataflow front) into TopK."""
    C, E, T, is_topk = scope.take('C', 'E', 'T', 'is_topk')
    l_rd, load, m, nte = scope.take('l_rd', 'load', 'm', 'nte')
    probes, run, s_wr, seq_front = scope.take('probes', 'run', 's_wr', 'seq_front')
    ser, topk = scope.take('ser', 'topk')
    # ---------------------------------------------------------------- top-k
    tk_done = Signal()
    if seq_front:
        tt = Signal(range(T + 1))
        te = Signal(range(max(2, E)))
        tl = Signal(range(max(2, C)))
        taddr = Signal(range(T * nte + 1))
        tfeed = Signal()
        tpv = Signal()
        tp_lane = Signal.like(tl)
        t_rd_en = ~tpv | (topk.i.valid & topk.i.ready)
        t_issue = run & is_topk & tfeed & t_rd_en
        with m.If(t_issue):
            m.d.sync += [tpv.eq(1), tp_lane.eq(tl)]
            with m.If(eq(te, E - 1)):
                m.d.sync += [te.eq(0), tl.eq(0), taddr.eq(taddr + 1), tt.eq(tt + 1)]
                with m.If(eq(tt, T - 1)):
                    m.d.sync += tfeed.eq(0)
            with m.Else():
                m.d.sync += [te.eq(te + 1), tl.eq(wrap_inc(tl, C))]
                with m.If(eq(tl, C - 1)):
                    m.d.sync += taddr.eq(taddr + 1)
        with m.Elif(t_rd_en):
            m.d.sync += tpv.eq(0)
        with m.If(load):
            m.d.sync += [tt.eq(0), te.eq(0), tl.eq(0), taddr.eq(0), tfeed.eq(is_topk),
                         tpv.eq(0)]
        m.d.comb += [l_rd.addr.eq(taddr), l_rd.en.eq(t_rd_en),
                     topk.i.valid.eq(tpv & run & is_topk),
                     topk.i.payload.eq(select([l_rd.data[i] for i in range(C)], tp_lane))]
        so_t = Signal(range(T + 1))
        tk_out_fire = topk.o.valid & topk.o.ready
        m.d.comb += [s_wr.addr.eq(so_t), s_wr.data.eq(topk.o.payload),
                     s_wr.en.eq(is_topk & tk_out_fire)]
        with m.If(is_topk & tk_out_fire):
            m.d.sync += so_t.eq(so_t + 1)
        with m.If(load):
            m.d.sync += so_t.eq(0)
        m.d.comb += tk_done.eq(is_topk & tk_out_fire & (eq(so_t, T - 1)))
    else:
        wiring.connect(m, ser.o, topk.i)
    m.d.comb += [probes["topk_in_fire"].eq(topk.i.valid & topk.i.ready),
                 probes["topk_out_valid"].eq(topk.o.valid)]

    scope.publish(locals(), 'tk_done')


def add_gate_norm(scope: KernelScope) -> None:
    """Gate normaliser and dispatcher (per-expert token lists and counts)."""
    E, R, T, counts = scope.take('E', 'R', 'T', 'counts')
    d_wr, g, g_wr, gn = scope.take('d_wr', 'g', 'g_wr', 'gn')
    is_front, is_gn, is_topk, k = scope.take('is_front', 'is_gn', 'is_topk', 'k')
    lanes, layer_init, load, m = scope.take('lanes', 'layer_init', 'load', 'm')
    probes, rqg, rtt, run = scope.take('probes', 'rqg', 'rtt', 'run')
    s_rd, seq_front, tbits, tiles = scope.take('s_rd', 'seq_front', 'tbits', 'tiles')
    topk, = scope.take('topk')
    # ---------------------------------------------------------------- gate normaliser + dispatcher
    d_busy = Signal()
    dj = Signal(range(max(2, k)))
    d_idx = Signal(data.ArrayLayout(unsigned(g.expert_bits), k))
    d_t = Signal(tbits)
    gn_t = Signal(range(T + 1))   # tokens accepted by the normaliser
    go_t = Signal(range(T + 1))   # gate results written
    gates_done = Signal()
    gn_fire = gn.i.valid & gn.i.ready
    gn_src_valid = Signal()
    m.d.comb += [gn.gate_mult.eq(rqg[:16]), gn.gate_shift.eq(rqg[16:]),
                 gn.i.valid.eq(gn_src_valid & ~d_busy & run & (is_gn | is_front)),
                 probes["gn_in_fire"].eq(gn_fire), probes["disp_busy"].eq(d_busy)]
    if seq_front:
        gpv = Signal()
        gt = Signal(range(T + 1))
        g_rd_en = ~gpv | gn_fire
        g_issue = run & is_gn & (gt < T) & g_rd_en
        with m.If(g_issue):
            m.d.sync += [gpv.eq(1), gt.eq(gt + 1)]
        with m.Elif(g_rd_en):
            m.d.sync += gpv.eq(0)
        with m.If(load):
            m.d.sync += [gt.eq(0), gpv.eq(0)]
        m.d.comb += [s_rd.addr.eq(gt), s_rd.en.eq(g_rd_en), gn_src_valid.eq(gpv),
                     gn.i.payload.eq(s_rd.data)]
        with m.If(is_topk):
            m.d.comb += topk.o.ready.eq(1)
    else:
        m.d.comb += [gn_src_valid.eq(topk.o.valid), gn.i.payload.eq(topk.o.payload),
                     topk.o.ready.eq(gn.i.ready & ~d_busy & run & is_front)]
    gn_out_fire = gn.o.valid & gn.o.ready
    m.d.comb += [gn.o.ready.eq(1), probes["gn_out_fire"].eq(gn_out_fire),
                 g_wr.addr.eq(go_t), g_wr.data.eq(gn.o.payload.weight), g_wr.en.eq(gn_out_fire)]
    with m.If(gn_out_fire):
        m.d.sync += go_t.eq(go_t + 1)
        with m.If(eq(go_t, T - 1)):
            m.d.sync += gates_done.eq(1)
    gates_done_nxt = gates_done | (gn_out_fire & (eq(go_t, T - 1)))
    # dispatcher: k list writes per accepted token
    d_e = Signal(g.expert_bits)
    m.d.comb += d_e.eq(select([d_idx[i] for i in range(k)], dj))
    cur_lane = select([lanes[i] for i in range(E)], d_e)
    cur_tile = select([tiles[i] for i in range(E)], d_e)
    m.d.comb += [d_wr.addr.eq(d_e * rtt + cur_tile)]
    for r in range(R):
        m.d.comb += [d_wr.data[r].token.eq(d_t), d_wr.data[r].rank.eq(dj),
                     d_wr.en[r].eq(d_busy & (eq(cur_lane, r)))]
    with m.If(gn_fire):
        m.d.sync += [d_busy.eq(1), dj.eq(0), d_idx.eq(gn.i.payload.index), d_t.eq(gn_t),
                     gn_t.eq(gn_t + 1)]
    with m.If(d_busy):
        m.d.sync += dj.eq(dj + 1)
        with m.If(eq(dj, k - 1)):
            m.d.sync += d_busy.eq(0)
        for e in range(E):
            with m.If(eq(d_e, e)):
                m.d.sync += [counts[e].eq(counts[e] + 1),
                             lanes[e].eq(wrap_inc(lanes[e], R))]
                with m.If(eq(lanes[e], R - 1)):
                    m.d.sync += tiles[e].eq(tiles[e] + 1)
    d_busy_nxt = Mux(gn_fire, 1, Mux(d_busy & (eq(dj, k - 1)), 0, d_busy))
    disp_idle_nxt = (eq((gn_t + gn_fire), T)) & ~d_busy_nxt
    with m.If(layer_init):
        m.d.sync += [counts.eq(0), lanes.eq(0), tiles.eq(0), gn_t.eq(0), go_t.eq(0),
                     gates_done.eq(0), d_busy.eq(0)]

    scope.publish(locals(), 'disp_idle_nxt', 'gates_done_nxt')
