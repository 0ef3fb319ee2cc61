# amaranth: UnusedElaboratable=no
"""Combiner against golden.combine, with its latency and throughput."""
from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from codegen.hdl.combiner import LATENCY, Combiner
from codegen.hdl.streamsim import run_streams
from verification import golden


def tokens(n: int, k: int, lanes: int, seed: int) -> tuple[list[dict[str, Any]], np.ndarray,
                                                             np.ndarray]:
    """Beats for n tokens of k experts: golden gate weights and random int8 expert outputs."""
    rng = np.random.default_rng(seed)
    sel = -np.sort(-rng.integers(-3000, 3000, size=(n, k)), axis=1)
    weights = golden.gate_weights(sel, 100, 8)
    weights[0] = 32768  # every weight 1.0: saturates the sum
    y = rng.integers(-128, 128, size=(n, k, lanes))
    y[0] = 127
    beats = [{"data": y[t, j].tolist(), "weight": int(weights[t, j]), "last": int(j == k - 1)}
             for t in range(n) for j in range(k)]
    return beats, y, weights


@pytest.mark.parametrize("k,lanes,rate", [(2, 4, 1.0), (3, 2, 0.6), (1, 1, 0.8), (8, 3, 0.7)])
def test_matches_golden(k: int, lanes: int, rate: float) -> None:
    beats, y, w = tokens(9, k, lanes, seed=k * 10 + lanes)
    run = run_streams(Combiner(lanes), {"i": beats}, {"o": 9}, source_rate=rate,
                      sink_rate=rate, seed=5, extra_cycles=4)
    assert run.payloads("o") == golden.combine(y, w).tolist()


def test_round_half_up_at_the_boundary() -> None:
    # 16384 * 1 = 0.5 -> 1; 16384 * -1 = -0.5 -> 0; 49152 * 1 = 1.5 -> 2; 49152 * -1 -> -1
    beats = [{"data": [1, -1], "weight": 16384, "last": 1},
             {"data": [1, -1], "weight": 49152, "last": 1}]
    run = run_streams(Combiner(2), {"i": beats}, {"o": 2})
    assert run.payloads("o") == [[1, 0], [2, -1]]


def test_latency_and_throughput() -> None:
    k, n = 2, 6
    beats, _, _ = tokens(n, k, 2, seed=1)
    run = run_streams(Combiner(2), {"i": beats}, {"o": n})
    assert LATENCY == 3
    assert list(run.accepted["i"]) == list(range(k * n))
    assert run.cycles_of("o") == [t * k + (k - 1) + 3 for t in range(n)]


def test_rejects_zero_lanes() -> None:
    with pytest.raises(ValueError):
        Combiner(0)


def test_verilog(verilog_check: Any) -> None:
    verilog_check(Combiner(3), "combiner")
