"""Tiny Amaranth designs for the verification-machinery tests (not part of the kernel)."""
from __future__ import annotations

from pathlib import Path

from amaranth.hdl import Module, Signal
from amaranth.lib import fifo, stream, wiring
from amaranth.lib.wiring import In, Out

from codegen.hdl.export import to_verilog

__all__ = ["CountingFifo", "write_verilog"]


class CountingFifo(wiring.Component):
    """A ``depth``-word stream FIFO of ``width``-bit words that counts accepted input words.

    Ports after Verilog conversion: ``i__payload/i__valid/i__ready`` (sink),
    ``o__payload/o__valid/o__ready`` (source), ``count`` (words accepted, wrapping),
    ``clk``, ``rst``.
    """

    def __init__(self, width: int = 16, depth: int = 4) -> None:
        self.width, self.depth = width, depth
        super().__init__({
            "i": In(stream.Signature(width)),
            "o": Out(stream.Signature(width)),
            "count": Out(16),
        })

    def elaborate(self, platform: object) -> Module:
        m = Module()
        m.submodules.fifo = buf = fifo.SyncFIFOBuffered(width=self.width, depth=self.depth)
        wiring.connect(m, wiring.flipped(self.i), buf.w_stream)
        wiring.connect(m, buf.r_stream, wiring.flipped(self.o))
        count = Signal(16)
        with m.If(self.i.valid & self.i.ready):
            m.d.sync += count.eq(count + 1)
        m.d.comb += self.count.eq(count)
        return m


def write_verilog(component: wiring.Component, name: str, directory: Path) -> Path:
    """Convert ``component`` (top module ``name``) to ``directory/name.v`` without source paths."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{name}.v"
    text = to_verilog(component, name=name)
    if not path.is_file() or path.read_text() != text:  # keep the mtime when nothing changed
        path.write_text(text)
    return path
