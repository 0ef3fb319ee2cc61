"""``seq-tiled``: more than R tokens on the whole array, column tiles outer and row tiles inner; the
first row tile's weights are kept in ``wtile`` for the others."""
from __future__ import annotations

from .sequential import SequentialStyle


class SeqTiled(SequentialStyle):
    name = "seq-tiled"
    rom_code = 2
    row_tiled = True

    def runs(self, shape, budget, count):
        return count > budget.rows
