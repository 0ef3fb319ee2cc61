"""MoEKernel's parts are wiring.Components (submodules of the kernel) whose every port member is
connected in MoEKernel.elaborate: each input driven and each output read by a statement of the
kernel's own module (wiring.connect or an assignment)."""
from __future__ import annotations

import pytest
from amaranth.hdl import Fragment, Value
from amaranth.hdl._ast import SignalSet
from amaranth.lib import wiring

from codegen.hdl.top import MoEKernel
from codegen.plan import build_plan
from codegen.spec import KernelSpec

#: the kernel's submodules that are parts (codegen.hdl.kernel), by name
PARTS = ("seq", "route_topk", "route_gn", "combine", "ywriter", "intake", "requests", "params",
         "feeder", "drain")
#: the parts of a kernel with a dataflow expert only
DF_PARTS = ("df_feeder", "df_drains")


def _parts_of(name: str) -> tuple[str, ...]:
    return PARTS + (DF_PARTS if name == "dataflow" else ())

SPECS = {
    "sequential-front": KernelSpec(tokens=8, hidden=8, ffn=16, experts=8, top_k=2, gated=True,
                                   pe_rows=2, pe_cols=4, stream_bytes=4, name="moe_g8"),
    "dataflow": KernelSpec(tokens=6, hidden=8, ffn=16, experts=4, top_k=2, gated=True,
                           pe_rows=2, pe_cols=5, stream_bytes=2, style="dataflow", name="moe_gdf"),
}


def _kernel_and_parts(name: str) -> tuple[MoEKernel, Fragment, dict[str, object]]:
    kernel = MoEKernel(build_plan(SPECS[name]))
    frag = Fragment.get(kernel, None)
    parts = {sub_name: sub.origins[0] for sub, sub_name, _ in frag.subfragments}
    return kernel, frag, parts


def _top_signals(frag: Fragment) -> tuple[SignalSet, SignalSet]:
    driven, read = SignalSet(), SignalSet()
    for statements in frag.statements.values():
        for stmt in statements:
            driven |= stmt._lhs_signals()
            read |= stmt._rhs_signals()
    return driven, read


@pytest.mark.parametrize("name", sorted(SPECS))
def test_the_fronts_differ(name: str) -> None:
    kernel, _, _ = _kernel_and_parts(name)
    assert kernel.program.front == name.split("-")[0]


@pytest.mark.parametrize("name", sorted(SPECS))
def test_every_part_is_a_component_submodule(name: str) -> None:
    _, _, parts = _kernel_and_parts(name)
    for part_name in _parts_of(name):
        part = parts.get(part_name)
        assert isinstance(part, wiring.Component), (part_name, type(part))
        assert type(part).__module__.startswith("codegen.hdl.kernel."), type(part).__module__


@pytest.mark.parametrize("name", sorted(SPECS))
def test_every_port_member_of_a_part_is_connected(name: str) -> None:
    _, frag, parts = _kernel_and_parts(name)
    driven, read = _top_signals(frag)
    unconnected = []
    for part_name in _parts_of(name):
        part = parts[part_name]
        assert isinstance(part, wiring.Component)
        members = list(part.signature.flatten(part))
        assert members, part_name
        for path, member, value in members:
            signals = Value.cast(value)._rhs_signals()
            pool = driven if member.flow == wiring.In else read
            if not all(s in pool for s in signals):
                unconnected.append(f"{part_name}.{'.'.join(map(str, path))}")
    assert unconnected == []
