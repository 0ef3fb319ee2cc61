"""MoEKernel's parts are wiring.Components (submodules of the kernel) whose every port member is
connected in MoEKernel.elaborate: each input driven and each output read by a statement of the
kernel's own module (wiring.connect or an assignment)."""
from __future__ import annotations

import pytest
from amaranth.hdl import Fragment, Module, Shape, Value, unsigned
from amaranth.hdl._ast import SignalSet
from amaranth.lib import wiring

from codegen.hdl.buffers import LaneBanks
from codegen.hdl.kernel.links import BANK_READ, BANK_WRITE, BankPort, stage_signature
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


def test_a_bank_port_is_one_side_of_a_buffer() -> None:
    banks = LaneBanks(4, 3, 2)
    read, write = BankPort(banks, *BANK_READ), BankPort(banks, *BANK_WRITE)
    assert set(read.signature.members) == set(BANK_READ)
    assert set(write.signature.members) == set(BANK_WRITE)
    assert read.r_data is banks.r_data and write.w_addr is banks.w_addr

    class Reader(wiring.Component):
        def __init__(self) -> None:
            super().__init__({"x": wiring.In(read.signature)})

        def elaborate(self, platform: object) -> Module:
            return Module()

    m = Module()
    m.submodules.reader = reader = Reader()
    wiring.connect(m, reader.x, read)
    driven = SignalSet()
    for stmt in m._statements.get("comb", []):
        driven |= stmt._lhs_signals()
    assert banks.r_addr in driven and banks.w_addr not in driven


def test_the_stage_bus_carries_the_gemm_row_tiles_and_rows() -> None:
    kernel = MoEKernel(build_plan(SPECS["dataflow"]))
    members = stage_signature(kernel.program).members
    # T = 6 tokens, R = 2 rows: rt in 0 .. 3 row tiles, mrows in 0 .. 6
    assert Shape.cast(members["rt"].shape) == unsigned(2)
    assert Shape.cast(members["mrows"].shape) == unsigned(3)
