"""Device models, one package a device kind: each turns an evaluated operator table into
per-operator time, bound, unit and tier.

A kind's package (``archmodel/devices/<kind>/``) defines ``PLUGIN``, a :class:`DeviceKind`: the
kind's name (an :mod:`accelerators.kinds` module of the same name holds its device-file rules), its
model class (constructed from an ``OperatorTable``; the interface is in
:class:`~archmodel.devices.gpu.RooflineModel`'s docstring) and the process node its default logic
energies assume (:mod:`archmodel.energy`). :func:`device_kinds` finds them; nothing else lists the
kinds (docs/ARCHITECTURE.md, "To add a device kind").
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from types import MappingProxyType

from accelerators.plugins import discover

__all__ = ["DeviceKind", "device_kind", "device_kinds"]


@dataclass(frozen=True)
class DeviceKind:
    """The device model of one kind: ``model`` is built from an operator table; ``energy_node`` is
    the (feature size in nm, supply in V) its default logic and SRAM energies are scaled to."""

    name: str
    model: type
    energy_node: tuple[float, float]


@cache
def device_kinds() -> Mapping[str, DeviceKind]:
    """Every kind package of ``archmodel/devices/``, by name (alphabetical)."""
    return MappingProxyType(discover(__name__, __path__, "PLUGIN", DeviceKind, packages_only=True))


def device_kind(kind: str) -> DeviceKind:
    """The plug-in of ``kind``; an unknown kind is a ValueError naming the kinds that have a model."""
    kinds = device_kinds()
    if kind not in kinds:
        raise ValueError(f"no device model for kind {kind!r}; models exist for: {', '.join(sorted(kinds))}")
    return kinds[kind]
