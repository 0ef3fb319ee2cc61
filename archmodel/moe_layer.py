"""The MoE layer shape: the one declaration of one layer's sizes and their validation.

:class:`MoELayer` (``tokens`` x ``hidden`` input, ``experts`` FFNs of ``ffn``, top-``top_k``
routing, ``gated``) is what the FPGA cost model (:mod:`archmodel.fpga`), the kernel generator
(``codegen``: schedule, ``KernelSpec``, the RTL's ``KernelGeometry``) and the golden model
(``verification.golden.MoEShape`` is this class) take; each adds its own parameters (PE array,
stream width, arithmetic) but none re-declares or re-validates the shape.

The validator (one, here) raises :class:`~accelerators.errors.ConfigError` naming the field:

* ``tokens``, ``hidden``, ``ffn``, ``experts``, ``top_k`` are whole numbers >= 1 (``bool`` is
  not a number here). **Zero tokens is not a layer**: a kernel call carries at least one token
  (the schedule's token buffer, the RTL's token counters and every cycle formula assume
  ``T >= 1``); a batch without tokens does not call the layer. What may be zero is one
  *expert's* token count (:func:`check_counts`): an expert nobody routed to costs nothing.
* ``top_k <= experts``.
* ``gated`` is a bool.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from accelerators.errors import ConfigError

__all__ = ["MoELayer", "check_counts", "uniform_counts"]


def _whole(name: str, value: object) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise ConfigError(None, name, value, "a whole number >= 1")


@dataclass(frozen=True)
class MoELayer:
    """One MoE layer: ``tokens`` x ``hidden`` input, ``experts`` FFNs of ``ffn``, top-``top_k``."""

    tokens: int
    hidden: int
    ffn: int
    experts: int
    top_k: int
    gated: bool = True

    def __post_init__(self) -> None:
        for name in ("tokens", "hidden", "ffn", "experts", "top_k"):
            _whole(name, getattr(self, name))
        if self.top_k > self.experts:
            raise ConfigError(None, "top_k", self.top_k, f"at most experts = {self.experts}")
        if not isinstance(self.gated, bool):
            raise ConfigError(None, "gated", self.gated, "true or false")


def check_counts(shape: MoELayer, counts: Sequence[int]) -> tuple[int, ...]:
    """Tokens per expert: ``experts`` whole numbers in 0..tokens summing to tokens x top_k."""
    counts = tuple(counts)
    if len(counts) != shape.experts:
        raise ConfigError(None, "tokens_per_expert", counts, f"{shape.experts} counts, one per expert")
    for c in counts:
        if not isinstance(c, int) or isinstance(c, bool) or not 0 <= c <= shape.tokens:
            raise ConfigError(None, "tokens_per_expert", counts, f"whole numbers in 0..{shape.tokens}")
    if sum(counts) != shape.tokens * shape.top_k:
        raise ConfigError(None, "tokens_per_expert", counts,
                          f"counts summing to tokens x top_k = {shape.tokens * shape.top_k}")
    return counts


def uniform_counts(shape: MoELayer) -> tuple[int, ...]:
    """Balanced routing: ``tokens * top_k`` assignments spread as evenly as possible."""
    total = shape.tokens * shape.top_k
    base, extra = divmod(total, shape.experts)
    return tuple(base + (1 if e < extra else 0) for e in range(shape.experts))
