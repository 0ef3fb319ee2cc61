"""A memory that serves the words of an image over a stream, in a given order.

This models the weight memory a generated kernel reads: the image (e.g. the weight tiles of
``golden.pack_weight_tiles`` in the order of the spec, section 2) is a list of words, and the
kernel consumes them through a valid/ready stream. Subclasses override :meth:`MemoryModel.addresses`
to describe other orders (tile re-reads, per-stage schedules); ``served`` records what went out.
"""
from __future__ import annotations

import random
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from cocotb.handle import LogicObject

from verification.cocotb_lib.streams import Beat, StreamDriver, StreamSignals

__all__ = ["MemoryModel"]


class MemoryModel:
    """Serve ``words[a]`` for every address ``a`` of :meth:`addresses` over ``stream``.

    ``order`` (default: ``0 .. len(words)-1``) is the address sequence; ``passes`` repeats it.
    Nothing is sent before :meth:`start`.
    """

    def __init__(self, dut: Any, stream: str | StreamSignals, clock: LogicObject,
                 words: Sequence[Any], *, order: Sequence[int] | None = None, passes: int = 1,
                 gap_probability: float = 0.0, rng: random.Random | None = None,
                 encode: Callable[[Any], int] = int) -> None:
        if passes < 1:
            raise ValueError(f"passes must be >= 1, got {passes}")
        self.words = list(words)
        self.order = list(order) if order is not None else list(range(len(self.words)))
        self.passes = passes
        self._addresses: list[int] = []
        self._driver = StreamDriver(dut, stream, clock, gap_probability=gap_probability,
                                    rng=rng, encode=encode)

    def addresses(self) -> Iterator[int]:
        """The address of every word to serve, in order (override for other schedules)."""
        for _ in range(self.passes):
            yield from self.order

    def start(self) -> int:
        """Queue every word; return how many. ``IndexError`` names a bad address."""
        addresses = list(self.addresses())
        for position, address in enumerate(addresses):
            if not 0 <= address < len(self.words):
                raise IndexError(f"address {address} (read {position}) is outside the image of "
                                 f"{len(self.words)} words")
        self._addresses.extend(addresses)
        self._driver.extend(self.words[a] for a in addresses)
        return len(addresses)

    @property
    def served(self) -> list[Beat]:
        """Every word accepted by the design, with its time."""
        return self._driver.accepted

    @property
    def served_addresses(self) -> list[int]:
        return self._addresses[:len(self._driver.accepted)]

    @property
    def done(self) -> bool:
        return self._driver.pending == 0

    async def wait_done(self, *, timeout_cycles: int | None = None) -> None:
        await self._driver.wait_idle(timeout_cycles=timeout_cycles)

    def stop(self) -> None:
        self._driver.stop()
