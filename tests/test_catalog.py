"""The device catalog: every device loads, published figures match, extends and caching work."""
from __future__ import annotations

import math
from pathlib import Path

import pytest

from accelerators import ConfigError, Device, device_path, list_devices, load_device
from accelerators.kinds.pim import pim_bandwidth, pim_peak
from accelerators.schema import covering_source, kind_schemas, numeric_leaves

CATALOG = [
    "a100-sxm-80g", "alveo-u280", "alveo-u55c", "ascend-910b", "ascend-910c", "b200", "cloudmatrix384",
    "duplex", "gb200-nvl72", "h100-sxm", "h200-sxm", "mi300x", "mi325x", "mi355x", "sn40l", "sn40l-node",
    "versal-vck190",
]


def test_list_devices_is_the_sorted_catalog() -> None:
    assert list_devices() == CATALOG


@pytest.mark.parametrize("name", CATALOG)
def test_every_device_loads_and_is_named_after_its_file(name: str) -> None:
    device = load_device(name)
    assert isinstance(device, Device)
    assert device.name == name == device_path(name).stem
    assert device.main_memory.name in ("hbm", "ddr")


@pytest.mark.parametrize("name", CATALOG)
def test_every_numeric_field_is_cited(name: str) -> None:
    device = load_device(name)
    leaves = numeric_leaves(device.model_dump(exclude_unset=True, exclude={"sources"}))
    assert leaves, "a device with no numbers"
    for path in leaves:
        key = covering_source(path, device.sources)
        assert key is not None and device.sources[key].strip(), path


@pytest.mark.parametrize("name", CATALOG)
def test_memory_tiers_are_fastest_first(name: str) -> None:
    tiers = load_device(name).memory
    bandwidths = [tier.read_bandwidth for tier in tiers]
    assert bandwidths == sorted(bandwidths, reverse=True)


def test_a100_published_figures() -> None:
    a100 = load_device("a100-sxm-80g")
    assert a100.peak("bf16") == 312e12
    assert a100.tier("hbm").read_bandwidth == 2039e9
    assert a100.tier("hbm").capacity == 80e9
    assert a100.interconnect.scale_up.bandwidth == 300e9  # 600 GB/s bidirectional, halved
    assert a100.interconnect.host.bandwidth == 32e9
    assert a100.compute.units == 108
    assert a100.compute.tile == (128, 128)


def test_h100_and_h200_published_figures() -> None:
    h100, h200 = load_device("h100-sxm"), load_device("h200-sxm")
    assert h100.peak("bf16") == 989e12
    assert h100.tier("hbm").capacity == 80e9
    assert h100.tier("hbm").read_bandwidth == 3.35e12
    assert h100.interconnect.scale_up.bandwidth == 450e9  # 900 GB/s bidirectional, halved
    assert h100.interconnect.host.bandwidth == 64e9
    assert h100.compute.units == 132
    assert h200.extends == "h100-sxm"
    assert h200.tier("hbm").capacity == 141e9
    assert h200.tier("hbm").read_bandwidth == 4.8e12
    assert h200.peak("bf16") == h100.peak("bf16")
    assert h200.compute.units == 132


def test_mi300x_published_figures() -> None:
    mi300x = load_device("mi300x")
    assert mi300x.peak("bf16") == 1307.4e12
    assert mi300x.tier("hbm").capacity == 192e9
    assert mi300x.tier("hbm").read_bandwidth == 5.3e12
    assert mi300x.interconnect.scale_up.bandwidth * 2 == 896e9
    assert mi300x.compute.units == 304


def test_ascend_910c_is_two_dies_of_376_tflops_64_gb_1_6_tbs() -> None:
    npu = load_device("ascend-910c")
    assert npu.npu is not None and npu.npu.dies == 2
    assert npu.peak("bf16") == 2 * 376e12
    assert npu.tier("hbm").capacity == 2 * 64e9
    assert npu.tier("hbm").read_bandwidth == 2 * 1.6e12
    assert npu.compute.units == 2 * 24
    assert npu.interconnect.scale_up.bandwidth == 392e9


def test_cloudmatrix384_is_384_910c_in_one_ub_domain() -> None:
    cm = load_device("cloudmatrix384")
    npu = load_device("ascend-910c")
    assert cm.chips == 384
    assert cm.interconnect.scale_up.domain == 384
    assert cm.interconnect.scale_up.bandwidth == 392e9
    assert cm.peak("bf16") == npu.peak("bf16")
    assert cm.chips * cm.peak("bf16") == pytest.approx(288.768e15)  # ~300 PFLOPS BF16 system


def test_sn40l_published_figures() -> None:
    rdu = load_device("sn40l")
    assert rdu.peak("bf16") == 638e12
    assert (rdu.rdu.pcu, rdu.rdu.pmu) == (1040, 1040)
    assert rdu.tier("sram").capacity == 520e6
    assert rdu.tier("hbm").capacity == 64e9
    assert rdu.tier("ddr").capacity == 1.5e12
    assert [tier.name for tier in rdu.memory] == ["sram", "hbm", "ddr"]
    assert rdu.main_memory.name == "hbm"


def test_sn40l_node_is_eight_sockets_with_over_1_tbs_ddr_to_hbm() -> None:
    node = load_device("sn40l-node")
    socket = load_device("sn40l")
    assert node.extends == "sn40l"
    assert node.chips == 8
    assert node.peak("bf16") == socket.peak("bf16")
    assert node.chips * node.rdu.ddr_to_hbm >= 1e12
    assert node.chips * node.tier("ddr").capacity == 12e12


def test_duplex_logic_pim_is_4x_bandwidth_at_8_op_per_byte() -> None:
    duplex = load_device("duplex")
    h100 = load_device("h100-sxm")
    assert duplex.kind == "pim"
    assert duplex.pim.bandwidth_multiple == 4
    assert duplex.pim.op_per_byte == 8
    assert pim_bandwidth(duplex) == pytest.approx(4 * 3.35e12)
    assert pim_peak(duplex) == pytest.approx(8 * 4 * 3.35e12)
    assert duplex.peak("bf16") == h100.peak("bf16")
    with pytest.raises(ValueError, match="no PimSpec section"):
        _ = pim_peak(h100)


@pytest.mark.parametrize(
    ("name", "dsp", "lut", "ff", "bram", "uram", "hbm_capacity", "macs"),
    [
        ("alveo-u280", 9024, 1_303_680, 2_607_360, 2016, 960, 8 * 2**30, 2),
        ("alveo-u55c", 9024, 1_303_680, 2_607_360, 2016, 960, 16 * 2**30, 2),
        ("versal-vck190", 1968, 899_840, 1_799_680, 967, 463, None, 3),
    ],
)
def test_fpga_published_resources(name: str, dsp: int, lut: int, ff: int, bram: int, uram: int,
                                  hbm_capacity: float | None, macs: int) -> None:
    device = load_device(name)
    fpga = device.fpga
    assert (fpga.dsp, fpga.lut, fpga.ff, fpga.bram36, fpga.uram) == (dsp, lut, ff, bram, uram)
    assert fpga.int8_macs_per_dsp == macs
    assert fpga.clock == 300e6
    assert device.peak("int8") == pytest.approx(dsp * macs * 2 * 300e6)
    sram_bytes = bram * 36 * 1024 / 8 + uram * 288 * 1024 / 8
    assert device.tier("sram").capacity == pytest.approx(sram_bytes)
    if hbm_capacity is None:
        assert not device.has_tier("hbm") and device.main_memory.name == "ddr"
    else:
        assert device.tier("hbm").capacity == hbm_capacity
        assert device.tier("hbm").read_bandwidth == pytest.approx(32 * 14.375e9)
        assert fpga.hbm_channels == 32


def test_u280_has_32_gb_ddr4_beside_hbm() -> None:
    u280 = load_device("alveo-u280")
    assert u280.tier("ddr").capacity == 32e9
    assert u280.main_memory.name == "hbm"
    assert u280.power.tdp == 225


@pytest.mark.parametrize("name", ["a100-sxm-80g", "h100-sxm", "h200-sxm", "b200", "gb200-nvl72", "mi300x",
                                  "mi325x", "mi355x", "ascend-910b", "ascend-910c", "cloudmatrix384", "duplex"])
def test_roofline_devices_have_efficiency_in_range(name: str) -> None:
    eff = load_device(name).efficiency
    assert 0.5 < eff.matmul <= 1.0
    assert 0.5 < eff.memory <= 1.0
    assert 1e-6 <= eff.kernel_overhead <= 2e-5


def test_peak_and_tier_errors_list_what_exists() -> None:
    h100 = load_device("h100-sxm")
    with pytest.raises(ValueError, match="available: bf16, fp16, fp8, int8, fp32"):
        h100.peak("int4")
    with pytest.raises(ValueError, match="available: hbm"):
        h100.tier("ddr")


def test_devices_are_frozen() -> None:
    h100 = load_device("h100-sxm")
    with pytest.raises(Exception, match="frozen"):
        h100.chips = 2  # type: ignore[misc]


def test_load_is_cached_and_reloads_after_an_edit(tmp_path: Path) -> None:
    path = tmp_path / "my-gpu.yaml"
    path.write_text(_child("my-gpu", "100 GB"))
    first = load_device(path)
    assert load_device(str(path)) is first
    path.write_text(_child("my-gpu", "120 GB"))  # possibly within the same mtime tick
    second = load_device(path)
    assert second is not first
    assert second.tier("hbm").capacity == 120e9


def test_user_file_extends_a_catalog_device_and_merges_tiers_by_name(tmp_path: Path) -> None:
    path = tmp_path / "h100-144g.yaml"
    path.write_text(_child("h100-144g", "144 GB"))
    device = load_device(path)
    h100 = load_device("h100-sxm")
    assert device.extends == "h100-sxm"
    assert device.tier("hbm").capacity == 144e9
    assert device.tier("hbm").read_bandwidth == h100.tier("hbm").read_bandwidth
    assert device.peak("fp8") == h100.peak("fp8")
    assert device.sources["memory.hbm.capacity"] == "my measurement"
    assert device.sources["compute.peak"] == h100.sources["compute.peak"]


def test_extends_a_relative_yaml_path(tmp_path: Path) -> None:
    (tmp_path / "base.yaml").write_text(_child("base", "96 GB"))
    (tmp_path / "derived.yaml").write_text(
        "name: derived\nextends: base.yaml\nchips: 4\nsources: {chips: four of them on my board}\n")
    device = load_device(tmp_path / "derived.yaml")
    assert device.chips == 4
    assert device.tier("hbm").capacity == 96e9


def test_device_path_of_unknown_name_lists_the_catalog() -> None:
    with pytest.raises(ConfigError) as caught:
        device_path("h300")
    assert "h300" in str(caught.value)
    assert all(name in caught.value.allowed for name in CATALOG)


def test_total_system_numbers_from_chips() -> None:
    node = load_device("sn40l-node")
    assert math.isclose(node.chips * node.tier("hbm").capacity, 512e9)


def _child(name: str, capacity: str) -> str:
    return (f"name: {name}\nextends: h100-sxm\ndescription: H100 with a different HBM\n"
            f"memory:\n  - {{name: hbm, capacity: {capacity}}}\n"
            "sources: {memory.hbm.capacity: my measurement}\n")


def test_the_worked_example_in_docs_loads(tmp_path: Path) -> None:
    docs = Path(__file__).resolve().parents[1] / "docs" / "devices.md"
    text = docs.read_text(encoding="utf-8")
    start = text.index("# configs/h100-144g.yaml")
    example = text[start:text.index("```", start)]
    path = tmp_path / "h100-144g.yaml"
    path.write_text(example)
    device = load_device(path)
    assert device.tier("hbm").capacity == 144e9
    assert device.interconnect.host.bandwidth == 128e9
    assert device.interconnect.scale_up == load_device("h100-sxm").interconnect.scale_up


def test_energy_figures_are_cited_per_bit_and_inherited() -> None:
    """HBM2-class 3.9 pJ/bit (O'Connor et al., MICRO 2017); the U280's HBM at a quarter of its DDR4
    (AMD WP485); cloudmatrix384 inherits the 910C's figures through ``extends``."""
    a100, u280 = load_device("a100-sxm-80g"), load_device("alveo-u280")
    assert a100.energy.memory["hbm"] == pytest.approx(3.9e-12)
    assert u280.energy.memory["ddr"] == pytest.approx(20e-12)
    assert u280.energy.memory["hbm"] * 4 == pytest.approx(u280.energy.memory["ddr"])
    assert load_device("cloudmatrix384").energy == load_device("ascend-910c").energy
    assert load_device("h100-sxm").energy is None  # defaults by kind apply (archmodel.energy)


def test_every_kind_module_gives_device_a_section_field():
    assert set(kind_schemas()) == {"fpga", "gpu", "npu", "pim", "rdu"}
    for kind, schema in kind_schemas().items():
        assert schema.name == kind
        assert (kind in Device.model_fields) == (schema.section is not None), kind
