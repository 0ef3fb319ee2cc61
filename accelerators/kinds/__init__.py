"""Device kinds: what a device file of each kind must hold, one module a kind.

Each module of this package defines ``KIND``, a :class:`KindSchema`: the kind's name, the model of
its own section (the device-file key of the same name; ``None``: the kind has none), whether that
section is required, whether the roofline fields are, the memory tiers it needs and any checks of
its own. :func:`kind_schemas` finds them (no list to edit); :mod:`accelerators.schema` builds the
``Device`` model with one optional field per section. The device *model* of a kind lives in
``archmodel/devices/<kind>/`` (docs/ARCHITECTURE.md, "To add a device kind").
"""
from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from functools import cache
from types import MappingProxyType
from typing import Any

from pydantic import BaseModel
from pydantic_core import PydanticCustomError

from accelerators.plugins import discover

__all__ = ["KindSchema", "kind_names", "kind_schemas"]

#: a kind's own check: (the validated device, its section) -> the broken rules
KindCheck = Callable[[Any, Any], Iterator[PydanticCustomError]]


@dataclass(frozen=True)
class KindSchema:
    """The device-file rules of one kind."""

    name: str
    section: type[BaseModel] | None = None
    section_required: bool = True
    roofline: bool = False
    tiers: tuple[str, ...] = ()
    checks: tuple[KindCheck, ...] = ()


@cache
def kind_schemas() -> Mapping[str, KindSchema]:
    """Every kind of this package, by name (module order: alphabetical)."""
    return MappingProxyType(discover(__name__, __path__, "KIND", KindSchema))


def kind_names() -> tuple[str, ...]:
    return tuple(kind_schemas())
