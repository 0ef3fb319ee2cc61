"""The GEMM feeder of the sequential stages (router, up, gate, down) into the PE array."""
from __future__ import annotations

from typing import Any

from amaranth.hdl import Const, Module, Mux, Signal
from amaranth.lib import stream, wiring
from amaranth.lib.wiring import In, Out

from ..geometry import KernelGeometry, ceil_div
from ..hwutil import eq, select, wrap_inc
from ..pe_array import pe_input_layout
from .links import gather_signature, max_requests

__all__ = ['GemmFeeder']


class GemmFeeder(wiring.Component):
    """The GEMM feeder: A gathered from the ``x`` buffer (read side ``x``; tokens by the
    expert's dispatch list, read port ``dispatch``, while an expert runs) or from ``h`` (read
    side ``h``, ``down``), B from the weight words (``w_data`` / ``w_valid``, ``w_ready``: the
    feeder takes the word) for row tile 0 and from ``wtile`` (ports ``wt_rd`` / ``wt_wr``, more
    than one row tile) for the others, into the PE array (``pe``). A front GEMM's row tile waits
    for its tokens (``x_tokens``: tokens loaded). ``router_w_done``: the router's weights are
    in. With a dataflow expert the ``x`` and dispatch read ports serve the dataflow feeder
    (``df``: :func:`~.links.gather_signature`) while ``is_df``. ``fire``: a PE input beat."""

    def __init__(self, geom: KernelGeometry, stage: wiring.Signature, *, has_df: bool,
                 x: wiring.Signature, dispatch: wiring.Signature, h: wiring.Signature | None,
                 wt_rd: wiring.Signature | None, wt_wr: wiring.Signature | None) -> None:
        self.geom, self.has_df = geom, has_df
        T, R, C = geom.tokens, geom.rows, geom.cols
        members: dict[str, Any] = {
            "stage": In(stage), "pe": Out(stream.Signature(pe_input_layout(R, C))),
            "x": In(x), "dispatch": In(dispatch), "x_tokens": In(range(T + 1)),
            "w_data": In(8 * C), "w_valid": In(1), "w_ready": Out(1),
            "router_w_done": Out(1), "fire": Out(1)}
        if h is not None:
            members["h"] = In(h)
        if wt_rd is not None and wt_wr is not None:
            members.update(wt_rd=In(wt_rd), wt_wr=In(wt_wr))
        if has_df:
            members["df"] = In(gather_signature(geom))
        super().__init__(members)

    def elaborate(self, platform: object) -> Module:
        m = Module()
        g, stage = self.geom, self.stage
        C, R, T, W = g.cols, g.rows, g.tokens, g.stream_bytes
        wpt, rtt, ntf = g.words_per_token, ceil_div(T, R), ceil_div(g.ffn, C)
        kmax, max_reqs = max(g.hidden, g.ffn), max_requests(g, self.has_df)
        has_seq, has_wtile = hasattr(self, "h"), hasattr(self, "wt_rd")
        run, load, rt = stage.run, stage.load, stage.rt
        is_df, is_down, is_exp = stage.is_df, stage.is_down, stage.is_exp
        is_front, is_gemm = stage.is_front, stage.is_gemm
        xbuf, d_rd1, pe_i, xt = self.x, self.dispatch, self.pe, self.x_tokens
        router_w_done = self.router_w_done
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
        fire = self.fire
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
        # the dataflow expert's feeder shares the x and dispatch read ports
        if self.has_df:
            df = self.df
            df_x_hi, df_x_lo, df_rd_en, df_fp = df.x_hi, df.x_lo, df.en, df.blk
        else:
            df_x_hi, df_x_lo = Signal.like(xk_hi), Signal.like(xk_lo)
            df_rd_en, df_fp = Signal(), Signal(range(rtt + 1))
        m.d.comb += [
            xbuf.r_addr.eq(Mux(is_df, df_x_hi, xk_hi)), xbuf.r_bank.eq(Mux(is_df, df_x_lo, xk_lo)),
            xbuf.r_en.eq(Mux(is_df, df_rd_en, rd_en)),
            d_rd1.addr.eq(stage.expert * rtt + Mux(is_df, df_fp, fm)),
            d_rd1.en.eq(Mux(is_df, df_rd_en, rd_en)),
        ]
        if has_seq:
            hbuf = self.h
            m.d.comb += [hbuf.r_addr.eq(fm * ntf + hk_hi), hbuf.r_bank.eq(hk_lo),
                         hbuf.r_en.eq(rd_en)]
        if has_wtile:
            wt_rd, wt_wr = self.wt_rd, self.wt_wr
            m.d.comb += [wt_rd.addr.eq(fk), wt_rd.en.eq(rd_en),
                         wt_wr.addr.eq(p_kk), wt_wr.data.eq(self.w_data),
                         wt_wr.en.eq(fire & p_stream)]
            b_tile = wt_rd.data
        else:
            b_tile = Const(0, 8 * C)
        b_ok = Mux(p_stream, self.w_valid, 1)
        m.d.comb += [
            pe_i.valid.eq(run & is_gemm & pv & b_ok),
            fire.eq(pe_i.valid & pe_i.ready),
            self.w_ready.eq(run & is_gemm & pv & p_stream & pe_i.ready),
            pe_i.payload.b.eq(Mux(p_stream, self.w_data, b_tile)),
            pe_i.payload.last.eq(p_last),
        ]
        with m.If(fire & p_stream & p_last & (p_n == n_tiles - 1)):
            m.d.sync += router_w_done.eq(1)
        for r in range(R):  # the gathered x operand of each PE row
            tok = Signal(range(max(2, rtt * R)), name=f"a_tok_{r}")
            m.d.comb += tok.eq(Mux(is_exp | is_df, d_rd1.data[r].token, p_mr + r))
            xa = Signal(8, name=f"a_x_{r}")
            m.d.comb += xa.eq(select([xbuf.r_data[i] for i in range(T)] + [0] * (2 ** len(tok) - T), tok))
            if self.has_df:
                m.d.comb += self.df.rows[r].eq(xa)
            if has_seq:
                m.d.comb += pe_i.payload.a[r].eq(Mux(is_down, self.h.r_data[r], xa))
            else:
                m.d.comb += pe_i.payload.a[r].eq(xa)
        return m
