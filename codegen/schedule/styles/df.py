"""``df``: the lockstep dataflow expert; the array splits into up/gate and down column groups that
run at once on consecutive row blocks, sharing each weight word."""
from __future__ import annotations

from ..buffers import df_buffers
from ..experts import dataflow_stages, df_split
from .base import ExpertStyle


class Dataflow(ExpertStyle):
    name = "df"
    mode = "dataflow"
    loop_order = "m,n"
    rom_code = 3
    rtl_block = "dataflow"
    requests = ("df_up", "df", "df_down")

    def runs(self, shape, budget, count):
        return count > 0 and df_split(shape, budget.cols) is not None

    def col_split(self, shape, budget):
        return df_split(shape, budget.cols)

    def buffers(self, shape, budget, count):
        return df_buffers(shape, budget)

    def stages(self, shape, expert, count, budget, start=0, index=0, group=0):
        return dataflow_stages(shape, expert, count, budget, self.name, start, index, group)
