"""Ascend NPU model (910B, 910C, CloudMatrix384): cube and vector units, dies, UB expert parallelism.

The GPU roofline with size-dependent efficiency (:mod:`archmodel.devices.gpu`) is reused where it
applies: the cube's GEMM time is its expression (``flops / (P_m x wave efficiency)`` over the AI
cube cores and the cube's 16 x 16 fractal), the all-reduce is its ring expression, memory time is
bytes over the achievable bandwidth, ``efficiency.kernel_overhead`` is charged per cube kernel and
per collective. What differs on an Ascend NPU:

* **Cube vs vector.** GEMMs and attention run on the AI cube cores (unit ``cube``); everything
  else (norms, activations, the routing combine, the embedding gather) on the AI vector cores
  (unit ``vector``). The vector rate is the device file's ``compute.vector`` when given, else
  ``vector cores x 128 FP16 lanes x clock``: the Da Vinci vector unit is 2048 bits wide and the
  cube does 16 x 16 x 16 = 4,096 FP16 MACs a cycle (Huawei, Hot Chips 31, 2019), so the clock is
  ``FP16 peak / (cube cores x 8,192)`` (1.91 GHz for the 910C) and a 910C package's 96 vector
  cores give 23.5 TOP/s. Without ``npu.vector_cores`` two vector cores per cube core are taken
  (the 910C die's 24 AIC + 48 AIV, Zuo et al. 2025).
* **Attention on the cube** runs at the MLA kernel's measured compute utilisation, 65.4 % of peak
  (Zuo et al., arXiv 2506.12708, Sec. 5 operator benchmarks; FlashMLA on H800 reaches 66.7 %),
  at the attention datatype (:func:`archmodel.energy.attention_dtype`), instead of the GEMM
  efficiency.
* **A 910C package is one device of ``npu.dies`` dies** (two). Every figure of the catalog is per
  package (752 TFLOPS, 128 GB, 3.2 TB/s, 392 GB/s UB), and so is every result (tokens/s per NPU as
  the CloudMatrix384 paper reports them); the dies enter as mechanisms, not as separate devices:

  - each die has its own HBM and runs its own share of the sequences (data-parallel attention and
    dense layers, CloudMatrix-Infer's per-die DP), so the non-expert weights are held and streamed
    once *per die*: their weight bytes count ``dies`` times (in memory time, in the step's costs and
    so in energy, and in :func:`npu_weight_bytes`). No traffic crosses the on-package link for
    them (no die-to-die bandwidth is published; a tensor-parallel split of the dies is not modelled);
  - an expert lives on one die: a package whose ``u`` touched experts are fewer than its dies, or
    do not divide evenly, leaves die time unused, ``occupancy = u / (dies x ceil(u / dies))`` (u
    at least 1), and its expert GEMMs take ``1 / occupancy`` longer than the package peak allows;
  - tokens sent to the sibling die's expert stay on the package: the all-to-all's
    ``(ep - 1) / ep`` share that leaves the package counts ``ep`` in packages.
* **Dispatch and combine over UB.** The MoE all-to-all crosses the scale-up link (UB on
  CloudMatrix384: 392 GB/s per NPU per direction, 1 us; Zuo et al. Sec. 3) as
  ``bytes / bandwidth + latency`` plus one kernel launch. FusedDispatch quantises tokens to INT8
  before sending, FusedCombine returns BF16 expert outputs (Zuo et al. Sec. 4), so with INT8
  activations the combine carries ``max(aB, 2) / aB`` times the dispatch bytes.
* **Large expert parallelism** (:class:`ExpertLayout`): one expert per die over ``ep x dies`` dies
  (EP320 on 160 CloudMatrix384 NPUs for DeepSeek-V3: 256 routed experts, 32 redundant copies of
  hot experts, 32 dies holding the shared expert). With redundant experts balancing the load
  (perfect EPLB), each routed die processes ``T k / (E + R)`` tokens and each shared-expert die
  ``T / S`` (``T`` tokens in the EP group); the MoE layer waits for the busier die type. Without a
  layout (the default of :func:`archmodel.step.model_step`) the shared experts are replicated and
  run on every die for its own tokens, and routed experts follow the operator table's routing.
* **INT8 weights** (``--dtype int8``, W8A8) halve the weight bytes against BF16 and run the cube at
  its INT8 rate (twice FP16); the datatype comes from :class:`~archmodel.precision.Precision`.

Prefill/decode disaggregation (:func:`serve_disaggregated`): separate prefill and decode pools of
packages; TTFT and prefill tokens/s come from the prefill pool, TPOT and decode tokens/s from the
decode pool, with optional multi-token prediction (:class:`Speculation`).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, replace
from functools import lru_cache

import numpy as np
import sympy as sp

from accelerators.errors import ConfigError
from accelerators.kinds.npu import NpuSpec

from ...energy import attention_dtype, step_energy
from ...optable import (STEP_SYMBOLS, OperatorTable, OpCosts, OpSpec, E, aB, b, d, eg, ep, fe, fs,
                       k, ns, s, u, wB)
from ...parallel import Parallelism
from ...precision import Precision
from ...step_base import Step, compiled_model, kv_bytes_per_sequence, operator_table
from .. import DeviceKind
from ..gpu import (BWep, BWm, BWw, DEVICE_SYMBOLS, KO, LATep, MMA_TILE_M, NU, Pm, Pv, RooflineArgs,
                  RooflineModel, TM, device_values, op_time_exprs, wave_efficiency, weights_tier)

# Hot Chips 31 (2019), Huawei Da Vinci core: 16x16x16 cube = 4,096 FP16 MACs per cycle; vector unit 2048 bits.
CUBE_FLOPS_PER_CYCLE = 2 * 16 ** 3
VECTOR_LANES_FP16 = 2048 // 16
# Zuo et al. (arXiv 2506.12708): a 910C die has 24 AI cube and 48 AI vector cores.
VECTOR_CORES_PER_CUBE = 2
# Zuo et al. (arXiv 2506.12708), Sec. 5: MLA operator compute utilisation on the 910C, compute-bound case.
ATTENTION_UTILISATION = 0.654
# FusedCombine returns BF16 expert outputs (Zuo et al., Sec. 4); dispatch goes out INT8-quantised.
COMBINE_ELEMENT_BYTES = 2.0

# NPU device symbols beyond the roofline's: attention rate and dies per package.
Pa, ND = sp.symbols("P_a N_d", positive=True)
NPU_SYMBOLS = DEVICE_SYMBOLS + (Pa, ND)
UNIT_OF_KIND = {"gemm": "cube", "attention": "cube", "elementwise": "vector", "gather": "vector",
                "allreduce": "link", "alltoall": "link"}


def is_expert_op(op: OpSpec) -> bool:
    """A routed-expert operator (its weights are the touched experts')."""
    return op.group == "moe" and op.name.startswith("expert_")


def is_shared_op(op: OpSpec) -> bool:
    return op.group == "moe" and op.name.startswith("shared_")


def replicated_per_die(op: OpSpec) -> bool:
    """Non-expert GEMM weights: each die holds and streams its own copy."""
    return op.kind == "gemm" and not is_expert_op(op)


@dataclass(frozen=True)
class ExpertLayout:
    """One expert per die over ``ep x dies`` dies: the routed experts, ``redundant`` extra copies of
    hot experts (load balance) and ``shared_dies`` dies that each hold the shared expert(s)
    (0: the shared experts run on every die for its own tokens)."""

    redundant: int = 0
    shared_dies: int = 0

    def __post_init__(self) -> None:
        for name in ("redundant", "shared_dies"):
            value = getattr(self, name)
            if not isinstance(value, int) or value < 0:
                raise ConfigError(None, f"layout.{name}", value, "a whole number >= 0")

    def dies(self, model) -> int:
        return model.moe.num_experts + self.redundant + self.shared_dies

    def check(self, model, parallel: Parallelism, dies: int) -> None:
        """The layout must fill exactly the EP group's dies, one expert each."""
        if model.moe is None:
            raise ConfigError(None, "layout", self, "an expert layout only for a mixture-of-experts model")
        if self.shared_dies and not model.moe.num_shared_experts:
            raise ConfigError(None, "layout.shared_dies", self.shared_dies, "0: the model has no shared experts")
        if parallel.ep < parallel.tp:
            raise ConfigError(None, "ep", parallel.ep, f"at least tp = {parallel.tp} with an expert layout (whole experts)")
        have = parallel.ep * dies
        if self.dies(model) != have:
            raise ConfigError(None, "layout", f"{model.moe.num_experts} routed + {self.redundant} redundant + "
                              f"{self.shared_dies} shared = {self.dies(model)} dies",
                              f"one expert per die: ep x dies = {parallel.ep} x {dies} = {have}")


def _die_gemm(m, n, kk) -> tuple[sp.Expr, sp.Expr]:
    """(compute, memory) of one GEMM [m x kk] @ [kk x n] on one die (1/ND of the package)."""
    eff = wave_efficiency(m, n, 1, TM).subs(NU, NU / ND)
    compute = 2 * m * n * kk * ND / (Pm * eff)
    memory = ND * (kk * n * wB / BWw + (m * kk + m * n) * aB / BWm)
    return compute, memory


def _layout_exprs(op: OpSpec, model, layout: ExpertLayout) -> tuple[sp.Expr, sp.Expr, sp.Expr, sp.Expr] | None:
    """Times of the MoE expert operators under a one-expert-per-die layout (None: not affected)."""
    zero = sp.Integer(0)
    S = layout.shared_dies
    if is_shared_op(op):
        return (zero, zero, zero, zero) if S else None
    if not is_expert_op(op):
        return None
    tokens = b * s * eg
    m_r = tokens * k / (E + layout.redundant)
    shared_width = ns * fs
    gated = 2 if model.moe.gated else 1
    if op.kind == "elementwise":
        compute = 4 * gated * m_r * fe / Pv
        memory = (gated + 1) * m_r * fe * aB / BWm
        if S:
            m_s = tokens / S
            compute = sp.Max(compute, 4 * gated * m_s * shared_width / Pv)
            memory = sp.Max(memory, (gated + 1) * m_s * shared_width * aB / BWm)
        return compute * ND, memory * ND, zero, zero
    down = op.name.endswith("down")
    cr, mr = _die_gemm(m_r, d, fe) if down else _die_gemm(m_r, fe, d)
    if S:
        m_s = tokens / S
        cs, ms = _die_gemm(m_s, d, shared_width) if down else _die_gemm(m_s, shared_width, d)
        cr, mr = sp.Max(cr, cs), sp.Max(mr, ms)
    return cr, mr, zero, KO


def npu_time_exprs(op: OpSpec, model, layout: ExpertLayout | None = None) -> tuple[sp.Expr, sp.Expr, sp.Expr, sp.Expr]:
    """(compute, memory, comm, launch) seconds of one instance of ``op`` on one NPU package."""
    zero = sp.Integer(0)
    if op.kind == "allreduce":
        return op_time_exprs(op)
    if op.kind == "alltoall":
        comm = op.comm * (sp.Max(aB, COMBINE_ELEMENT_BYTES) / aB if op.name == "moe_combine" else 1)
        return zero, zero, comm / BWep + LATep * sp.Min(ep - 1, 1), KO * sp.Min(ep - 1, 1)
    if layout is not None:
        special = _layout_exprs(op, model, layout)
        if special is not None:
            return special
    weights = op.weights * (ND if replicated_per_die(op) else 1)
    memory = weights / BWw + (op.act_in + op.act_out + op.kv_read + op.kv_write) / BWm
    if op.kind == "gemm":
        compute, launch = op.flops / (Pm * wave_efficiency(op.m, op.n, op.instances, TM)), KO
    elif op.kind == "attention":
        compute, launch = op.flops / (Pa * wave_efficiency(op.m, op.n, op.instances, MMA_TILE_M)), KO
    else:
        compute, launch = op.flops / Pv, zero
    if is_expert_op(op):
        used = sp.Max(u, 1)
        occupancy = used / (ND * sp.ceiling(used / ND))
        compute, memory = compute / occupancy, memory / occupancy
    return compute, memory, zero, launch


def dies_of(device) -> int:
    npu = device.section(NpuSpec)
    return npu.dies if npu is not None else 1


def vector_rate(device) -> float:
    """AI vector core rate (op/s) per package: ``compute.vector`` or cores x 128 lanes x clock."""
    if device.compute.vector:
        return device.compute.vector
    npu = device.section(NpuSpec)
    cube = npu.cube_cores if npu is not None else device.compute.units
    if cube is None:
        raise ValueError(f"{device.name}: the NPU model needs 'npu.cube_cores' or 'compute.units'")
    vector = npu.vector_cores if npu is not None and npu.vector_cores else None
    vector = vector or VECTOR_CORES_PER_CUBE * cube
    fp16 = device.compute.peak.get("fp16") or device.compute.peak.get("bf16")
    if fp16 is None:
        raise ValueError(f"{device.name}: the NPU model needs an fp16 or bf16 peak to derive the clock")
    clock = fp16 / (cube * CUBE_FLOPS_PER_CYCLE)
    return vector * VECTOR_LANES_FP16 * clock


def attention_rate(device, precision: Precision) -> float:
    """Cube rate for attention: the attention datatype's peak at the MLA kernel's utilisation."""
    dtype = attention_dtype(precision)
    peak = device.compute.peak.get(dtype) or device.compute.peak.get("fp16") or device.compute.peak.get("bf16")
    if peak is None:
        peak = device.peak(precision.compute_dtype)
    return peak * ATTENTION_UTILISATION


@dataclass(frozen=True)
class NPUArgs(RooflineArgs):
    """Values of NPU_SYMBOLS: the roofline's, then the attention rate (P_a) and dies per package (N_d)."""

    attention: float
    dies: float


def npu_device_values(device, precision: Precision, parallel: Parallelism,
                      weight_tier: str | None = None) -> NPUArgs:
    """Values of NPU_SYMBOLS: the roofline's device values with the NPU's vector rate, plus the
    attention rate and the dies per package."""
    base = replace(device_values(device, precision, parallel, weight_tier), vector=vector_rate(device))
    return NPUArgs(**vars(base), attention=attention_rate(device, precision), dies=float(dies_of(device)))


class NPUModel(RooflineModel):
    """The Ascend model of one operator table (a :class:`~archmodel.devices.gpu.RooflineModel` with
    cube/vector/attention rates); ``layout`` switches the MoE layer to one expert per die (large EP)."""

    device_symbols = NPU_SYMBOLS
    units = UNIT_OF_KIND
    #: a pool's experts are averaged over its packages (CloudMatrix384's EP320 makes them whole with
    #: redundant copies and shared-expert dies: ``ExpertLayout``), so ``ep`` need not divide them
    averages_experts = True

    def __init__(self, table: OperatorTable, layout: ExpertLayout | None = None):
        self.layout = layout
        super().__init__(table)

    def op_exprs(self, op: OpSpec) -> tuple[sp.Expr, sp.Expr, sp.Expr, sp.Expr]:
        return npu_time_exprs(op, self.table.model, self.layout)

    @staticmethod
    def device_args(device, precision: Precision, parallel: Parallelism,
                    weight_tier: str | None = None) -> NPUArgs:
        return npu_device_values(device, precision, parallel, weight_tier)

    def reported_costs(self, costs: OpCosts, step_args: tuple, device_args: NPUArgs) -> OpCosts:  # type: ignore[override]
        """The table's costs with what the NPU actually moves: non-expert weights once per die,
        the combine at BF16."""
        dies = float(device_args.dies)
        act_bytes = np.asarray(step_args[STEP_SYMBOLS.index(aB)], dtype=float)
        values = dict(costs.values)
        weights, comm = values["weights"].copy(), values["comm"].copy()
        for i, op in enumerate(self.table.specs):
            if replicated_per_die(op) and not (self.layout is not None and self.layout.shared_dies and is_shared_op(op)):
                weights[i] = weights[i] * dies
            if op.name == "moe_combine":
                comm[i] = comm[i] * np.maximum(act_bytes, COMBINE_ELEMENT_BYTES) / act_bytes
        values["weights"], values["comm"] = weights, comm
        return OpCosts(names=costs.names, kinds=costs.kinds, groups=costs.groups, count=costs.count, values=values)


# -- weights, steps and disaggregated serving -------------------------------------------------


def npu_weight_bytes(model, precision: Precision, parallel: Parallelism, dies: int,
                     layout: ExpertLayout | None = None) -> float:
    """Weight bytes one package holds: non-expert GEMM weights and embedding tables once per die
    (per-die data parallelism), routed experts once (default: E/ep of them; with a layout, one
    expert per die, the shared experts only on their dies)."""
    table = operator_table(model, parallel.pp)
    all_local = (model.moe.num_experts / parallel.ep) if model.moe else 1.0
    costs = table.evaluate(b=1, s=1, c=0, wB=precision.weight_bytes, tp=parallel.tp, ep=parallel.ep, u=all_local)
    per_op = costs.count * costs.weights
    expert = sum(per_op[i] for i, op in enumerate(table.specs) if op.kind == "gemm" and is_expert_op(op))
    shared = sum(per_op[i] for i, op in enumerate(table.specs) if op.kind == "gemm" and is_shared_op(op))
    other = sum(per_op[i] for i, op in enumerate(table.specs) if op.kind == "gemm" and not is_expert_op(op)
                and not is_shared_op(op))
    tables = model.embedding_params() - (model.vocab_size * model.hidden_size if model.tie_word_embeddings else 0)
    replicated = other + tables * precision.weight_bytes / parallel.tp
    if layout is None or model.moe is None:
        return float(dies * (replicated + shared) + expert)
    # One expert per die: a routed expert's bytes (expert holds E/ep experts) or a full shared expert.
    one_routed = expert / all_local
    one_shared = shared * parallel.tp  # the table splits the shared experts over tp; a shared die holds them whole
    per_die_expert = max(one_routed, one_shared if layout.shared_dies else 0.0)
    return float(dies * (replicated + (0.0 if layout.shared_dies else shared) + per_die_expert))


def npu_step(model, device, *, b, s, c, precision: Precision = Precision(), parallel: Parallelism = Parallelism(),
             layout: ExpertLayout | None = None, weight_tier: str | None = None):
    """One forward step on an NPU pool (``b`` sequences per tensor-parallel group of packages),
    optionally with a one-expert-per-die ``layout``. Returns an :class:`archmodel.step.Step`."""
    if device.kind != "npu":
        raise ConfigError(None, "device", device.name, "a device of kind 'npu' (ascend-910b, ascend-910c, cloudmatrix384)")
    dies = dies_of(device)
    if layout is not None:
        layout.check(model, parallel, dies)
    table = operator_table(model, parallel.pp)
    dm = layout_model(model, parallel.pp, layout) if layout is not None else _default_model(model, parallel.pp)
    tier = weight_tier or weights_tier(device, npu_weight_bytes(model, precision, parallel, dies, layout))
    kw = dict(b=b, s=s, c=c, wB=precision.weight_bytes, aB=precision.activation_bytes, kvB=precision.kv_bytes,
              tp=parallel.tp, ep=parallel.ep)
    args = table.step_inputs(**kw)
    costs = table.evaluate(**kw, u=args[-1])
    dev = dm.device_args(device, precision, parallel, tier)
    return Step(dm.step_times(costs, args, dev, tier, device.main_memory.name), tier)


@lru_cache(maxsize=32)
def layout_model(model, pp: int, layout: ExpertLayout) -> NPUModel:
    """One compiled model per (workload, pipeline split, layout), as ``step.device_model`` caches."""
    return NPUModel(operator_table(model, pp), layout)


def _default_model(model, pp: int) -> NPUModel:
    """The NPU model without a layout: the one ``step.device_model(model, "npu", pp)`` returns."""
    return compiled_model(NPUModel, model, pp)


@dataclass(frozen=True)
class Speculation:
    """Multi-token prediction: ``draft_tokens`` drafted per step, each accepted with probability
    ``acceptance`` given the previous was (DeepSeek-V3's MTP module drafts one)."""

    draft_tokens: int = 1
    acceptance: float = 0.7

    def __post_init__(self) -> None:
        if not isinstance(self.draft_tokens, int) or self.draft_tokens < 1:
            raise ConfigError(None, "mtp.draft_tokens", self.draft_tokens, "a whole number >= 1")
        if not 0.0 <= self.acceptance <= 1.0:
            raise ConfigError(None, "mtp.acceptance", self.acceptance, "a probability in [0, 1]")

    @property
    def tokens_per_step(self) -> float:
        """Expected tokens emitted per verification step: 1 + a + a^2 + ... (one per accepted draft)."""
        return 1.0 + sum(self.acceptance ** i for i in range(1, self.draft_tokens + 1))


@dataclass(frozen=True)
class Pool:
    """A pool of NPU packages serving one phase: ``batch`` sequences per tensor-parallel group in
    flight, split as ``parallel``, optionally with a one-expert-per-die ``layout``."""

    parallel: Parallelism
    batch: int
    layout: ExpertLayout | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.batch, int) or self.batch < 1:
            raise ConfigError(None, "pool.batch", self.batch, "a whole number >= 1")


@dataclass(frozen=True)
class DisaggregatedResult:
    """Prefill/decode disaggregated serving: TTFT from the prefill pool, TPOT from the decode pool."""

    isl: int
    osl: int
    prefill_devices: int
    decode_devices: int
    ttft_s: float
    prefill_tokens_per_s_per_device: float
    tpot_s: float
    decode_step_s: float
    decode_tokens_per_s_per_device: float
    output_tokens_per_s: float  # the deployment: decode capacity, or prefill capacity x OSL if lower
    prefill_bottleneck: str
    decode_bottleneck: str
    energy_j_per_token: float
    prefill_weights_bytes: float
    decode_weights_bytes: float
    decode_kv_bytes: float
    capacity_bytes: float

    def to_json(self) -> dict:
        return dict(self.__dict__)


def _mtp_layer_s(step, table: OperatorTable) -> np.ndarray:
    """Seconds of one decoder layer with MoE (attention + MoE operators, one instance each): the
    cost of DeepSeek-V3's MTP module, which is one such layer."""
    groups = ("attention", "moe") if table.model.is_moe else ("attention", "ffn")
    mask = np.array([g in groups for g in step.costs.groups], dtype=float)
    return np.tensordot(mask, step.times.time, axes=1)


def serve_disaggregated(model, device, *, isl: int, osl: int, prefill: Pool, decode: Pool,
                        precision: Precision = Precision(), mtp: Speculation | None = None) -> DisaggregatedResult:
    """TTFT from the prefill pool (one prefill of its batch), TPOT and decode tokens/s from the decode
    pool (contexts ISL .. ISL + OSL - 1, with ``mtp`` each step verifies ``1 + draft`` tokens per
    sequence, runs the MTP layer once and emits ``tokens_per_step``). Energy per output token: the
    prefill pool's step energy per sequence plus the decode pool's per step, over OSL tokens (the
    MTP layer's energy taken as one layer's share, 1 / num_layers, of a decode step)."""
    for name, value in (("isl", isl), ("osl", osl)):
        if not isinstance(value, (int, np.integer)) or value < 1:
            raise ConfigError(None, name, value, "a whole number >= 1")
    capacity = device.main_memory.capacity
    dies = dies_of(device)
    w_pre = npu_weight_bytes(model, precision, prefill.parallel, dies, prefill.layout)
    w_dec = npu_weight_bytes(model, precision, decode.parallel, dies, decode.layout)
    kv_dec = kv_bytes_per_sequence(model, precision, decode.parallel, isl + osl) * decode.batch
    kv_pre = kv_bytes_per_sequence(model, precision, prefill.parallel, isl) * prefill.batch
    for pool, weights, kv in (("prefill", w_pre, kv_pre), ("decode", w_dec, kv_dec)):
        if weights + kv > capacity:
            raise ConfigError(None, f"{pool}.batch", (prefill if pool == "prefill" else decode).batch,
                              f"a batch whose KV cache fits next to {weights / 1e9:.1f} GB of weights in "
                              f"{capacity / 1e9:.1f} GB per device ({(weights + kv) / 1e9:.1f} GB needed)")
    pre = npu_step(model, device, b=prefill.batch, s=isl, c=0, precision=precision, parallel=prefill.parallel,
                   layout=prefill.layout)
    ttft = float(pre.latency)
    tokens_per_step = mtp.tokens_per_step if mtp else 1.0
    s_dec = 1 + (mtp.draft_tokens if mtp else 0)
    steps = max(int(math.ceil((osl - 1) / tokens_per_step)), 1)
    contexts = isl + np.arange(steps, dtype=float) * tokens_per_step
    dec = npu_step(model, device, b=decode.batch, s=s_dec, c=contexts, precision=precision,
                   parallel=decode.parallel, layout=decode.layout)
    step_s = np.asarray(dec.latency, dtype=float)
    if mtp:
        step_s = step_s + _mtp_layer_s(dec, operator_table(model, decode.parallel.pp))
    mean_step = float(step_s.mean())
    tpot = mean_step / tokens_per_step
    decode_rate = decode.batch * decode.parallel.dp / tpot / decode.parallel.devices
    prefill_rate = prefill.batch * prefill.parallel.dp * isl / ttft / prefill.parallel.devices
    # The deployment emits what decode can, unless prefill cannot feed it requests fast enough.
    requests_per_s = prefill_rate * prefill.parallel.devices / isl
    output = min(decode_rate * decode.parallel.devices, requests_per_s * osl)
    e_pre = float(step_energy(pre, device, precision, prefill.parallel).total_j) * prefill.parallel.devices
    e_dec = step_energy(dec, device, precision, decode.parallel).total_j
    per_step = float(np.mean(e_dec)) * (1 + (1.0 / model.num_layers if mtp else 0.0))
    sequences_pre = prefill.batch * prefill.parallel.dp
    sequences_dec = decode.batch * decode.parallel.dp
    energy = (e_pre / sequences_pre + per_step * decode.parallel.devices / sequences_dec * (osl - 1) / tokens_per_step) / osl
    return DisaggregatedResult(
        isl=isl, osl=osl, prefill_devices=prefill.parallel.devices, decode_devices=decode.parallel.devices,
        ttft_s=ttft, prefill_tokens_per_s_per_device=prefill_rate, tpot_s=tpot, decode_step_s=mean_step,
        decode_tokens_per_s_per_device=decode_rate, output_tokens_per_s=output,
        prefill_bottleneck=pre.bottleneck(), decode_bottleneck=dec.bottleneck(), energy_j_per_token=energy,
        prefill_weights_bytes=w_pre, decode_weights_bytes=w_dec, decode_kv_bytes=kv_dec, capacity_bytes=capacity)


__all__ = ["NPUModel", "ExpertLayout", "layout_model", "Pool", "Speculation", "DisaggregatedResult", "npu_step", "serve_disaggregated",
           "npu_weight_bytes", "npu_time_exprs", "vector_rate", "attention_rate", "dies_of"]


# 7 nm-class at 0.75 V (archmodel.energy's node rule)
PLUGIN = DeviceKind("npu", NPUModel, energy_node=(7.0, 0.75))
