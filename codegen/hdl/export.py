"""Verilog export of the components, checked for machine-specific paths, and Verilator lint."""
from __future__ import annotations

import re
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from amaranth.back import verilog
from amaranth.lib import wiring

from ..paths import absolute_paths

__all__ = ["LintResult", "WALL_STYLE_WARNINGS", "absolute_paths", "lint_verilog", "to_verilog"]

# Yosys's write_verilog makes every ``always @*`` block read a dummy register declared
# ``reg \$auto$verilog_backend.cc:N:dump_module$M  = 0;`` so that the blocks run once at time 0
# (the declaration's assignment is an X -> 0 event in Verilog-2005). Under SystemVerilog rules
# (Icarus with -g2012, cocotb's default) a declaration initialiser is no event, so a block whose
# inputs never change keeps X forever (amaranth-lang/amaranth#1629; our d = 1 kernels put X on
# y_out that way). An ``initial`` assignment is an event under both standards, and Icarus starts
# ``always @*`` processes before ``initial`` ones.
_TIME_ZERO_TRIGGER = re.compile(r"^(\s*)reg (\\\$auto\$verilog_backend\.cc:\d+:dump_module\$\d+ +)= 0;$", re.M)


def time_zero_events(text: str) -> str:
    """``text`` with Yosys's time-0 trigger registers set by ``initial`` instead of a declaration
    initialiser (see ``_TIME_ZERO_TRIGGER``)."""
    return _TIME_ZERO_TRIGGER.sub(lambda m: f"{m[1]}reg {m[2]};\n{m[1]}initial {m[2]}= 1'h0;", text)


def to_verilog(component: wiring.Component, *, name: str) -> str:
    """Verilog of ``component`` with top module ``name``, without source locations, whose
    combinational blocks run at time 0 under Verilog-2005 and SystemVerilog rules alike.

    Raises ``ValueError`` if the text still carries something that looks like an absolute path.
    """
    text = time_zero_events(verilog.convert(component, name=name, emit_src=False))
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
