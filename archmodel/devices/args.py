"""Named device arguments: what a device model's ``device_args(...)`` returns.

Each device model compiles its expressions over ``STEP_SYMBOLS + device_symbols``; its arguments
are a frozen dataclass whose fields are those device symbols by name, in the same order. The
compiled functions still take them positionally (``*args`` iterates the fields in order, so the
sweep path is as fast as with a tuple); code that reads one value reads it by name.
"""
from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any, Iterator


@dataclass(frozen=True)
class DeviceArgs:
    """Base of every device model's arguments: iterates its field values in declaration order."""

    def values(self) -> tuple[Any, ...]:
        return tuple(getattr(self, f.name) for f in fields(self))

    def __iter__(self) -> Iterator[Any]:
        return iter(self.values())

    def __len__(self) -> int:
        return len(fields(self))

    def __getitem__(self, index):
        return self.values()[index]
