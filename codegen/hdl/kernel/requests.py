"""The weight request port: :class:`WeightRequester`, one request per tile / phase / parameter block."""
from __future__ import annotations

from amaranth.hdl import Module, Mux, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from ..geometry import KernelGeometry, Tensor
from ..hwutil import eq
from .links import max_requests

__all__ = ['WeightRequester']


class WeightRequester(wiring.Component):
    """The requests of the running stage on ``wreq`` (``wreq``: the kernel's request stream
    signature): the parameter block at ``load``; at ``front`` the router tile, then the
    parameter block; one request per column tile of a GEMM (``col_tiles``); one per phase of a
    dataflow expert (``rt + 1``: ``DF_UP``, ``DF`` ..., ``DF_DOWN``). ``fire``: a request
    accepted."""

    def __init__(self, geom: KernelGeometry, stage: wiring.Signature, *, has_df: bool,
                 wreq: wiring.Signature) -> None:
        self.geom, self.has_df = geom, has_df
        super().__init__({"stage": In(stage), "wreq": Out(wreq), "fire": Out(1)})

    def elaborate(self, platform: object) -> Module:
        m = Module()
        st, has_df, C = self.stage, self.has_df, self.geom.cols
        run, load, rt = st.run, st.load, st.rt
        is_load, is_front, is_router, is_exp = st.is_load, st.is_front, st.is_router, st.is_exp
        is_up, is_gate, is_df = st.is_up, st.is_gate, st.is_df
        max_reqs = max_requests(self.geom, has_df)
        req_i = Signal(range(max_reqs + 1))
        req_total = Signal(range(max_reqs + 1))
        m.d.comb += req_total.eq(Mux(is_load, 1, Mux(is_front, 2, Mux(is_router | is_exp,
                                                                          st.col_tiles, 0))))
        if has_df:
            with m.If(is_df):  # one request per phase: B + 1
                m.d.comb += req_total.eq(rt + 1)
        wreq = self.wreq
        req = wreq.payload
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
            wreq.valid.eq(run & (req_i < req_total)),
            req.tensor.eq(tensor),
            req.expert.eq(Mux(is_exp | is_df, st.expert, 0)),
            req.tile.eq(Mux(is_router | is_exp, req_i, 0)),
            req.cols.eq(Mux(is_params_req, 0, C)),
            self.fire.eq(wreq.valid & wreq.ready),
        ]
        with m.If(wreq.valid & wreq.ready):
            m.d.sync += req_i.eq(req_i + 1)
        with m.If(load):
            m.d.sync += req_i.eq(0)
        return m
