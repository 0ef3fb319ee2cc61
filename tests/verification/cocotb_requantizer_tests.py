"""cocotb tests for codegen.hdl's Requantizer(lanes=2): struct payloads through ``codec``,
outputs against ``golden.requantize``, and the documented latency of 3 cycles, measured with the
stream driver's and monitor's beat times (run by ``test_cocotb_streams.py``)."""
from __future__ import annotations

import random
from typing import Any

import cocotb
from amaranth.hdl import signed
from amaranth.lib import data

from codegen.hdl.requantizer import requantizer_input_layout
from verification import golden
from verification.cocotb_lib import (Scoreboard, StreamDriver, StreamMonitor, codec,
                                     record_metric, reset, start_clock)

LANES = 2
PERIOD_NS = 10.0
ENCODE, _ = codec(requantizer_input_layout(LANES))
_, DECODE = codec(data.ArrayLayout(signed(8), LANES))


def _beats(rng: random.Random, count: int) -> list[dict[str, Any]]:
    return [{"acc": [rng.randint(-2**31, 2**31 - 1) >> rng.randint(0, 31) for _ in range(LANES)],
             "mult": rng.randint(0, 2**16 - 1), "shift": rng.randint(0, 63)}
            for _ in range(count)]


def _expected(beat: dict[str, Any]) -> list[int]:
    return [int(v) for v in golden.requantize(beat["acc"], beat["mult"], beat["shift"])]


async def _start(dut: Any) -> random.Random:
    start_clock(dut.clk, PERIOD_NS)
    await reset(dut, 2)
    return random.Random(cocotb.RANDOM_SEED)


@cocotb.test()
async def matches_golden_under_backpressure(dut: Any) -> None:
    rng = await _start(dut)
    beats = _beats(rng, 300)
    board = Scoreboard("o")
    board.expect(_expected(b) for b in beats)
    monitor = StreamMonitor(dut, "o", dut.clk, ready_probability=0.5, rng=rng, decode=DECODE,
                            callback=board.receive)
    driver = StreamDriver(dut, "i", dut.clk, gap_probability=0.3, rng=rng, encode=ENCODE)
    await driver.send(beats, timeout_cycles=5000)
    await monitor.wait_for(len(beats), timeout_cycles=5000)
    board.check()


@cocotb.test()
async def latency_is_three_cycles(dut: Any) -> None:
    rng = await _start(dut)
    beats = _beats(rng, 8)
    monitor = StreamMonitor(dut, "o", dut.clk, decode=DECODE)
    driver = StreamDriver(dut, "i", dut.clk, encode=ENCODE)
    await driver.send(beats, timeout_cycles=100)
    await monitor.wait_for(len(beats), timeout_cycles=100)
    latencies = {round((o.time_ns - i.time_ns) / PERIOD_NS)
                 for i, o in zip(driver.accepted, monitor.received, strict=True)}
    assert latencies == {3}, f"latencies {latencies}"
    assert monitor.values == [_expected(b) for b in beats]
    record_metric("latency_cycles", latencies.pop())
