"""Fixed-point softmax over the k selected logits: Q1.15 gate weights.

Spec: ``docs/kernel-arithmetic.md`` 1.3; golden model: ``verification.golden.gate_weights``.
Per token (logits in rank order, as :class:`~codegen.hdl.topk.TopK` emits them):
``q_j = min(255, ((l_0 - l_j) * mult + 2**(shift-1)) >> shift)``, ``e_j = EXP[q_j]``,
``g_j = (e_j * 2**15 + (sum_j e_j >> 1)) // sum_j e_j``.

Timing contract: the input beat (TopK's output layout) transfers at cycle c while idle; ``mult``
and ``shift`` are sampled from the ``gate_mult`` / ``gate_shift`` ports in that cycle. Cycle c+1
computes the k table indices and reads the EXP ROM (one synchronous port per weight); cycle c+2
sums the k values; cycles c+3 .. c+18 run 16 restoring-division steps for all k weights in
parallel; ``o.valid`` is high from cycle c+19 with ``index`` (passed through) and ``weight``
(k x uint16). ``i.ready`` is high only while idle, i.e. from the cycle after the output transfer:
one token every 20 cycles with an always-ready consumer. No combinational path from ``o.ready``
to ``i.ready``.
"""
from __future__ import annotations

from collections.abc import Sequence

from amaranth.hdl import Cat, Module, Mux, Signal, unsigned
from amaranth.lib import data, stream, wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from .topk import index_bits, topk_output_layout

__all__ = ["GateNormalizer", "gate_output_layout", "QUOTIENT_BITS", "LATENCY"]

WEIGHT_FRAC = 15  #: weights are unsigned Q1.15
QUOTIENT_BITS = 16  #: division steps; g <= 2**15 fits
LATENCY = 3 + QUOTIENT_BITS  #: input transfer -> o.valid
MULT_BITS, SHIFT_BITS = 16, 6


def gate_output_layout(num_experts: int, k: int) -> data.StructLayout:
    return data.StructLayout({
        "index": data.ArrayLayout(unsigned(index_bits(num_experts)), k),
        "weight": data.ArrayLayout(unsigned(QUOTIENT_BITS), k),
    })


class GateNormalizer(wiring.Component):
    """Gate weights for one token at a time; see the module docstring for the timing."""

    def __init__(self, num_experts: int, k: int, exp_table: Sequence[int]) -> None:
        if not 1 <= k <= num_experts:
            raise ValueError(f"GateNormalizer needs 1 <= k <= num_experts, got k={k}, "
                             f"E={num_experts}")
        table = tuple(int(v) for v in exp_table)
        if len(table) != 256 or min(table) < 0 or max(table) >= 2**16 or table[0] < 1:
            raise ValueError("exp_table needs 256 uint16 entries with EXP[0] >= 1")
        self.num_experts, self.k, self.exp_table = num_experts, k, table
        self.sum_bits = (k * max(table)).bit_length()
        super().__init__({
            "i": In(stream.Signature(topk_output_layout(num_experts, k))),
            "o": Out(stream.Signature(gate_output_layout(num_experts, k))),
            "gate_mult": In(MULT_BITS),
            "gate_shift": In(SHIFT_BITS),
        })

    def elaborate(self, platform: object) -> Module:
        m = Module()
        k, sum_bits = self.k, self.sum_bits
        m.submodules.exp_rom = rom = Memory(shape=unsigned(16), depth=256, init=self.exp_table)
        ports = [rom.read_port(domain="sync") for _ in range(k)]

        index = Signal(data.ArrayLayout(unsigned(index_bits(self.num_experts)), k))
        diff = Signal(data.ArrayLayout(unsigned(32), k))
        mult = Signal(MULT_BITS)
        shift = Signal(SHIFT_BITS)
        divisor = Signal(sum_bits)
        rem = Signal(data.ArrayLayout(unsigned(sum_bits), k))
        # the low 16 numerator bits, shifted out as quotient bits are shifted in
        low = Signal(data.ArrayLayout(unsigned(QUOTIENT_BITS), k))
        step = Signal(range(QUOTIENT_BITS))

        # table index: min(255, round_half_up(diff * mult / 2**shift))
        shift_m1 = Signal(SHIFT_BITS)
        m.d.comb += shift_m1.eq(shift - 1)
        for j in range(k):
            scaled = Signal(unsigned(32 + MULT_BITS), name=f"scaled_{j}")
            half = Signal(unsigned(32 + MULT_BITS), name=f"half_{j}")
            rounded = Signal(unsigned(32 + MULT_BITS), name=f"rounded_{j}")
            m.d.comb += [
                scaled.eq(diff[j] * mult),
                half.eq(scaled >> shift_m1),
                rounded.eq(Mux(shift.any(), half - (half >> 1), scaled)),
                ports[j].addr.eq(Mux(rounded[8:].any(), 255, rounded[:8])),
            ]

        # numerators e_j * 2**15 + (sum >> 1) from the ROM outputs
        total = Signal(sum_bits)
        m.d.comb += total.eq(sum(p.data for p in ports))
        numer = []
        for j in range(k):
            n = Signal(QUOTIENT_BITS + sum_bits, name=f"numer_{j}")
            m.d.comb += n.eq((ports[j].data << WEIGHT_FRAC) + (total >> 1))
            numer.append(n)

        m.d.comb += [self.o.payload.index.eq(index), self.o.payload.weight.eq(low)]
        # one-hot control (no FSM encoding: keeps the Verilog free of partial case statements)
        idle = Signal(init=1)
        quant, summing, divide, done = Signal(), Signal(), Signal(), Signal()
        m.d.comb += [self.i.ready.eq(idle), self.o.valid.eq(done)]
        for p in ports:
            m.d.comb += p.en.eq(quant)

        with m.If(idle & self.i.valid):
            m.d.sync += [idle.eq(0), quant.eq(1), index.eq(self.i.payload.index),
                         mult.eq(self.gate_mult), shift.eq(self.gate_shift)]
            for j in range(k):
                distance = self.i.payload.logit[0] - self.i.payload.logit[j]
                m.d.sync += diff[j].eq(distance[:32])
        with m.If(quant):
            m.d.sync += [quant.eq(0), summing.eq(1)]
        with m.If(summing):
            m.d.sync += [summing.eq(0), divide.eq(1), divisor.eq(total), step.eq(0)]
            for j in range(k):
                m.d.sync += [rem[j].eq(numer[j][QUOTIENT_BITS:]),
                             low[j].eq(numer[j][:QUOTIENT_BITS])]
        with m.If(divide):
            for j in range(k):
                trial = Signal(sum_bits + 1, name=f"trial_{j}")
                fits = Signal(name=f"fits_{j}")
                m.d.comb += [trial.eq(Cat(low[j][-1], rem[j])), fits.eq(trial >= divisor)]
                m.d.sync += [
                    rem[j].eq(Mux(fits, trial - divisor, trial)),
                    low[j].eq(Cat(fits, low[j][:-1])),
                ]
            m.d.sync += step.eq(step + 1)
            with m.If(step == QUOTIENT_BITS - 1):
                m.d.sync += [divide.eq(0), done.eq(1)]
        with m.If(done & self.o.ready):
            m.d.sync += [done.eq(0), idle.eq(1)]
        return m
