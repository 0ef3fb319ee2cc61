"""Components composed: PEArray -> Requantizer -> activation LookupTable equals the golden
expert's ``act`` (non-gated up projection) for every column tile."""
import numpy as np
from amaranth.hdl import Module, signed
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from codegen.hdl.lookup_table import LookupTable
from codegen.hdl.pe_array import PEArray, pe_input_layout
from codegen.hdl.requantizer import Requantizer
from codegen.hdl.streamsim import run_streams
from codegen.hdl.tables import activation_table
from verification import golden

ROWS, COLS = 2, 3


class UpChain(wiring.Component):
    i: In(stream.Signature(pe_input_layout(ROWS, COLS)))
    o: Out(stream.Signature(data.ArrayLayout(signed(8), COLS)))
    mult: In(16)
    shift: In(6)

    def elaborate(self, platform: object) -> Module:
        m = Module()
        m.submodules.pe = pe = PEArray(ROWS, COLS)
        m.submodules.rq = rq = Requantizer(COLS)
        m.submodules.act = act = LookupTable(activation_table("silu"), signed(8), lanes=COLS,
                                             index_signed=True)
        wiring.connect(m, wiring.flipped(self.i), pe.i)
        m.d.comb += [
            rq.i.valid.eq(pe.o.valid), pe.o.ready.eq(rq.i.ready),
            rq.i.payload.acc.eq(pe.o.payload.data),
            rq.i.payload.mult.eq(self.mult), rq.i.payload.shift.eq(self.shift),
        ]
        wiring.connect(m, rq.o, act.i)
        wiring.connect(m, act.o, wiring.flipped(self.o))
        return m


def test_up_projection_chain_matches_golden_expert() -> None:
    shape = golden.MoEShape(tokens=ROWS, hidden=5, ffn=7, experts=1, top_k=1, gated=False)
    params = golden.random_params(shape, seed=2, activation="silu")
    x = golden.random_tokens(shape, seed=3)
    want = golden.expert_forward(x, 0, params, golden.activation_lut("silu"))["act"]

    k, tiles = shape.hidden, -(-shape.ffn // COLS)
    act_words = golden.pack_activation_tiles(x, ROWS)
    w_words = golden.pack_weight_tiles(params.up[0], COLS)
    beats = [{"a": act_words[kk].tolist(), "b": w_words[n * k + kk].tolist(),
              "last": int(kk == k - 1)} for n in range(tiles) for kk in range(k)]
    rq = params.up_q[0]
    run = run_streams(UpChain(), {"i": beats}, {"o": ROWS * tiles},
                      inputs={"mult": rq.mult, "shift": rq.shift}, sink_rate=0.7, seed=1)
    rows = run.payloads("o")
    got = np.zeros((ROWS, tiles * COLS), dtype=np.int64)
    for n in range(tiles):
        got[:, n * COLS:(n + 1) * COLS] = rows[n * ROWS:(n + 1) * ROWS]
    assert np.array_equal(got[:, :shape.ffn], want)
    assert len(set(want.ravel().tolist())) > 3  # a non-trivial expected result
