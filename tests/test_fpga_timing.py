# amaranth: UnusedElaboratable=no
"""The cycle formulas of archmodel.fpga.timing: hand-derived values and the RTL's measured cycles."""
from __future__ import annotations

import numpy as np
import pytest

from archmodel.fpga.timing import (GATE_NORM_II, GATE_NORM_LATENCY, gemm_cycles, gemm_tiles, pipeline_finish,
                                   tile_output_times)


def test_gemm_cycles_hand_derived() -> None:
    # M=64, N=256, K=512 on 16 x 32: 4 x 8 = 32 tiles, K >= R: 31*512 + 512 + 16 + 1
    assert gemm_tiles(64, 256, 16, 32) == 32
    assert gemm_cycles(64, 256, 512, 16, 32) == 31 * 512 + 512 + 17 == 16401
    # K < R: the tile period is R: 4 tiles of K=4 on 8 x 8 -> 3*8 + 4 + 8 + 1
    assert gemm_cycles(16, 16, 4, 8, 8) == 37
    # an isolated tile: K + 1 + R (contract)
    assert gemm_cycles(3, 3, 10, 4, 4) == 10 + 1 + 4
    # padding rows and columns cost their beats: M=17 on 16 rows is two row tiles
    assert gemm_cycles(17, 16, 100, 16, 16) == gemm_cycles(32, 16, 100, 16, 16) == 100 + 100 + 17
    # instances multiply the tiles
    assert gemm_cycles(16, 16, 64, 16, 16, instances=3) == 2 * 64 + 64 + 17


def test_nothing_to_compute_costs_nothing() -> None:
    assert gemm_cycles(0, 512, 256, 16, 16) == 0
    assert gemm_tiles(0, 5, 2, 2) == 0
    with pytest.raises(ValueError):
        gemm_cycles(4, 4, 4, 0, 4)


def test_tile_output_times_and_pipeline_recurrence() -> None:
    assert tile_output_times(3, 6, 4).tolist() == [10, 16, 22]   # t*max(K,R) + K + R
    assert tile_output_times(2, 2, 4).tolist() == [6, 10]
    # f[t] = max(a[t], f[t-1] + ii)
    a = np.array([0, 1, 50, 51, 52])
    assert pipeline_finish(a, 20).tolist() == [0, 20, 50, 70, 90]
    assert pipeline_finish(np.array([], dtype=np.int64), 3).size == 0


@pytest.mark.parametrize("rows,cols,m,n,k", [(3, 2, 5, 3, 4), (4, 2, 8, 3, 2), (2, 3, 2, 3, 7)])
def test_gemm_cycles_match_the_pe_array_rtl(rows: int, cols: int, m: int, n: int, k: int) -> None:
    """Feed a real PEArray the tiles of an M x N x K GEMM back to back; the last output row leaves
    in cycle gemm_cycles - 1 (cycles counted from the first beat, inclusive)."""
    from codegen.hdl.pe_array import PEArray
    from codegen.hdl.streamsim import run_streams
    tiles = gemm_tiles(m, n, rows, cols)
    rng = np.random.default_rng(0)
    beats = [{"a": rng.integers(-128, 128, rows).tolist(), "b": rng.integers(-128, 128, cols).tolist(),
              "last": int(kk == k - 1)} for _ in range(tiles) for kk in range(k)]
    run = run_streams(PEArray(rows, cols), {"i": beats}, {"o": rows * tiles})
    assert run.accepted["i"][0] == 0
    assert run.cycles_of("o")[-1] + 1 == gemm_cycles(m, n, k, rows, cols)


def test_gate_normalizer_initiation_interval_and_latency_match_the_rtl() -> None:
    """The constants the MoE front uses: one token every 20 cycles, output 19 cycles after it."""
    from codegen.hdl.gate_normalizer import GateNormalizer
    from codegen.hdl.streamsim import run_streams
    from verification import golden
    E, k = 4, 2
    beats = [{"index": [0, 1], "logit": [100, 90 - t]} for t in range(3)]
    run = run_streams(GateNormalizer(E, k, golden.exp_lut().tolist()), {"i": beats}, {"o": 3},
                      inputs={"gate_mult": 1, "gate_shift": 0})
    acc = list(run.accepted["i"])
    assert acc == [0, GATE_NORM_II, 2 * GATE_NORM_II]
    assert run.cycles_of("o") == [a + GATE_NORM_LATENCY for a in acc]
    assert pipeline_finish(np.array([0, 0, 0]), GATE_NORM_II).tolist() == acc


def test_front_stream_composition_matches_serializer_topk_gate_rtl() -> None:
    """The MoE front's dataflow recurrences (serializer E cycles a token, TopK +1, GateNormalizer
    II 20 / latency 19) against the three RTL components wired together, rows all waiting at 0."""
    from amaranth.hdl import Module, signed
    from amaranth.lib import stream, wiring
    from amaranth.lib.wiring import In, Out
    from codegen.hdl.gate_normalizer import GateNormalizer, gate_output_layout
    from codegen.hdl.serializer import Serializer
    from codegen.hdl.streamsim import run_streams
    from codegen.hdl.topk import TopK
    from verification import golden
    from amaranth.lib import data
    from archmodel.fpga.timing import TOPK_LATENCY

    E, k, T = 4, 2, 3

    class Front(wiring.Component):
        def __init__(self) -> None:
            super().__init__({"i": In(stream.Signature(data.ArrayLayout(signed(32), E))),
                              "o": Out(stream.Signature(gate_output_layout(E, k))),
                              "gate_mult": In(16), "gate_shift": In(6)})

        def elaborate(self, platform: object) -> Module:
            m = Module()
            m.submodules.ser = ser = Serializer(E, signed(32))
            m.submodules.topk = topk = TopK(E, k)
            m.submodules.gate = gate = GateNormalizer(E, k, golden.exp_lut().tolist())
            wiring.connect(m, wiring.flipped(self.i), ser.i)
            wiring.connect(m, ser.o, topk.i)
            wiring.connect(m, topk.o, gate.i)
            wiring.connect(m, gate.o, wiring.flipped(self.o))
            m.d.comb += [gate.gate_mult.eq(self.gate_mult), gate.gate_shift.eq(self.gate_shift)]
            return m

    rows = [[10 * t + e for e in range(E)] for t in range(T)]
    run = run_streams(Front(), {"i": rows}, {"o": T}, inputs={"gate_mult": 1, "gate_shift": 0})
    ser = pipeline_finish(np.array(run.accepted["i"][:1] * T), E)     # rows waiting from cycle 0
    assert list(run.accepted["i"]) == ser.tolist()
    gate_acc = pipeline_finish(ser + E + TOPK_LATENCY, GATE_NORM_II)
    assert run.cycles_of("o") == (gate_acc + GATE_NORM_LATENCY).tolist()
