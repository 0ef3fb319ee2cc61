"""``seq-stream``: up to R tokens (one row tile) on the whole array; weights stream straight in."""
from __future__ import annotations

from accelerators.errors import ConfigError

from ..buffers import seq_buffers
from ..experts import sequential_stages
from .base import ExpertStyle


class SeqStream(ExpertStyle):
    name = "seq-stream"
    mode = "sequential"
    loop_order = "n,m"
    rom_code = 1
    rtl_block = "sequential"
    requests = ("up", "gate", "down")

    def max_tokens(self, rows):
        return rows

    def runs(self, shape, budget, count):
        return 0 < count <= budget.rows

    def col_split(self, shape, budget):
        return (budget.cols,)

    def buffers(self, shape, budget, count):
        return seq_buffers(shape, budget, count)

    def stages(self, shape, expert, count, budget, start=0, index=0, group=0):
        if count > budget.rows:
            raise ConfigError(None, "variant", self.name, f"seq-stream needs count <= rows = {budget.rows}, got {count}")
        return sequential_stages(shape, expert, count, budget, self.name, start, index, group)
