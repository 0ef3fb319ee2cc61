"""The ``df`` expert stage: :class:`DfFeeder` (the split array fed one weight word a cycle) and
:class:`DfDrains` (its drains into ``h`` and ``y``).

Phase p = 0 .. B of an expert with B row blocks: sub-array A (up, gate) on block p (p < B),
sub-array D (down) on block p - 1 (p >= 1), both fed from one weight word a cycle
(interface.py, DF_UP / DF / DF_DOWN). Drains: A's up lanes -> RQup -> up_q (gated) or -> LUT ->
h (plain); A's gate lanes -> RQgate -> LUT -> * up_q -> RQhid -> h; D -> RQdown -> y. h and
up_q hold two row blocks (slot = block % 2); a D beat waits until the h tile of its column is
written.
"""
from __future__ import annotations

from typing import Any

from amaranth.hdl import Const, Module, Mux, Signal, signed
from amaranth.lib import data, wiring
from amaranth.lib.wiring import In, Out

from ..geometry import KernelGeometry, ceil_div
from ..hwutil import eq, wrap_inc
from .links import (STAGE_END, df_tap_signature, gather_signature, params_signature,
                    unit_stream)
from .ywriter import down_rows_signature

__all__ = ['DfFeeder', 'DfDrains']



class DfFeeder(wiring.Component):
    """The dataflow expert's feeder: one weight word a cycle (``w_data`` / ``w_valid``,
    ``w_ready``) into both sub-arrays (``a``: group 0 of the split array, its A operand the
    ``x`` rows of ``gather``; ``d``: group 1, its A operand from ``h`` (read side ``h``)).
    A ``d`` beat waits for its ``h`` tile (``h_tiles``: tiles the drains have written).
    ``a_beat`` / ``d_beat``: the sub-arrays' input beats."""

    def __init__(self, geom: KernelGeometry, stage: wiring.Signature, *, pe: Any,
                 h: wiring.Signature) -> None:
        self.geom = geom
        assert geom.df is not None
        rtt = ceil_div(geom.tokens, geom.rows)
        super().__init__({
            "stage": In(stage), "a": Out(unit_stream(pe, "i0")), "d": Out(unit_stream(pe, "i1")),
            "gather": Out(gather_signature(geom)), "h": In(h),
            "w_data": In(8 * geom.cols), "w_valid": In(1), "w_ready": Out(1),
            "h_tiles": In(range(rtt * geom.df.tiles_a + 1)), "a_beat": Out(1), "d_beat": Out(1)})

    def elaborate(self, platform: object) -> Module:
        m = Module()
        g, st = self.geom, self.stage
        lay = g.df
        assert lay is not None
        R, W, d, f = g.rows, g.stream_bytes, g.hidden, g.ffn
        cA, cd, wH, nA = lay.lanes_a, lay.cd, lay.width_h, lay.tiles_a
        rtt = ceil_div(g.tokens, R)
        load, rt, is_df = st.load, st.rt, st.is_df
        gather, hdf, h_tiles = self.gather, self.h, self.h_tiles
        df_fp, df_rd_en, df_x_lo, df_x_hi = gather.blk, gather.en, gather.x_lo, gather.x_hi
        LA, LD = lay.words_a, lay.words_d
        LM = max(LA, LD)
        run_df = st.run & is_df
        fj = Signal(range(LM + 1))               # slot (word) within the phase
        a_kk = Signal(range(max(2, d)))          # A: K index (x column)
        d_kk = Signal(range(max(2, f)))          # D: K index (h column)
        dh_lo = Signal(range(max(2, wH)))        # d_kk % wH (h bank)
        dh_hi = Signal(range(max(2, nA)))        # d_kk // wH (h tile)
        d_sl = Signal()                          # h slot of D's block
        d_base = Signal(range(rtt * nA + 1))     # h tiles of the blocks before D's
        dfeed, dpv = Signal(), Signal()
        p_a, p_d, p_alast, p_dlast = Signal(), Signal(), Signal(), Signal()
        plen = Signal(range(LM + 1))
        m.d.comb += plen.eq(Mux(eq(df_fp, 0), LA, Mux(df_fp == rt, LD, LM)))
        a_act = Signal()
        d_act = Signal()
        m.d.comb += [a_act.eq((df_fp < rt) & (fj < LA)), d_act.eq(~eq(df_fp, 0) & (fj < LD))]
        h_ok = ~d_act | (h_tiles > d_base + dh_hi)
        iA, iD = self.a, self.d
        pa_ok = ~p_a | iA.ready
        pd_ok = ~p_d | iD.ready
        wvalid = self.w_valid
        dfire = run_df & dpv & wvalid & pa_ok & pd_ok
        m.d.comb += df_rd_en.eq(~dpv | dfire)

        def advance_k(kk: Signal, depth: int, lo: Signal, hi: Signal, width: int) -> None:
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
            self.w_ready.eq(run_df & dpv & pa_ok & pd_ok),
            self.a_beat.eq(iA.valid & iA.ready),
            self.d_beat.eq(iD.valid & iD.ready),
        ]
        for r in range(R):
            m.d.comb += [iA.payload.a[r].eq(gather.rows[r]), iD.payload.a[r].eq(hdf.r_data[r])]
        for c in range(cA):
            m.d.comb += iA.payload.b[c].eq(self.w_data[8 * c:8 * c + 8])
        for c in range(cd):
            m.d.comb += iD.payload.b[c].eq(self.w_data[8 * (cA + c):8 * (cA + c) + 8])
        return m


class DfDrains(wiring.Component):
    """The dataflow expert's drains: the sub-arrays' rows (``a``, ``d``: groups 0 and 1 of the
    split array) into the requantiser groups (``rq_up`` / ``up``, gated ``rq_gt`` / ``gt``,
    ``rq_dn`` / ``dn``, with the expert's ``q``); up rows -> ``up_q`` (``upq``, gated), the gate
    rows' ``up_q`` window, the LUT source (``df``: :func:`~.links.df_tap_signature`), ``h`` rows
    (write side ``h``, ``h_tiles`` written) and the down rows (``y``) to the ``y`` writer.
    ``df_end``: the last down row; ``upq_row`` / ``h_row`` / ``y_row``: rows written."""

    def __init__(self, geom: KernelGeometry, stage: wiring.Signature, *, pe: Any, rq1: Any,
                 h: wiring.Signature, upq: wiring.Signature | None) -> None:
        self.geom = geom
        lay = geom.df
        assert lay is not None
        rtt = ceil_div(geom.tokens, geom.rows)
        dn = 2 if geom.gated else 1
        members: dict[str, Any] = {
            "stage": In(stage), "a": In(unit_stream(pe, "o0")), "d": In(unit_stream(pe, "o1")),
            "rq_up": Out(unit_stream(rq1, "i0")), "up": In(unit_stream(rq1, "o0")),
            "rq_dn": Out(unit_stream(rq1, f"i{dn}")), "dn": In(unit_stream(rq1, f"o{dn}")),
            "q": In(params_signature(geom)), "df": In(df_tap_signature(geom)), "h": In(h),
            "h_tiles": Out(range(rtt * lay.tiles_a + 1)),
            "y": Out(down_rows_signature(geom, lay.tiles_d * lay.cd, ready=False)),
            "df_end": Out(STAGE_END), "upq_row": Out(1), "h_row": Out(1), "y_row": Out(1)}
        if geom.gated:
            assert upq is not None
            members.update(rq_gt=Out(unit_stream(rq1, "i1")), gt=In(unit_stream(rq1, "o1")),
                           upq=In(upq))
        super().__init__(members)

    def elaborate(self, platform: object) -> Module:
        m = Module()
        g, st = self.geom, self.stage
        lay = g.df
        assert lay is not None
        R, C, cd, cu, wH, nA = g.rows, g.cols, lay.cd, lay.cu, lay.width_h, lay.tiles_a
        load, is_df = st.load, st.is_df
        oA, oD, q, tap = self.a, self.d, self.q, self.df
        r_up, r_dn, o_up, o_dn = self.rq_up, self.rq_dn, self.up, self.dn
        m.d.comb += [r_up.payload.mult.eq(q.q_up[:16]),
                     r_up.payload.shift.eq(q.q_up[16:]),
                     r_dn.valid.eq(oD.valid), r_dn.payload.mult.eq(q.q_down[:16]),
                     r_dn.payload.shift.eq(q.q_down[16:]), oD.ready.eq(r_dn.ready),
                     o_dn.ready.eq(1)]
        for c in range(cu):
            m.d.comb += r_up.payload.acc[c].eq(oA.payload.data[c])
        for c in range(cd):
            m.d.comb += r_dn.payload.acc[c].eq(oD.payload.data[c])
        if g.gated:
            self._gated(m)
            h_lane0 = cu
        else:
            m.d.comb += [r_up.valid.eq(oA.valid), oA.ready.eq(r_up.ready),
                         o_up.ready.eq(tap.lut_ready), tap.lut_valid.eq(o_up.valid)]
            h_lane0 = 0
        # ---- h rows (two row blocks)
        hdf, h_tiles = self.h, self.h_tiles
        hr = Signal(range(max(2, R)))
        ht = Signal(range(max(2, nA)))
        hsl = Signal()
        h_row = is_df & tap.h_valid
        m.d.comb += [hdf.w_addr.eq(Mux(hsl, nA, 0) + ht), hdf.w_lane.eq(hr),
                     hdf.w_en.eq(h_row), self.h_row.eq(h_row)]
        for c in range(wH):
            m.d.comb += hdf.w_data[c].eq(tap.h_data[h_lane0 + c])
        with m.If(h_row):
            m.d.sync += hr.eq(wrap_inc(hr, R))
            with m.If(eq(hr, R - 1)):
                m.d.sync += [h_tiles.eq(h_tiles + 1), ht.eq(wrap_inc(ht, nA))]
                with m.If(eq(ht, nA - 1)):
                    m.d.sync += hsl.eq(~hsl)
        with m.If(load):
            m.d.sync += [hr.eq(0), ht.eq(0), hsl.eq(0), h_tiles.eq(0)]
        # ---- down rows -> y slots
        y, nD, rtt = self.y, lay.tiles_d, ceil_div(g.tokens, R)
        df_y_lane, df_y_off = y.lane, y.col
        df_y_data = Signal(data.ArrayLayout(signed(8), C))
        yt = Signal(range(max(2, nD)))
        yb = Signal(range(rtt + 1))
        yb_r = Signal(range(rtt * R + 1))  # yb * R
        y_row_end = o_dn.valid & eq(df_y_lane, R - 1)
        y_blk_end = y_row_end & eq(yt, nD - 1)
        m.d.comb += [y.valid.eq(o_dn.valid & (yb_r + df_y_lane < st.mrows)),
                     y.last_tile.eq(eq(yt, nD - 1)),
                     y.blk_nxt.eq(Mux(load, 0, yb + y_blk_end)),
                     self.df_end.done.eq(y_blk_end & (yb == st.rt - 1)),
                     self.y_row.eq(y.valid), y.data.eq(df_y_data)]
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
        return m

    def _gated(self, m: Module) -> None:
        """Gated: A's rows into the up and gate groups, up rows -> ``up_q``, and the gate rows
        entering the LUT read the ``up_q`` window of their columns."""
        g, st = self.geom, self.stage
        lay = g.df
        assert lay is not None
        R, cu, cg, nA, nU = g.rows, lay.cu, lay.cg, lay.tiles_a, lay.tiles_up
        oA, q, tap, upqdf = self.a, self.q, self.df, self.upq
        r_up, o_up, r_gt, o_gt = self.rq_up, self.up, self.rq_gt, self.gt
        # A's rows enter both requantiser groups in the same cycle
        m.d.comb += [r_up.valid.eq(oA.valid & r_gt.ready),
                     r_gt.valid.eq(oA.valid & r_up.ready),
                     r_gt.payload.mult.eq(q.q_gate[:16]), r_gt.payload.shift.eq(q.q_gate[16:]),
                     oA.ready.eq(r_up.ready & r_gt.ready),
                     o_up.ready.eq(1), o_gt.ready.eq(tap.lut_ready),
                     tap.lut_valid.eq(o_gt.valid), tap.upq_window.eq(upqdf.r_data)]
        for c in range(cg):
            m.d.comb += r_gt.payload.acc[c].eq(oA.payload.data[cu + c])
        # up rows -> up_q (A tiles beyond the up tiles carry zero weights: not written)
        ur = Signal(range(max(2, R)))
        ut = Signal(range(max(2, nA)))
        usl = Signal()
        up_row = o_up.valid & (Const(1, 1) if nU >= nA else ut < nU)
        m.d.comb += [upqdf.w_addr.eq(Mux(usl, nU, 0) + ut), upqdf.w_lane.eq(ur),
                     upqdf.w_en.eq(up_row), self.upq_row.eq(up_row)]
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
        with m.If(st.is_df & tap.lut_fire):
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
                     upqdf.r_lane.eq(gr), upqdf.r_en.eq(tap.lut_ready)]
        with m.If(st.load):
            m.d.sync += [ur.eq(0), ut.eq(0), usl.eq(0), gr.eq(0), gt.eq(0), gq.eq(0),
                         g0.eq(0), gsl.eq(0)]
