"""Reading a table file once per process: :func:`load_table`, cached by path and modification time.

A table space is parsed in the main process and evaluated in worker processes or Ray tasks; each
process reads the file once (the first chunk it evaluates), not once per chunk. The cache key is
the :class:`TableSource` (path, format, declared columns) and the file's ``st_mtime_ns``: a
rewritten file is read again, and :func:`load_table` refuses it when its contents no longer match
the digest the space was loaded with.
"""
from __future__ import annotations

import gzip
import hashlib
import zlib
from dataclasses import replace
from functools import lru_cache
from pathlib import Path
from typing import Final

from accelerators.errors import ConfigError

from .formats import read_csv, read_kernel_tuner
from .table import MeasuredTable, TableSource

GZIP_MAGIC: Final = b"\x1f\x8b"
CACHED_TABLES: Final = 16


def _stat(source: TableSource, space_file: str) -> int:
    try:
        return Path(source.path).stat().st_mtime_ns
    except OSError as error:
        raise ConfigError(space_file, "table.path", source.path, f"a readable table file ({error.strerror})") from None


def load_table(source: TableSource, space_file: str = "<space>") -> MeasuredTable:
    """The table ``source`` names (ConfigError when the file is unreadable or wrong, naming
    ``space_file`` for a file that cannot be read and the table file for what is in it)."""
    table = _load(replace(source, digest=""), _stat(source, space_file), space_file)
    if source.digest and table.digest != source.digest:
        raise ConfigError(source.path, None, f"contents {table.digest}", f"the contents the space was loaded with "
                          f"({source.digest}): the table file changed since")
    return table


@lru_cache(maxsize=CACHED_TABLES)
def _load(source: TableSource, mtime_ns: int, space_file: str) -> MeasuredTable:
    try:
        data = Path(source.path).read_bytes()
    except OSError as error:
        raise ConfigError(space_file, "table.path", source.path, f"a readable table file ({error.strerror})") from None
    digest = hashlib.sha256(data).hexdigest()[:16]
    if data[:2] == GZIP_MAGIC:
        try:
            data = gzip.decompress(data)
        except (OSError, EOFError, zlib.error) as error:
            raise ConfigError(source.path, None, "<gzip data>", f"a complete gzip file ({error})") from None
    reader = read_kernel_tuner if source.format == "kernel-tuner" else read_csv
    return reader(source, data, digest)
