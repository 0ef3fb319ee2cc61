"""The kernel shapes moearch verifies itself with (tests, benchmarks, docs/validation.md).

Each is a ``moearch codegen`` argument list; together they cover gated and plain experts,
``k`` = 1, 2 and ``E``, ``E`` = 4 and 8, ``T`` = 1, both front modes (dataflow when ``E <= C``,
sequential otherwise), every expert variant (``seq-stream``; ``seq-tiled`` when an expert gets
more tokens than the array has rows; the dataflow ``df``) and stream words narrower and wider
than a PE row.
"""
from __future__ import annotations

from pathlib import Path

from codegen.generate import generate_kernel, spec_from_args

__all__ = ["DEFAULT_EXAMPLE", "SHAPES", "codegen_args", "generate"]

#: the issue's default example
DEFAULT_EXAMPLE = "e8-k2-gated"

SHAPES: dict[str, list[str]] = {
    # d=64 f=128 E=8 k=2 gated, T=16 on 8x8: dataflow front, seq-stream (4 tokens nominal)
    DEFAULT_EXAMPLE: ["--shape", "d=64,f=128,experts=8,top_k=2", "--tokens", "16", "--device",
                      "alveo-u280", "--pe", "8x8", "--gated"],
    # plain, k=1, E=4, T=8 on 4x4, relu, 8-byte words
    "e4-k1-plain": ["--shape", "d=32,f=64,experts=4,top_k=1", "--tokens", "8", "--pe", "4x4",
                    "--activation", "relu", "--stream-bytes", "8", "--no-gated"],
    # plain, k=2, E=4, T=10 on 2x8: 5 tokens per expert on 2 rows -> seq-tiled; 4-byte words
    "e4-k2-plain": ["--shape", "d=40,f=72,experts=4,top_k=2", "--tokens", "10", "--pe", "2x8",
                    "--stream-bytes", "4", "--no-gated"],
    # T=1 and k = E = 8, gated, gelu: E > C = 4 -> sequential front, two router column tiles
    "t1-k8-gated": ["--shape", "d=16,f=32,experts=8,top_k=8", "--tokens", "1", "--pe", "4x4",
                    "--gated", "--activation", "gelu", "--stream-bytes", "8"],
    # the dataflow expert variant (df: up+gate | down on column groups of a 2x8 array, three row
    # blocks of 2 tokens each at the nominal 3 tokens per expert), gated
    "df-e4-k2-gated": ["--shape", "d=16,f=32,experts=4,top_k=2", "--tokens", "6", "--pe", "2x8",
                       "--style", "dataflow", "--gated", "--stream-bytes", "4"],
}


def codegen_args(name: str, out: str | Path) -> list[str]:
    """``moearch codegen`` arguments (without the command) writing shape ``name`` into ``out``."""
    return [*SHAPES[name], "--out", str(out)]


def generate(name: str, out: str | Path) -> Path:
    """Generate the kernel of shape ``name`` into ``out`` (:func:`codegen.generate_kernel`); return
    the kernel directory."""
    spec, rtl = spec_from_args(SHAPES[name])
    return generate_kernel(spec, out, rtl=rtl).out_dir
