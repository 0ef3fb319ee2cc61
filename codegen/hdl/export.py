"""Verilog export of the components, checked for machine-specific paths, and Verilator lint."""
from __future__ import annotations

import re
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from amaranth.back import verilog
from amaranth.lib import wiring

__all__ = ["LintResult", "WALL_STYLE_WARNINGS", "absolute_paths", "lint_verilog", "to_verilog"]

# "/a/b" or "C:\a" that is not part of a longer token (so "/* ... */" comments do not match)
_ABS_PATH = re.compile(r"(?<![\w.:/])/(?:[\w.+-]+/)+[\w.+-]*|\b[A-Za-z]:\\[\w\\.+-]+")


def absolute_paths(text: str) -> list[str]:
    """Every substring of ``text`` that looks like an absolute file path."""
    return _ABS_PATH.findall(text)


def to_verilog(component: wiring.Component, *, name: str) -> str:
    """Verilog of ``component`` with top module ``name``, without source locations.

    Raises ``ValueError`` if the text still carries something that looks like an absolute path.
    """
    text = verilog.convert(component, name=name, emit_src=False)
    found = absolute_paths(text)
    if found:
        raise ValueError(f"Verilog for {name} contains absolute paths: {found[:3]}")
    return text


@dataclass(frozen=True)
class LintResult:
    ok: bool
    messages: str


#: the only warnings ``verilator --lint-only -Wall`` reports on the kernel's Verilog, all style
#: warnings of Yosys-written Verilog (docs/codegen.md, "Hardware (RTL)")
WALL_STYLE_WARNINGS = ("UNUSEDSIGNAL", "PROCASSINIT", "DECLFILENAME", "VARHIDDEN")


def lint_verilog(text: str, *, top: str, verilator: Path, wall: bool = False,
                 waive: tuple[str, ...] = ()) -> LintResult:
    """The caller finds ``verilator`` (``verification.simulators.require("verilator").executable``).

    ``verilator --lint-only`` with its default warnings fatal, except WIDTHEXPAND; ``wall``
    adds ``-Wall`` (every warning fatal except WIDTHEXPAND and ``waive``).

    Yosys (Amaranth's backend) folds explicit sign extensions back into ``$signed(a) + $signed(b)``
    with operands of different widths, relying on Verilog's well-defined context extension;
    Verilator reports that as WIDTHEXPAND. Truncation (WIDTHTRUNC) and every other default
    warning stay fatal.
    """
    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp) / f"{top}.v"
        src.write_text(text)
        proc = subprocess.run(
            [str(verilator), "--lint-only", *(["-Wall"] if wall else []), "-Wno-WIDTHEXPAND",
             *(f"-Wno-{w}" for w in waive), "--top-module", top, src.name],
            cwd=tmp, capture_output=True, text=True, timeout=120, check=False)
    return LintResult(ok=proc.returncode == 0, messages=proc.stdout + proc.stderr)
