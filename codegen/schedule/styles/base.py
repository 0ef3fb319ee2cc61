"""``ExpertStyle``: what one kernel style (an expert variant) supplies to the schedule, the emitters
and the RTL."""
from __future__ import annotations

from abc import ABC, abstractmethod
from typing import ClassVar

from archmodel.fpga.budget import Budget
from archmodel.fpga.resources import Buffer
from archmodel.moe_layer import MoELayer

from ..stages import Mode, Stage

__all__ = ["ExpertStyle"]


class ExpertStyle(ABC):
    """One way to run an expert with ``count`` tokens on the PE array.

    Class attributes: ``name`` (the variant name in schedules and manifests), ``mode``
    (``"sequential"`` or ``"dataflow"``: which schedule styles may use it), ``loop_order`` of its
    GEMMs, ``rom_code`` (the variant code the kernel's schedule ROM stores), ``rtl_block`` (the
    kernel block that runs it: ``"sequential"``, the up/gate/down rows of the shared engine, or
    ``"dataflow"``, one ``expert_df`` row; another value has no RTL, and the RTL generator refuses a
    schedule that uses it), ``row_tiled`` (its weight tiles are kept in ``wtile`` for later row
    tiles) and ``requests`` (the weight-request kinds its stages issue, ``codegen.hdl.interface``)."""

    name: ClassVar[str]
    mode: ClassVar[Mode]
    loop_order: ClassVar[str]
    rom_code: ClassVar[int]
    rtl_block: ClassVar[str]
    row_tiled: ClassVar[bool] = False
    requests: ClassVar[tuple[str, ...]]

    def max_tokens(self, rows: int) -> int | None:
        """Most tokens it runs on ``rows`` PE rows (``None``: no limit of its own)."""
        return None

    @abstractmethod
    def runs(self, shape: MoELayer, budget: Budget, count: int) -> bool:
        """Whether the schedule may choose it for an expert with ``count`` tokens."""

    @abstractmethod
    def col_split(self, shape: MoELayer, budget: Budget) -> tuple[int, ...] | None:
        """PE columns of (up, [gate,] down) while it runs (``(C,)`` when it uses the whole array)."""

    @abstractmethod
    def buffers(self, shape: MoELayer, budget: Budget, count: int) -> list[Buffer]:
        """The on-chip buffers it needs for ``count`` tokens, beside the fixed ones."""

    @abstractmethod
    def stages(self, shape: MoELayer, expert: int, count: int, budget: Budget, start: int = 0, index: int = 0,
               group: int = 0) -> tuple[Stage, ...]:
        """Its stages for expert ``expert`` with ``count > 0`` tokens, timed from cycle ``start``."""

    def cycles(self, shape: MoELayer, count: int, budget: Budget) -> int:
        """Cycles of its stages (switches between them included); 0 for no tokens."""
        if count == 0:
            return 0
        st = self.stages(shape, 0, count, budget)
        return st[-1].end - st[0].start
