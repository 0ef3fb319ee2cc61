"""What a per-domain evaluator adapter provides, and the settings it receives.

An adapter turns the settings of a batch of designs (workload, model knobs, device overrides) into
metrics, using the archmodel model of its domain. It declares:

* ``knobs``: the parameter names it understands beyond workload fields and ``device.<path>``
  overrides (``pe_rows``, ``tp``, ``hbm_stacks`` ...), each with the values it accepts;
* ``metrics``: every metric it returns, with its unit;
* ``precheck_metrics``: the cheap ones (resources, memory footprints) that :meth:`precheck`
  returns without running the performance model, so constraints on them reject a design before
  evaluation. ``precheck`` raises :class:`InvalidDesign` for a design that is not a valid
  configuration at all; it is rejected the same way.

``evaluate`` and ``precheck`` take a batch and return one entry per design: a metrics mapping or
the exception that design raised (one bad design never sinks its batch). Both are pure functions
of their inputs, so any backend, any chunking and any process gives the same numbers.
"""
from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar, Literal

from accelerators.catalog import load_device

from ..overrides import apply_device_overrides

if TYPE_CHECKING:
    from accelerators.schema import Device

Scalar = int | float | str | bool
Metrics = dict[str, float]
Outcome = Metrics | Exception


class InvalidDesign(ValueError):
    """Raised by ``precheck`` for a design that is not a valid configuration (``ep`` not dividing
    ``tp x dp``, a datatype the device lacks ...): the design is rejected as infeasible, unevaluated.
    ``metrics``: what is known of it all the same (a measured table's ``eval_cost_s``), kept on its row."""

    def __init__(self, message: str, metrics: Mapping[str, float] | None = None):
        super().__init__(message)
        self.metrics: dict[str, float] = dict(metrics or {})


@dataclass(frozen=True)
class Knob:
    """A model knob an adapter understands: its type and the values it accepts."""

    name: str
    doc: str
    kind: Literal["int", "float", "str"]
    choices: tuple[Scalar, ...] = ()
    minimum: float | None = None

    def check(self, value: object) -> str | None:
        """None when ``value`` is acceptable, else what is allowed."""
        if self.choices:
            return None if value in self.choices else f"one of {', '.join(map(str, self.choices))}"
        if self.kind == "int":
            ok = isinstance(value, int) and not isinstance(value, bool)
            allowed = "a whole number"
        elif self.kind == "float":
            ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
            allowed = "a number"
        else:
            ok = isinstance(value, str) and bool(value)
            allowed = "a non-empty string"
        if ok and self.minimum is not None and value < self.minimum:  # type: ignore[operator]
            ok = False
        if self.minimum is not None:
            allowed += f" >= {self.minimum:g}"
        return None if ok else allowed


@dataclass(frozen=True)
class WorkloadSpec:
    """The workload a design runs: a model, a phase and its shape.

    ``phase``: ``prefill`` (``batch`` sequences of ``context`` new tokens), ``decode`` (one new
    token for each of ``batch`` sequences with ``context`` tokens cached) or ``serve`` (a request
    batch of ``context`` input and ``output`` output tokens, as ``archmodel.serve``)."""

    model: str
    phase: Literal["prefill", "decode", "serve"] = "decode"
    batch: int = 1
    context: int = 2048
    output: int = 128


WORKLOAD_FIELDS: tuple[str, ...] = ("model", "phase", "batch", "context", "output")
PHASES: tuple[str, ...] = ("prefill", "decode", "serve")


@dataclass(frozen=True)
class Settings:
    """Everything one design fixes: the workload, knob values and raw device-field overrides."""

    workload: WorkloadSpec
    knobs: tuple[tuple[str, Scalar], ...] = ()
    device: tuple[tuple[str, Scalar], ...] = ()

    def knob(self, name: str, default: Any = None) -> Any:
        for key, value in self.knobs:
            if key == name:
                return value
        return default

    @property
    def knob_map(self) -> dict[str, Scalar]:
        return dict(self.knobs)


@dataclass(frozen=True)
class Context:
    """What an adapter needs beyond a design's settings: the space's base device and domain."""

    base_device: str
    domain: str
    options: tuple[tuple[str, Scalar], ...] = field(default=())


class Adapter(ABC):
    """A per-domain evaluator: settings of a batch of designs in, metrics (or errors) out."""

    domain: ClassVar[str]
    description: ClassVar[str]
    device_kinds: ClassVar[tuple[str, ...]]
    knobs: ClassVar[Mapping[str, Knob]]
    metrics: ClassVar[Mapping[str, str]]  # name -> unit and meaning
    precheck_metrics: ClassVar[tuple[str, ...]] = ()

    def precheck(self, context: Context, batch: Sequence[Settings]) -> list[Outcome]:
        """The cheap metrics (``precheck_metrics``) of each design; default: none."""
        return [{} for _ in batch]

    @abstractmethod
    def evaluate(self, context: Context, batch: Sequence[Settings]) -> list[Outcome]:
        """Every metric in ``metrics`` for each design, or the exception it raised."""

    def device(self, context: Context, settings: Settings) -> "Device":
        """The base device with the design's ``device.<path>`` overrides applied."""

        return apply_device_overrides(load_device(context.base_device), settings.device)


def guarded(fn, batch: Sequence[Settings]) -> list[Outcome]:
    """Apply ``fn`` to each design, recording an exception as that design's outcome."""
    results: list[Outcome] = []
    for settings in batch:
        try:
            results.append(fn(settings))
        except Exception as error:  # noqa: BLE001 - one failed design is a recorded row, not a crash
            results.append(error)
    return results
