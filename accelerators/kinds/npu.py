"""NPU (Ascend): an optional ``npu`` section (dies, cube and vector cores); it feeds the roofline."""
from __future__ import annotations

from accelerators.fields import Count, Frozen
from accelerators.kinds import KindSchema


class NpuSpec(Frozen):
    """Optional NPU structure: dies per package and matrix (cube) / vector cores per package."""

    dies: Count
    cube_cores: Count
    vector_cores: Count | None = None


KIND = KindSchema("npu", section=NpuSpec, section_required=False, roofline=True)
