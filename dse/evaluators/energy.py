"""Energy of a run when no energy model of the domain is available: a documented power model.

``devices x TDP x seconds``: every device draws its thermal design power for the whole run. It is
an upper bound (real chips draw less when memory-bound) and is used only where ``archmodel`` has
no energy model for the device; ``docs/dse.md`` lists which metrics use it. A device file without
``power.tdp`` gives NaN: an objective on it fails the design, a constraint on it rejects it.
"""
from __future__ import annotations

import math


def tdp_energy(device, devices: float, seconds: float, utilisation: float = 1.0) -> float:
    """Joules for ``devices`` copies of ``device`` busy ``seconds`` at ``utilisation`` of TDP."""
    if device.power is None:
        return math.nan
    return float(devices) * device.power.tdp * float(utilisation) * float(seconds)


def run_energy(device, devices: float, seconds: float) -> float:
    """Energy of a whole-device run (all devices at TDP)."""
    return tdp_energy(device, devices, seconds)
