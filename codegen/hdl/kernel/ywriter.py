"""The ``y`` writer (:class:`YWriter`): down-projection rows into the banked ``y`` slots."""
from __future__ import annotations

from typing import Any

from amaranth.hdl import Const, Module, Mux, Signal
from amaranth.lib import data, wiring
from amaranth.lib.wiring import In, Out

from ..geometry import KernelGeometry, ceil_div
from ..hwutil import select

__all__ = ['YWriter', 'down_rows_signature']


def down_rows_signature(geom: KernelGeometry, col_limit: int, *, ready: bool) -> wiring.Signature:
    """Down-projection rows (driver side): ``valid`` (a row to write), ``data`` (its ``C``
    int8 lanes), ``blk_nxt`` (the row block of the next cycle: the dispatch list
    word to read), ``lane`` (the row within the block), ``col`` (its first column, ``0 .. col_limit``),
    ``last_tile`` (the last column tile: ``d`` mod ``cols`` valid lanes) and, with ``ready``,
    the writer's ``ready``."""
    R, rtt = geom.rows, ceil_div(geom.tokens, geom.rows)
    members: dict[str, Any] = {
        "valid": Out(1), "data": Out(8 * geom.cols), "blk_nxt": Out(range(rtt + 1)),
        "lane": Out(range(max(2, R))), "col": Out(range(col_limit + 1)),
        "last_tile": Out(1)}
    if ready:
        members["ready"] = In(1)
    return wiring.Signature(members)


class YWriter(wiring.Component):
    """The sequential down rows ``seq_rows`` (``C`` lanes, ``down`` stages) or the dataflow D
    rows ``df_rows`` (``cd`` lanes, ``expert_df``) into the ``y`` slots: the row's token and
    rank from the dispatch list (read port ``dispatch``) give slot ``token * k + rank``; word
    ``a`` of the slots is in bank ``a % nb`` (write ports ``y_wr``) so a row is one cycle.
    ``seq_cols``: the largest first column of a sequential row (``col`` of ``seq_rows``)."""

    def __init__(self, geom: KernelGeometry, stage: wiring.Signature, *, has_df: bool,
                 spans: list[int], lg: int, dispatch: wiring.Signature, y_wr: wiring.Signature,
                 entry: data.StructLayout, seq_cols: int) -> None:
        self.geom, self.has_df, self.spans, self.lg, self.entry = geom, has_df, spans, lg, entry
        members: dict[str, Any] = {
            "stage": In(stage), "dispatch": In(dispatch), "y_wr": In(y_wr).array(1 << lg),
            "seq_rows": In(down_rows_signature(geom, seq_cols, ready=True))}
        if has_df:
            assert geom.df is not None
            lay = geom.df
            members["df_rows"] = In(down_rows_signature(geom, lay.tiles_d * lay.cd, ready=False))
        super().__init__(members)

    def elaborate(self, platform: object) -> Module:
        m = Module()
        g, st, lg, spans = self.geom, self.stage, self.lg, self.spans
        C, R, T, W, k = g.cols, g.rows, g.tokens, g.stream_bytes, g.top_k
        d, wpt = g.hidden, g.words_per_token
        ntd, rtt, nb = ceil_div(d, C), ceil_div(T, R), 1 << lg
        last_valid = d - (ntd - 1) * C
        sq, d_rd2, y_ports = self.seq_rows, self.dispatch, list(self.y_wr)
        is_df, is_down = st.is_df, st.is_down
        if self.has_df:
            df = self.df_rows
            assert g.df is not None
            cd = g.df.cd
            last_valid_df = d - (g.df.tiles_d - 1) * cd
            y_blk_nxt = Mux(is_df, df.blk_nxt, sq.blk_nxt)
            y_lane = Mux(is_df, df.lane, sq.lane)
            y_col = Mux(is_df, df.col, sq.col)
            y_data = Mux(is_df, df.data, sq.data)
            y_en = Mux(is_df, df.valid, is_down & sq.valid)
        else:
            y_blk_nxt, y_lane, y_col = sq.blk_nxt, sq.lane, sq.col
            y_data = sq.data
            y_en = is_down & sq.valid
        m.d.comb += [d_rd2.addr.eq(st.expert * rtt + y_blk_nxt), d_rd2.en.eq(1)]
        ent = self.entry(select([d_rd2.data[i].as_value() for i in range(R)], y_lane))
        slot = Signal(range(T * k + 1))
        m.d.comb += slot.eq(ent.token * k + ent.rank)
        lw = max(0, (W - 1).bit_length())
        w0 = y_col >> lw
        # the byte offset within a word, at its own width (a wider shift amount would widen the shifter)
        off = (y_col & (W - 1))[:lw] if W > 1 else Const(0, 1)
        nvalid_mask = Mux(sq.last_tile, (1 << last_valid) - 1, (1 << C) - 1)
        if self.has_df:
            nvalid_mask = Mux(is_df, Mux(df.last_tile, (1 << last_valid_df) - 1, (1 << cd) - 1),
                              nvalid_mask)
        nwords = max(spans) + 1
        window = Signal(8 * W * nwords)
        wmask = Signal(W * nwords)
        m.d.comb += [window.eq(y_data << (off * 8)),
                     wmask.eq(nvalid_mask << off),
                     sq.ready.eq(1)]
        a0 = Signal(range(T * k * wpt + 1))  # the row's first y word
        m.d.comb += a0.eq(slot * wpt + w0)
        for b, y_wr in enumerate(y_ports):
            jb = Signal(max(1, lg), name=f"y_word_{b}")  # which word of the row bank b takes
            if lg:
                m.d.comb += jb.eq(b - a0[:lg])
            else:
                m.d.comb += jb.eq(0)
            m.d.comb += [y_wr.addr.eq((a0 + jb) >> lg),
                         y_wr.data.eq(select([window.word_select(i, 8 * W)
                                              for i in range(nwords)], jb))]
            # banks beyond the row's words (jb >= nwords) write nothing
            masks = [wmask.word_select(i, W) for i in range(min(nwords, nb))]
            bank_mask = select(masks + [Const(0, W)] * (nb - len(masks)), jb)
            for lane in range(W):
                m.d.comb += y_wr.en[lane].eq(y_en & bank_mask[lane])
        return m
