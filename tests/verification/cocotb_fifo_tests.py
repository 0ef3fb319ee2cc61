"""cocotb tests for ``designs.CountingFifo``, run by ``test_runner.py`` through the runner.

``wrong_expectation`` fails on purpose: the pytest side asserts that the run reports it failed
with the scoreboard's index/expected/got message.
"""
from __future__ import annotations

import random
from typing import Any

import cocotb
from cocotb.triggers import RisingEdge

from verification.cocotb_lib import (MemoryModel, Scoreboard, StreamDriver, StreamMonitor,
                                     record_metric, reset, start_clock)

PERIOD_NS = 10.0
WORDS = 200
MASK = 0xFFFF


async def _start(dut: Any) -> random.Random:
    start_clock(dut.clk, PERIOD_NS)
    await reset(dut, 3)
    return random.Random(cocotb.RANDOM_SEED)


@cocotb.test()
async def stream_in_order(dut: Any) -> None:
    """Random gaps and back-pressure: every word arrives once, in order; count matches."""
    rng = await _start(dut)
    words = [rng.getrandbits(16) for _ in range(WORDS)]
    board = Scoreboard("o")
    board.expect(words)
    monitor = StreamMonitor(dut, "o", dut.clk, ready_probability=0.6, rng=rng,
                            callback=board.receive)
    driver = StreamDriver(dut, "i", dut.clk, gap_probability=0.3, rng=rng)
    await driver.send(words, timeout_cycles=20 * WORDS)
    await monitor.wait_for(WORDS, timeout_cycles=20 * WORDS)
    for _ in range(5):  # nothing extra may follow
        await RisingEdge(dut.clk)
    board.check()
    assert int(dut.count.value) == WORDS, f"count = {int(dut.count.value)}, sent {WORDS}"
    first_in, last_out = driver.accepted[0].time_ns, monitor.received[-1].time_ns
    record_metric("words", WORDS)
    record_metric("cycles", round((last_out - first_in) / PERIOD_NS))


@cocotb.test()
async def wrong_expectation(dut: Any) -> None:
    """Expected to FAIL: the scoreboard expects word 3 to be different."""
    await _start(dut)
    words = list(range(10, 20))
    expected = list(words)
    expected[3] = (expected[3] + 1) & MASK
    board = Scoreboard("o")
    board.expect(expected)
    StreamMonitor(dut, "o", dut.clk, callback=board.receive)
    driver = StreamDriver(dut, "i", dut.clk)
    await driver.send(words, timeout_cycles=200)
    for _ in range(10):
        await RisingEdge(dut.clk)
    board.check()


@cocotb.test()
async def memory_serves_in_order(dut: Any) -> None:
    """MemoryModel: an image served in a permuted order, twice, with random gaps."""
    rng = await _start(dut)
    image = [(0xA000 + i) & MASK for i in range(16)]
    order = list(range(16))
    rng.shuffle(order)
    memory = MemoryModel(dut, "i", dut.clk, image, order=order, passes=2,
                         gap_probability=0.25, rng=rng)
    monitor = StreamMonitor(dut, "o", dut.clk, ready_probability=0.8, rng=rng)
    sent = memory.start()
    await memory.wait_done(timeout_cycles=1000)
    got = await monitor.wait_for(sent, timeout_cycles=1000)
    assert got == [image[a] for a in order * 2]
    assert memory.served_addresses == order * 2
