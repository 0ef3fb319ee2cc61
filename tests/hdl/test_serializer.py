# amaranth: UnusedElaboratable=no
"""Serializer: element order, back-pressure, and one element per cycle."""
from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from amaranth.hdl import signed, unsigned

from codegen.hdl.serializer import Serializer
from codegen.hdl.streamsim import run_streams


@pytest.mark.parametrize("lanes,rate", [(4, 1.0), (3, 0.5), (1, 0.7)])
def test_order_under_backpressure(lanes: int, rate: float) -> None:
    vectors = np.random.default_rng(lanes).integers(-(2**31), 2**31, size=(7, lanes)).tolist()
    run = run_streams(Serializer(lanes, signed(32)), {"i": vectors}, {"o": 7 * lanes},
                      source_rate=rate, sink_rate=rate, seed=3, extra_cycles=3)
    assert run.payloads("o") == [v for vec in vectors for v in vec]


def test_one_element_per_cycle() -> None:
    vectors = [[i * 10 + j for j in range(4)] for i in range(5)]
    run = run_streams(Serializer(4, unsigned(8)), {"i": vectors}, {"o": 20})
    assert run.cycles_of("o") == list(range(1, 21))  # first element one cycle after the input
    assert list(run.accepted["i"]) == [0, 4, 8, 12, 16]  # accepted as the final element leaves


def test_rejects_zero_lanes() -> None:
    with pytest.raises(ValueError):
        Serializer(0, unsigned(8))


def test_verilog(verilog_check: Any) -> None:
    verilog_check(Serializer(4, signed(32)), "serializer")
    verilog_check(Serializer(1, signed(32)), "serializer_1")
