"""Pydantic models of a device file (frozen, ``extra="forbid"``); quantities are SI floats.

Every figure is per chip (one GPU, one NPU package, one RDU socket, one FPGA card); ``chips``
says how many chips act as one system. Cross-field rules (tier order, kind-specific sections,
every numeric field cited in ``sources``) raise pydantic custom errors whose context carries
the dotted ``field`` path, so the catalog can report them as one ConfigError.
"""
from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Annotated, Any, TypeVar, get_args

from pydantic import BaseModel, Field, create_model, field_validator, model_validator
from pydantic_core import PydanticCustomError

from accelerators.errors import ConfigError
from accelerators.fields import (DTYPES, TIER_ORDER, Bandwidth, Compute, Count, Dtype, EnergyPerBit, EnergyPerOp,
                                 Fraction, Frozen, LinkName, Power, Size, Time, TimeOrZero, TierName, Topology,
                                 rule_error)
from accelerators.kinds import KindSchema, kind_names, kind_schemas

__all__ = ["DTYPES", "TIER_ORDER", "ComputeSpec", "Device", "Efficiency", "EnergySpec", "Interconnect", "KindSchema",
           "Link", "MemoryTier", "PowerSpec", "covering_source", "kind_names", "kind_schemas", "leaf_paths",
           "numeric_leaves", "rule_error"]

S = TypeVar("S", bound=BaseModel)


class ComputeSpec(Frozen):
    """Dense peak rates per dtype, the non-matrix unit, the unit count and the GEMM tile."""

    peak: dict[Dtype, Compute] = Field(min_length=1)
    vector: Compute | None = None
    units: Count | None = None
    tile: tuple[Count, Count] | None = None


class MemoryTier(Frozen):
    """One level of the memory hierarchy; bandwidths per chip, latency when published."""

    name: TierName
    capacity: Size
    read_bandwidth: Bandwidth
    write_bandwidth: Bandwidth
    latency: Time | None = None


class Link(Frozen):
    """A link; ``bandwidth`` is per device and per direction, ``domain`` devices reachable."""

    name: str = Field(min_length=1)
    bandwidth: Bandwidth
    latency: Time | None = None
    topology: Topology | None = None
    domain: Count | None = None


class Interconnect(Frozen):
    scale_up: Link | None = None
    scale_out: Link | None = None
    host: Link | None = None


class Efficiency(Frozen):
    """What real kernels sustain, measured by microbenchmarks of the device's software stack."""

    matmul: Fraction
    memory: Fraction
    kernel_overhead: TimeOrZero
    #: what a large GEMM sustains at a datatype whose measured fraction differs from ``matmul``
    matmul_by_dtype: dict[Dtype, Fraction] = {}

    def matmul_at(self, dtype: str) -> float:
        """The fraction of the ``dtype`` peak a large GEMM sustains (``matmul`` unless listed)."""
        return self.matmul_by_dtype.get(dtype, self.matmul)  # type: ignore[call-overload]


class PowerSpec(Frozen):
    tdp: Power


class EnergySpec(Frozen):
    """Optional energy figures (every field optional; ``archmodel.energy`` falls back per field to
    documented defaults by device kind): energy per operation by datatype for the matrix and vector
    units, per bit moved by memory tier and by link (one traversal of that link), and static power."""

    matrix: dict[Dtype, EnergyPerOp] = {}
    vector: dict[Dtype, EnergyPerOp] = {}
    memory: dict[TierName, EnergyPerBit] = {}
    links: dict[LinkName, EnergyPerBit] = {}
    static_power: Power | None = None


class DeviceBase(Frozen):
    """One device file after validation. All rates and sizes are per chip, in SI units.

    ``Device`` is this model plus one optional field per kind section (``rdu``, ``pim``, ``fpga``,
    ``npu``: the ``section`` of each :mod:`accelerators.kinds` module); read a section with
    :meth:`section` / :meth:`require_section`."""

    name: Annotated[str, Field(pattern=r"^[a-z0-9]+(-[a-z0-9]+)*$")]
    kind: str
    extends: str | None = None
    vendor: str = Field(min_length=1)
    description: str = Field(min_length=1)
    chips: Count = 1
    compute: ComputeSpec
    memory: tuple[MemoryTier, ...] = Field(min_length=1)
    interconnect: Interconnect = Interconnect()
    efficiency: Efficiency | None = None
    power: PowerSpec | None = None
    energy: EnergySpec | None = None
    sources: dict[str, Annotated[str, Field(min_length=1)]] = Field(min_length=1)

    @field_validator("kind")
    @classmethod
    def _known_kind(cls, kind: str) -> str:
        names = kind_names()
        if kind not in names:
            quoted = [repr(n) for n in names]
            expected = ", ".join(quoted[:-1]) + f" or {quoted[-1]}" if len(quoted) > 1 else quoted[0]
            raise PydanticCustomError("literal_error", "Input should be {expected}", {"expected": expected})
        return kind

    @model_validator(mode="after")
    def _check_rules(self) -> DeviceBase:
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
            raise ConfigError(None, "dtype", dtype, f"a compute datatype of device '{self.name}' "
                              f"(available: {available}); nvfp4 computes at fp4, int4 and mxfp4 at the activations' datatype") from None

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

    def section(self, model: type[S]) -> S | None:
        """The device's own kind section if it is a ``model`` (``device.section(FpgaSpec)``), else ``None``."""
        value = getattr(self, self.kind, None)
        return value if isinstance(value, model) else None

    def require_section(self, model: type[S]) -> S:
        """:meth:`section`, or a ValueError naming the device, its kind and the missing section."""
        value = self.section(model)
        if value is None:
            raise ValueError(f"device '{self.name}' (kind {self.kind}) has no {model.__name__} section")
        return value


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
    for kind, schema in kind_schemas().items():
        if schema.section is None:
            continue
        present = getattr(device, kind) is not None
        if present and device.kind != kind:
            yield rule_error(kind, f"<{kind} section>",
                             f"a '{kind}' section only in a device of kind '{kind}' "
                             f"(this one is kind '{device.kind}')")
        if not present and device.kind == kind and schema.section_required:
            yield rule_error(kind, "<missing>", f"a device of kind '{kind}' needs a '{kind}' section")
    own = kind_schemas()[device.kind]
    if own.roofline:
        yield from _check_roofline_fields(device)
    for tier in own.tiers:
        if not device.has_tier(tier):
            yield rule_error("memory", [t.name for t in device.memory],
                             f"a {device.kind} device needs an '{tier}' tier")
    section = device.section(own.section) if own.section is not None else None
    if section is not None:
        for check in own.checks:
            yield from check(device, section)
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


def _device_model() -> type[DeviceBase]:
    sections: dict[str, Any] = {name: (schema.section | None, None)
                                for name, schema in kind_schemas().items() if schema.section is not None}
    return create_model("Device", __base__=DeviceBase, __module__=__name__, **sections)


if TYPE_CHECKING:
    Device = DeviceBase
else:
    Device = _device_model()
