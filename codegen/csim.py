"""C simulation of the generated HLS kernel: compile with g++, run on input files, read outputs.

:func:`compile_csim` builds ``<name>_csim`` from the emitted ``<name>.cpp`` and ``<name>_tb.cpp``
with ``g++ -std=c++17 -O2 -Wall -Werror`` against the ``include/`` compatibility headers (the
emitted copy, so a generated directory is self-contained). :func:`run_csim` writes the token
stream, weight image and requantisation block (:mod:`codegen.hls.emit` packers), runs the
binary, and returns the output tokens, the routed counts and the controller's step trace.

``params`` is anything with the attributes of ``verification.golden.MoEParams`` (``router``,
``up``, ``gate``, ``down``, ``up_q``, ``gate_q``, ``hidden_q``, ``down_q``, ``gate_weight_q``);
``codegen`` does not import ``verification``.
"""
from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .hls.emit import pack_requant_block, pack_token_stream, pack_weight_image, unpack_token_stream
from .plan import KernelPlan

__all__ = ["CSimError", "CSimResult", "CXXFLAGS", "compile_csim", "find_cxx", "run_csim"]

CXXFLAGS: tuple[str, ...] = ("-std=c++17", "-O2", "-Wall", "-Werror")


class CSimError(RuntimeError):
    """The C simulation did not build or run; the message carries the compiler's or binary's output."""


@dataclass(frozen=True)
class TraceStep:
    step: int
    expert: int          # -1 for front and combine steps
    m: int               # the step's row bound (an expert's token count)


@dataclass(frozen=True)
class CSimResult:
    output: np.ndarray               # [T, d] int8 values (int64)
    expert_counts: tuple[int, ...]
    trace: tuple[TraceStep, ...]
    stdout: str


def find_cxx() -> str | None:
    """``$CXX`` or ``g++`` on PATH."""
    cxx = os.environ.get("CXX")
    if cxx and shutil.which(cxx):
        return shutil.which(cxx)
    return shutil.which("g++")


def compile_csim(hls_dir: str | Path, name: str, *, build_dir: str | Path | None = None,
                 cxx: str | None = None, timeout: float = 300.0) -> Path:
    """Compile the emitted kernel and test bench; returns the executable's path."""
    hls_dir = Path(hls_dir)
    cxx = cxx or find_cxx()
    if cxx is None:
        raise CSimError("no C++ compiler: install g++ (or set CXX) to run the C simulation")
    out_dir = Path(build_dir) if build_dir is not None else hls_dir
    out_dir.mkdir(parents=True, exist_ok=True)
    exe = out_dir / f"{name}_csim"
    cmd = [cxx, *CXXFLAGS, "-I", str(hls_dir / "include"), str(hls_dir / f"{name}.cpp"),
           str(hls_dir / f"{name}_tb.cpp"), "-o", str(exe)]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=False)
    if proc.returncode != 0:
        raise CSimError(f"{' '.join(cmd[:5])} ... failed ({proc.returncode}):\n{proc.stderr}")
    return exe


def run_csim(plan: KernelPlan, exe: str | Path, x: Any, params: Any, workdir: str | Path, *,
             trace: bool = True, timeout: float = 300.0) -> CSimResult:
    """Run the compiled C simulation on tokens ``x`` ([T, d] int8) and ``params``."""
    workdir = Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    files = {"tokens": workdir / "tokens.bin", "weights": workdir / "weights.bin", "rq": workdir / "rq.bin",
             "out": workdir / "out.bin", "trace": workdir / "trace.txt"}
    files["tokens"].write_bytes(pack_token_stream(plan, x))
    files["weights"].write_bytes(pack_weight_image(plan, params.router, params.up, params.gate, params.down))
    files["rq"].write_bytes(pack_requant_block(plan, gate_weight=params.gate_weight_q, up=params.up_q,
                                               down=params.down_q, gate=params.gate_q, hidden=params.hidden_q))
    for stale in (files["out"], files["trace"]):
        stale.unlink(missing_ok=True)
    cmd = [str(exe), str(files["tokens"]), str(files["weights"]), str(files["rq"]), str(files["out"])]
    if trace:
        cmd.append(str(files["trace"]))
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=False)
    if proc.returncode != 0:
        raise CSimError(f"C simulation failed ({proc.returncode}):\n{proc.stderr}{proc.stdout}")
    counts: tuple[int, ...] = ()
    for line in proc.stdout.splitlines():
        if line.startswith("expert_counts"):
            counts = tuple(int(v) for v in line.split()[1:])
    if len(counts) != plan.experts:
        raise CSimError(f"C simulation printed no expert counts:\n{proc.stdout}")
    steps: tuple[TraceStep, ...] = ()
    if trace:
        steps = tuple(TraceStep(*(int(v) for v in line.split()))
                      for line in files["trace"].read_text().splitlines() if line.strip())
    return CSimResult(unpack_token_stream(plan, files["out"].read_bytes()), counts, steps, proc.stdout)
