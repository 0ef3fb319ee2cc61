"""Cycle-accurate stream harness for the Amaranth simulator.

:func:`run_streams` drives ``amaranth.lib.stream`` sources of a component with lists of payloads,
collects its sinks, and records the cycle of every transfer, so tests can compare payloads with the
golden model and latencies with the documented timing contract. Sources keep ``valid`` asserted
until a beat is taken (stream rule); ``source_rate`` / ``sink_rate`` below 1 insert random idle
cycles (seeded) to exercise back-pressure.
"""
from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from amaranth.hdl import Value
from amaranth.lib import wiring
from amaranth.sim import Simulator

from .values import to_python

__all__ = ["Beat", "StreamRun", "run_streams", "to_python"]


@dataclass(frozen=True)
class Beat:
    """One transfer: the cycle (0 = first simulated cycle) and the payload as Python values."""

    cycle: int
    payload: Any


@dataclass(frozen=True)
class StreamRun:
    """What :func:`run_streams` observed."""

    cycles: int  # cycles simulated
    accepted: Mapping[str, tuple[int, ...]]  # per source: cycle of each accepted beat
    received: Mapping[str, tuple[Beat, ...]]  # per sink: every transfer
    high: Mapping[str, int] = field(default_factory=dict)  # per watched signal: cycles it was 1

    def payloads(self, sink: str) -> list[Any]:
        return [b.payload for b in self.received[sink]]

    def cycles_of(self, sink: str) -> list[int]:
        return [b.cycle for b in self.received[sink]]


def run_streams(dut: wiring.Component, sources: Mapping[str, Sequence[Any]],
                sinks: Mapping[str, int], *, watch: Mapping[str, Value] | None = None,
                inputs: Mapping[str, int] | None = None, source_rate: float = 1.0,
                sink_rate: float = 1.0, seed: int = 0, max_cycles: int = 20_000,
                extra_cycles: int = 0) -> StreamRun:
    """Simulate ``dut`` until every sink received its expected number of beats.

    ``sources`` / ``sinks`` name stream members of ``dut``; ``inputs`` sets plain input ports
    (by attribute name) before the first cycle; ``watch`` counts the cycles a 1-bit signal is
    high. ``extra_cycles`` keeps running after the last beat (to catch surplus output).
    Raises ``TimeoutError`` after ``max_cycles``.
    """
    rng = random.Random(seed)
    watch = dict(watch or {})
    accepted: dict[str, list[int]] = {name: [] for name in sources}
    received: dict[str, list[Beat]] = {name: [] for name in sinks}
    high = {name: 0 for name in watch}
    state = {"cycles": 0}

    async def bench(ctx: Any) -> None:
        for name, value in (inputs or {}).items():
            ctx.set(getattr(dut, name), value)
        position = {name: 0 for name in sources}
        offered = {name: False for name in sources}
        cycle, done_at = 0, None
        while True:
            for name, beats in sources.items():
                port = getattr(dut, name)
                if position[name] < len(beats) and not offered[name]:
                    offered[name] = rng.random() < source_rate
                if offered[name]:
                    ctx.set(port.payload, beats[position[name]])
                ctx.set(port.valid, int(offered[name]))
            ready = {name: rng.random() < sink_rate for name in sinks}
            for name in sinks:
                ctx.set(getattr(dut, name).ready, int(ready[name]))
            for name in sources:
                if offered[name] and ctx.get(getattr(dut, name).ready):
                    accepted[name].append(cycle)
                    position[name] += 1
                    offered[name] = False
            for name in sinks:
                port = getattr(dut, name)
                if ready[name] and ctx.get(port.valid):
                    received[name].append(Beat(cycle, to_python(ctx.get(port.payload))))
            for name, sig in watch.items():
                high[name] += int(ctx.get(sig))
            await ctx.tick()
            cycle += 1
            if done_at is None and all(len(received[n]) >= c for n, c in sinks.items()):
                done_at = cycle
            if done_at is not None and cycle >= done_at + extra_cycles:
                break
            if cycle >= max_cycles:
                raise TimeoutError(f"{type(dut).__name__}: sinks got "
                                   f"{ {n: len(b) for n, b in received.items()} } of {dict(sinks)}"
                                   f" in {max_cycles} cycles")
        state["cycles"] = cycle

    sim = Simulator(dut)
    sim.add_clock(1e-8)
    sim.add_testbench(bench)
    sim.run()
    return StreamRun(cycles=state["cycles"],
                     accepted={n: tuple(c) for n, c in accepted.items()},
                     received={n: tuple(b) for n, b in received.items()}, high=high)
