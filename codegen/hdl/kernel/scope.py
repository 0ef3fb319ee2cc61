"""``KernelScope``: the named signals, components and constants the parts of ``MoEKernel`` share.

``MoEKernel.elaborate`` opens one scope per elaboration (:func:`~codegen.hdl.kernel.stages.open_scope`)
and hands it to each part in turn; a part takes the names it reads (:meth:`KernelScope.take`) and
publishes the ones later parts read (:meth:`KernelScope.publish`). A name a part only creates under a
condition (e.g. the ``df`` buffers) is published as ``None`` when the condition does not hold.
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..geometry import ceil_div

__all__ = ["KernelScope", "ceil_div"]


class KernelScope:
    """The names shared by the parts of one ``MoEKernel`` elaboration (local to that call)."""

    def __init__(self) -> None:
        self._values: dict[str, Any] = {}

    def take(self, *names: str) -> tuple[Any, ...]:
        """The values of ``names``, in order; a name no earlier part published is a ``KeyError``."""
        return tuple(self._values[n] for n in names)

    def publish(self, values: Mapping[str, Any], *names: str) -> None:
        """Record ``names`` from ``values`` (a part's locals); an absent name is recorded as ``None``."""
        for n in names:
            if n in self._values:
                raise ValueError(f"kernel scope: {n!r} published twice")
            self._values[n] = values.get(n)
