"""Logic-PIM (Duplex): its ``pim`` section and an HBM tier are required; it feeds the roofline."""
from __future__ import annotations

from typing import Annotated, Any

from pydantic import Field

from accelerators.fields import Frozen
from accelerators.kinds import KindSchema


class PimSpec(Frozen):
    """Logic-PIM on the HBM logic die: bandwidth as a multiple of the HBM's, and its Op/B."""

    bandwidth_multiple: Annotated[float, Field(gt=0.0)]
    op_per_byte: Annotated[float, Field(gt=0.0)]


def pim_bandwidth(device: Any) -> float:
    """Logic-PIM internal bandwidth (B/s): ``bandwidth_multiple`` x HBM read bandwidth."""
    return device.require_section(PimSpec).bandwidth_multiple * device.tier("hbm").read_bandwidth


def pim_peak(device: Any) -> float:
    """Logic-PIM compute rate (OP/s): ``op_per_byte`` x the PIM bandwidth."""
    return device.require_section(PimSpec).op_per_byte * pim_bandwidth(device)


KIND = KindSchema("pim", section=PimSpec, roofline=True, tiers=("hbm",))
