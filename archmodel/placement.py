"""Three-tier tensor placement (on-chip SRAM, HBM, DDR) by reuse and capacity.

A *family* is a set of identical tensors that one operator row reads: the weights of one GEMM in
every layer (``qkv_proj`` x L layers), one expert matrix of every local expert in every MoE layer
(``expert_up`` x L x E/ep), the embedding table, or the KV cache (one instance a layer). Each
family has an instance size, an instance count and the bytes its operators read per step. Its
*heat* is reads per stored byte per step: 1 for dense weights (read once a step), u/(E/ep) for
routed experts (the fraction of local experts a step touches), about 1 for the KV cache (read
whole by decode attention), T/V for the embedding table.

The policy is a greedy knapsack by heat, the density order of the fractional knapsack: families
are taken hottest first (ties: the smaller instance first), and each puts as many whole instances
as fit in the fastest tier with room, the rest in the next tier (first fit: a family too big for
what is left of a tier skips it, a smaller colder one may still fit). Whole instances, so a layer
whose weights exceed the SRAM left never lands there. Bytes that fit in no tier are *overflow*;
the device model times such a design point as infinite.

Everything is vectorised over design points: sizes and heats are arrays ``(F, *points)``, the order
is an ``argsort`` along the family axis, and the loop runs over families and tiers, never over
points.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import sympy as sp

from .optable import E, V, OperatorTable, c, d, ep, s, tp, u, wB

TIERS: tuple[str, ...] = ("sram", "hbm", "ddr")
KV_FAMILY = "kv cache"


@dataclass(frozen=True)
class FamilySpec:
    """A family of identical tensors, symbolic: per-device instance bytes, instance count and the
    bytes its operators read in one step (all instances together)."""

    name: str
    kind: str  # "weights" | "kv"
    ops: tuple[int, ...]  # operator rows that read it
    instance_bytes: sp.Expr
    instances: sp.Expr
    reads: sp.Expr


def table_families(table: OperatorTable) -> tuple[FamilySpec, ...]:
    """The weight families (one per weighted operator row) and the KV cache of ``table``.

    * a routed-expert GEMM (its weights scale with ``u``, the experts touched) stores ``E/ep`` local
      experts per layer, one instance each; its reads are the ``u`` touched;
    * the embedding gather stores the vocab-parallel table ``V d wB / tp`` and reads ``T`` rows; a
      tied embedding is the ``lm_head`` family's table, so it joins that family;
    * every other GEMM stores and reads its weights once per layer;
    * the KV cache stores, per layer, what the rows' ``kv_write`` adds per new token times the
      ``c + s`` tokens held after the step, and is read by the attention rows' ``kv_read``.
    """
    specs = table.specs
    names = [op.name for op in specs]
    tied = table.model.tie_word_embeddings and "lm_head" in names
    families: list[FamilySpec] = []
    embed_rows: list[int] = []
    for i, op in enumerate(specs):
        if op.weights == 0:
            continue
        if op.kind == "gather":
            if tied:
                embed_rows.append(i)
                continue
            families.append(FamilySpec(f"{op.name} table", "weights", (i,), V * d * wB / tp, sp.Float(op.count),
                                       op.count * op.weights))
        elif u in op.weights.free_symbols:
            families.append(FamilySpec(f"{op.name} weights", "weights", (i,), sp.simplify(op.weights / u),
                                       op.count * E / ep, op.count * op.weights))
        else:
            families.append(FamilySpec(f"{op.name} weights", "weights", (i,), op.weights, sp.Float(op.count),
                                       op.count * op.weights))
    if embed_rows:
        head = next(k for k, fam in enumerate(families) if fam.ops == (names.index("lm_head"),))
        fam = families[head]
        extra = sum((specs[i].count * specs[i].weights for i in embed_rows), sp.Integer(0))
        families[head] = FamilySpec("lm_head + tied embedding weights", "weights", fam.ops + tuple(embed_rows),
                                    fam.instance_bytes, fam.instances, fam.reads + extra)
    kv_rows = tuple(i for i, op in enumerate(specs) if op.kv_read != 0 or op.kv_write != 0)
    if kv_rows:
        layers = specs[kv_rows[0]].count
        per_layer = sum((specs[i].kv_write for i in kv_rows), sp.Integer(0)) * (c + s) / s
        reads = layers * sum((specs[i].kv_read for i in kv_rows), sp.Integer(0))
        families.append(FamilySpec(KV_FAMILY, "kv", kv_rows, per_layer, sp.Float(layers), reads))
    return tuple(families)


@dataclass(frozen=True)
class Placement:
    """Where every family's instances live, per design point.

    ``placed[f, t]`` instances of family ``f`` in tier ``TIERS[t]``; ``overflow[f]`` instances
    that fit nowhere. Arrays are broadcast to the design points' shape.
    """

    names: tuple[str, ...]
    instance_bytes: np.ndarray  # (F, *points)
    instances: np.ndarray  # (F, *points)
    placed: np.ndarray  # (F, len(TIERS), *points)
    overflow: np.ndarray  # (F, *points)

    @property
    def fractions(self) -> np.ndarray:
        """Share of each family's instances (hence of its reads) in each tier, ``(F, T, *points)``."""
        n = self.instances[:, None]
        return np.divide(self.placed, n, out=np.zeros_like(self.placed), where=n > 0)

    @property
    def bytes_by_tier(self) -> np.ndarray:
        """Stored bytes of each family in each tier, ``(F, T, *points)``."""
        return self.placed * self.instance_bytes[:, None]

    @property
    def feasible(self) -> np.ndarray:
        """True where every instance of every family found a tier."""
        return np.asarray(~(self.overflow > 0).any(axis=0))

    def index(self, name: str) -> int:
        return self.names.index(name)


def greedy_place(names: tuple[str, ...], instance_bytes, instances, heat, capacities) -> Placement:
    """Place families hottest first into tiers of ``capacities`` (bytes, one per tier, fastest first).

    ``instance_bytes``, ``instances`` and ``heat`` are arrays ``(F, *points)`` (or broadcastable to
    it); ``capacities`` is a sequence of ``len(TIERS)`` arrays (or scalars) broadcastable to the
    points. Instance counts may be fractional (layers divided over pipeline stages): a remainder
    smaller than one instance goes where the whole remainder fits.
    """
    size, count, hot = np.broadcast_arrays(*(np.asarray(x, dtype=float) for x in (instance_bytes, instances, heat)))
    n_fam = size.shape[0]
    points = size.shape[1:]
    caps = [np.broadcast_to(np.maximum(np.asarray(c, dtype=float), 0.0), points).copy() for c in capacities]
    if len(caps) != len(TIERS):
        raise ValueError(f"need {len(TIERS)} capacities (one per tier {TIERS}), got {len(caps)}")
    # Hottest first; among equal heat the smaller instance first (stable sorts, secondary key first).
    by_size = np.argsort(size, axis=0, kind="stable")
    by_heat = np.argsort(-np.take_along_axis(hot, by_size, axis=0), axis=0, kind="stable")
    order = np.take_along_axis(by_size, by_heat, axis=0)
    placed = np.zeros((n_fam, len(TIERS)) + points)
    overflow = np.zeros((n_fam,) + points)
    for rank in range(n_fam):
        fam = order[rank]
        inst = np.take_along_axis(size, fam[None], axis=0)[0]
        left = np.take_along_axis(count, fam[None], axis=0)[0].copy()
        for t in range(len(TIERS)):
            room = np.divide(caps[t], inst, out=np.full(points, np.inf), where=inst > 0)
            take = np.where(left <= room, left, np.floor(room))
            take = np.minimum(np.maximum(take, 0.0), left)
            caps[t] = caps[t] - take * inst
            left = left - take
            _scatter(placed[:, t], fam, take)
        _scatter(overflow, fam, left)
    return Placement(names=tuple(names), instance_bytes=size, instances=count, placed=placed, overflow=overflow)


def _scatter(target: np.ndarray, fam: np.ndarray, values: np.ndarray) -> None:
    """``target[fam[p], p] = values[p]`` for every point ``p`` (target shaped ``(F, *points)``)."""
    np.put_along_axis(target, fam[None], values[None], axis=0)
