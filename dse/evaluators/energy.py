"""Energy where archmodel has no energy model for what is evaluated: a stated power model.

``devices x TDP x utilisation x seconds``: the devices draw their thermal design power, in
proportion to the share of the device in use, for the whole run. Used by the FPGA kernel adapter
(``archmodel.energy`` works on operator-table steps, not on kernel schedules); ``docs/dse.md``
says so. A device file without ``power.tdp`` gives NaN: an objective on it fails the design, a
constraint on it rejects it.
"""
from __future__ import annotations

import math


def tdp_energy(device, devices: float, seconds: float, utilisation: float = 1.0) -> float:
    """Joules for ``devices`` copies of ``device`` busy ``seconds`` at ``utilisation`` of TDP."""
    if device.power is None:
        return math.nan
    return float(devices) * device.power.tdp * float(utilisation) * float(seconds)
