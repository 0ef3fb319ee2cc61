# amaranth: UnusedElaboratable=no
"""GateNormalizer against golden.gate_weights, with its latency and initiation interval."""
from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from codegen.hdl.gate_normalizer import LATENCY, GateNormalizer
from codegen.hdl.streamsim import run_streams
from codegen.hdl.tables import exp_table
from verification import golden


def ranked_tokens(tokens: int, experts: int, k: int, seed: int,
                  spread: int) -> tuple[list[dict[str, list[int]]], np.ndarray]:
    rng = np.random.default_rng(seed)
    lg = rng.integers(-spread, spread + 1, size=(tokens, experts))
    lg[0, :] = [golden.INT32_MAX] + [golden.INT32_MIN] * (experts - 1)  # largest distance
    lg[1, :] = 17  # all equal
    idx = golden.topk(lg, k)
    sel = np.take_along_axis(lg, idx, axis=1)
    beats = [{"index": idx[t].tolist(), "logit": sel[t].tolist()} for t in range(tokens)]
    return beats, sel


@pytest.mark.parametrize("experts,k,mult,shift,spread", [
    (8, 2, 23170, 20, 5000),  # q = distance * 0.0221: spread over the table
    (6, 3, 777, 9, 60),  # q = distance * 1.52: exercises round half up
    (6, 4, 1, 0, 40),  # shift 0: q is the plain distance
    (5, 5, 65535, 0, 2**31 - 1),  # saturating indices
    (4, 3, 65535, 63, 2**31 - 1),  # every q is 0: equal weights
    (3, 1, 12345, 7, 1000),  # k = 1: weight 1.0
])
def test_matches_golden(experts: int, k: int, mult: int, shift: int, spread: int) -> None:
    beats, sel = ranked_tokens(10, experts, k, seed=experts + k, spread=spread)
    dut = GateNormalizer(experts, k, exp_table())
    run = run_streams(dut, {"i": beats}, {"o": len(beats)},
                      inputs={"gate_mult": mult, "gate_shift": shift},
                      source_rate=0.7, sink_rate=0.5, seed=4, extra_cycles=3)
    weights = golden.gate_weights(sel, mult, shift)
    if spread <= 5000 and k > 1:  # these cases must exercise unsaturated table indices
        q = golden.gate_index(sel, mult, shift)
        assert len(set(q[2:, 1:].ravel().tolist()) - {0, 255}) >= 5
    assert run.payloads("o") == [{"index": b["index"], "weight": w.tolist()}
                                 for b, w in zip(beats, weights)]


def test_latency_and_initiation_interval() -> None:
    beats, _ = ranked_tokens(4, 8, 2, seed=1, spread=500)
    dut = GateNormalizer(8, 2, exp_table())
    run = run_streams(dut, {"i": beats}, {"o": 4}, inputs={"gate_mult": 300, "gate_shift": 4})
    assert LATENCY == 19
    assert list(run.accepted["i"]) == [0, 20, 40, 60]
    assert run.cycles_of("o") == [19, 39, 59, 79]


def test_rejects_bad_arguments() -> None:
    with pytest.raises(ValueError):
        GateNormalizer(2, 3, exp_table())
    with pytest.raises(ValueError):
        GateNormalizer(4, 2, (0,) + exp_table()[1:])


def test_verilog(verilog_check: Any) -> None:
    verilog_check(GateNormalizer(8, 2, exp_table()), "gate_normalizer")
