"""Port directions of a Verilog top module, handed from the runner to the cocotb tests.

cocotb cannot tell an input from an output, so the runner parses the top module's port
declarations (:func:`parse_ports`), writes them to ``ports.json`` in the build directory and names
that file in the environment variable ``MOEARCH_PORTS_FILE``; :func:`load_ports` reads it inside
the simulator (used by :func:`verification.cocotb_lib.clock.drive_inputs`).

The parser understands what Amaranth/Yosys emits (non-ANSI ``input [15:0] a;`` declarations) and
ANSI headers (``module m (input wire [7:0] a, output b);``). A width written with parameters
(``[W-1:0]``) is reported as ``None``.
"""
from __future__ import annotations

import json
import os
import re
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Literal

__all__ = ["PORTS_ENV", "Port", "load_ports", "parse_ports", "write_ports"]

PORTS_ENV = "MOEARCH_PORTS_FILE"

Direction = Literal["input", "output", "inout"]


@dataclass(frozen=True)
class Port:
    name: str
    direction: Direction
    width: int | None  # None when the range uses parameters


_COMMENTS = re.compile(r"//[^\n]*|/\*.*?\*/", re.S)
_ATTRS = re.compile(r"\(\*.*?\*\)", re.S)
_MODULE = re.compile(r"\bmodule\s+(\\\S+|[A-Za-z_][\w$]*)\s*(.*?)\bendmodule\b", re.S)
_IDENT = r"(?:\\\S+|[A-Za-z_][\w$]*)"  # escaped or plain identifier
_DECL = re.compile(
    r"\b(input|output|inout)\b"
    r"((?:\s+(?:wire|reg|logic|var|signed|unsigned))*)"
    r"\s*(?:\[\s*([^\]:]+?)\s*:\s*([^\]]+?)\s*\])?"
    rf"\s*({_IDENT}(?:\s*,\s*(?!input\b|output\b|inout\b){_IDENT})*)")


def _width(msb: str | None, lsb: str | None) -> int | None:
    if msb is None or lsb is None:
        return 1
    try:
        return abs(int(msb) - int(lsb)) + 1
    except ValueError:
        return None


def parse_ports(verilog: str, module: str) -> dict[str, Port]:
    """The ports of ``module`` in ``verilog`` in declaration order; ``KeyError`` if it is absent."""
    text = _ATTRS.sub(" ", _COMMENTS.sub(" ", verilog))
    for match in _MODULE.finditer(text):
        name = match.group(1)
        if name.lstrip("\\") != module:
            continue
        ports: dict[str, Port] = {}
        for decl in _DECL.finditer(match.group(2)):
            direction, _kinds, msb, lsb, names = decl.groups()
            for raw in names.split(","):
                port = raw.strip().lstrip("\\")
                ports.setdefault(port, Port(port, direction,  # type: ignore[arg-type]
                                            _width(msb, lsb)))
        return ports
    raise KeyError(f"module {module!r} not found in the Verilog sources")


def write_ports(ports: dict[str, Port], path: Path) -> Path:
    """Write ``ports`` as JSON (atomically) and return ``path``."""
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps([asdict(p) for p in ports.values()], indent=1))
    tmp.replace(path)
    return path


def load_ports(path: str | Path | None = None) -> dict[str, Port]:
    """Ports from ``path`` or from the file named by ``MOEARCH_PORTS_FILE``.

    Raises ``RuntimeError`` when neither is available (the test was not started by the runner).
    """
    where = path if path is not None else os.environ.get(PORTS_ENV)
    if not where:
        raise RuntimeError(f"no port list: {PORTS_ENV} is not set (run the test through "
                           "verification.runner.build_and_run, or pass the input names explicitly)")
    entries = json.loads(Path(where).read_text())
    return {e["name"]: Port(e["name"], e["direction"], e["width"]) for e in entries}
