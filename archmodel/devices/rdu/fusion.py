"""RDU operator fusion: which operators of the table run as one pipeline (:class:`Fusion`) and
the fused pipelines with their counts (:func:`fusion_pipelines`); used by :mod:`.rdu`."""
from __future__ import annotations

from dataclasses import dataclass

from accelerators.errors import ConfigError

from ...optable import OperatorTable

FUSION_GROUPS = ("layer", "block", "op", "custom")


@dataclass(frozen=True)
class Fusion:
    """Which operators fuse into one pipeline: ``layer`` (default), ``block``, ``op`` (unfused) or
    ``custom`` with ``groups`` a tuple of tuples of operator names."""

    group: str = "layer"
    groups: tuple[tuple[str, ...], ...] = ()

    def __post_init__(self) -> None:
        if self.group not in FUSION_GROUPS:
            raise ConfigError(None, "fusion", self.group, f"one of {', '.join(FUSION_GROUPS)}")
        if self.group == "custom" and not self.groups:
            raise ConfigError(None, "fusion.groups", self.groups, "at least one group of operator names")


@dataclass(frozen=True)
class Pipeline:
    """Operator rows (table indices, in order) fused together, run ``count`` times per step."""

    ops: tuple[int, ...]
    count: float


def fusion_pipelines(table: OperatorTable, fusion: Fusion) -> tuple[Pipeline, ...]:
    """The fused groups of ``table`` with their counts.

    A group runs as many times as the fewest remaining instances of its rows (so a mixed model's
    attention rows fuse with the FFN rows for its dense layers and with the MoE rows for the
    rest); rows left over run alone.
    """
    specs = table.specs
    names = [op.name for op in specs]
    by_group = {g: [i for i, op in enumerate(specs) if op.group == g] for g in ("attention", "ffn", "moe")}
    head = [names.index(n) for n in ("final_norm", "lm_head") if n in names]
    if fusion.group == "layer":
        groups = [by_group["attention"] + by_group[g] for g in ("ffn", "moe") if by_group[g]]
        groups = (groups or [by_group["attention"]]) + [head]
    elif fusion.group == "block":
        groups = [by_group[g] for g in ("attention", "ffn", "moe") if by_group[g]] + [head]
    elif fusion.group == "op":
        groups = []
    else:
        groups, seen = [], set()
        for group in fusion.groups:
            rows = []
            for name in group:
                if name not in names:
                    raise ConfigError(None, "fusion.groups", name,
                                      f"an operator of {table.model.name}: {', '.join(names)}")
                if name in seen:
                    raise ConfigError(None, "fusion.groups", name, "each operator in at most one group")
                seen.add(name)
                rows.append(names.index(name))
            groups.append(sorted(rows))
    remaining = [float(op.count) for op in specs]
    pipelines = []
    for rows in groups:
        if not rows:
            continue
        count = min(remaining[i] for i in rows)
        if count > 0:
            pipelines.append(Pipeline(tuple(rows), count))
            for i in rows:
                remaining[i] -= count
    pipelines += [Pipeline((i,), remaining[i]) for i in range(len(specs)) if remaining[i] > 1e-12]
    return tuple(pipelines)
