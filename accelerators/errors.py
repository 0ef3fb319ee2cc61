"""The one error type for bad user input (device files, workload files, CLI flags, spaces).

Every message names the file, the field, the value and what is allowed, so a user can fix the
input without reading our code. The CLI turns it into exit code 2.
"""
from __future__ import annotations


class ConfigError(ValueError):
    """Bad user input: ``file``, ``field`` (dotted path), ``value`` and what is ``allowed``."""

    def __init__(self, file: str | None, field: str | None, value: object, allowed: str):
        self.file = file
        self.field = field
        self.value = value
        self.allowed = allowed
        where = file or "<input>"
        if field:
            where += f": field '{field}'"
        super().__init__(f"{where}: got {value!r}; {allowed}")
