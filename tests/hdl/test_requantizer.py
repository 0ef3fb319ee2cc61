# amaranth: UnusedElaboratable=no
"""Requantizer bit for bit against golden.requantize, with its latency and throughput."""
from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from codegen.hdl.requantizer import Requantizer
from codegen.hdl.streamsim import run_streams
from verification import golden

EDGE_ACC = [golden.INT32_MIN, golden.INT32_MAX, -1, 0, 1, 255, -255, 2**20 + 1, -(2**20) - 1]


def random_beats(lanes: int, n: int, seed: int) -> list[dict[str, Any]]:
    rng = np.random.default_rng(seed)
    beats = []
    for i in range(n):
        kind = i % 3
        if kind == 0:  # full int32 range, any shift
            acc = rng.integers(golden.INT32_MIN, golden.INT32_MAX, size=lanes, endpoint=True)
            shift = int(rng.integers(0, 64))
        elif kind == 1:  # edge accumulators
            acc = rng.choice(EDGE_ACC, size=lanes)
            shift = int(rng.integers(0, 64))
        else:  # realistic: GEMM-sized accumulators, shifts that land near int8
            acc = rng.integers(-(2**20), 2**20, size=lanes)
            shift = int(rng.integers(10, 30))
        mult = int(rng.choice([0, 1, golden.MULT_MAX, int(rng.integers(0, 2**16))]))
        beats.append({"acc": [int(a) for a in acc], "mult": mult, "shift": shift})
    return beats


def expected(beats: list[dict[str, Any]]) -> list[list[int]]:
    return [golden.requantize(np.array(b["acc"]), b["mult"], b["shift"]).tolist() for b in beats]


@pytest.mark.parametrize("lanes,rate", [(1, 1.0), (3, 0.6)])
def test_matches_golden(lanes: int, rate: float) -> None:
    beats = random_beats(lanes, 150, seed=lanes)
    run = run_streams(Requantizer(lanes), {"i": beats}, {"o": len(beats)},
                      source_rate=rate, sink_rate=rate, seed=11, extra_cycles=5)
    assert run.payloads("o") == expected(beats)


def test_every_shift_rounds_half_up() -> None:
    # acc = 3 * 2**(s-1) is exactly 1.5 after the shift: rounds to 2; -1.5 rounds to -1
    beats = [{"acc": [3 << (s - 1) if s <= 30 else 3, -(3 << (s - 1)) if s <= 30 else -3],
              "mult": 1, "shift": s} for s in range(1, 64)]
    run = run_streams(Requantizer(2), {"i": beats}, {"o": len(beats)})
    got = run.payloads("o")
    assert got == expected(beats)
    assert got[:30] == [[2, -1]] * 30


def test_latency_and_throughput() -> None:
    beats = random_beats(2, 20, seed=5)
    run = run_streams(Requantizer(2), {"i": beats}, {"o": len(beats)})
    assert list(run.accepted["i"]) == list(range(20))  # one beat per cycle
    assert run.cycles_of("o") == [c + 3 for c in range(20)]  # latency 3


def test_stall_holds_the_pipeline() -> None:
    # with the sink never ready for a while, at most 3 beats enter, none is lost
    beats = random_beats(1, 40, seed=6)
    run = run_streams(Requantizer(1), {"i": beats}, {"o": 40}, sink_rate=0.2, seed=3)
    assert run.payloads("o") == expected(beats)


def test_rejects_zero_lanes() -> None:
    with pytest.raises(ValueError):
        Requantizer(0)


def test_verilog(verilog_check: Any) -> None:
    verilog_check(Requantizer(2), "requantizer")
