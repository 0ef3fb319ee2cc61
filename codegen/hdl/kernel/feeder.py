"""The GEMM feeder of the sequential stages (router, up, gate, down) into the PE array."""
from __future__ import annotations

from amaranth.hdl import Const, Mux, Signal

from ..hwutil import eq, select, wrap_inc
from .scope import KernelScope

__all__ = ['add_feeder']


def add_feeder(scope: KernelScope) -> None:
    """The GEMM feeder: A gathered from ``x`` / ``h``, B from ``wdata`` or ``wtile``, into the PE array."""
    C, E, R, T = scope.take('C', 'E', 'R', 'T')
    W, stage, d_rd1, feeder_w_ready = scope.take('W', 'stage', 'd_rd1', 'feeder_w_ready')
    has_seq, hbuf, is_df = scope.take('has_seq', 'hbuf', 'is_df')
    is_down, is_exp, is_front, is_gemm = scope.take('is_down', 'is_exp', 'is_front', 'is_gemm')
    kernel, kmax, lanes, load = scope.take('kernel', 'kmax', 'lanes', 'load')
    m, max_reqs, ntf, pe = scope.take('m', 'max_reqs', 'ntf', 'pe')
    probes, router_w_done, rt, rtt = scope.take('probes', 'router_w_done', 'rt', 'rtt')
    run, tiles, wpt, wt_rd = scope.take('run', 'tiles', 'wpt', 'wt_rd')
    wt_wr, xbuf, xt = scope.take('wt_wr', 'xbuf', 'xt')
    # ---------------------------------------------------------------- GEMM feeder
    n_tiles = stage.col_tiles
    kk_n = stage.k
    feeding = Signal()
    fn = Signal(range(max(2, max_reqs)))
    fm = Signal(range(max(2, rtt)))
    fk = Signal(range(max(2, kmax)))
    fmr = Signal(range(rtt * R + 1))  # fm * R
    xk_lo = Signal(range(max(2, W)))
    xk_hi = Signal(range(max(2, wpt)))
    hk_lo = Signal(range(max(2, C)))
    hk_hi = Signal(range(max(2, ntf)))
    pv = Signal()
    p_last, p_stream, p_n = Signal(), Signal(), Signal.like(fn)
    p_kk = Signal.like(fk)
    p_mr = Signal.like(fmr)
    fire = Signal()
    rd_en = Signal()
    gate_ok = Signal()
    need = Signal(range(rtt * R + R + 1))
    m.d.comb += need.eq(fmr + R)
    m.d.comb += gate_ok.eq(~is_front | (xt >= Mux(need > T, T, need)))
    issue = Signal()
    m.d.comb += [rd_en.eq(~pv | fire), issue.eq(run & is_gemm & feeding & gate_ok & rd_en)]
    k_end = fk == kk_n - 1
    m_end = fm == rt - 1
    with m.If(issue):
        m.d.sync += [pv.eq(1), p_last.eq(k_end), p_stream.eq(eq(fm, 0)), p_kk.eq(fk),
                     p_mr.eq(fmr), p_n.eq(fn)]
        with m.If(k_end):
            m.d.sync += [fk.eq(0), xk_lo.eq(0), xk_hi.eq(0), hk_lo.eq(0), hk_hi.eq(0)]
            with m.If(m_end):
                m.d.sync += [fm.eq(0), fmr.eq(0), fn.eq(fn + 1)]
                with m.If(fn == n_tiles - 1):
                    m.d.sync += feeding.eq(0)
            with m.Else():
                m.d.sync += [fm.eq(fm + 1), fmr.eq(fmr + R)]
        with m.Else():
            m.d.sync += fk.eq(fk + 1)
            m.d.sync += [xk_lo.eq(wrap_inc(xk_lo, W)),
                         hk_lo.eq(wrap_inc(hk_lo, C))]
            with m.If(eq(xk_lo, W - 1)):
                m.d.sync += xk_hi.eq(xk_hi + 1)
            with m.If(eq(hk_lo, C - 1)):
                m.d.sync += hk_hi.eq(hk_hi + 1)
    with m.Elif(rd_en):
        m.d.sync += pv.eq(0)
    with m.If(load):
        m.d.sync += [feeding.eq(is_gemm), fn.eq(0), fm.eq(0), fk.eq(0), fmr.eq(0),
                     xk_lo.eq(0), xk_hi.eq(0), hk_lo.eq(0), hk_hi.eq(0), pv.eq(0),
                     router_w_done.eq(0)]
    # the dataflow expert's feeder (below) shares the x and dispatch read ports
    df_x_hi, df_x_lo = Signal.like(xk_hi), Signal.like(xk_lo)
    df_rd_en = Signal()
    df_fp = Signal(range(rtt + 1))  # phase = row block of sub-array A
    m.d.comb += [
        xbuf.r_addr.eq(Mux(is_df, df_x_hi, xk_hi)), xbuf.r_bank.eq(Mux(is_df, df_x_lo, xk_lo)),
        xbuf.r_en.eq(Mux(is_df, df_rd_en, rd_en)),
        d_rd1.addr.eq(stage.expert * rtt + Mux(is_df, df_fp, fm)),
        d_rd1.en.eq(Mux(is_df, df_rd_en, rd_en)),
    ]
    if has_seq:
        m.d.comb += [hbuf.r_addr.eq(fm * ntf + hk_hi), hbuf.r_bank.eq(hk_lo),
                     hbuf.r_en.eq(rd_en)]
    if rtt > 1:
        m.d.comb += [wt_rd.addr.eq(fk), wt_rd.en.eq(rd_en),
                     wt_wr.addr.eq(p_kk), wt_wr.data.eq(kernel.wdata.payload[:8 * C]),
                     wt_wr.en.eq(fire & p_stream)]
        b_tile = wt_rd.data
    else:
        b_tile = Const(0, 8 * C)
    b_ok = Mux(p_stream, kernel.wdata.valid, 1)
    m.d.comb += [
        pe.i.valid.eq(run & is_gemm & pv & b_ok),
        fire.eq(pe.i.valid & pe.i.ready),
        feeder_w_ready.eq(run & is_gemm & pv & p_stream & pe.i.ready),
        pe.i.payload.b.eq(Mux(p_stream, kernel.wdata.payload[:8 * C], b_tile)),
        pe.i.payload.last.eq(p_last),
        probes["pe_in_fire"].eq(fire),
    ]
    with m.If(fire & p_stream & p_last & (p_n == n_tiles - 1)):
        m.d.sync += router_w_done.eq(1)
    x_rows = []  # the gathered x operand of each PE row
    for r in range(R):
        tok = Signal(range(max(2, rtt * R)), name=f"a_tok_{r}")
        m.d.comb += tok.eq(Mux(is_exp | is_df, d_rd1.data[r].token, p_mr + r))
        xa = Signal(8, name=f"a_x_{r}")
        m.d.comb += xa.eq(select([xbuf.r_data[i] for i in range(T)] + [0] * (2 ** len(tok) - T), tok))
        x_rows.append(xa)
        if has_seq:
            m.d.comb += pe.i.payload.a[r].eq(Mux(is_down, hbuf.r_data[r], xa))
        else:
            m.d.comb += pe.i.payload.a[r].eq(xa)

    scope.publish(locals(), 'df_fp', 'df_rd_en', 'df_x_hi', 'df_x_lo', 'fm', 'fn', 'n_tiles', 'x_rows')
