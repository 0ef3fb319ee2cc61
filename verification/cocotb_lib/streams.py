"""Valid/ready stream driver and monitor for cocotb 2.x (``amaranth.lib.stream`` semantics).

A beat transfers at a rising edge where ``valid & ready`` is high. Both classes run one cocotb task
that, every cycle, drives its outputs right after the rising edge, waits for ``ReadOnly`` (all
combinational paths settled, including a ``ready`` that depends on ``valid`` or the other way) to
decide whether a transfer happens at the next edge, then waits for that edge. This samples the
pre-edge values on Verilator and Icarus alike.

Port names follow Amaranth's Verilog naming of a stream member ``i``: ``i__payload``,
``i__valid``, ``i__ready``. :class:`StreamSignals` names other conventions.
"""
from __future__ import annotations

import random
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import cocotb
from cocotb.handle import LogicObject
from cocotb.simtime import get_sim_time
from cocotb.task import Task
from cocotb.triggers import ReadOnly, RisingEdge

__all__ = ["Beat", "StreamDriver", "StreamMonitor", "StreamSignals"]


@dataclass(frozen=True)
class StreamSignals:
    """Names of one stream's signals on the top module."""

    payload: str
    valid: str
    ready: str

    @classmethod
    def amaranth(cls, member: str, separator: str = "__") -> StreamSignals:
        """Amaranth's names for stream member ``member`` (``i`` -> ``i__payload`` ...)."""
        return cls(f"{member}{separator}payload", f"{member}{separator}valid",
                   f"{member}{separator}ready")

    @classmethod
    def of(cls, stream: str | StreamSignals) -> StreamSignals:
        return stream if isinstance(stream, StreamSignals) else cls.amaranth(stream)


@dataclass(frozen=True)
class Beat:
    """One transfer: the simulation time of its clock edge (ns) and the value (decoded)."""

    time_ns: float
    value: Any


def _handle(dut: Any, name: str) -> LogicObject:
    try:
        return getattr(dut, name)
    except AttributeError:
        raise AttributeError(f"the design has no signal {name!r} (check the stream naming: "
                             "Amaranth emits <member>__payload/__valid/__ready)") from None


def _read_int(handle: LogicObject, what: str) -> int:
    try:
        return int(handle.value)
    except ValueError:
        raise ValueError(f"{what} has unresolved bits (X/Z): {handle.value}") from None


def _check_probability(name: str, p: float) -> float:
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"{name} must be in [0, 1], got {p}")
    return p


class StreamDriver:
    """Send words over a valid/ready stream into the design, with optional random idle gaps.

    Words wait in a queue; before each word the driver idles a cycle with probability
    ``gap_probability`` (repeatedly). Once ``valid`` is raised it stays high, with the same
    payload, until the word is accepted (the stream rule). ``encode`` turns a word into the
    payload's bits (default ``int``; see :func:`verification.cocotb_lib.payload.codec`).
    """

    def __init__(self, dut: Any, stream: str | StreamSignals, clock: LogicObject, *,
                 gap_probability: float = 0.0, rng: random.Random | None = None,
                 encode: Callable[[Any], int] = int) -> None:
        names = StreamSignals.of(stream)
        self.name = names.payload
        self._payload = _handle(dut, names.payload)
        self._valid = _handle(dut, names.valid)
        self._ready = _handle(dut, names.ready)
        self._clock = clock
        self._gap = _check_probability("gap_probability", gap_probability)
        self._rng = rng if rng is not None else random.Random(0)
        self._encode = encode
        self._queue: deque[Any] = deque()
        self.accepted: list[Beat] = []
        self._valid.value = 0
        self._task: Task[None] = cocotb.start_soon(self._run())

    @property
    def pending(self) -> int:
        """Words queued and not yet accepted."""
        return len(self._queue)

    def append(self, word: Any) -> None:
        self._queue.append(word)

    def extend(self, words: Iterable[Any]) -> None:
        self._queue.extend(words)

    async def send(self, words: Iterable[Any], *, timeout_cycles: int | None = None) -> None:
        """Queue ``words`` and return once every queued word has been accepted."""
        self.extend(words)
        await self.wait_idle(timeout_cycles=timeout_cycles)

    async def wait_idle(self, *, timeout_cycles: int | None = None) -> None:
        """Wait until the queue is empty; ``TimeoutError`` after ``timeout_cycles`` edges."""
        edge = RisingEdge(self._clock)
        waited = 0
        while self._queue:
            if timeout_cycles is not None and waited >= timeout_cycles:
                raise TimeoutError(f"{self.name}: {len(self._queue)} words still not accepted "
                                   f"after {timeout_cycles} cycles ({len(self.accepted)} sent)")
            await edge
            waited += 1

    def stop(self) -> None:
        """Stop driving (``valid`` stays at its last value)."""
        self._task.cancel()

    async def _run(self) -> None:
        edge, settled = RisingEdge(self._clock), ReadOnly()
        offered = False
        while True:
            if not offered and self._queue and (
                    self._gap == 0.0 or self._rng.random() >= self._gap):
                self._payload.value = self._encode(self._queue[0])
                offered = True
            self._valid.value = int(offered)
            await settled
            fire = offered and _read_int(self._ready, f"{self.name} ready") == 1
            await edge
            if fire:
                word = self._queue.popleft()
                self.accepted.append(Beat(get_sim_time("ns"), word))
                offered = False


class StreamMonitor:
    """Collect the words the design sends, with optional random back-pressure.

    Each cycle ``ready`` is high with probability ``ready_probability`` (1.0: always ready).
    ``decode`` turns the payload's bits into a value (default: the unsigned int). ``callback``
    (e.g. :meth:`Scoreboard.receive`) is called with every received value.
    """

    def __init__(self, dut: Any, stream: str | StreamSignals, clock: LogicObject, *,
                 ready_probability: float = 1.0, rng: random.Random | None = None,
                 decode: Callable[[int], Any] = int,
                 callback: Callable[[Any], None] | None = None) -> None:
        names = StreamSignals.of(stream)
        self.name = names.payload
        self._payload = _handle(dut, names.payload)
        self._valid = _handle(dut, names.valid)
        self._ready = _handle(dut, names.ready)
        self._clock = clock
        self._p_ready = _check_probability("ready_probability", ready_probability)
        self._rng = rng if rng is not None else random.Random(1)
        self._decode = decode
        self._callback = callback
        self.received: list[Beat] = []
        self._ready.value = 0
        self._task: Task[None] = cocotb.start_soon(self._run())

    @property
    def values(self) -> list[Any]:
        return [b.value for b in self.received]

    async def wait_for(self, count: int, *, timeout_cycles: int | None = None) -> list[Any]:
        """Wait until ``count`` words have arrived and return the values received so far."""
        edge = RisingEdge(self._clock)
        waited = 0
        while len(self.received) < count:
            if timeout_cycles is not None and waited >= timeout_cycles:
                raise TimeoutError(f"{self.name}: received {len(self.received)} of {count} "
                                   f"words in {timeout_cycles} cycles")
            await edge
            waited += 1
        return self.values

    def stop(self) -> None:
        """Stop the monitor (``ready`` stays at its last value)."""
        self._task.cancel()

    async def _run(self) -> None:
        edge, settled = RisingEdge(self._clock), ReadOnly()
        while True:
            ready = self._p_ready == 1.0 or self._rng.random() < self._p_ready
            self._ready.value = int(ready)
            await settled
            bits = None
            if ready and _read_int(self._valid, f"{self.name} valid") == 1:
                bits = _read_int(self._payload, f"{self.name} (valid high)")
            await edge
            if bits is not None:
                value = self._decode(bits)
                self.received.append(Beat(get_sim_time("ns"), value))
                if self._callback is not None:
                    self._callback(value)
