"""Kernel styles: the ways an expert runs on the PE array, one class a module (:class:`ExpertStyle`).

A style supplies its timing (``stages``, ``cycles``), its on-chip buffers, when it can run
(``runs``, ``max_tokens``), its column split and loop order, the weight requests its stages issue,
and the RTL block and ROM code that run it. The schedule chooses among the registered styles
(:func:`codegen.schedule.variants.choose_variants`), the emitters and the RTL read their attributes;
nothing else names a style. ``STYLES`` is in registration order.
"""
from __future__ import annotations

from accelerators.errors import ConfigError
from archmodel.fpga.budget import Budget
from archmodel.moe_layer import MoELayer

from ..stages import Stage
from .base import ExpertStyle
from .df import Dataflow
from .seq_stream import SeqStream
from .seq_tiled import SeqTiled

__all__ = ["STYLES", "VARIANTS", "ExpertStyle", "expert_cycles", "expert_stages", "expert_style", "register_style",
           "unregister_style"]

STYLES: dict[str, ExpertStyle] = {}


def register_style(style: ExpertStyle) -> ExpertStyle:
    """Add ``style`` to :data:`STYLES` (its ``name`` must be new)."""
    if style.name in STYLES:
        raise ValueError(f"kernel style {style.name!r} is registered already")
    STYLES[style.name] = style
    return style


def unregister_style(name: str) -> None:
    """Remove a style registered at run time (tests, experiments)."""
    del STYLES[name]


def expert_style(name: str) -> ExpertStyle:
    """The registered style called ``name``; otherwise a ConfigError naming the registered ones."""
    try:
        return STYLES[name]
    except (KeyError, TypeError):
        raise ConfigError(None, "variant", name, f"one of {', '.join(STYLES)}") from None


def expert_stages(shape: MoELayer, expert: int, count: int, budget: Budget, variant: str,
                  start: int = 0, index: int = 0, group: int = 0) -> tuple[Stage, ...]:
    """The stages of one expert with ``count`` tokens in style ``variant`` (empty for ``count == 0``)."""
    style = expert_style(variant)
    if count == 0:
        return ()
    return style.stages(shape, expert, count, budget, start, index, group)


def expert_cycles(shape: MoELayer, count: int, budget: Budget, variant: str) -> int:
    """Cycles of one expert's stages (switches between its own stages included)."""
    return expert_style(variant).cycles(shape, count, budget)


for _style in (SeqStream(), SeqTiled(), Dataflow()):
    register_style(_style)

#: the built-in styles' names, in order (``tuple(STYLES)`` also lists any registered later)
VARIANTS: tuple[str, ...] = tuple(STYLES)
