"""Energy of a forward step and per output token, for any device model.

Energy is computed from what every device model already returns, a :class:`archmodel.step.Step`:
the operator costs (FLOPs, bytes by role, bytes sent over links) and the :class:`StepTimes`
labels (the unit and memory tier of each operator, the step latency). No device model carries
energy code of its own.

Per operator and device::

    E = FLOPs x e_op(unit class, dtype)                       # arithmetic
      + 8 x weight bytes x e_bit(weight tier)                  # memory traffic
      + 8 x (activation + KV bytes) x e_bit(activation tier)
      + 8 x bytes on the wire x e_bit(link) x link traversals  # collectives

and the step adds ``static_power x latency`` when the device file gives ``energy.static_power``
(static power is not modelled otherwise: no default is invented).

* **Unit class.** GEMM and attention operators run on the matrix unit (tensor cores, the Ascend
  cube, RDU PCUs, FPGA DSPs); elementwise and gather operators on the vector unit; collectives
  move bytes only. GEMMs use the precision's compute datatype, attention the KV cache's when it
  equals the activations' (else a 16-bit format), vector work the activations' datatype.
* **Tiers.** Weight bytes are charged at the operator's tier (``StepTimes.tiers``: main memory,
  ``sram``, ``ddr``, or ``host``: host DRAM plus the host link); activation and KV bytes at
  ``sram`` when the device model placed the operator on chip, else at main memory.
* **Links.** An all-reduce over ``tp`` devices puts ``2 (n-1)/n x`` its bytes on the wire, an
  all-to-all its bytes as counted by the table; the link is the scale-up link when the group fits
  its domain, else scale-out. Each byte crosses ``LINK_TRAVERSALS[topology]`` SerDes links
  (device -> switch -> device is two, a two-tier Clos or fat-tree four); switch cores are not counted.

Figures come from the device file's ``energy:`` section where it has them, field by field, and
otherwise from the defaults by device kind below; :attr:`EnergyFigures.defaulted` lists every
field that fell back, so reports can say so.

Defaults (every number with its source):

* Arithmetic, Horowitz, "Computing's energy problem", ISSCC 2014 (45 nm, 0.9 V): 8-bit integer
  multiply 0.2 pJ, 32-bit integer add 0.1 pJ, FP16 multiply 1.1 pJ / add 0.4 pJ, FP32 multiply
  3.7 pJ / add 0.9 pJ. A matrix-unit MAC is one multiply at the operand width plus one add at the
  accumulator width (FP32 for floating types, INT32 for integers) and counts as 2 operations;
  FP8 takes the 8-bit multiplier (Horowitz lists no FP8), BF16 the FP16 figures (conservative:
  its multiplier is narrower). A vector operation is the mean of one add and one multiply at the
  element width.
* Node scaling, a stated rule: classical C V^2 scaling, energy x (L / 45 nm) x (V / 0.9 V)^2,
  with L = 7 nm at 0.75 V for GPUs, NPUs, RDUs and PIM (A100, 910B/C are 7 nm-class; H100 and SN40L
  are 4-5 nm, so their defaults are high) and L = 16 nm at 0.85 V (UltraScale+ VCCINT) for FPGAs.
  Stillmaker and Baas (Integration 2017) show classical scaling can be far off in deep submicron
  nodes, and the figures leave out operand delivery (register files, caches), so the arithmetic
  term is a lower bound; put measured numbers in the device file where you have them.
* On-chip SRAM, Horowitz ISSCC 2014: 100 pJ per 64-bit read of a 1 MB array (1.56 pJ/bit at
  45 nm), node-scaled as above.
* HBM 3.9 pJ/bit: O'Connor et al. (NVIDIA), "Fine-Grained DRAM", MICRO 2017, HBM2.
* DDR 20 pJ/bit: Horowitz ISSCC 2014, DRAM 1.3-2.6 nJ per 64-bit access (low end). Host memory is
  DDR.
* Links 5.5 pJ/bit per SerDes traversal (NVLink, UB, HCCS, PCIe, Ethernet): NVIDIA's comparison of
  a long-reach SerDes with NVLink-C2C (1.3 pJ/bit), as reported in "Why Nvidia's NVLink C2C is
  redefining GPU-CPU interconnects" (besthub.dev). Optics on scale-out links are not counted.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Mapping

import numpy as np

from accelerators.errors import ConfigError

from .devices import device_kinds
from .parallel import Parallelism
from .precision import Precision

PJ = 1e-12

# Horowitz, ISSCC 2014, 45 nm at 0.9 V, picojoules.
HOROWITZ_45NM_PJ: Mapping[str, float] = MappingProxyType({
    "int8_mult": 0.2, "int32_add": 0.1, "fp16_mult": 1.1, "fp16_add": 0.4, "fp32_mult": 3.7, "fp32_add": 0.9,
    "sram_1mb_read_64b": 100.0,
})
_H = HOROWITZ_45NM_PJ

# Per MAC: multiply at the operand width + add at the accumulator width; 2 operations per MAC.
_MAC_45NM_PJ = {
    "int8": _H["int8_mult"] + _H["int32_add"],
    "int4": _H["int8_mult"] + _H["int32_add"],  # no 4-bit figure: the 8-bit multiplier bounds it
    "fp8": _H["int8_mult"] + _H["fp32_add"],
    "fp4": _H["int8_mult"] + _H["fp32_add"],  # no 4-bit figure: bounded by fp8's, as int4 by int8's
    "fp16": _H["fp16_mult"] + _H["fp32_add"],
    "bf16": _H["fp16_mult"] + _H["fp32_add"],
    "fp32": _H["fp32_mult"] + _H["fp32_add"],
}
# Per vector operation: mean of one add and one multiply at the element width.
_VECTOR_45NM_PJ = {
    "int8": (_H["int8_mult"] + _H["int32_add"]) / 2,
    "int4": (_H["int8_mult"] + _H["int32_add"]) / 2,
    "fp8": (_H["fp16_mult"] + _H["fp16_add"]) / 2,
    "fp16": (_H["fp16_mult"] + _H["fp16_add"]) / 2,
    "bf16": (_H["fp16_mult"] + _H["fp16_add"]) / 2,
    "fp32": (_H["fp32_mult"] + _H["fp32_add"]) / 2,
}

HBM_PJ_PER_BIT = 3.9
DDR_PJ_PER_BIT = 20.0
SERDES_PJ_PER_BIT = 5.5
LINK_TRAVERSALS: Mapping[str | None, int] = MappingProxyType({
    "point-to-point": 1, "full-mesh": 1, "ring": 1, "torus": 1, "mesh": 1,
    "switch": 2, "clos": 4, "fat-tree": 4, None: 1,
})
COLLECTIVE_KINDS = ("allreduce", "alltoall")
MATRIX_KINDS = ("gemm", "attention")


def node_scale(kind: str) -> float:
    """The C V^2 factor from Horowitz's 45 nm / 0.9 V to the kind's assumed node; a kind without an
    assumed node is an error (its defaults are not another kind's)."""
    kinds = device_kinds()  # each kind's node: its DeviceKind.energy_node
    if kind not in kinds:
        raise ConfigError(None, "kind", kind, "a device kind with energy defaults: " + ", ".join(sorted(kinds)))
    nm, volts = kinds[kind].energy_node
    return (nm / 45.0) * (volts / 0.9) ** 2


@dataclass(frozen=True)
class EnergyFigures:
    """Resolved figures for one device: joules per operation and per bit, static watts."""

    matrix: Mapping[str, float]  # J per operation, by dtype
    vector: Mapping[str, float]
    memory: Mapping[str, float]  # J per bit, by tier: sram, hbm, ddr, host
    links: Mapping[str, float]  # J per bit per SerDes traversal: scale_up, scale_out, host
    static_power: float  # W; 0 when the device file gives none (not modelled)
    defaulted: tuple[str, ...]  # fields that came from the defaults by kind

    def note(self) -> str:
        """One line for reports: where the figures came from."""
        if not self.defaulted:
            return "energy figures from the device file"
        return "defaults by device kind for: " + ", ".join(self.defaulted)


def default_figures(kind: str) -> dict[str, dict[str, float] | float]:
    """The documented defaults for a device ``kind`` (see the module docstring)."""
    scale = node_scale(kind)
    return {
        "matrix": {dt: mac / 2 * scale * PJ for dt, mac in _MAC_45NM_PJ.items()},
        "vector": {dt: op * scale * PJ for dt, op in _VECTOR_45NM_PJ.items()},
        "memory": {"sram": _H["sram_1mb_read_64b"] / 64 * scale * PJ, "hbm": HBM_PJ_PER_BIT * PJ,
                   "ddr": DDR_PJ_PER_BIT * PJ, "host": DDR_PJ_PER_BIT * PJ},
        "links": {name: SERDES_PJ_PER_BIT * PJ for name in ("scale_up", "scale_out", "host")},
    }


def energy_figures(device) -> EnergyFigures:
    """The device file's energy figures where given, the defaults by kind for the rest."""
    defaults = default_figures(device.kind)
    given = device.energy
    defaulted: list[str] = []
    resolved: dict[str, dict[str, float]] = {}
    for section in ("matrix", "vector", "memory", "links"):
        own = dict(getattr(given, section)) if given is not None else {}
        merged = dict(defaults[section])  # type: ignore[arg-type]
        merged.update(own)
        resolved[section] = merged
        relevant = _relevant_keys(device, section)
        defaulted += [f"{section}.{key}" for key in relevant if key not in own]
    static = given.static_power if given is not None and given.static_power is not None else 0.0
    if static == 0.0:
        defaulted.append("static_power (not modelled)")
    return EnergyFigures(**{k: MappingProxyType(v) for k, v in resolved.items()}, static_power=static,
                         defaulted=tuple(defaulted))


def _relevant_keys(device, section: str) -> list[str]:
    if section in ("matrix", "vector"):
        return list(device.compute.peak)
    if section == "memory":
        return [tier.name for tier in device.memory] + (["host"] if device.interconnect.host else [])
    return [name for name in ("scale_up", "scale_out", "host") if getattr(device.interconnect, name) is not None]


def attention_dtype(precision: Precision) -> str:
    """Datatype of the attention products: the KV cache's when it equals the activations', else a
    16-bit format (a product of two widths is computed at the wider)."""
    return precision.kv if precision.kv == precision.activations else "bf16"


def _lookup(table: Mapping[str, float], dtype: str) -> float:
    if dtype in table:
        return table[dtype]
    return table["bf16"] if "bf16" in table else max(table.values())


def collective_link(device, group: int) -> tuple[str, str | None]:
    """(link name, topology) a collective over ``group`` devices runs on: scale-up when it fits."""
    up, out = device.interconnect.scale_up, device.interconnect.scale_out
    if up is not None and group <= (up.domain or 1):
        return "scale_up", up.topology
    if out is not None:
        return "scale_out", out.topology
    if up is not None:
        return "scale_up", up.topology
    return "scale_up", None


@dataclass(frozen=True)
class StepEnergy:
    """Energy of one forward step on one device. Per-operator arrays are ``(n_ops, *points)`` per
    instance (multiply by ``count`` for the step), like the costs they come from."""

    names: tuple[str, ...]
    count: np.ndarray
    compute: np.ndarray
    memory: np.ndarray
    link: np.ndarray
    latency: np.ndarray
    figures: EnergyFigures = field(repr=False)

    def _total(self, per_op: np.ndarray) -> np.ndarray:
        return np.tensordot(self.count, per_op, axes=1)

    @property
    def compute_j(self) -> np.ndarray:
        return self._total(self.compute)

    @property
    def memory_j(self) -> np.ndarray:
        return self._total(self.memory)

    @property
    def link_j(self) -> np.ndarray:
        return self._total(self.link)

    @property
    def static_j(self) -> np.ndarray:
        return self.figures.static_power * np.asarray(self.latency, dtype=float)

    @property
    def dynamic_j(self) -> np.ndarray:
        return self.compute_j + self.memory_j + self.link_j

    @property
    def total_j(self) -> np.ndarray:
        return self.dynamic_j + self.static_j

    def by_op(self) -> np.ndarray:
        """Joules of each operator over the step (instances x count)."""
        per = self.compute + self.memory + self.link
        return self.count.reshape((-1,) + (1,) * (per.ndim - 1)) * per

    def breakdown(self) -> dict[str, float]:
        """Scalar totals over all design points (J): compute, memory, link, static, total."""
        return {key: float(np.sum(getattr(self, f"{key}_j"))) for key in
                ("compute", "memory", "link", "static", "total")}


def step_energy(step, device, precision: Precision = Precision(), parallel: Parallelism = Parallelism()) -> StepEnergy:
    """Energy of ``step`` (any device model's :class:`~archmodel.step.Step`) on one device."""
    costs, times = step.costs, step.times
    fig = energy_figures(device)
    main = device.main_memory.name
    v = costs.values
    shape = v["flops"].shape
    compute = np.zeros(shape)
    memory = np.zeros(shape)
    link = np.zeros(shape)
    act = v["act_in"] + v["act_out"] + v["kv_read"] + v["kv_write"]
    for i, kind in enumerate(costs.kinds):
        unit, tier = times.units[i], times.tiers[i]
        if kind in COLLECTIVE_KINDS or unit == "link":
            group = parallel.tp if kind == "allreduce" else parallel.ep
            name, topology = collective_link(device, group)
            wire = 2.0 * (group - 1) / group if kind == "allreduce" else 1.0
            link[i] = 8.0 * v["comm"][i] * wire * fig.links[name] * LINK_TRAVERSALS.get(topology, 1)
            continue
        if kind in MATRIX_KINDS:
            dtype = precision.compute_dtype if kind == "gemm" else attention_dtype(precision)
            compute[i] = v["flops"][i] * _lookup(fig.matrix, dtype)
        else:
            compute[i] = v["flops"][i] * _lookup(fig.vector, precision.activations)
        memory[i] = 8.0 * (v["weights"][i] * _bit_energy(fig, tier, main)
                           + act[i] * _bit_energy(fig, "sram" if tier == "sram" else main, main))
    return StepEnergy(names=costs.names, count=costs.count, compute=compute, memory=memory, link=link,
                      latency=np.asarray(step.latency, dtype=float), figures=fig)


def _bit_energy(fig: EnergyFigures, tier: str, main: str) -> float:
    """J per bit of a tier; ``host`` is host DRAM plus one host-link traversal."""
    if tier == "host":
        return fig.memory["host"] + fig.links["host"]
    return fig.memory.get(tier, fig.memory[main])
