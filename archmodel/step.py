"""One forward step of a workload on a device: the operator table evaluated and timed.

This is the facade the CLI, the serving estimate and the sweeps call. It picks the device model
by the device's ``kind`` from :data:`DEVICE_MODELS` (the kind packages of ``archmodel/devices/``).
"""
from __future__ import annotations

import numpy as np

from types import MappingProxyType

from .devices import device_kind, device_kinds
from .parallel import Parallelism
from .precision import Precision
from .routing import Routing
from .step_base import (Step, check_model_split, compiled_model, kv_bytes_per_sequence, kv_bytes_per_token,
                        operator_table, stored_weight_bytes, timed_step, touched_experts)
from .workload import ModelConfig

__all__ = ["DEVICE_MODELS", "Step", "device_model", "kv_bytes_per_sequence", "kv_bytes_per_token", "model_step",
           "operator_table", "step_latency", "stored_weight_bytes", "touched_experts"]

# Device kind -> model class (constructed from an OperatorTable; interface in RooflineModel's
# docstring), from the kind packages of archmodel/devices/ (archmodel.devices.device_kinds).
DEVICE_MODELS = MappingProxyType({name: kind.model for name, kind in device_kinds().items()})


def device_model(model: ModelConfig, kind: str, pp: int = 1):
    """The compiled device model of ``kind`` for ``model``'s operator table (cached)."""
    return compiled_model(device_kind(kind).model, model, pp)


def model_step(model: ModelConfig, device, *, b, s, c, precision: Precision = Precision(),
               parallel: Parallelism = Parallelism(), routing: Routing = Routing(),
               weight_tier: str | None = None) -> Step:
    """Time one forward step: ``b`` sequences per tensor-parallel group, ``s`` new tokens each,
    ``c`` tokens cached. Arrays broadcast; per-operator results keep the operator axis first."""
    return timed_step(model, device, device_model(model, device.kind, parallel.pp), b=b, s=s, c=c,
                      precision=precision, parallel=parallel, routing=routing, weight_tier=weight_tier)


def step_latency(model: ModelConfig, device, *, b, s, c, precision: Precision = Precision(),
                 parallel: Parallelism = Parallelism(), weight_tier: str | None = None) -> np.ndarray:
    """Seconds per forward step for arrays of design points, without per-operator arrays (sweeps)."""
    table = operator_table(model, parallel.pp)
    dm = device_model(model, device.kind, parallel.pp)
    check_model_split(model, parallel, dm)
    tier = weight_tier or device.main_memory.name
    args = table.step_inputs(b=b, s=s, c=c, wB=precision.weight_bytes, aB=precision.activation_bytes,
                             kvB=precision.kv_bytes, tp=parallel.tp, ep=parallel.ep)
    return dm.step_total(args, dm.device_args(device, precision, parallel, tier))
