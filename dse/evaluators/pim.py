"""Logic-PIM devices (Duplex-like): xPU compute, PIM bandwidth and Op/B, HBM stacks, deployment.

The same step and serve models as the cluster adapter (``archmodel.step`` picks the Logic-PIM
model for device kind ``pim``: each operator goes to the xPU or the PIM units by its Op/B, or is
split between them), with knobs that reshape the device first:

* ``xpu_tflops``: the xPU's dense BF16/FP16 peak in TFLOPS; the other datatypes' peaks scale by
  the same ratio (the matrix unit is made wider or narrower, not changed in kind);
* ``pim_bandwidth_multiple``: Logic-PIM bandwidth as a multiple of the HBM bandwidth;
* ``pim_op_per_byte``: Logic-PIM compute per byte of its bandwidth;
* ``hbm_stacks``: HBM stacks; capacity and bandwidth scale linearly from the base device's,
  which has ``base_hbm_stacks`` stacks (default 5: the H100 SXM / Duplex HBM3 configuration,
  80 GB in five active 16 GB stacks).

Every reshaped device passes the catalog's own rules again (``dse.overrides``).
"""
from __future__ import annotations

from typing import ClassVar

from ..overrides import apply_device_overrides
from .base import Knob, Settings
from .cluster import KNOBS as CLUSTER_KNOBS
from .cluster import METRICS, ClusterAdapter

BASE_HBM_STACKS = 5

KNOBS: dict[str, Knob] = {
    **CLUSTER_KNOBS,
    "xpu_tflops": Knob("xpu_tflops", "xPU dense BF16 TFLOPS (other datatypes scale alike)", "float", minimum=1e-3),
    "pim_bandwidth_multiple": Knob("pim_bandwidth_multiple", "Logic-PIM bandwidth / HBM bandwidth", "float",
                                   minimum=1e-3),
    "pim_op_per_byte": Knob("pim_op_per_byte", "Logic-PIM Op/B", "float", minimum=1e-3),
    "hbm_stacks": Knob("hbm_stacks", "HBM stacks (capacity and bandwidth scale linearly)", "int", minimum=1),
    "base_hbm_stacks": Knob("base_hbm_stacks", "HBM stacks of the base device (default 5)", "int", minimum=1),
}


class PimAdapter(ClusterAdapter):
    domain: ClassVar[str] = "pim"
    description: ClassVar[str] = "Logic-PIM device (Duplex-like): xPU TFLOPS, PIM bandwidth, HBM stacks, deployment"
    device_kinds: ClassVar[tuple[str, ...]] = ("pim",)
    knobs: ClassVar[dict[str, Knob]] = KNOBS
    metrics: ClassVar[dict[str, str]] = METRICS

    def reshape(self, device, settings: Settings):
        k = settings.knob_map
        updates: list[tuple[str, object]] = []
        if "xpu_tflops" in k:
            ratio = float(k["xpu_tflops"]) * 1e12 / device.peak("bf16")
            updates += [(f"compute.peak.{dtype}", value * ratio) for dtype, value in device.compute.peak.items()]
        if "pim_bandwidth_multiple" in k:
            updates.append(("pim.bandwidth_multiple", float(k["pim_bandwidth_multiple"])))
        if "pim_op_per_byte" in k:
            updates.append(("pim.op_per_byte", float(k["pim_op_per_byte"])))
        if "hbm_stacks" in k:
            hbm = device.tier("hbm")
            ratio = int(k["hbm_stacks"]) / int(k.get("base_hbm_stacks", BASE_HBM_STACKS))
            updates += [("memory.hbm.capacity", hbm.capacity * ratio),
                        ("memory.hbm.read_bandwidth", hbm.read_bandwidth * ratio),
                        ("memory.hbm.write_bandwidth", hbm.write_bandwidth * ratio)]
        return apply_device_overrides(device, updates, si=True)
