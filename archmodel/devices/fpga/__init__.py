"""FPGA kind: the split-K PE-array model of :mod:`archmodel.fpga.device_model` (the FPGA cost
model and the kernel generator's datapath live in ``archmodel/fpga/``)."""
from __future__ import annotations

from ...fpga.device_model import FPGAModel
from .. import DeviceKind

# UltraScale+ VCCINT 0.85 V on a 16 nm process (archmodel.energy's node rule)
PLUGIN = DeviceKind("fpga", FPGAModel, energy_node=(16.0, 0.85))
