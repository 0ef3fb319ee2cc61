# amaranth: UnusedElaboratable=no
"""LookupTable against golden.apply_lut / golden.exp_lut, with its latency and throughput."""
from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from amaranth.hdl import signed, unsigned

from codegen.hdl.lookup_table import LookupTable
from codegen.hdl.streamsim import run_streams
from codegen.hdl.tables import activation_table, exp_table
from verification import golden


@pytest.mark.parametrize("name", ["silu", "gelu", "relu"])
def test_activation_lanes_match_golden(name: str) -> None:
    lanes = 3
    values = np.arange(-128, 128)  # every index once, then random ones
    values = np.concatenate([values, np.random.default_rng(1).integers(-128, 128, size=62)])
    beats = values.reshape(-1, lanes).tolist()
    dut = LookupTable(activation_table(name), signed(8), lanes=lanes, index_signed=True)
    run = run_streams(dut, {"i": beats}, {"o": len(beats)}, source_rate=0.7, sink_rate=0.6,
                      seed=2, extra_cycles=4)
    want = golden.apply_lut(golden.activation_lut(name), values).reshape(-1, lanes).tolist()
    assert run.payloads("o") == want


def test_exp_rom_matches_golden() -> None:
    beats = [[q] for q in range(256)]
    run = run_streams(LookupTable(exp_table(), unsigned(16)), {"i": beats}, {"o": 256})
    assert [p[0] for p in run.payloads("o")] == golden.exp_lut().tolist()


def test_latency_one_full_throughput() -> None:
    beats = [[q, 255 - q] for q in range(32)]
    run = run_streams(LookupTable(exp_table(), unsigned(16), lanes=2), {"i": beats}, {"o": 32})
    assert list(run.accepted["i"]) == list(range(32))
    assert run.cycles_of("o") == [c + 1 for c in range(32)]


def test_rejects_bad_tables() -> None:
    with pytest.raises(ValueError, match="256"):
        LookupTable([0] * 255, unsigned(8))
    with pytest.raises(ValueError, match="fit"):
        LookupTable([0] * 255 + [128], signed(8))
    with pytest.raises(ValueError, match="fit"):
        LookupTable([-1] + [0] * 255, unsigned(16))


def test_verilog(verilog_check: Any) -> None:
    verilog_check(LookupTable(activation_table("silu"), signed(8), lanes=2, index_signed=True),
                  "act_lut")
    verilog_check(LookupTable(exp_table(), unsigned(16)), "exp_lut")
