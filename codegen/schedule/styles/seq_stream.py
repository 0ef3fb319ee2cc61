"""``seq-stream``: up to R tokens (one row tile) on the whole array; weights stream straight in."""
from __future__ import annotations

from accelerators.errors import ConfigError

from .sequential import SequentialStyle


class SeqStream(SequentialStyle):
    name = "seq-stream"
    rom_code = 1

    def max_tokens(self, rows):
        return rows

    def runs(self, shape, budget, count):
        return 0 < count <= budget.rows

    def stages(self, shape, expert, count, budget, start=0, index=0, group=0):
        if count > budget.rows:
            raise ConfigError(None, "variant", self.name, f"seq-stream needs count <= rows = {budget.rows}, got {count}")
        return super().stages(shape, expert, count, budget, start, index, group)
