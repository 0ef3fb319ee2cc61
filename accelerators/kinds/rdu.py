"""Dataflow RDU (SambaNova SN40L): its ``rdu`` section is required."""
from __future__ import annotations

from accelerators.fields import Bandwidth, Count, Frozen
from accelerators.kinds import KindSchema


class RduSpec(Frozen):
    """Dataflow RDU resources; ``ddr_to_hbm`` is the per-socket DDR->HBM copy bandwidth."""

    pcu: Count
    pmu: Count
    ddr_to_hbm: Bandwidth


KIND = KindSchema("rdu", section=RduSpec)
