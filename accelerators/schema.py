"""Pydantic models of a device file (frozen, ``extra="forbid"``); quantities are SI floats.

Every figure is per chip (one GPU, one NPU package, one RDU socket, one FPGA card); ``chips``
says how many chips act as one system. Cross-field rules (tier order, kind-specific sections,
every numeric field cited in ``sources``) raise pydantic custom errors whose context carries
the dotted ``field`` path, so the catalog can report them as one ConfigError.
"""
from __future__ import annotations

import math
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from functools import partial
from types import MappingProxyType
from typing import Annotated, Any, Final, Literal, get_args

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    model_validator,
)
from pydantic_core import PydanticCustomError

from accelerators.units import Dimension, QuantityError, parse_quantity_value

Dtype = Literal["bf16", "fp16", "fp8", "int8", "int4", "fp32"]
DTYPES: Final[tuple[str, ...]] = get_args(Dtype)
Kind = Literal["gpu", "npu", "rdu", "pim", "fpga"]
TierName = Literal["sram", "hbm", "ddr", "host"]
TIER_ORDER: Final[tuple[str, ...]] = get_args(TierName)
Topology = Literal["switch", "full-mesh", "clos", "fat-tree", "ring", "torus", "mesh", "point-to-point"]
DspType = Literal["DSP48E2", "DSP58"]
LinkName = Literal["scale_up", "scale_out", "host"]



@dataclass(frozen=True)
class KindRules:
    """What the device file of one kind must hold: its own section (the ``Device`` field of that
    name; ``None``: no section of its own), whether the section is required, whether the roofline
    fields are (:func:`_check_roofline_fields`), and the memory tiers it needs."""

    section: str | None = None
    section_required: bool = True
    roofline: bool = False
    tiers: tuple[str, ...] = ()


# One entry a device kind (the keys are ``Kind``'s values; a test checks they agree).
KIND_RULES: Final[Mapping[str, KindRules]] = MappingProxyType({
    "gpu": KindRules(roofline=True),
    "npu": KindRules(section="npu", section_required=False, roofline=True),
    "rdu": KindRules(section="rdu"),
    "pim": KindRules(section="pim", roofline=True, tiers=("hbm",)),
    "fpga": KindRules(section="fpga"),
})


def _quantity(dimension: Dimension, allow_zero: bool, value: object) -> float:
    try:
        return parse_quantity_value(value, dimension, allow_zero=allow_zero)
    except QuantityError as error:
        raise PydanticCustomError("quantity", "{allowed}", {"allowed": error.allowed}) from None


def _q(dimension: Dimension, *, allow_zero: bool = False) -> BeforeValidator:
    return BeforeValidator(partial(_quantity, dimension, allow_zero))


# Quantities with units: floats in SI base units once validated.
Size = Annotated[float, _q("size")]
Bandwidth = Annotated[float, _q("bandwidth")]
Compute = Annotated[float, _q("compute")]
Time = Annotated[float, _q("time")]
TimeOrZero = Annotated[float, _q("time", allow_zero=True)]
Power = Annotated[float, _q("power")]
Frequency = Annotated[float, _q("frequency")]
EnergyPerOp = Annotated[float, _q("energy_per_op")]
EnergyPerBit = Annotated[float, _q("energy_per_bit")]
Count = Annotated[int, Field(strict=True, ge=1)]
Fraction = Annotated[float, Field(gt=0.0, le=1.0)]


def rule_error(field: str, value: object, allowed: str) -> PydanticCustomError:
    """A cross-field error that names its own dotted field path (read back by the catalog)."""
    return PydanticCustomError("device_rule", "{allowed}",
                               {"field": field, "value": value, "allowed": allowed})


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class ComputeSpec(_Frozen):
    """Dense peak rates per dtype, the non-matrix unit, the unit count and the GEMM tile."""

    peak: dict[Dtype, Compute] = Field(min_length=1)
    vector: Compute | None = None
    units: Count | None = None
    tile: tuple[Count, Count] | None = None


class MemoryTier(_Frozen):
    """One level of the memory hierarchy; bandwidths per chip, latency when published."""

    name: TierName
    capacity: Size
    read_bandwidth: Bandwidth
    write_bandwidth: Bandwidth
    latency: Time | None = None


class Link(_Frozen):
    """A link; ``bandwidth`` is per device and per direction, ``domain`` devices reachable."""

    name: str = Field(min_length=1)
    bandwidth: Bandwidth
    latency: Time | None = None
    topology: Topology | None = None
    domain: Count | None = None


class Interconnect(_Frozen):
    scale_up: Link | None = None
    scale_out: Link | None = None
    host: Link | None = None


class Efficiency(_Frozen):
    """What real kernels sustain, measured by microbenchmarks of the device's software stack."""

    matmul: Fraction
    memory: Fraction
    kernel_overhead: TimeOrZero


class PowerSpec(_Frozen):
    tdp: Power


class EnergySpec(_Frozen):
    """Optional energy figures (every field optional; ``archmodel.energy`` falls back per field to
    documented defaults by device kind): energy per operation by datatype for the matrix and vector
    units, per bit moved by memory tier and by link (one traversal of that link), and static power."""

    matrix: dict[Dtype, EnergyPerOp] = {}
    vector: dict[Dtype, EnergyPerOp] = {}
    memory: dict[TierName, EnergyPerBit] = {}
    links: dict[LinkName, EnergyPerBit] = {}
    static_power: Power | None = None


class RduSpec(_Frozen):
    """Dataflow RDU resources; ``ddr_to_hbm`` is the per-socket DDR->HBM copy bandwidth."""

    pcu: Count
    pmu: Count
    ddr_to_hbm: Bandwidth


class PimSpec(_Frozen):
    """Logic-PIM on the HBM logic die: bandwidth as a multiple of the HBM's, and its Op/B."""

    bandwidth_multiple: Annotated[float, Field(gt=0.0)]
    op_per_byte: Annotated[float, Field(gt=0.0)]


class FpgaSpec(_Frozen):
    """FPGA fabric resources and the kernel clock the performance figures assume."""

    dsp: Count
    dsp_type: DspType
    lut: Count
    ff: Count
    bram36: Count
    uram: Annotated[int, Field(strict=True, ge=0)]
    clock: Frequency
    int8_macs_per_dsp: Count
    hbm_channels: Annotated[int, Field(strict=True, ge=0)]
    slrs: Count | None = None
    aie: Annotated[int, Field(strict=True, ge=0)] = 0


class NpuSpec(_Frozen):
    """Optional NPU structure: dies per package and matrix (cube) / vector cores per package."""

    dies: Count
    cube_cores: Count
    vector_cores: Count | None = None


class Device(_Frozen):
    """One device file after validation. All rates and sizes are per chip, in SI units."""

    name: Annotated[str, Field(pattern=r"^[a-z0-9]+(-[a-z0-9]+)*$")]
    kind: Kind
    extends: str | None = None
    vendor: str = Field(min_length=1)
    description: str = Field(min_length=1)
    chips: Count = 1
    compute: ComputeSpec
    memory: tuple[MemoryTier, ...] = Field(min_length=1)
    interconnect: Interconnect = Interconnect()
    efficiency: Efficiency | None = None
    power: PowerSpec | None = None
    rdu: RduSpec | None = None
    pim: PimSpec | None = None
    fpga: FpgaSpec | None = None
    npu: NpuSpec | None = None
    energy: EnergySpec | None = None
    sources: dict[str, Annotated[str, Field(min_length=1)]] = Field(min_length=1)

    @model_validator(mode="after")
    def _check_rules(self) -> Device:
        problems = [*_check_tiers(self.memory), *_check_kind_sections(self), *_check_sources(self)]
        if len(problems) == 1:
            raise problems[0]
        if problems:  # every broken rule at once (read back by the catalog, one ConfigError each)
            raise PydanticCustomError("device_rules", "{count} cross-field rules broken",
                                      {"count": len(problems), "rules": [p.context for p in problems]})
        return self

    def peak(self, dtype: str) -> float:
        """Dense peak rate (FLOP/s or OP/s) per chip for ``dtype``."""
        try:
            return self.compute.peak[dtype]  # type: ignore[index]
        except KeyError:
            available = ", ".join(self.compute.peak)
            raise ValueError(f"device '{self.name}' has no {dtype!r} peak; available: {available}") from None

    def tier(self, name: str) -> MemoryTier:
        """The memory tier called ``name`` (sram, hbm, ddr, host)."""
        for tier in self.memory:
            if tier.name == name:
                return tier
        available = ", ".join(t.name for t in self.memory)
        raise ValueError(f"device '{self.name}' has no {name!r} memory tier; available: {available}")

    def has_tier(self, name: str) -> bool:
        return any(tier.name == name for tier in self.memory)

    @property
    def main_memory(self) -> MemoryTier:
        """The first off-chip tier: HBM if present, else DDR."""
        for name in ("hbm", "ddr"):
            if self.has_tier(name):
                return self.tier(name)
        raise ValueError(f"device '{self.name}' has no off-chip (hbm or ddr) memory tier")

    @property
    def pim_bandwidth(self) -> float:
        """Logic-PIM internal bandwidth (B/s): ``bandwidth_multiple`` x HBM read bandwidth."""
        return self._pim().bandwidth_multiple * self.tier("hbm").read_bandwidth

    @property
    def pim_peak(self) -> float:
        """Logic-PIM compute rate (OP/s): ``op_per_byte`` x the PIM bandwidth."""
        return self._pim().op_per_byte * self.pim_bandwidth

    def _pim(self) -> PimSpec:
        if self.pim is None:
            raise ValueError(f"device '{self.name}' (kind {self.kind}) has no pim section")
        return self.pim


def _check_tiers(memory: tuple[MemoryTier, ...]) -> Iterator[PydanticCustomError]:
    seen: set[str] = set()
    for index, tier in enumerate(memory):
        if tier.name in seen:
            yield rule_error(f"memory[{index}].name", tier.name,
                             "each tier name (sram, hbm, ddr, host) at most once")
        seen.add(tier.name)
    ranks = [TIER_ORDER.index(tier.name) for tier in memory]
    if ranks != sorted(ranks):
        order = [tier.name for tier in memory]
        yield rule_error("memory", order, "tiers listed fastest first, in the order sram, hbm, ddr, host")


def _check_kind_sections(device: Device) -> Iterator[PydanticCustomError]:
    for kind, rules in KIND_RULES.items():
        section = rules.section
        if section is None:
            continue
        present = getattr(device, section) is not None
        if present and device.kind != kind:
            yield rule_error(section, f"<{section} section>",
                             f"a '{section}' section only in a device of kind '{kind}' "
                             f"(this one is kind '{device.kind}')")
        if not present and device.kind == kind and rules.section_required:
            yield rule_error(section, "<missing>", f"a device of kind '{kind}' needs a '{section}' section")
    rules = KIND_RULES[device.kind]
    if rules.roofline:
        yield from _check_roofline_fields(device)
    for tier in rules.tiers:
        if not device.has_tier(tier):
            yield rule_error("memory", [t.name for t in device.memory],
                             f"a {device.kind} device needs an '{tier}' tier")
    if device.fpga is not None:
        yield from _check_fpga_peak(device, device.fpga)
    if device.energy is not None:
        yield from _check_energy(device, device.energy)


def _check_roofline_fields(device: Device) -> Iterator[PydanticCustomError]:
    """GPU, NPU and PIM devices feed the roofline model, which needs these fields."""
    scale_up = device.interconnect.scale_up
    for field, value in (("compute.units", device.compute.units), ("compute.tile", device.compute.tile),
                         ("efficiency", device.efficiency), ("interconnect.scale_up", scale_up)):
        if value is None:
            yield rule_error(field, "<missing>",
                             f"a device of kind '{device.kind}' needs '{field}' (the roofline uses it)")
    if scale_up is not None and scale_up.domain is None:
        yield rule_error("interconnect.scale_up.domain", "<missing>",
                         "the number of devices reachable over the scale-up link (an integer >= 1)")


def _check_energy(device: Device, energy: EnergySpec) -> Iterator[PydanticCustomError]:
    """Energy figures must name tiers and links the device has (``host`` memory needs a host link)."""
    tiers = [tier.name for tier in device.memory]
    for name in energy.memory:
        if name == "host":
            if device.interconnect.host is None:
                yield rule_error("energy.memory.host", name, "a 'host' memory energy only with an 'interconnect.host' link")
        elif name not in tiers:
            yield rule_error(f"energy.memory.{name}", name, f"a memory tier of this device: {', '.join(tiers)}")
    for link in energy.links:
        if getattr(device.interconnect, link) is None:
            present = [n for n in get_args(LinkName) if getattr(device.interconnect, n) is not None]
            yield rule_error(f"energy.links.{link}", link,
                             f"a link this device has under 'interconnect': {', '.join(present) or 'none'}")


def _check_fpga_peak(device: Device, fpga: FpgaSpec) -> Iterator[PydanticCustomError]:
    """An FPGA's int8 peak must equal DSPs x int8 MACs per DSP x 2 ops x kernel clock."""
    expected = fpga.dsp * fpga.int8_macs_per_dsp * 2 * fpga.clock
    actual = device.compute.peak.get("int8")
    if actual is None or not math.isclose(actual, expected, rel_tol=1e-3):
        yield rule_error("compute.peak.int8", actual,
                         f"dsp x int8_macs_per_dsp x 2 x clock = {expected / 1e12:.6g} TOPS for this fabric")


def leaf_paths(data: Mapping[str, Any], prefix: str = "") -> Iterator[tuple[str, Any]]:
    """Yield (dotted path, value) for every leaf of a device mapping (``sources`` excluded).

    Memory tiers are addressed by name (``memory.hbm.capacity``, the tier ``name`` itself is not
    a leaf); a list of scalars (the GEMM tile) is one leaf. Works on raw YAML mappings and on
    ``Device.model_dump()`` alike.
    """
    for key, value in data.items():
        if prefix == "" and key == "sources":
            continue
        path = f"{prefix}{key}"
        if isinstance(value, Mapping):
            yield from leaf_paths(value, f"{path}.")
        elif isinstance(value, (list, tuple)) and value and all(isinstance(v, Mapping) for v in value):
            for index, item in enumerate(value):
                label = item.get("name", f"[{index}]")
                yield from leaf_paths({k: v for k, v in item.items() if k != "name"}, f"{path}.{label}.")
        else:
            yield path, value


def numeric_leaves(data: Mapping[str, Any]) -> dict[str, Any]:
    """The leaves of a validated device dump that are numbers (or tuples of numbers)."""
    return {path: value for path, value in leaf_paths(data) if _is_numeric(value)}


def _is_numeric(value: object) -> bool:
    if isinstance(value, (list, tuple)):
        return bool(value) and all(_is_numeric(v) for v in value)
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def covering_source(path: str, sources: Mapping[str, str]) -> str | None:
    """The sources key that cites ``path``: the path itself or the longest dotted prefix of it."""
    parts = path.split(".")
    for end in range(len(parts), 0, -1):
        key = ".".join(parts[:end])
        if key in sources:
            return key
    return None


def _check_sources(device: Device) -> Iterator[PydanticCustomError]:
    dumped = device.model_dump(exclude_unset=True, exclude={"sources"})
    all_paths = [path for path, _ in leaf_paths(dumped)]
    for path, value in numeric_leaves(dumped).items():
        if covering_source(path, device.sources) is None:
            yield rule_error(path, value,
                             f"a citation: add '{path}' (or a prefix of it such as "
                             f"'{path.split('.')[0]}') under 'sources:'")
    for key in device.sources:
        if not any(p == key or p.startswith(key + ".") for p in all_paths):
            yield rule_error(f"sources.{key}", key, "a sources key equal to a field path or a prefix of one")
