"""A table of measured design points: what a table file holds once read.

A :class:`MeasuredTable` maps each configuration of the file (a tuple of values, one per
configuration key, in the file's key order) to a :class:`MeasuredPoint`: measured valid with its
metrics, or measured invalid with the file's reason (``compile``, ``runtime`` ...).
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final, Literal

from ..evaluators.base import Scalar

FORMATS: Final = ("kernel-tuner", "csv")
VALID_COLUMN: Final = "valid"


@dataclass(frozen=True)
class TableSource:
    """Which file a table space reads and how (hashable: the cache key, with the file's mtime).

    ``path`` is absolute. For ``csv``: ``parameters`` are the parameter columns (empty: every
    column that is neither a metric nor ``valid``) and ``metrics`` the metric columns with their
    units. ``digest`` (a hash of the file's bytes) is set once the file has been read; it goes
    into the space's fingerprint, so a resumed job notices a changed table."""

    path: str
    format: Literal["kernel-tuner", "csv"]
    parameters: tuple[str, ...] = ()
    metrics: tuple[tuple[str, str], ...] = ()
    digest: str = ""

    @property
    def name(self) -> str:
        return Path(self.path).name


@dataclass(frozen=True)
class MeasuredPoint:
    """One measured configuration: ``reason`` is None when it was measured valid, otherwise why
    not (the file's word for it, possibly empty); ``metrics`` are the measurements of a valid
    point, and of an invalid one only ``eval_cost_s`` when the file says what trying it cost;
    ``where`` is its row in the file (``results[17]``, ``line 5``), for messages."""

    reason: str | None
    metrics: Mapping[str, float]
    where: str = field(default="", compare=False)

    @property
    def valid(self) -> bool:
        return self.reason is None


@dataclass(frozen=True)
class MeasuredTable:
    """Every configuration of a table file. ``keys``: the configuration keys in file order;
    ``values``: the distinct values of each key present in the file (numbers ascending, other
    values in order of first appearance); ``metrics``: metric name -> unit and meaning."""

    path: str
    digest: str
    keys: tuple[str, ...]
    values: Mapping[str, tuple[Scalar, ...]]
    points: Mapping[tuple[Scalar, ...], MeasuredPoint]
    metrics: Mapping[str, str]

    @property
    def rows(self) -> int:
        return len(self.points)

    @property
    def valid_rows(self) -> int:
        return sum(p.valid for p in self.points.values())

    def lookup(self, config: Mapping[str, Scalar]) -> MeasuredPoint | None:
        """The point of ``config`` (a value for every key), None when the file has no such row."""
        return self.points.get(tuple(config[k] for k in self.keys))


def distinct_values(column: list[Scalar]) -> tuple[Scalar, ...]:
    """The distinct values of a column (equal values once, as configurations are looked up): numbers
    ascending, anything else in order of first appearance."""
    out = tuple(dict.fromkeys(column))
    if all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in out):
        return tuple(sorted(out))
    return out
