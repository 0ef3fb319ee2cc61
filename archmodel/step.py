"""One forward step of a workload on a device: the operator table evaluated and timed.

This is the facade the CLI, the serving estimate and the sweeps call. It picks the device model
by the device's ``kind`` from :data:`DEVICE_MODELS`.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from .devices.gpu import BOUND_NAMES, RooflineModel, StepTimes, weights_tier
from .devices.rdu import RDUModel
from .devices.pim import PIMModel
from .devices.npu import NPUModel
from .fpga.device_model import FPGAModel
from .optable import OperatorTable, OpCosts
from .parallel import Parallelism
from .precision import Precision
from .routing import Routing, experts_touched
from .workload import ModelConfig

# Device kind -> model class (constructed from an OperatorTable; interface in RooflineModel's
# docstring). NPUs (Ascend) reuse the roofline's expressions and add cube/vector units and dies.
DEVICE_MODELS: dict[str, type] = {"gpu": RooflineModel, "npu": NPUModel, "pim": PIMModel, "rdu": RDUModel, "fpga": FPGAModel}


@lru_cache(maxsize=64)
def operator_table(model: ModelConfig, pp: int = 1) -> OperatorTable:
    return OperatorTable(model, pp)


@lru_cache(maxsize=64)
def device_model(model: ModelConfig, kind: str, pp: int = 1):
    try:
        cls = DEVICE_MODELS[kind]
    except KeyError:
        raise ValueError(f"no device model for kind {kind!r}; models exist for: {', '.join(sorted(DEVICE_MODELS))}") from None
    return cls(operator_table(model, pp))


def stored_weight_bytes(model: ModelConfig, precision: Precision, parallel: Parallelism) -> float:
    """Weight bytes one device stores: every GEMM's weights with all local experts, plus the
    embedding tables (vocab-parallel over tp; a tied embedding is the lm_head's weights, counted
    once); layers divided over pipeline stages. Norms and biases (< 0.5%) are left out."""
    table = operator_table(model, parallel.pp)
    ep = parallel.ep
    all_local = (model.moe.num_experts / ep) if model.moe else 1.0
    costs = table.evaluate(b=1, s=1, c=0, wB=precision.weight_bytes, tp=parallel.tp, ep=ep, u=all_local)
    gemm = np.array([kind == "gemm" for kind in costs.kinds])
    weights = float((costs.count * costs.weights * gemm).sum())
    tables = model.embedding_params() - (model.vocab_size * model.hidden_size if model.tie_word_embeddings else 0)
    embedding = tables * precision.weight_bytes / parallel.tp
    return weights + embedding


def kv_bytes_per_token(model: ModelConfig, precision: Precision, parallel: Parallelism) -> float:
    """KV-cache bytes one device stores per token of one sequence (its heads, its layers)."""
    costs = operator_table(model, parallel.pp).evaluate(b=1, s=1, c=0, kvB=precision.kv_bytes, tp=parallel.tp,
                                                        ep=parallel.ep)
    return float((costs.count * costs.kv_write).sum())


@dataclass(frozen=True)
class Step:
    """A timed forward step: per-operator costs and times, and the step total."""

    times: StepTimes
    weight_tier: str

    @property
    def costs(self) -> OpCosts:
        return self.times.costs

    @property
    def latency(self) -> np.ndarray:
        return self.times.total

    def bottleneck(self) -> str:
        by = self.times.time_by_bound()
        return BOUND_NAMES[int(by.reshape(len(BOUND_NAMES), -1).sum(axis=1).argmax())]


def _touched(model: ModelConfig, b, s, parallel: Parallelism, routing: Routing):
    if model.moe is None or routing.kind == "uniform":
        return None  # the table's own uniform expression
    eg = max(1.0, parallel.ep / parallel.tp)
    return experts_touched(np.asarray(b, float) * np.asarray(s, float) * eg, model.moe.num_experts,
                           model.moe.top_k, routing) / parallel.ep


def model_step(model: ModelConfig, device, *, b, s, c, precision: Precision = Precision(),
               parallel: Parallelism = Parallelism(), routing: Routing = Routing(),
               weight_tier: str | None = None) -> Step:
    """Time one forward step: ``b`` sequences per tensor-parallel group, ``s`` new tokens each,
    ``c`` tokens cached. Arrays broadcast; per-operator results keep the operator axis first."""
    table = operator_table(model, parallel.pp)
    dm = device_model(model, device.kind, parallel.pp)
    tier = weight_tier or weights_tier(device, stored_weight_bytes(model, precision, parallel))
    args = table.step_inputs(b=b, s=s, c=c, wB=precision.weight_bytes, aB=precision.activation_bytes,
                             kvB=precision.kv_bytes, tp=parallel.tp, ep=parallel.ep,
                             u=_touched(model, b, s, parallel, routing))
    costs = table.evaluate(b=b, s=s, c=c, wB=precision.weight_bytes, aB=precision.activation_bytes,
                           kvB=precision.kv_bytes, tp=parallel.tp, ep=parallel.ep, u=args[-1])
    dev = dm.device_args(device, precision, parallel, tier)
    return Step(dm.step_times(costs, args, dev, tier, device.main_memory.name), tier)


def step_latency(model: ModelConfig, device, *, b, s, c, precision: Precision = Precision(),
                 parallel: Parallelism = Parallelism(), weight_tier: str | None = None) -> np.ndarray:
    """Seconds per forward step for arrays of design points, without per-operator arrays (sweeps)."""
    table = operator_table(model, parallel.pp)
    dm = device_model(model, device.kind, parallel.pp)
    tier = weight_tier or device.main_memory.name
    args = table.step_inputs(b=b, s=s, c=c, wB=precision.weight_bytes, aB=precision.activation_bytes,
                             kvB=precision.kv_bytes, tp=parallel.tp, ep=parallel.ep)
    return dm.step_total(args, dm.device_args(device, precision, parallel, tier))
