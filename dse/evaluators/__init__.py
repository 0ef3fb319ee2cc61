"""Evaluator adapters, one per domain, in one registry; the batch evaluation entry point.

``ADAPTERS`` maps a domain name to its adapter class; a space names its domain (or takes the
default for its base device's kind from ``DEFAULT_DOMAIN``). Adapters are stateless, so workers
of every backend build their own from the name.
"""
from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache
from typing import Final

from .base import Adapter, Context, Knob, Metrics, Outcome, Settings, WorkloadSpec
from .cluster import ClusterAdapter
from .coe import CoeAdapter
from .fpga import FpgaKernelAdapter
from .pim import PimAdapter

ADAPTERS: dict[str, type[Adapter]] = {}
DEFAULT_DOMAIN: Final[dict[str, str]] = {"gpu": "cluster", "npu": "cluster"}


def register_adapter(cls: type[Adapter], default_for: Sequence[str] = ()) -> type[Adapter]:
    """Add an adapter class under its ``domain``; optionally make it the default for device kinds."""
    if cls.domain in ADAPTERS and ADAPTERS[cls.domain] is not cls:
        raise ValueError(f"domain {cls.domain!r} is already registered")
    ADAPTERS[cls.domain] = cls
    for kind in default_for:
        DEFAULT_DOMAIN[kind] = cls.domain
    adapter_for.cache_clear()
    return cls


def list_domains() -> list[str]:
    return sorted(ADAPTERS)


def default_domain(kind: str) -> str | None:
    return DEFAULT_DOMAIN.get(kind)


@lru_cache(maxsize=None)
def adapter_for(domain: str) -> Adapter:
    try:
        return ADAPTERS[domain]()
    except KeyError:
        raise ValueError(f"no evaluator adapter for domain {domain!r}; known: {', '.join(list_domains())}") from None


register_adapter(ClusterAdapter)
register_adapter(FpgaKernelAdapter, default_for=("fpga",))
register_adapter(PimAdapter, default_for=("pim",))
register_adapter(CoeAdapter, default_for=("rdu",))

__all__ = ["ADAPTERS", "Adapter", "Context", "Knob", "Metrics", "Outcome", "Settings", "WorkloadSpec",
           "adapter_for", "default_domain", "list_domains", "register_adapter"]
