"""The parameter block: :class:`ParamLoader`, ``wdata`` words into the params memory."""
from __future__ import annotations

from typing import Any

from amaranth.hdl import Module, Signal, unsigned
from amaranth.lib import data, wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from ..geometry import PARAM_WORD_BITS, KernelGeometry
from ..hwutil import eq, wrap_inc
from .links import STAGE_END, params_signature

__all__ = ['ParamLoader']


class ParamLoader(wiring.Component):
    """The parameter block (``P`` words: RQg, then ``nq`` requantisers per expert) from the
    weight words ``word`` / ``valid`` into the params memory (submodule ``params``, one row per
    expert) while it owns ``wdata`` (``own``: a ``load`` stage, or ``front`` once the router's
    weights are in, ``router_w_done``, until the block is in); ``rqg`` holds the gate
    requantiser. ``q``: the requantisers of the stage bus' expert (read at ``sw1``).
    ``p_end``: the block is in (from the cycle its last word is accepted on); ``fire``: a
    parameter word accepted."""

    def __init__(self, geom: KernelGeometry, stage: wiring.Signature) -> None:
        self.geom = geom
        members: dict[str, Any] = {
            "stage": In(stage), "word": In(PARAM_WORD_BITS), "valid": In(1),
            "router_w_done": In(1), "own": Out(1), "fire": Out(1),
            "rqg": Out(PARAM_WORD_BITS), "q": Out(params_signature(geom)),
            "p_end": Out(STAGE_END)}
        super().__init__(members)

    def elaborate(self, platform: object) -> Module:
        m = Module()
        g, st = self.geom, self.stage
        E, P, nq = g.experts, g.param_words, g.requants_per_expert
        run, layer_init = st.run, st.layer_init
        m.submodules.params = pmem = Memory(
            shape=data.ArrayLayout(unsigned(PARAM_WORD_BITS), nq), depth=max(2, E), init=[])
        p_wr = pmem.write_port(granularity=1)
        p_rd = pmem.read_port(domain="sync")
        pw = Signal(range(P + 1))
        pe_idx = Signal(range(max(2, E)))
        pq = Signal(range(max(2, nq)))
        rqg, pl_own, p_fire, word = self.rqg, self.own, self.fire, self.word
        m.d.comb += [
            pl_own.eq(run & (st.is_load | (st.is_front & self.router_w_done)) & (pw < P)),
            p_fire.eq(pl_own & self.valid),
        ]
        m.d.comb += self.p_end.done.eq((eq(pw, P)) | (p_fire & (eq(pw, P - 1))))
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
        m.d.comb += [p_rd.addr.eq(st.expert), p_rd.en.eq(st.sw1),
                     self.q.q_up.eq(p_rd.data[0]), self.q.q_down.eq(p_rd.data[nq - 1])]
        if g.gated:
            m.d.comb += [self.q.q_gate.eq(p_rd.data[1]), self.q.q_hid.eq(p_rd.data[2])]
        return m
