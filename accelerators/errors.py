"""The one error type for bad user input (device files, workload files, CLI flags, spaces).

Every message names the file, the field, the value and what is allowed, so a user can fix the
input without reading our code. The CLI turns it into exit code 2.
"""
from __future__ import annotations

import errno
from collections.abc import Sequence
from pathlib import Path

#: Errors of the machine, not of the input: the disk, the folder's permissions, the file system.
WRITE_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EACCES, errno.EPERM, errno.EIO,
                          errno.EFBIG, errno.EMFILE, errno.ENFILE})


def output_error(error: OSError, output: str | Path) -> OSError:
    """``error`` naming the output the user asked for (not the temporary file it was written
    through), when it is a write error of the machine; other errors unchanged."""
    if error.errno not in WRITE_ERRNOS:
        return error
    renamed = OSError(error.errno, error.strerror, str(output))
    renamed.__cause__ = error
    return renamed


class ConfigError(ValueError):
    """Bad user input: ``file``, ``field`` (dotted path), ``value`` and what is ``allowed``.

    One error may carry several ``problems`` (:meth:`combine`): a file with four mistakes is
    reported once, with all four; ``file``/``field``/``value``/``allowed`` are then the first's."""

    def __init__(self, file: str | None, field: str | None, value: object, allowed: str):
        self.file = file
        self.field = field
        self.value = value
        self.allowed = allowed
        self.problems: tuple[ConfigError, ...] = (self,)
        where = file or "<input>"
        if field:
            where += f": field '{field}'"
        super().__init__(f"{where}: got {value!r}; {allowed}")

    @classmethod
    def combine(cls, problems: Sequence[ConfigError]) -> ConfigError:
        """One error that lists every problem (each naming its file, field, value and what is allowed)."""
        flat = [p for problem in problems for p in problem.problems]
        if not flat:
            raise ValueError("ConfigError.combine needs at least one problem")
        if len(flat) == 1:
            return flat[0]
        first = flat[0]
        combined = cls(first.file, first.field, first.value, first.allowed)
        combined.problems = tuple(flat)
        files = {p.file for p in flat}
        head = f"{next(iter(files)) or '<input>'}: " if len(files) == 1 else ""
        combined.args = (f"{head}{len(flat)} problems:\n" + "\n".join(f"  - {p}" for p in flat),)
        return combined


def read_user_text(path: str | Path, what: str) -> str:
    """The UTF-8 text of a file the user named; ``ConfigError`` naming it when it cannot be read or
    is not UTF-8 text (``what``: "device file", "CSV file" ...)."""
    try:
        return Path(path).read_text(encoding="utf-8")
    except OSError as error:
        raise ConfigError(str(path), None, str(path), f"a readable {what} ({error.strerror})") from None
    except UnicodeDecodeError as error:
        raise ConfigError(str(path), f"byte {error.start}", error.object[error.start:error.start + 4],
                          f"a {what} in UTF-8 text ({error.reason})") from None
