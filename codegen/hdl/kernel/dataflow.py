"""The ``df`` expert stage: split array fed one weight word a cycle, its drains into ``h`` and ``y``."""
from __future__ import annotations

from amaranth.hdl import Const, Mux, Signal, signed
from amaranth.lib import data

from ..hwutil import eq, wrap_inc
from .scope import KernelScope

__all__ = ['add_df_feeder', 'add_df_drains']


def add_df_feeder(scope: KernelScope) -> None:
    """The dataflow expert's feeder: one weight word a cycle into both sub-arrays."""
    C, R, W, cA = scope.take('C', 'R', 'W', 'cA')
    cd, d, df_fp, df_rd_en = scope.take('cd', 'd', 'df_fp', 'df_rd_en')
    df_w_ready, df_x_hi, df_x_lo, f = scope.take('df_w_ready', 'df_x_hi', 'df_x_lo', 'f')
    has_df, hdf, is_df, kernel = scope.take('has_df', 'hdf', 'is_df', 'kernel')
    lay, load, m, nA = scope.take('lay', 'load', 'm', 'nA')
    nD, pe, probes, rt = scope.take('nD', 'pe', 'probes', 'rt')
    rtt, run, wH, x_rows = scope.take('rtt', 'run', 'wH', 'x_rows')
    # ---------------------------------------------------------------- dataflow expert (df)
    # Phase p = 0 .. B of an expert with B row blocks: sub-array A (up, gate) on block p
    # (p < B), sub-array D (down) on block p - 1 (p >= 1), both fed from one weight word a
    # cycle (interface.py, DF_UP / DF / DF_DOWN). Drains: A's up lanes -> RQup -> up_q
    # (gated) or -> LUT -> h (plain); A's gate lanes -> RQgate -> LUT -> * up_q -> RQhid ->
    # h; D -> RQdown -> y. h and up_q hold two row blocks (slot = block % 2); a D beat waits
    # until the h tile of its column is written.
    df_done = Signal()
    df_y_valid = Signal()
    df_y_lane = Signal(range(max(2, R)))
    df_y_blk_nxt = Signal(range(rtt + 1))
    df_y_off = Signal(range((nD * cd if has_df else 0) + 1))
    df_y_last_tile = Signal()
    df_y_data = Signal(data.ArrayLayout(signed(8), C))
    if has_df:
        LA, LD = lay.words_a, lay.words_d
        LM = max(LA, LD)
        run_df = run & is_df
        # ---- feeder
        fj = Signal(range(LM + 1))               # slot (word) within the phase
        a_kk = Signal(range(max(2, d)))          # A: K index (x column)
        d_kk = Signal(range(max(2, f)))          # D: K index (h column)
        dh_lo = Signal(range(max(2, wH)))        # d_kk % wH (h bank)
        dh_hi = Signal(range(max(2, nA)))        # d_kk // wH (h tile)
        d_sl = Signal()                          # h slot of D's block
        d_base = Signal(range(rtt * nA + 1))     # h tiles of the blocks before D's
        h_tiles = Signal(range(rtt * nA + 1))    # h tiles completely written (this expert)
        dfeed, dpv = Signal(), Signal()
        p_a, p_d, p_alast, p_dlast = Signal(), Signal(), Signal(), Signal()
        plen = Signal(range(LM + 1))
        m.d.comb += plen.eq(Mux(eq(df_fp, 0), LA, Mux(df_fp == rt, LD, LM)))
        a_act = Signal()
        d_act = Signal()
        m.d.comb += [a_act.eq((df_fp < rt) & (fj < LA)), d_act.eq(~eq(df_fp, 0) & (fj < LD))]
        h_ok = ~d_act | (h_tiles > d_base + dh_hi)
        iA, iD = pe.group_in(0), pe.group_in(1)
        pa_ok = ~p_a | iA.ready
        pd_ok = ~p_d | iD.ready
        wvalid = kernel.wdata.valid
        dfire = run_df & dpv & wvalid & pa_ok & pd_ok
        m.d.comb += df_rd_en.eq(~dpv | dfire)

        def advance_k(kk, depth, lo, hi, width):
            """Next K step of a phase: ``kk`` counts to ``depth``; (``hi``, ``lo``) is its
            position in a buffer of ``width``-wide words, all back to 0 after the last."""
            with m.If(eq(kk, depth - 1)):
                m.d.sync += [kk.eq(0), lo.eq(0), hi.eq(0)]
            with m.Else():
                m.d.sync += [kk.eq(kk + 1), lo.eq(wrap_inc(lo, width))]
                with m.If(eq(lo, width - 1)):
                    m.d.sync += hi.eq(hi + 1)

        issue_df = run_df & dfeed & df_rd_en & h_ok
        with m.If(issue_df):
            m.d.sync += [dpv.eq(1), p_a.eq(a_act), p_d.eq(d_act),
                         p_alast.eq(eq(a_kk, d - 1)), p_dlast.eq(eq(d_kk, f - 1))]
            with m.If(fj == plen - 1):  # the phase's last word
                m.d.sync += [fj.eq(0), df_fp.eq(df_fp + 1), a_kk.eq(0), d_kk.eq(0),
                             df_x_lo.eq(0), df_x_hi.eq(0), dh_lo.eq(0), dh_hi.eq(0)]
                with m.If(~eq(df_fp, 0)):
                    m.d.sync += [d_base.eq(d_base + nA), d_sl.eq(~d_sl)]
                with m.If(df_fp == rt):
                    m.d.sync += dfeed.eq(0)
            with m.Else():
                m.d.sync += fj.eq(fj + 1)
                advance_k(a_kk, d, df_x_lo, df_x_hi, W)
                advance_k(d_kk, f, dh_lo, dh_hi, wH)
        with m.Elif(df_rd_en):
            m.d.sync += dpv.eq(0)
        with m.If(load):
            m.d.sync += [dfeed.eq(is_df), dpv.eq(0), fj.eq(0), df_fp.eq(0), a_kk.eq(0),
                         d_kk.eq(0), df_x_lo.eq(0), df_x_hi.eq(0), dh_lo.eq(0), dh_hi.eq(0),
                         d_sl.eq(0), d_base.eq(0)]
        m.d.comb += [hdf.r_addr.eq(Mux(d_sl, nA, 0) + dh_hi), hdf.r_bank.eq(dh_lo),
                     hdf.r_en.eq(df_rd_en)]
        # ---- beats: one word feeds both sub-arrays (lockstep)
        m.d.comb += [
            iA.valid.eq(run_df & dpv & p_a & wvalid & pd_ok),
            iD.valid.eq(run_df & dpv & p_d & wvalid & pa_ok),
            iA.payload.last.eq(p_alast), iD.payload.last.eq(p_dlast),
            df_w_ready.eq(run_df & dpv & pa_ok & pd_ok),
            probes["df_a_beat"].eq(iA.valid & iA.ready),
            probes["df_d_beat"].eq(iD.valid & iD.ready),
        ]
        for r in range(R):
            m.d.comb += [iA.payload.a[r].eq(x_rows[r]), iD.payload.a[r].eq(hdf.r_data[r])]
        for c in range(cA):
            m.d.comb += iA.payload.b[c].eq(kernel.wdata.payload[8 * c:8 * c + 8])
        for c in range(cd):
            m.d.comb += iD.payload.b[c].eq(kernel.wdata.payload[8 * (cA + c):8 * (cA + c) + 8])
    scope.publish(locals(), 'df_done', 'df_y_blk_nxt', 'df_y_data', 'df_y_lane', 'df_y_last_tile', 'df_y_off', 'df_y_valid', 'h_tiles')


def add_df_drains(scope: KernelScope) -> None:
    """The dataflow expert's drains: requantiser groups, up_q window, ``h`` rows, down rows."""
    R, cd, cg, cu = scope.take('R', 'cd', 'cg', 'cu')
    df_done, df_y_blk_nxt, df_y_data, df_y_lane = scope.take('df_done', 'df_y_blk_nxt', 'df_y_data', 'df_y_lane')
    df_y_last_tile, df_y_off, df_y_valid, g = scope.take('df_y_last_tile', 'df_y_off', 'df_y_valid', 'g')
    h_tiles, has_df, hdf, is_df = scope.take('h_tiles', 'has_df', 'hdf', 'is_df')
    load, lut, m, mrows = scope.take('load', 'lut', 'm', 'mrows')
    nA, nD, nU, pe = scope.take('nA', 'nD', 'nU', 'pe')
    probes, q_down, q_gate, q_up = scope.take('probes', 'q_down', 'q_gate', 'q_up')
    rq1, rq2, rt, rtt = scope.take('rq1', 'rq2', 'rt', 'rtt')
    upqdf, wH = scope.take('upqdf', 'wH')
    if not has_df:
        return
    # ---- drains into the requantiser groups
    oA, oD = pe.group_out(0), pe.group_out(1)
    r_up, r_dn = rq1.group_in(0), rq1.group_in(2 if g.gated else 1)
    o_up, o_dn = rq1.group_out(0), rq1.group_out(2 if g.gated else 1)
    m.d.comb += [r_up.payload.mult.eq(q_up[:16]),
                 r_up.payload.shift.eq(q_up[16:]),
                 r_dn.valid.eq(oD.valid), r_dn.payload.mult.eq(q_down[:16]),
                 r_dn.payload.shift.eq(q_down[16:]), oD.ready.eq(r_dn.ready),
                 o_dn.ready.eq(1)]
    for c in range(cu):
        m.d.comb += r_up.payload.acc[c].eq(oA.payload.data[c])
    for c in range(cd):
        m.d.comb += r_dn.payload.acc[c].eq(oD.payload.data[c])
    if g.gated:
        r_gt, o_gt = rq1.group_in(1), rq1.group_out(1)
        # A's rows enter both requantiser groups in the same cycle
        m.d.comb += [r_up.valid.eq(oA.valid & r_gt.ready),
                     r_gt.valid.eq(oA.valid & r_up.ready),
                     r_gt.payload.mult.eq(q_gate[:16]), r_gt.payload.shift.eq(q_gate[16:]),
                     oA.ready.eq(r_up.ready & r_gt.ready),
                     o_up.ready.eq(1), o_gt.ready.eq(lut.i.ready)]
        for c in range(cg):
            m.d.comb += r_gt.payload.acc[c].eq(oA.payload.data[cu + c])
        # up rows -> up_q (A tiles beyond the up tiles carry zero weights: not written)
        ur = Signal(range(max(2, R)))
        ut = Signal(range(max(2, nA)))
        usl = Signal()
        up_row = o_up.valid & (Const(1, 1) if nU >= nA else ut < nU)
        m.d.comb += [upqdf.w_addr.eq(Mux(usl, nU, 0) + ut), upqdf.w_lane.eq(ur),
                     upqdf.w_en.eq(up_row), probes["df_upq_row"].eq(up_row)]
        for c in range(cu):
            m.d.comb += upqdf.w_data[c].eq(o_up.payload[c])
        with m.If(o_up.valid):
            m.d.sync += ur.eq(wrap_inc(ur, R))
            with m.If(eq(ur, R - 1)):
                m.d.sync += ut.eq(wrap_inc(ut, nA))
                with m.If(eq(ut, nA - 1)):
                    m.d.sync += usl.eq(~usl)
        # gate rows entering the LUT read the up_q window of their columns
        gr = Signal(range(max(2, R)))
        gt = Signal(range(max(2, nA)))
        gq = Signal(range(max(2, nU + 1)))   # (gt * cg) // cu
        g0 = Signal(range(max(2, cu)))       # (gt * cg) % cu
        gsl = Signal()
        with m.If(is_df & lut.i.valid & lut.i.ready):
            m.d.sync += gr.eq(wrap_inc(gr, R))
            with m.If(eq(gr, R - 1)):
                with m.If(eq(gt, nA - 1)):
                    m.d.sync += [gt.eq(0), gq.eq(0), g0.eq(0), gsl.eq(~gsl)]
                with m.Else():
                    m.d.sync += gt.eq(gt + 1)
                    with m.If(g0 + cg >= cu):
                        m.d.sync += [g0.eq(g0 + cg - cu), gq.eq(gq + 1)]
                    with m.Else():
                        m.d.sync += g0.eq(g0 + cg)
        m.d.comb += [upqdf.r_addr.eq(Mux(gsl, nU, 0) + gq), upqdf.r_rot.eq(g0),
                     upqdf.r_lane.eq(gr), upqdf.r_en.eq(lut.i.ready)]
        with m.If(load):
            m.d.sync += [ur.eq(0), ut.eq(0), usl.eq(0), gr.eq(0), gt.eq(0), gq.eq(0),
                         g0.eq(0), gsl.eq(0)]
        h_src, h_lane0, h_valid = rq2.o.payload, cu, rq2.o.valid
    else:
        m.d.comb += [r_up.valid.eq(oA.valid), oA.ready.eq(r_up.ready),
                     o_up.ready.eq(lut.i.ready)]
        h_src, h_lane0, h_valid = lut.o.payload, 0, lut.o.valid
    # ---- h rows (two row blocks)
    hr = Signal(range(max(2, R)))
    ht = Signal(range(max(2, nA)))
    hsl = Signal()
    h_row = is_df & h_valid
    m.d.comb += [hdf.w_addr.eq(Mux(hsl, nA, 0) + ht), hdf.w_lane.eq(hr),
                 hdf.w_en.eq(h_row), probes["df_h_row"].eq(h_row)]
    for c in range(wH):
        m.d.comb += hdf.w_data[c].eq(h_src[h_lane0 + c])
    with m.If(h_row):
        m.d.sync += hr.eq(wrap_inc(hr, R))
        with m.If(eq(hr, R - 1)):
            m.d.sync += [h_tiles.eq(h_tiles + 1), ht.eq(wrap_inc(ht, nA))]
            with m.If(eq(ht, nA - 1)):
                m.d.sync += hsl.eq(~hsl)
    with m.If(load):
        m.d.sync += [hr.eq(0), ht.eq(0), hsl.eq(0), h_tiles.eq(0)]
    # ---- down rows -> y slots
    yt = Signal(range(max(2, nD)))
    yb = Signal(range(rtt + 1))
    yb_r = Signal(range(rtt * R + 1))  # yb * R
    y_row_end = o_dn.valid & eq(df_y_lane, R - 1)
    y_blk_end = y_row_end & eq(yt, nD - 1)
    m.d.comb += [df_y_valid.eq(o_dn.valid & (yb_r + df_y_lane < mrows)),
                 df_y_last_tile.eq(eq(yt, nD - 1)),
                 df_y_blk_nxt.eq(Mux(load, 0, yb + y_blk_end)),
                 df_done.eq(y_blk_end & (yb == rt - 1)),
                 probes["df_y_row"].eq(df_y_valid)]
    for c in range(cd):
        m.d.comb += df_y_data[c].eq(o_dn.payload[c])
    with m.If(o_dn.valid):
        m.d.sync += df_y_lane.eq(wrap_inc(df_y_lane, R))
        with m.If(y_row_end):
            with m.If(eq(yt, nD - 1)):
                m.d.sync += [yt.eq(0), df_y_off.eq(0), yb.eq(yb + 1), yb_r.eq(yb_r + R)]
            with m.Else():
                m.d.sync += [yt.eq(yt + 1), df_y_off.eq(df_y_off + cd)]
    with m.If(load):
        m.d.sync += [df_y_lane.eq(0), yt.eq(0), yb.eq(0), yb_r.eq(0), df_y_off.eq(0)]

