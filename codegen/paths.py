"""Absolute-path detection for generated files (no optional dependency: the writer checks HLS-only
kernels with it too, and ``codegen.hdl.export`` checks the Verilog)."""
from __future__ import annotations

import re

__all__ = ["absolute_paths"]

# "/a/b" or "C:\a" that is not part of a longer token (so "/* ... */" comments do not match)
_ABS_PATH = re.compile(r"(?<![\w.:/])/(?:[\w.+-]+/)+[\w.+-]*|\b[A-Za-z]:\\[\w\\.+-]+")


def absolute_paths(text: str) -> list[str]:
    """Every substring of ``text`` that looks like an absolute file path."""
    return _ABS_PATH.findall(text)
