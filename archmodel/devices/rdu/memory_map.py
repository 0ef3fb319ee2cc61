"""The RDU memory map: tensors per memory tier on one device (socket), built by
:meth:`archmodel.devices.rdu.RDUModel.memory_map`."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class MapEntry:
    name: str
    bytes: float
    instances: float


@dataclass(frozen=True)
class TierUse:
    name: str
    capacity: float
    used: float
    entries: tuple[MapEntry, ...]


@dataclass(frozen=True)
class MemoryMap:
    """Tensors per tier on one device (socket); ``devices`` such devices hold the same map."""

    device: str
    devices: int
    tiers: tuple[TierUse, ...]
    overflow: tuple[MapEntry, ...]

    def tier(self, name: str) -> TierUse:
        return next(t for t in self.tiers if t.name == name)

    def to_json(self) -> dict:
        return {"device": self.device, "devices": self.devices,
                "tiers": [{"name": t.name, "capacity_bytes": t.capacity, "used_bytes": t.used,
                           "tensors": [{"name": e.name, "bytes": e.bytes, "instances": e.instances}
                                       for e in t.entries]} for t in self.tiers],
                "overflow": [{"name": e.name, "bytes": e.bytes, "instances": e.instances} for e in self.overflow]}
