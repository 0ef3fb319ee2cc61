"""The sequential styles' common part: up, [gate,] down one after another on the whole array."""
from __future__ import annotations

from ..buffers import seq_buffers
from ..experts import sequential_stages
from .base import ExpertStyle


class SequentialStyle(ExpertStyle):
    """A style on the RTL's sequential block (the shared engine's up/gate/down ROM rows); the
    subclasses say which token counts it runs and whether its weight tiles are kept for later row tiles."""

    mode = "sequential"
    loop_order = "n,m"
    rtl_block = "sequential"
    requests = ("up", "gate", "down")

    def col_split(self, shape, budget):
        return (budget.cols,)

    def buffers(self, shape, budget, count):
        return seq_buffers(shape, budget, count)

    def stages(self, shape, expert, count, budget, start=0, index=0, group=0):
        return sequential_stages(shape, expert, count, budget, self.name, start, index, group)
