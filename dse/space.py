"""Design spaces: a YAML file of parameters, constraints and objectives over a base device.

```yaml
name: fpga-moe-kernel
workload: {model: mixtral-8x7b, phase: decode, batch: 32, context: 2048}
base_device: alveo-u280          # catalog name or a .yaml path (relative to this file)
domain: fpga-kernel              # optional: the evaluator adapter; default from the device kind
parameters:
  - {name: pe_rows, values: [4, 8, 16, 32], agent: compute}
  - {name: buffer_kib, range: {min: 64, max: 4096, log2_step: 1}, agent: memory}
  - {name: hbm_gb, target: device.memory.hbm.capacity, values: ["8 GB", "16 GB"], agent: memory}
fixed: {dtype: int8}             # optional: knob/workload values every design shares
constraints: ["dsp <= 9024"]
objectives: [{metric: latency_s, goal: min}, {metric: energy_j, goal: min}]
evaluator: archmodel
```

A parameter maps onto a workload field (``model phase batch context output``), a knob of the
domain's adapter, or a device field (``target: device.<path>``; see ``dse.overrides``). Without a
``target`` the name decides, in that order. Numeric values are sorted ascending (agents treat
them as ordinal); ``range`` expands ``min * 2**(log2_step*i)`` or ``min + step*i`` up to ``max``.
A design is a tuple of value indices, one per parameter, in file order.

A space with ``evaluator: table`` has no workload, base device or domain: its designs and
metrics come from a file of measured points (``table: {path, format}``; see :mod:`dse.measured`
and :mod:`dse.measured.section`), its parameters are the file's configuration keys.

A space with ``evaluator: rtl`` (``fpga-kernel`` domain) is a model space whose most promising
designs are also measured as generated kernels in an RTL simulator and Yosys; its optional
``rtl:`` section sizes the simulated kernel and the screen (:mod:`dse.rtl`).

Everything is checked on load (:mod:`dse.space_file`: ``load_space``, ``parse_space``); every
problem of a file is reported in one ConfigError, each naming the file, the field, the value and
what is allowed.
"""
from __future__ import annotations

import hashlib
import json
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from functools import cached_property
from typing import Any, Final, Literal

from .constraints import Constraint
from .evaluators.base import WORKLOAD_FIELDS, Context, Scalar, Settings, WorkloadSpec
from .measured.table import TableSource
from .rtl.settings import RtlSettings

Design = tuple[int, ...]

NAME_RE: Final = re.compile(r"^[a-z0-9]+(-[a-z0-9]+)*$")
IDENT_RE: Final = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
TOP_KEYS: Final = ("name", "description", "workload", "base_device", "domain", "parameters", "fixed",
                   "constraints", "objectives", "evaluator", "table", "rtl")
PARAM_KEYS: Final = ("name", "values", "range", "agent", "target")
EVALUATORS: Final = ("archmodel", "table", "rtl")
MAX_VALUES: Final = 10_000
DEFAULT_GROUP: Final = "default"


@dataclass(frozen=True)
class Parameter:
    """One axis of the space. ``target`` is ``workload``, ``knob``, ``device`` or ``table``; ``path``
    is the workload field, knob name, dotted device path or table configuration key it sets."""

    name: str
    values: tuple[Scalar, ...]
    agent: str
    target: Literal["workload", "knob", "device", "table"]
    path: str

    @property
    def ordinal(self) -> bool:
        """All values numeric (sorted ascending): neighbours in index are neighbours in value."""
        return all(is_number(v) for v in self.values)

    @property
    def size(self) -> int:
        return len(self.values)


@dataclass(frozen=True)
class Objective:
    metric: str
    goal: Literal["min", "max"]

    @property
    def sign(self) -> float:
        """Multiplier that turns the metric into a quantity to minimise."""
        return 1.0 if self.goal == "min" else -1.0


@dataclass(frozen=True)
class Space:
    """A validated design space. Frozen and picklable: workers of every backend receive it.

    A table space (``evaluator == "table"``) has ``table`` set and no ``workload`` or
    ``base_device``; its ``domain`` is ``table``."""

    name: str
    description: str
    workload: WorkloadSpec | None
    base_device: str | None
    domain: str
    evaluator: str
    parameters: tuple[Parameter, ...]
    fixed: tuple[tuple[str, Scalar], ...]
    constraints: tuple[Constraint, ...]
    objectives: tuple[Objective, ...]
    source: str = "<space>"
    table: TableSource | None = None
    rtl: RtlSettings | None = None  # evaluator: rtl (:mod:`dse.rtl`)

    # --- shape -------------------------------------------------------------------------------
    @property
    def cardinalities(self) -> tuple[int, ...]:
        """Values per parameter: the ``MultiDiscrete`` shape of an RL action."""
        return tuple(p.size for p in self.parameters)

    @property
    def size(self) -> int:
        return math.prod(self.cardinalities)

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(p.name for p in self.parameters)

    @cached_property
    def groups(self) -> dict[str, tuple[int, ...]]:
        """``agent:`` group -> positions of its parameters, groups in order of first appearance."""
        out: dict[str, list[int]] = {}
        for i, p in enumerate(self.parameters):
            out.setdefault(p.agent, []).append(i)
        return {k: tuple(v) for k, v in out.items()}

    @property
    def context(self) -> Context:
        if self.base_device is None:
            raise ValueError(f"space {self.name} is evaluated from a table: it has no base device")
        return Context(base_device=self.base_device, domain=self.domain)

    @cached_property
    def fingerprint(self) -> str:
        """Hash of everything that decides a design's metrics (not the name or description); for a
        table space, the table file's contents (its digest), format and declared columns."""
        data: dict[str, object] = {
            "workload": self.workload.__dict__ if self.workload else None, "base_device": self.base_device,
            "domain": self.domain, "evaluator": self.evaluator, "fixed": self.fixed,
            "parameters": [(p.name, p.values, p.target, p.path) for p in self.parameters]}
        if self.rtl is not None:
            data["rtl"] = self.rtl.fingerprint()
        if self.table is not None:
            data["table"] = [self.table.digest, self.table.format, self.table.parameters, self.table.metrics]
        return hashlib.sha256(json.dumps(data, sort_keys=True, default=str).encode()).hexdigest()[:16]

    # --- designs -----------------------------------------------------------------------------
    def check(self, design: Sequence[int]) -> Design:
        """``design`` as a tuple of ints, or ValueError if it is not a point of this space."""
        if len(design) != len(self.parameters):
            raise ValueError(f"a design of {self.name} has {len(self.parameters)} indices, got {len(design)}")
        out = tuple(int(i) for i in design)
        for i, (index, p) in enumerate(zip(out, self.parameters)):
            if not 0 <= index < p.size:
                raise ValueError(f"index {index} of parameter {i} ({p.name}) is outside 0..{p.size - 1}")
        return out

    def values_of(self, design: Sequence[int]) -> dict[str, Scalar]:
        """Parameter name -> value of ``design``."""
        return {p.name: p.values[i] for p, i in zip(self.parameters, self.check(design))}

    def design_of(self, values: Mapping[str, Scalar]) -> Design:
        """The design whose parameter values are ``values`` (inverse of :meth:`values_of`)."""
        out = []
        for p in self.parameters:
            if p.name not in values:
                raise ValueError(f"no value for parameter {p.name!r}")
            try:
                out.append(p.values.index(values[p.name]))
            except ValueError:
                raise ValueError(f"{values[p.name]!r} is not a value of {p.name!r}: {p.values}") from None
        return tuple(out)

    def key(self, design: Sequence[int]) -> str:
        """Canonical text of a design (JSON of its values): the cache and store key."""
        return json.dumps(self.values_of(design), sort_keys=True, separators=(",", ":"))

    def design_at(self, index: int) -> Design:
        """The ``index``-th design in mixed-radix order (last parameter fastest)."""
        if not 0 <= index < self.size:
            raise ValueError(f"design index {index} outside 0..{self.size - 1}")
        out = []
        for n in reversed(self.cardinalities):
            index, r = divmod(index, n)
            out.append(r)
        return tuple(reversed(out))

    def index_of(self, design: Sequence[int]) -> int:
        index = 0
        for i, n in zip(self.check(design), self.cardinalities):
            index = index * n + i
        return index

    def settings(self, design: Sequence[int]) -> Settings:
        """What ``design`` fixes, split by target, with ``fixed`` values underneath (model spaces only:
        a table space's designs are looked up by :meth:`values_of`)."""
        if self.workload is None:
            raise ValueError(f"space {self.name} is evaluated from a table: it has no workload or settings")
        workload: dict[str, Any] = {}
        knobs: dict[str, Scalar] = {}
        device: list[tuple[str, Scalar]] = []
        for name, value in self.fixed:
            target, path = _fixed_target(name)
            (workload if target == "workload" else knobs)[path] = value
        for p, i in zip(self.parameters, self.check(design)):
            value = p.values[i]
            if p.target == "workload":
                workload[p.path] = value
            elif p.target == "knob":
                knobs[p.path] = value
            else:
                device.append((p.path, value))
        return Settings(workload=replace(self.workload, **workload), knobs=tuple(sorted(knobs.items())),
                        device=tuple(device))

    def numeric_values(self, design: Sequence[int]) -> dict[str, float]:
        """Numeric parameter and fixed values of ``design`` (what constraints may name)."""
        out = {name: float(v) for name, v in self.fixed if is_number(v)}
        out.update({k: float(v) for k, v in self.values_of(design).items() if is_number(v)})
        return out


def is_number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _fixed_target(name: str) -> tuple[str, str]:
    return ("workload", name) if name in WORKLOAD_FIELDS else ("knob", name)


def pre_constraints(space: Space, precheck_metrics: Sequence[str]) -> tuple[Constraint, ...]:
    """Constraints decidable before evaluation: they name only parameters, fixed values and
    the adapter's cheap ``precheck_metrics``."""
    known = set(space.names) | {k for k, _ in space.fixed} | set(precheck_metrics)
    return tuple(c for c in space.constraints if c.names <= known)
