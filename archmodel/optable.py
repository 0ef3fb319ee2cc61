"""The operator table: one row per operator of a forward step, its FLOPs and bytes by role.

Costs are written once as SymPy expressions over the step variables and the model's dimensions,
so they print as formulas; :meth:`OperatorTable.evaluate` substitutes the model and evaluates a
whole array of design points in one NumPy call (``lambdify`` with common subexpressions).

Step variables (all broadcastable NumPy arrays at evaluation):

* ``b``  sequences in the batch of one attention replica (tensor-parallel group);
* ``s``  new tokens per sequence in this step (the ISL in prefill, 1 in decode);
* ``c``  tokens already in each sequence's KV cache;
* ``wB``, ``aB``, ``kvB``  bytes per element of weights, activations, KV cache;
* ``tp``, ``ep``  tensor- and expert-parallel degrees; ``eg`` = max(1, ep/tp) attention replicas
  that feed one expert-parallel group; ``etp`` = max(1, tp/ep) tensor-parallel split of an expert;
* ``u``  expected distinct experts touched on one expert-parallel rank (routing; uniform default
  (E/ep) (1 - (1 - k/E)^(b s eg))).

Every row is per device and per instance (one layer); ``count`` says how many instances a step
runs (layers of that kind in one pipeline stage).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from functools import reduce
from typing import Callable, Iterable

import numpy as np
import sympy as sp

from .workload import ModelConfig

# Step variables.
b, s, c = sp.symbols("b s c", positive=True)
wB, aB, kvB = sp.symbols("wB aB kvB", positive=True)
tp, ep, eg, etp, u = sp.symbols("tp ep eg etp u", positive=True)
STEP_SYMBOLS = (b, s, c, wB, aB, kvB, tp, ep, eg, etp, u)

# Model dimensions (substituted from the ModelConfig before compiling).
d, h, kvh, hd, f, E, k, fe, fs, ns, V = sp.symbols("d h kvh hd f E k f_e f_s n_s V", positive=True)
qr, kvr, nope, rope, vd = sp.symbols("r_q r_kv d_nope d_rope d_v", positive=True)

ROLES = ("weights", "act_in", "act_out", "kv_read", "kv_write")
KINDS = ("gemm", "attention", "elementwise", "allreduce", "alltoall", "gather")
GROUPS = ("embed", "attention", "ffn", "moe", "head")


@dataclass(frozen=True)
class OpSpec:
    """One operator: symbolic FLOPs, bytes by role, GEMM shape (M, N, K, instances) and comm bytes."""

    name: str
    kind: str
    group: str
    count: float
    flops: sp.Expr
    weights: sp.Expr = sp.Integer(0)
    act_in: sp.Expr = sp.Integer(0)
    act_out: sp.Expr = sp.Integer(0)
    kv_read: sp.Expr = sp.Integer(0)
    kv_write: sp.Expr = sp.Integer(0)
    comm: sp.Expr = sp.Integer(0)  # bytes each device sends over the interconnect
    m: sp.Expr = sp.Integer(1)
    n: sp.Expr = sp.Integer(1)
    kdim: sp.Expr = sp.Integer(1)
    instances: sp.Expr = sp.Integer(1)  # independent GEMMs of shape (m, n, kdim) in this op

    @property
    def bytes(self) -> sp.Expr:
        return self.weights + self.act_in + self.act_out + self.kv_read + self.kv_write

    @property
    def op_per_byte(self) -> sp.Expr:
        return self.flops / self.bytes


def _gemm(name: str, group: str, count: float, m, n, kk, *, weights_shared: bool = True,
          instances=sp.Integer(1), kv_write=sp.Integer(0)) -> OpSpec:
    """A GEMM ``[m x kk] @ [kk x n]`` repeated ``instances`` times; weights read once per instance."""
    return OpSpec(
        name=name, kind="gemm", group=group, count=count,
        flops=2 * instances * m * n * kk,
        weights=instances * kk * n * wB,
        act_in=instances * m * kk * aB,
        act_out=instances * m * n * aB,
        kv_write=kv_write,
        m=m, n=n, kdim=kk, instances=instances,
    )


def _elementwise(name: str, group: str, count: float, elements_in, elements_out, flops_per_elem=1) -> OpSpec:
    return OpSpec(name=name, kind="elementwise", group=group, count=count,
                  flops=flops_per_elem * elements_in, act_in=elements_in * aB, act_out=elements_out * aB,
                  m=elements_in)


def uniform_experts_touched() -> sp.Expr:
    """Expected distinct experts touched on one EP rank under uniform top-k routing."""
    return (E / ep) * (1 - (1 - k / E) ** (b * s * eg))


def _windows(model: ModelConfig, L: float) -> list[tuple[str, float, sp.Expr, sp.Expr]]:
    """(name suffix, layer count, query-key pairs per sequence and head, keys read per sequence)
    for the full-attention layers and the windowed ones: a windowed query sees at most the last
    ``sliding_window`` keys (causal within the step: query ``i`` of the step sees ``c + i``)."""
    ctx = s * c + s * (s + 1) / 2
    windowed = model.windowed_layers()
    if not windowed:
        return [("", L, ctx, c + s)]
    w = sp.Integer(model.sliding_window)
    share = windowed / model.num_layers
    parts = [("", L * (1 - share), ctx, c + s)] if windowed < model.num_layers else []
    return parts + [("_swa", L * share, s * sp.Min(c + (s + 1) / 2, w), sp.Min(c + s, w + s - 1))]


def _attention_ops(model: ModelConfig, L: float) -> list[OpSpec]:
    T = b * s
    a = model.attention
    heads = h / tp
    windows = _windows(model, L)
    ops = [_elementwise("attn_norm", "attention", L, T * d, T * d, 4)]
    if a.kind == "mla":
        kv_lat = kvr + rope
        if a.q_lora_rank:
            ops.append(_gemm("q_a_proj", "attention", L, T, qr, d))
            ops.append(_gemm("q_b_proj", "attention", L, T, heads * (nope + rope), qr))
        else:
            ops.append(_gemm("q_proj", "attention", L, T, heads * (nope + rope), d))
        ops.append(_gemm("kv_a_proj", "attention", L, T, kv_lat, d, kv_write=T * kv_lat * kvB))
        # Weight absorption (as DeepSeek's decode): queries move into the latent space, so attention
        # is multi-query over the (kv_lora + rope) latent; W_UK and W_UV cost one GEMM each.
        ops.append(_gemm("kv_b_absorb", "attention", L, T, heads * (nope + vd), kvr))
        for suffix, count, ctx, keys in windows:
            ops.append(OpSpec("attn_score" + suffix, "attention", "attention", count,
                              flops=2 * b * heads * kv_lat * ctx,
                              act_in=T * heads * kv_lat * aB, kv_read=b * keys * kv_lat * kvB,
                              m=s * heads, n=keys, kdim=kv_lat, instances=b))
            ops.append(OpSpec("attn_context" + suffix, "attention", "attention", count,
                              flops=2 * b * heads * kvr * ctx,
                              act_out=T * heads * kvr * aB, kv_read=b * keys * kvr * kvB,
                              m=s * heads, n=kvr, kdim=keys, instances=b))
        ops.append(_gemm("o_proj", "attention", L, T, d, heads * vd))
    else:
        kv_heads = sp.Max(kvh / tp, 1)  # KV heads are replicated when tp exceeds them
        group = h / kvh
        ops.append(_gemm("qkv_proj", "attention", L, T, (heads + 2 * kv_heads) * hd, d,
                         kv_write=T * 2 * kv_heads * hd * kvB))
        for suffix, count, ctx, keys in windows:
            ops.append(OpSpec("attn_score" + suffix, "attention", "attention", count,
                              flops=2 * b * heads * hd * ctx,
                              act_in=T * heads * hd * aB, kv_read=b * keys * kv_heads * hd * kvB,
                              m=s * group, n=keys, kdim=hd, instances=b * kv_heads))
            ops.append(OpSpec("attn_context" + suffix, "attention", "attention", count,
                              flops=2 * b * heads * hd * ctx,
                              act_out=T * heads * hd * aB, kv_read=b * keys * kv_heads * hd * kvB,
                              m=s * group, n=hd, kdim=keys, instances=b * kv_heads))
        ops.append(_gemm("o_proj", "attention", L, T, d, heads * hd))
    ops.append(_allreduce("attn_allreduce", "attention", L))
    return ops


def _allreduce(name: str, group: str, count: float) -> OpSpec:
    """Tensor-parallel all-reduce of the block output (T x d activations)."""
    return OpSpec(name, "allreduce", group, count, flops=sp.Integer(0), comm=b * s * d * aB, m=b * s * d)


def _ffn_ops(model: ModelConfig, L: float) -> list[OpSpec]:
    T = b * s
    ffn = model.dense_ffn
    assert ffn is not None
    ops = [_elementwise("ffn_norm", "ffn", L, T * d, T * d, 4),
           _gemm("ffn_up", "ffn", L, T, f / tp, d)]
    if ffn.gated:
        ops.append(_gemm("ffn_gate", "ffn", L, T, f / tp, d))
    ops.append(_elementwise("ffn_act", "ffn", L, T * f / tp * (2 if ffn.gated else 1), T * f / tp, 4))
    ops.append(_gemm("ffn_down", "ffn", L, T, d, f / tp))
    ops.append(_allreduce("ffn_allreduce", "ffn", L))
    return ops


def _moe_ops(model: ModelConfig, L: float) -> list[OpSpec]:
    T = b * s
    moe = model.moe
    assert moe is not None
    routed = T * eg * k / ep  # token-expert pairs processed on one EP rank
    per_expert = routed / u  # tokens per touched expert
    dispatch = (T / tp) * k * d * aB * (ep - 1) / ep
    ops = [
        _elementwise("moe_norm", "moe", L, T * d, T * d, 4),
        _gemm("router", "moe", L, T, E, d),
        OpSpec("moe_dispatch", "alltoall", "moe", L, flops=sp.Integer(0), comm=dispatch, m=T * k * d),
    ]
    width = fe / etp
    for mat in ("up", "gate") if moe.gated else ("up",):
        ops.append(_gemm(f"expert_{mat}", "moe", L, per_expert, width, d, instances=u))
    ops.append(_elementwise("expert_act", "moe", L, routed * width * (2 if moe.gated else 1), routed * width, 4))
    ops.append(_gemm("expert_down", "moe", L, per_expert, d, width, instances=u))
    if moe.num_shared_experts:
        shared = ns * fs / tp
        for mat in ("up", "gate") if moe.gated else ("up",):
            ops.append(_gemm(f"shared_{mat}", "moe", L, T, shared, d))
        ops.append(_elementwise("shared_act", "moe", L, T * shared * (2 if moe.gated else 1), T * shared, 4))
        ops.append(_gemm("shared_down", "moe", L, T, d, shared))
    ops.append(OpSpec("moe_combine", "alltoall", "moe", L, flops=sp.Integer(0), comm=dispatch, m=T * k * d))
    ops.append(_elementwise("combine", "moe", L, T * k * d / tp, T * d / tp, 2))
    ops.append(_allreduce("moe_allreduce", "moe", L))
    return ops


def _head_ops(model: ModelConfig) -> list[OpSpec]:
    T = b * s
    return [
        OpSpec("embedding", "gather", "embed", 1, flops=sp.Integer(0), weights=T * d * wB, act_out=T * d * aB, m=T * d),
        _elementwise("final_norm", "head", 1, b * d, b * d, 4),
        # Logits only for the last token of each sequence (serving: prefill and decode alike).
        _gemm("lm_head", "head", 1, b, V / tp, d),
    ]


def operator_specs(model: ModelConfig, pp: int = 1) -> list[OpSpec]:
    """The symbolic rows of ``model`` for one pipeline stage of ``pp`` (layers divided evenly)."""
    ops = _attention_ops(model, model.num_layers / pp)
    if model.num_dense_layers:
        ops += _ffn_ops(model, model.num_dense_layers / pp)
    if model.is_moe:
        ops += _moe_ops(model, model.num_moe_layers / pp)
    ops += _head_ops(model)
    return ops


def model_dimensions(model: ModelConfig) -> dict[sp.Symbol, int]:
    """Values of the dimension symbols for ``model``."""
    a = model.attention
    dims = {d: model.hidden_size, h: a.num_heads, kvh: a.num_kv_heads, hd: a.head_dim, V: model.vocab_size,
            qr: a.q_lora_rank or 1, kvr: a.kv_lora_rank or 1, nope: a.qk_nope_head_dim or 1,
            rope: a.qk_rope_head_dim or 1, vd: a.v_head_dim or 1}
    dims[f] = model.dense_ffn.intermediate_size if model.dense_ffn else 1
    if model.moe:
        dims.update({E: model.moe.num_experts, k: model.moe.top_k, fe: model.moe.expert_intermediate_size,
                     ns: max(model.moe.num_shared_experts, 1), fs: model.moe.shared_intermediate_size or 1})
    else:
        dims.update({E: 1, k: 1, fe: 1, ns: 1, fs: 1})
    return dims


COST_FIELDS = ("flops",) + ROLES + ("comm", "m", "n", "kdim", "instances")

# NumPy equivalents that broadcast pairwise (lambdify's default Max stacks its arguments, which
# fails for a scalar next to an array and copies memory).
_NUMPY_FUNCS = {"Max": lambda *a: reduce(np.maximum, a), "Min": lambda *a: reduce(np.minimum, a),
                "ceiling": np.ceil}


def compile_exprs(args: Iterable[sp.Symbol], exprs: list[sp.Expr]) -> Callable[..., list]:
    """``lambdify`` a list of expressions to NumPy with common subexpressions shared."""
    return sp.lambdify(tuple(args), exprs, modules=[_NUMPY_FUNCS, "numpy"], cse=True)


def derived_parallel(tp_: np.ndarray, ep_: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``eg`` = max(1, ep/tp) and ``etp`` = max(1, tp/ep)."""
    return np.maximum(1.0, ep_ / tp_), np.maximum(1.0, tp_ / ep_)


@dataclass(frozen=True)
class OpCosts:
    """Evaluated costs: every array has shape ``(n_ops, *points)`` (per device, per instance)."""

    names: tuple[str, ...]
    kinds: tuple[str, ...]
    groups: tuple[str, ...]
    count: np.ndarray  # (n_ops,)
    values: dict[str, np.ndarray] = field(repr=False)

    def __getattr__(self, name: str) -> np.ndarray:
        try:
            return self.__dict__["values"][name]
        except KeyError:
            raise AttributeError(name) from None

    @property
    def bytes(self) -> np.ndarray:
        return np.sum([self.values[r] for r in ROLES], axis=0)

    @property
    def op_per_byte(self) -> np.ndarray:
        total = self.bytes
        return np.divide(self.values["flops"], total, out=np.zeros_like(total), where=total > 0)

    def index(self, name: str) -> int:
        return self.names.index(name)


class OperatorTable:
    """The compiled operator table of one model (and pipeline split)."""

    def __init__(self, model: ModelConfig, pp: int = 1):
        self.model = model
        self.pp = pp
        self.specs = operator_specs(model, pp)
        self.dims = model_dimensions(model)

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(op.name for op in self.specs)

    def formula(self, name: str, quantity: str = "op_per_byte", *, single_device: bool = True) -> sp.Expr:
        """The symbolic ``flops``, ``bytes``, ``op_per_byte`` or a role of one operator, in the
        model's dimension symbols, with uniform routing written out; ``single_device`` sets
        tp = ep = 1 so the formula reads as in the papers."""
        op = self.specs[self.names.index(name)]
        expr = sp.sympify(getattr(op, quantity), strict=True).subs(u, uniform_experts_touched())
        if single_device:
            expr = expr.subs({tp: 1, ep: 1, eg: 1, etp: 1}).subs(sp.Max(1, kvh), kvh)
        return expr

    def substitute(self, expr: sp.Expr) -> sp.Expr:
        """``expr`` with the model's dimensions filled in."""
        return sp.sympify(expr, strict=True).subs(self.dims)

    @cached_property
    def _compiled(self) -> Callable[..., list]:
        exprs = [self.substitute(getattr(op, fld)) for op in self.specs for fld in COST_FIELDS]
        return compile_exprs(STEP_SYMBOLS, exprs)

    def step_inputs(self, *, b, s, c, wB=2.0, aB=2.0, kvB=2.0, tp=1, ep=1, u=None) -> tuple:
        """The arguments of a compiled function over STEP_SYMBOLS, with ``eg``, ``etp`` and ``u``
        derived (``u`` by uniform routing unless given). Inputs are not broadcast, so scalars stay scalars."""
        tp_ = np.asarray(tp, dtype=float)
        ep_ = np.asarray(ep, dtype=float)
        eg_, etp_ = derived_parallel(tp_, ep_)
        b_, s_ = np.asarray(b, dtype=float), np.asarray(s, dtype=float)
        if u is None:
            u = self.uniform_touched(b_ * s_ * eg_, ep_)
        return (b_, s_, np.asarray(c, dtype=float), np.asarray(wB, dtype=float), np.asarray(aB, dtype=float),
                np.asarray(kvB, dtype=float), tp_, ep_, eg_, etp_, np.asarray(u, dtype=float))

    def evaluate(self, *, b, s, c, wB=2.0, aB=2.0, kvB=2.0, tp=1, ep=1, u=None) -> OpCosts:
        """Evaluate every operator at the broadcast of the given arrays.

        ``u`` (experts touched per EP rank) defaults to the uniform-routing expectation.
        """
        args = self.step_inputs(b=b, s=s, c=c, wB=wB, aB=aB, kvB=kvB, tp=tp, ep=ep, u=u)
        flat = self._compiled(*args)
        shape = np.broadcast_shapes(*(np.shape(a) for a in args))
        nf = len(COST_FIELDS)
        values = {}
        for j, fld in enumerate(COST_FIELDS):
            values[fld] = np.stack([np.broadcast_to(np.asarray(flat[i * nf + j], dtype=float), shape)
                                    for i in range(len(self.specs))])
        return OpCosts(names=self.names, kinds=tuple(op.kind for op in self.specs),
                       groups=tuple(op.group for op in self.specs),
                       count=np.array([op.count for op in self.specs], dtype=float), values=values)

    def uniform_touched(self, tokens: np.ndarray, ep_: np.ndarray) -> np.ndarray:
        """Experts touched per EP rank for ``tokens`` tokens in the EP group, uniform routing."""
        moe = self.model.moe
        if moe is None:
            return np.ones_like(tokens)
        return (moe.num_experts / ep_) * (1.0 - (1.0 - moe.top_k / moe.num_experts) ** tokens)
