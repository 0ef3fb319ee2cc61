"""``seq-tiled``: more than R tokens on the whole array, column tiles outer and row tiles inner; the
first row tile's weights are kept in ``wtile`` for the others."""
from __future__ import annotations

from ..buffers import seq_buffers
from ..experts import sequential_stages
from .base import ExpertStyle


class SeqTiled(ExpertStyle):
    name = "seq-tiled"
    mode = "sequential"
    loop_order = "n,m"
    rom_code = 2
    rtl_block = "sequential"
    row_tiled = True
    requests = ("up", "gate", "down")

    def runs(self, shape, budget, count):
        return count > budget.rows

    def col_split(self, shape, budget):
        return (budget.cols,)

    def buffers(self, shape, budget, count):
        return seq_buffers(shape, budget, count)

    def stages(self, shape, expert, count, budget, start=0, index=0, group=0):
        return sequential_stages(shape, expert, count, budget, self.name, start, index, group)
