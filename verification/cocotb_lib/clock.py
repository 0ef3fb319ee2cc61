"""Clock and reset helpers for cocotb 2.x tests.

Order in a test: :func:`start_clock` (the clock starts low, so the first rising edge comes half a
period later), then ``await`` :func:`reset`, which first drives every input port to a known value
(Icarus is 4-state: an undriven input is X) and then holds reset for a number of rising edges.
"""
from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from cocotb.clock import Clock
from cocotb.handle import LogicObject
from cocotb.triggers import RisingEdge

from verification.cocotb_lib.ports import load_ports

__all__ = ["drive_inputs", "reset", "start_clock"]


def start_clock(clk: LogicObject, period_ns: float = 10.0) -> Clock:
    """Start a free-running clock on ``clk`` (low first); ``.stop()`` on the result stops it."""
    if period_ns <= 0:
        raise ValueError(f"clock period must be positive, got {period_ns} ns")
    clock = Clock(clk, period_ns, unit="ns")
    clock.start(start_high=False)
    return clock


def drive_inputs(dut: Any, value: int = 0, *, inputs: Iterable[str] | None = None,
                 skip: Iterable[str] = ("clk",)) -> list[str]:
    """Drive every input port of ``dut`` (except ``skip``) to ``value``; return their names.

    ``inputs`` defaults to the top module's input ports from the runner's port list
    (:func:`verification.cocotb_lib.ports.load_ports`).
    """
    names = list(inputs) if inputs is not None else [
        p.name for p in load_ports().values() if p.direction == "input"]
    skipped = set(skip)
    driven = [n for n in names if n not in skipped]
    for name in driven:
        getattr(dut, name).value = value
    return driven


async def reset(dut: Any, cycles: int = 2, *, clk: str = "clk", rst: str = "rst",
                active_high: bool = True, inputs: Iterable[str] | None = None) -> None:
    """Drive all inputs to 0, assert ``rst`` for ``cycles`` rising edges of ``clk``, release it.

    Returns right after the last reset edge with ``rst`` released, so the next rising edge is the
    first one out of reset. The clock must be running (see :func:`start_clock`).
    """
    if cycles < 1:
        raise ValueError(f"reset needs at least one cycle, got {cycles}")
    drive_inputs(dut, 0, inputs=inputs, skip=(clk,))
    reset_signal = getattr(dut, rst)
    reset_signal.value = 1 if active_high else 0
    edge = RisingEdge(getattr(dut, clk))
    for _ in range(cycles):
        await edge
    reset_signal.value = 0 if active_high else 1
