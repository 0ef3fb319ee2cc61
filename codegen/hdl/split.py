"""Column-split PE array and requantiser: one physical array, reconfigured at a stage switch.

The dataflow expert variant (``df``) runs up, (gate,) and down concurrently on column groups of
the one ``R x C`` PE array (``archmodel.fpga.schedule``: ``ExpertVariant.col_split``); every
other stage uses the whole array. :class:`SplitPEArray` and :class:`SplitRequantizer` are that
array and its drain requantiser built from column groups (``PEArray(R, c_g)``,
``Requantizer(c_g)``, the ``c_g`` summing to ``C``: the same MACs and lanes as one ``R x C``
unit) with a mode input ``split``:

* ``split = 0`` (joint): the ``i`` / ``o`` streams are those of one ``C``-wide unit; every group
  receives the same ``valid``, ``a`` (PE), ``last`` (PE), ``mult`` / ``shift`` (requantiser) and
  its slice of the lanes, and the same ``o.ready``, so the groups stay in lockstep and the
  timing contract is exactly that of the ``C``-wide component;
* ``split = 1``: group ``g`` is driven through its own streams ``i<g>`` / ``o<g>`` (own
  activations, ``last``, requantiser pair, valid/ready); the joint streams are idle
  (``i.ready = 0``, ``o.valid = 0``).

``split`` may change only while the unit is idle (between stages: the controller switches the
mode during the switch cycles, when every pipeline has drained). The joint ``o`` payload is the
groups' outputs side by side in either mode.
"""
from __future__ import annotations

from collections.abc import Sequence

from amaranth.hdl import Module, Mux, signed
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from .pe_array import PEArray, pe_input_layout, pe_output_layout
from .requantizer import Requantizer, requantizer_input_layout

__all__ = ["SplitPEArray", "SplitRequantizer"]


def _check(groups: Sequence[int]) -> tuple[int, ...]:
    out = tuple(int(c) for c in groups)
    if not out or any(c < 1 for c in out):
        raise ValueError(f"column groups must be >= 1, got {groups}")
    return out


class _Groups:
    """Stream ports ``i<g>``/``o<g>`` of column group ``g``."""

    def group_in(self, g: int) -> stream.Interface:
        return getattr(self, f"i{g}")

    def group_out(self, g: int) -> stream.Interface:
        return getattr(self, f"o{g}")


class SplitPEArray(_Groups, wiring.Component):
    """``R x sum(groups)`` PE array of column groups; see the module docstring.

    Ports: ``split``, joint ``i`` / ``o`` (``PEArray(R, C)`` layouts), ``busy`` (any group
    performs MACs), and per group ``i<g>`` / ``o<g>`` (``PEArray(R, groups[g])`` layouts) and
    ``busy<g>``.
    """

    def __init__(self, rows: int, groups: Sequence[int]) -> None:
        self.rows, self.groups = int(rows), _check(groups)
        self.cols = sum(self.groups)
        members: dict[str, object] = {
            "split": In(1),
            "i": In(stream.Signature(pe_input_layout(self.rows, self.cols))),
            "o": Out(stream.Signature(pe_output_layout(self.rows, self.cols))),
            "busy": Out(1),
        }
        for g, c in enumerate(self.groups):
            members[f"i{g}"] = In(stream.Signature(pe_input_layout(self.rows, c)))
            members[f"o{g}"] = Out(stream.Signature(pe_output_layout(self.rows, c)))
            members[f"busy{g}"] = Out(1)
        super().__init__(members)

    def elaborate(self, platform: object) -> Module:
        m = Module()
        split = self.split
        lo = 0
        readies, busies, subs = [], [], []
        for g, c in enumerate(self.groups):
            sub = PEArray(self.rows, c)
            subs.append(sub)
            m.submodules[f"group{g}"] = sub
            gi, go = self.group_in(g), self.group_out(g)
            m.d.comb += [
                sub.i.valid.eq(Mux(split, gi.valid, self.i.valid)),
                sub.i.payload.a.eq(Mux(split, gi.payload.a.as_value(), self.i.payload.a.as_value())),
                sub.i.payload.last.eq(Mux(split, gi.payload.last, self.i.payload.last)),
                gi.ready.eq(split & sub.i.ready),
                go.valid.eq(split & sub.o.valid),
                go.payload.eq(sub.o.payload),
                sub.o.ready.eq(Mux(split, go.ready, self.o.ready)),
                getattr(self, f"busy{g}").eq(sub.busy),
            ]
            for j in range(c):
                m.d.comb += [sub.i.payload.b[j].eq(Mux(split, gi.payload.b[j], self.i.payload.b[lo + j])),
                             self.o.payload.data[lo + j].eq(sub.o.payload.data[j])]
            readies.append(sub.i.ready)
            busies.append(sub.busy)
            lo += c
        first = subs[0]
        ready = ~split
        for r in readies:
            ready = ready & r
        busy = busies[0]
        for b in busies[1:]:
            busy = busy | b
        m.d.comb += [
            self.i.ready.eq(ready),
            self.o.valid.eq(~split & first.o.valid),
            self.o.payload.row.eq(first.o.payload.row),
            self.o.payload.last.eq(first.o.payload.last),
            self.busy.eq(busy),
        ]
        return m


class SplitRequantizer(_Groups, wiring.Component):
    """``Requantizer(sum(groups))`` of lane groups; see the module docstring.

    Ports: ``split``, joint ``i`` / ``o`` (``Requantizer(C)`` layouts; ``o.payload`` is every
    group's output side by side in both modes), and per group ``i<g>`` / ``o<g>``.
    """

    def __init__(self, groups: Sequence[int]) -> None:
        self.groups = _check(groups)
        self.lanes = sum(self.groups)
        members: dict[str, object] = {
            "split": In(1),
            "i": In(stream.Signature(requantizer_input_layout(self.lanes))),
            "o": Out(stream.Signature(data.ArrayLayout(signed(8), self.lanes))),
        }
        for g, c in enumerate(self.groups):
            members[f"i{g}"] = In(stream.Signature(requantizer_input_layout(c)))
            members[f"o{g}"] = Out(stream.Signature(data.ArrayLayout(signed(8), c)))
        super().__init__(members)

    def elaborate(self, platform: object) -> Module:
        m = Module()
        split = self.split
        lo = 0
        readies, subs = [], []
        for g, c in enumerate(self.groups):
            sub = Requantizer(c)
            subs.append(sub)
            m.submodules[f"group{g}"] = sub
            gi, go = self.group_in(g), self.group_out(g)
            m.d.comb += [
                sub.i.valid.eq(Mux(split, gi.valid, self.i.valid)),
                sub.i.payload.mult.eq(Mux(split, gi.payload.mult, self.i.payload.mult)),
                sub.i.payload.shift.eq(Mux(split, gi.payload.shift, self.i.payload.shift)),
                gi.ready.eq(split & sub.i.ready),
                go.valid.eq(split & sub.o.valid),
                go.payload.eq(sub.o.payload),
                sub.o.ready.eq(Mux(split, go.ready, self.o.ready)),
            ]
            for j in range(c):
                m.d.comb += [sub.i.payload.acc[j].eq(Mux(split, gi.payload.acc[j], self.i.payload.acc[lo + j])),
                             self.o.payload[lo + j].eq(sub.o.payload[j])]
            readies.append(sub.i.ready)
            lo += c
        first = subs[0]
        ready = ~split
        for r in readies:
            ready = ready & r
        m.d.comb += [self.i.ready.eq(ready), self.o.valid.eq(~split & first.o.valid)]
        return m
