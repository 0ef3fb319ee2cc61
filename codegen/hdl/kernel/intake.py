"""Token intake (``x_in -> x``), the weight request port ``wreq`` and the parameter block."""
from __future__ import annotations

from amaranth.hdl import Module, Mux, Signal, unsigned
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from ..hwutil import eq, wrap_inc
from ..interface import PARAM_WORD_BITS, Tensor
from .scope import KernelScope

__all__ = ['TokenIntake', 'add_load', 'add_weight_requests', 'add_params']


class TokenIntake(wiring.Component):
    """The token stream ``x`` into the x buffer: ``words`` words a token, ``tokens`` tokens a layer.

    ``x.ready`` while ``active`` and the layer's tokens are not all in; each beat is one buffer
    write (``w_*``: word ``w_addr`` of token ``w_lane``, byte ``i`` of the beat in bank ``i``).
    ``tokens`` counts the tokens completely loaded, ``done_next`` is high from the cycle the last
    word is accepted on, ``clear`` (the first cycle of a layer) starts over."""

    def __init__(self, lanes: int, words: int, tokens: int) -> None:
        self.lanes, self.words, self.ntokens = lanes, words, tokens
        super().__init__({
            "x": In(stream.Signature(unsigned(8 * lanes))),
            "active": In(1),
            "clear": In(1),
            "w_addr": Out(range(max(2, words))),
            "w_lane": Out(range(tokens + 1)),
            "w_data": Out(data.ArrayLayout(unsigned(8), lanes)),
            "w_en": Out(1),
            "fire": Out(1),
            "tokens": Out(range(tokens + 1)),
            "done_next": Out(1),
        })

    def elaborate(self, platform: object) -> Module:
        m = Module()
        W, wpt, T = self.lanes, self.words, self.ntokens
        xw = Signal(range(max(2, wpt)))
        xt = self.tokens
        x_done = Signal()
        x_fire = self.fire
        m.d.comb += [self.x.ready.eq(self.active & ~x_done),
                     x_fire.eq(self.x.valid & self.x.ready),
                     self.w_addr.eq(xw), self.w_lane.eq(xt), self.w_en.eq(x_fire)]
        for lane in range(W):
            m.d.comb += self.w_data[lane].eq(self.x.payload[8 * lane:8 * lane + 8])
        x_token_end = x_fire & (eq(xw, wpt - 1))
        m.d.comb += self.done_next.eq(x_done | (x_token_end & (eq(xt, T - 1))))
        with m.If(x_fire):
            m.d.sync += xw.eq(wrap_inc(xw, wpt))
            with m.If(x_token_end):
                m.d.sync += xt.eq(xt + 1)
                with m.If(eq(xt, T - 1)):
                    m.d.sync += x_done.eq(1)
        with m.If(self.clear):
            m.d.sync += [xw.eq(0), xt.eq(0), x_done.eq(0)]
        return m


def add_load(scope: KernelScope) -> None:
    """The token intake ``x_in -> x``."""
    T, W, is_front, is_load = scope.take('T', 'W', 'is_front', 'is_load')
    kernel, layer_init, m, probes = scope.take('kernel', 'layer_init', 'm', 'probes')
    run, wpt, xbuf = scope.take('run', 'wpt', 'xbuf')
    # ---------------------------------------------------------------- load (x_in -> x)
    m.submodules.intake = intake = TokenIntake(W, wpt, T)
    wiring.connect(m, wiring.flipped(kernel.x_in), intake.x)
    m.d.comb += [intake.active.eq(run & (is_load | is_front)), intake.clear.eq(layer_init),
                 probes["x_fire"].eq(intake.fire),
                 xbuf.w_addr.eq(intake.w_addr), xbuf.w_lane.eq(intake.w_lane),
                 xbuf.w_en.eq(intake.w_en), xbuf.w_data.eq(intake.w_data)]
    xt, x_done_nxt = intake.tokens, intake.done_next

    scope.publish(locals(), 'x_done_nxt', 'xt')


def add_weight_requests(scope: KernelScope) -> None:
    """The weight request port ``wreq``: one request per tile / phase / parameter block."""
    C, stage, has_df = scope.take('C', 'stage', 'has_df')
    is_df, is_exp, is_front, is_gate = scope.take('is_df', 'is_exp', 'is_front', 'is_gate')
    is_load, is_router, is_up, kernel = scope.take('is_load', 'is_router', 'is_up', 'kernel')
    load, m, ntd, nte = scope.take('load', 'm', 'ntd', 'nte')
    ntf, probes, rtt, run = scope.take('ntf', 'probes', 'rtt', 'run')
    # ---------------------------------------------------------------- weight requests
    max_reqs = max(2, nte, ntf, ntd, rtt + 1 if has_df else 0)
    req_i = Signal(range(max_reqs + 1))
    req_total = Signal(range(max_reqs + 1))
    m.d.comb += req_total.eq(Mux(is_load, 1, Mux(is_front, 2, Mux(is_router | is_exp,
                                                                      stage.col_tiles, 0))))
    rt = Signal(range(rtt + 1))     # row tiles (blocks) of the running GEMM / df expert
    if has_df:
        with m.If(is_df):  # one request per phase: B + 1
            m.d.comb += req_total.eq(rt + 1)
    req = kernel.wreq.payload
    tensor = Signal(3)
    with m.If(is_load | (is_front & (req_i != 0))):
        m.d.comb += tensor.eq(int(Tensor.PARAMS))
    with m.Elif(is_router | is_front):
        m.d.comb += tensor.eq(int(Tensor.ROUTER))
    with m.Elif(is_up):
        m.d.comb += tensor.eq(int(Tensor.UP))
    with m.Elif(is_gate):
        m.d.comb += tensor.eq(int(Tensor.GATE))
    with m.Else():
        m.d.comb += tensor.eq(int(Tensor.DOWN))
    if has_df:
        with m.If(is_df):
            m.d.comb += tensor.eq(Mux(eq(req_i, 0), int(Tensor.DF_UP),
                                      Mux(req_i == rt, int(Tensor.DF_DOWN), int(Tensor.DF))))
    is_params_req = eq(tensor, int(Tensor.PARAMS))
    m.d.comb += [
        kernel.wreq.valid.eq(run & (req_i < req_total)),
        req.tensor.eq(tensor),
        req.expert.eq(Mux(is_exp | is_df, stage.expert, 0)),
        req.tile.eq(Mux(is_router | is_exp, req_i, 0)),
        req.cols.eq(Mux(is_params_req, 0, C)),
        probes["req_fire"].eq(kernel.wreq.valid & kernel.wreq.ready),
    ]
    with m.If(kernel.wreq.valid & kernel.wreq.ready):
        m.d.sync += req_i.eq(req_i + 1)
    with m.If(load):
        m.d.sync += req_i.eq(0)

    scope.publish(locals(), 'max_reqs', 'rt')


def add_params(scope: KernelScope) -> None:
    """The parameter block from ``wdata`` into the params memory; ``wdata.ready`` arbitration."""
    E, P, stage, g = scope.take('E', 'P', 'stage', 'g')
    is_df, is_front, is_load, kernel = scope.take('is_df', 'is_front', 'is_load', 'kernel')
    layer_init, m, nq, p_rd = scope.take('layer_init', 'm', 'nq', 'p_rd')
    p_wr, probes, run = scope.take('p_wr', 'probes', 'run')
    # ---------------------------------------------------------------- parameter block
    pw = Signal(range(P + 1))
    pe_idx = Signal(range(max(2, E)))
    pq = Signal(range(max(2, nq)))
    rqg = Signal(PARAM_WORD_BITS)
    router_w_done = Signal()
    pl_own = Signal()
    p_fire = Signal()
    feeder_w_ready = Signal()
    df_w_ready = Signal()
    m.d.comb += [
        pl_own.eq(run & (is_load | (is_front & router_w_done)) & (pw < P)),
        kernel.wdata.ready.eq(Mux(pl_own, 1, Mux(is_df, df_w_ready, feeder_w_ready))),
        p_fire.eq(pl_own & kernel.wdata.valid),
        probes["param_fire"].eq(p_fire),
        probes["w_fire"].eq(kernel.wdata.valid & kernel.wdata.ready),
    ]
    p_done_nxt = (eq(pw, P)) | (p_fire & (eq(pw, P - 1)))
    word = kernel.wdata.payload[:PARAM_WORD_BITS]
    m.d.comb += p_wr.addr.eq(pe_idx)
    for q in range(nq):
        m.d.comb += [p_wr.data[q].eq(word),
                     p_wr.en[q].eq(p_fire & (pw != 0) & (eq(pq, q)))]
    with m.If(p_fire):
        m.d.sync += pw.eq(pw + 1)
        with m.If(eq(pw, 0)):
            m.d.sync += rqg.eq(word)
        with m.Else():
            m.d.sync += pq.eq(wrap_inc(pq, nq))
            with m.If(eq(pq, nq - 1)):
                m.d.sync += pe_idx.eq(pe_idx + 1)
    with m.If(layer_init):
        m.d.sync += [pw.eq(0), pe_idx.eq(0), pq.eq(0)]
    m.d.comb += [p_rd.addr.eq(stage.expert), p_rd.en.eq(stage.sw1)]
    q_up = p_rd.data[0]
    q_gate = p_rd.data[1] if g.gated else None
    q_hid = p_rd.data[2] if g.gated else None
    q_down = p_rd.data[nq - 1]

    scope.publish(locals(), 'df_w_ready', 'feeder_w_ready', 'p_done_nxt', 'q_down', 'q_gate', 'q_hid', 'q_up', 'router_w_done', 'rqg')
