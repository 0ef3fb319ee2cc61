"""The mistakes found in one file, reported together: every kind of mistake, a few rows of each.

A table file can have thousands of rows with the same mistake (every row lacking the measurement
an objective names); one ConfigError lists each kind of mistake with its first
:data:`EXAMPLES` rows and counts the rest, instead of thousands of lines.
"""
from __future__ import annotations

from typing import Final

from accelerators.errors import ConfigError

EXAMPLES: Final = 5


class Problems:
    """Collect ConfigErrors of ``file``; :meth:`check` raises them as one."""

    def __init__(self, file: str):
        self.file = file
        self.listed: dict[tuple[str, str], list[ConfigError]] = {}
        self.counts: dict[tuple[str, str], int] = {}

    def add(self, field: str | None, value: object, allowed: str, pattern: str | None = None) -> None:
        """One mistake. Mistakes with the same ``pattern`` (default: the field) and the same
        ``allowed`` are one kind: its first EXAMPLES are listed, the others counted."""
        kind = (pattern or field or "", allowed)
        count = self.counts.get(kind, 0)
        self.counts[kind] = count + 1
        if count < EXAMPLES:
            self.listed.setdefault(kind, []).append(ConfigError(self.file, field, value, allowed))

    def __bool__(self) -> bool:
        return bool(self.counts)

    def errors(self) -> list[ConfigError]:
        out: list[ConfigError] = []
        for kind, listed in self.listed.items():
            out += listed
            more = self.counts[kind] - len(listed)
            if more:
                out.append(ConfigError(self.file, kind[0], f"{more} more like the {len(listed)} above", kind[1]))
        return out

    def check(self) -> None:
        """Raise every mistake collected so far as one ConfigError (nothing when there is none)."""
        if self:
            raise ConfigError.combine(self.errors())
