"""The ``y`` writer: down-projection rows into the banked ``y`` slots."""
from __future__ import annotations

from amaranth.hdl import Const, Mux, Signal

from ..hwutil import eq, select
from .scope import KernelScope

__all__ = ['add_y_writer']


def add_y_writer(scope: KernelScope) -> None:
    """The y writer: down rows (sequential or dataflow) into the banked ``y`` slots."""
    C, R, T, W = scope.take('C', 'R', 'T', 'W')
    cd, stage, d_rd2, df_y_blk_nxt = scope.take('cd', 'stage', 'd_rd2', 'df_y_blk_nxt')
    df_y_data, df_y_lane, df_y_last_tile, df_y_off = scope.take('df_y_data', 'df_y_lane', 'df_y_last_tile', 'df_y_off')
    df_y_valid, entry, has_df, is_df = scope.take('df_y_valid', 'entry', 'has_df', 'is_df')
    is_down, k, last_valid, last_valid_df = scope.take('is_down', 'k', 'last_valid', 'last_valid_df')
    lg, m, nb, ntd = scope.take('lg', 'm', 'nb', 'ntd')
    row_ok, rq1, rtt, sm_nxt = scope.take('row_ok', 'rq1', 'rtt', 'sm_nxt')
    sn, so, spans, sr = scope.take('sn', 'so', 'spans', 'sr')
    wpt, y_ports, y_ready = scope.take('wpt', 'y_ports', 'y_ready')
    # ---------------------------------------------------------------- y writer (down drain)
    # sequential down rows (C lanes at column so) or dataflow D rows (cd lanes at df_y_off)
    if has_df:
        y_blk_nxt = Mux(is_df, df_y_blk_nxt, sm_nxt)
        y_lane = Mux(is_df, df_y_lane, sr)
        y_col = Mux(is_df, df_y_off, so)
        y_data = Mux(is_df, df_y_data.as_value(), rq1.o.payload.as_value())
        y_en = Mux(is_df, df_y_valid, is_down & rq1.o.valid & row_ok)
    else:
        y_blk_nxt, y_lane, y_col = sm_nxt, sr, so
        y_data = rq1.o.payload.as_value()
        y_en = is_down & rq1.o.valid & row_ok
    m.d.comb += [d_rd2.addr.eq(stage.expert * rtt + y_blk_nxt), d_rd2.en.eq(1)]
    ent = entry(select([d_rd2.data[i].as_value() for i in range(R)], y_lane))
    slot = Signal(range(T * k + 1))
    m.d.comb += slot.eq(ent.token * k + ent.rank)
    lw = max(0, (W - 1).bit_length())
    w0 = y_col >> lw
    off = y_col & (W - 1) if W > 1 else Const(0, 1)
    nvalid_mask = Mux(eq(sn, ntd - 1), (1 << last_valid) - 1, (1 << C) - 1)
    if has_df:
        nvalid_mask = Mux(is_df, Mux(df_y_last_tile, (1 << last_valid_df) - 1, (1 << cd) - 1),
                          nvalid_mask)
    nwords = max(spans) + 1
    window = Signal(8 * W * nwords)
    wmask = Signal(W * nwords)
    m.d.comb += [window.eq(y_data << (off * 8)),
                 wmask.eq(nvalid_mask << off),
                 y_ready.eq(1)]
    a0 = Signal(range(T * k * wpt + 1))  # the row's first y word
    m.d.comb += a0.eq(slot * wpt + w0)
    for b, (y_wr, _) in enumerate(y_ports):
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

