"""NumPy golden model of the integer MoE layer specified in ``docs/kernel-arithmetic.md``.

Everything is computed in int64 and every quantity the hardware keeps in int32 is checked against
the int32 range (``OverflowError`` otherwise). The building blocks (:func:`requantize`,
:func:`topk`, :func:`gate_weights`, :func:`activation_lut`, :func:`exp_lut`, :func:`combine`) are
what the hardware components are compared with bit for bit; :func:`moe_layer` composes them and
returns every intermediate value.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable, Literal

import numpy as np
import numpy.typing as npt

from archmodel.moe_layer import MoELayer

#: The layer shape is the shared contract (:class:`archmodel.moe_layer.MoELayer`: one validator,
#: ConfigError, ``tokens >= 1``); this module's arithmetic is its own.
MoEShape = MoELayer

IntArray = npt.NDArray[np.int64]

INT8_MIN, INT8_MAX = -128, 127
INT32_MIN, INT32_MAX = -(2**31), 2**31 - 1
MULT_MAX = 2**16 - 1  #: requantiser multipliers are unsigned 16 bit
SHIFT_MAX = 63  #: requantiser shifts are unsigned 6 bit
GATE_FRAC = 15  #: gate weights are unsigned Q1.15
GATE_ONE = 1 << GATE_FRAC
EXP_STEPS_PER_NAT = 32  #: gate index q means a distance of q/32 nat below the maximum logit
EXP_ONE = 1 << 15  #: EXP[0]
ACT_FRAC = 4  #: activation tables read and write int8 values with scale 2**-4
MAX_PRODUCT = 128 * 128  #: largest |int8 * int8|

ActivationName = Literal["identity", "relu", "silu", "gelu"]


# --------------------------------------------------------------------------- shapes and parameters
@dataclass(frozen=True)
class Requant:
    """Requantiser: ``sat8((acc * mult + 2**(shift-1)) >> shift)`` (no rounding term at shift 0)."""

    mult: int
    shift: int

    def __post_init__(self) -> None:
        if not 0 <= self.mult <= MULT_MAX:
            raise ValueError(f"Requant.mult = {self.mult} not in [0, {MULT_MAX}]")
        if not 0 <= self.shift <= SHIFT_MAX:
            raise ValueError(f"Requant.shift = {self.shift} not in [0, {SHIFT_MAX}]")

    @property
    def rounding(self) -> int:
        return (1 << self.shift) >> 1


@dataclass(frozen=True)
class MoEParams:
    """Weights, requantisers and the activation of one layer (see the spec, section 1)."""

    router: IntArray  # int8 [d, E]
    up: IntArray  # int8 [E, d, f]
    gate: IntArray | None  # int8 [E, d, f] when gated
    down: IntArray  # int8 [E, f, d]
    up_q: tuple[Requant, ...]  # per expert
    gate_q: tuple[Requant, ...] | None  # per expert, gated only
    hidden_q: tuple[Requant, ...] | None  # per expert, requantises act(gate) * up, gated only
    down_q: tuple[Requant, ...]  # per expert
    gate_weight_q: Requant  # logit distance -> EXP index
    activation: ActivationName

    def validate(self, shape: MoEShape) -> None:
        """Raise ``ValueError`` if the arrays do not match ``shape`` or leave the int8 range."""
        d, f, e = shape.hidden, shape.ffn, shape.experts
        expected = {"router": (d, e), "up": (e, d, f), "down": (e, f, d)}
        if shape.gated:
            expected["gate"] = (e, d, f)
        for name, want in expected.items():
            arr = getattr(self, name)
            if arr is None or tuple(arr.shape) != want:
                got = None if arr is None else tuple(arr.shape)
                raise ValueError(f"MoEParams.{name} has shape {got}, expected {want}")
            _check_int8(arr, f"MoEParams.{name}")
        if not shape.gated and (self.gate is not None or self.gate_q is not None
                                or self.hidden_q is not None):
            raise ValueError("MoEParams has gate tensors but the shape is not gated")
        per_expert: list[tuple[str, tuple[Requant, ...] | None]] = [("up_q", self.up_q), ("down_q", self.down_q)]
        if shape.gated:
            per_expert += [("gate_q", self.gate_q), ("hidden_q", self.hidden_q)]
        for name, seq in per_expert:
            if seq is None or len(seq) != e:
                raise ValueError(f"MoEParams.{name} needs one Requant per expert ({e})")
        if self.activation not in _ACTIVATIONS:
            raise ValueError(f"MoEParams.activation = {self.activation!r}, allowed: "
                             f"{sorted(_ACTIVATIONS)}")


@dataclass(frozen=True)
class ExpertTrace:
    """Intermediate values of one expert over its tokens (``n = len(tokens)`` rows)."""

    tokens: IntArray  # [n] token indices, increasing
    slots: IntArray  # [n] rank of this expert in each token's top-k
    up_acc: IntArray  # [n, f] int32
    up_q: IntArray  # [n, f] int8
    gate_acc: IntArray | None  # [n, f] int32 (gated)
    gate_q: IntArray | None  # [n, f] int8 (gated)
    act: IntArray  # [n, f] int8: ACT[up_q] (plain) or ACT[gate_q] (gated)
    hidden: IntArray  # [n, f] int8 input of the down projection
    down_acc: IntArray  # [n, d] int32
    out: IntArray  # [n, d] int8


@dataclass(frozen=True)
class GoldenResult:
    """Every intermediate value of :func:`moe_layer`."""

    logits: IntArray  # [T, E] int32
    topk_indices: IntArray  # [T, k] rank order
    topk_logits: IntArray  # [T, k]
    gate_index: IntArray  # [T, k] EXP table index q
    gate_weights: IntArray  # [T, k] uint16 Q1.15
    expert_tokens: tuple[IntArray, ...]  # per expert, token indices
    expert_counts: IntArray  # [E]
    experts: tuple[ExpertTrace, ...]
    expert_out: IntArray  # [T, k, d] int8: output of expert topk_indices[t, j] for token t
    combine_acc: IntArray  # [T, d] int32
    output: IntArray  # [T, d] int8


# ------------------------------------------------------------------------------------ range checks
def _check_int8(arr: npt.ArrayLike, what: str) -> None:
    a = np.asarray(arr)
    if a.size and (a.min() < INT8_MIN or a.max() > INT8_MAX):
        raise ValueError(f"{what} leaves the int8 range")


def check_int32(arr: npt.ArrayLike, what: str) -> IntArray:
    """Return ``arr`` as int64, raising ``OverflowError`` if any value leaves int32."""
    a = np.asarray(arr, dtype=np.int64)
    if a.size and (a.min() < INT32_MIN or a.max() > INT32_MAX):
        raise OverflowError(f"{what} leaves the int32 range: [{a.min()}, {a.max()}]")
    return a


def matmul_int32(x: npt.ArrayLike, w: npt.ArrayLike, what: str) -> IntArray:
    """int8 x int8 matrix product accumulated exactly, checked against int32."""
    xa, wa = np.asarray(x, dtype=np.int64), np.asarray(w, dtype=np.int64)
    _check_int8(xa, f"{what} input")
    _check_int8(wa, f"{what} weights")
    return check_int32(xa @ wa, what)


# --------------------------------------------------------------------------------- building blocks
def requantize(acc: npt.ArrayLike, mult: int, shift: int) -> IntArray:
    """``sat8((acc * mult + 2**(shift-1)) >> shift)``: round half up, saturate (spec 1.1)."""
    rq = Requant(mult, shift)
    a = check_int32(acc, "requantize input")
    scaled = (a * rq.mult + rq.rounding) >> rq.shift
    return np.clip(scaled, INT8_MIN, INT8_MAX)


def topk(logits: npt.ArrayLike, k: int) -> IntArray:
    """Indices ``[T, k]`` of the k largest logits per row, rank order, lowest index wins ties."""
    lg = check_int32(logits, "topk logits")
    if lg.ndim != 2 or not 1 <= k <= lg.shape[1]:
        raise ValueError(f"topk needs a [T, E] array and 1 <= k <= E, got {lg.shape}, k={k}")
    # a stable sort of -logit keeps equal logits in increasing expert order
    order = np.argsort(-lg, axis=1, kind="stable")
    return order[:, :k].astype(np.int64)


def exp_lut() -> IntArray:
    """The 256-entry uint16 table ``EXP[q] = floor(32768 * exp(-q/32) + 1/2)`` (spec 1.3)."""
    return np.array([math.floor(EXP_ONE * math.exp(-q / EXP_STEPS_PER_NAT) + 0.5)
                     for q in range(256)], dtype=np.int64)


def gate_index(selected_logits: npt.ArrayLike, mult: int, shift: int) -> IntArray:
    """EXP table index ``min(255, ((max - l) * mult + round) >> shift)`` per selected logit."""
    rq = Requant(mult, shift)
    ls = check_int32(selected_logits, "gate logits")
    if ls.ndim != 2 or ls.shape[1] < 1:
        raise ValueError(f"gate_index needs a [T, k] array, got {ls.shape}")
    if np.any(ls[:, 1:] > ls[:, :1]):
        raise ValueError("selected logits must be in rank order (column 0 is the maximum)")
    diff = ls[:, :1] - ls
    return np.minimum(255, (diff * rq.mult + rq.rounding) >> rq.shift)


def normalize_gates(exp_values: npt.ArrayLike) -> IntArray:
    """Q1.15 weights ``floor(e * 2**15 / sum(e) + 1/2)`` per row (spec 1.3, step 5)."""
    ev = np.asarray(exp_values, dtype=np.int64)
    total = ev.sum(axis=1, keepdims=True)
    if np.any(total <= 0):
        raise ValueError("gate normalisation needs a positive sum")
    return (ev * GATE_ONE + (total >> 1)) // total


def gate_weights(selected_logits: npt.ArrayLike, mult: int, shift: int) -> IntArray:
    """Unsigned Q1.15 gate weights ``[T, k]`` for the selected logits in rank order."""
    q = gate_index(selected_logits, mult, shift)
    return normalize_gates(exp_lut()[q])


def _round_half_away(y: float) -> int:
    return int(math.copysign(math.floor(abs(y) + 0.5), y))


_ACTIVATIONS: dict[str, Callable[[float], float]] = {
    "identity": lambda v: v,
    "relu": lambda v: max(v, 0.0),
    "silu": lambda v: v / (1.0 + math.exp(-v)),
    "gelu": lambda v: 0.5 * v * (1.0 + math.erf(v / math.sqrt(2.0))),
}


def activation_names() -> tuple[str, ...]:
    return tuple(sorted(_ACTIVATIONS))


def activation_lut(name: str) -> IntArray:
    """256-entry int8 table indexed by the int8 input's unsigned byte (spec 1.5)."""
    if name not in _ACTIVATIONS:
        raise ValueError(f"unknown activation {name!r}, allowed: {sorted(_ACTIVATIONS)}")
    fn, scale = _ACTIVATIONS[name], float(1 << ACT_FRAC)
    table = np.zeros(256, dtype=np.int64)
    for byte in range(256):
        v = byte - 256 if byte >= 128 else byte
        table[byte] = min(INT8_MAX, max(INT8_MIN, _round_half_away(scale * fn(v / scale))))
    return table


def apply_lut(table: npt.ArrayLike, values: npt.ArrayLike) -> IntArray:
    """Look up int8 ``values`` in a 256-entry table by their unsigned byte."""
    return np.asarray(table, dtype=np.int64)[np.asarray(values, dtype=np.int64) & 0xFF]


def combine_acc(expert_out: npt.ArrayLike, weights: npt.ArrayLike) -> IntArray:
    """``sum_j weights[t, j] * expert_out[t, j, :]`` in int32 (spec 1.6)."""
    y = np.asarray(expert_out, dtype=np.int64)
    g = np.asarray(weights, dtype=np.int64)
    _check_int8(y, "combine expert outputs")
    if g.size and (g.min() < 0 or g.max() > 0xFFFF):
        raise ValueError("combine weights must be uint16")
    return check_int32(np.einsum("tk,tkd->td", g, y), "combine accumulator")


def combine(expert_out: npt.ArrayLike, weights: npt.ArrayLike) -> IntArray:
    """``sat8((acc + 2**14) >> 15)`` of :func:`combine_acc`: round half up, saturate."""
    acc = combine_acc(expert_out, weights)
    return np.clip((acc + (1 << (GATE_FRAC - 1))) >> GATE_FRAC, INT8_MIN, INT8_MAX)


# --------------------------------------------------------------------------------- overflow check
def accumulator_bounds(shape: MoEShape) -> dict[str, int]:
    """Worst-case |value| of every int32 accumulator for any int8 data (spec 1.7)."""
    bounds = {
        "router": shape.hidden * MAX_PRODUCT,
        "up": shape.hidden * MAX_PRODUCT,
        "down": shape.ffn * MAX_PRODUCT,
        "combine": shape.top_k * GATE_ONE * 128,
    }
    if shape.gated:
        bounds["gate"] = shape.hidden * MAX_PRODUCT
        bounds["hidden_product"] = MAX_PRODUCT
    return bounds


def max_abs_accumulator(shape: MoEShape) -> int:
    """Largest |accumulator| over the layer; the shape is legal iff it is ``<= 2**31 - 1``."""
    return max(accumulator_bounds(shape).values())


def fits_int32(shape: MoEShape) -> bool:
    return max_abs_accumulator(shape) <= INT32_MAX


# ------------------------------------------------------------------------------------ the layer
def route(logits: IntArray, k: int, experts: int) -> tuple[IntArray, tuple[IntArray, ...],
                                                            tuple[IntArray, ...]]:
    """Top-k indices, then per expert its tokens (increasing) and their ranks."""
    idx = topk(logits, k)
    tokens, slots = [], []
    for e in range(experts):
        t_idx, j_idx = np.nonzero(idx == e)
        tokens.append(t_idx.astype(np.int64))
        slots.append(j_idx.astype(np.int64))
    return idx, tuple(tokens), tuple(slots)


def expert_forward(xs: IntArray, e: int, params: MoEParams, act: IntArray) -> dict[str, IntArray | None]:
    """Run expert ``e`` on the token rows ``xs`` ([n, d] int8)."""
    up_acc = matmul_int32(xs, params.up[e], f"expert {e} up accumulator")
    up_q = requantize(up_acc, params.up_q[e].mult, params.up_q[e].shift)
    gate_acc = gate_q = None
    if params.gate is None:
        a = apply_lut(act, up_q)
        hidden = a
    else:
        assert params.gate_q is not None and params.hidden_q is not None
        gate_acc = matmul_int32(xs, params.gate[e], f"expert {e} gate accumulator")
        gate_q = requantize(gate_acc, params.gate_q[e].mult, params.gate_q[e].shift)
        a = apply_lut(act, gate_q)
        hidden = requantize(a * up_q, params.hidden_q[e].mult, params.hidden_q[e].shift)
    down_acc = matmul_int32(hidden, params.down[e], f"expert {e} down accumulator")
    out = requantize(down_acc, params.down_q[e].mult, params.down_q[e].shift)
    return {"up_acc": up_acc, "up_q": up_q, "gate_acc": gate_acc, "gate_q": gate_q, "act": a,
            "hidden": hidden, "down_acc": down_acc, "out": out}


def moe_layer(x: npt.ArrayLike, params: MoEParams, shape: MoEShape) -> GoldenResult:
    """The whole layer on int8 tokens ``x`` ([T, d]) with every intermediate value."""
    xa = np.asarray(x, dtype=np.int64)
    if xa.shape != (shape.tokens, shape.hidden):
        raise ValueError(f"x has shape {xa.shape}, expected {(shape.tokens, shape.hidden)}")
    params.validate(shape)
    _check_int8(xa, "x")
    if not fits_int32(shape):
        raise OverflowError(f"shape {shape} can overflow an int32 accumulator "
                            f"(worst case {max_abs_accumulator(shape)})")

    logits = matmul_int32(xa, params.router, "router logits")
    idx, tokens, slots = route(logits, shape.top_k, shape.experts)
    sel_logits = np.take_along_axis(logits, idx, axis=1)
    q = gate_index(sel_logits, params.gate_weight_q.mult, params.gate_weight_q.shift)
    weights = normalize_gates(exp_lut()[q])

    act = activation_lut(params.activation)
    traces = []
    expert_out = np.zeros((shape.tokens, shape.top_k, shape.hidden), dtype=np.int64)
    for e in range(shape.experts):
        res = expert_forward(xa[tokens[e]], e, params, act)
        # gate and hidden are None exactly when the shape is not gated, as ExpertTrace allows
        traces.append(ExpertTrace(tokens=tokens[e], slots=slots[e], **res))  # type: ignore[arg-type]
        out = res["out"]
        assert out is not None  # every expert has an output
        expert_out[tokens[e], slots[e]] = out
    return GoldenResult(
        logits=logits, topk_indices=idx, topk_logits=sel_logits, gate_index=q,
        gate_weights=weights, expert_tokens=tokens,
        expert_counts=np.array([len(t) for t in tokens], dtype=np.int64),
        experts=tuple(traces), expert_out=expert_out,
        combine_acc=combine_acc(expert_out, weights), output=combine(expert_out, weights))


# ---------------------------------------------------------------------------------- random inputs
def _scale_to_requant(scale: float) -> Requant:
    """The (mult, shift) with mult in [2**14, 2**15) closest to ``scale`` (> 0)."""
    shift = min(SHIFT_MAX, max(0, math.ceil(math.log2((1 << 14) / scale))))
    mult = max(1, min(MULT_MAX, round(scale * (1 << shift))))
    return Requant(mult, shift)


_UNIFORM_INT8_STD = math.sqrt((256**2 - 1) / 12)  # std of a uniform int8
_TARGET_STD = 32.0  # requantised tensors aim for this std: +-4 sigma fits int8


def random_params(shape: MoEShape, seed: int, activation: ActivationName = "silu") -> MoEParams:
    """Uniform int8 weights and requantisers chosen from the expected accumulator spread.

    Inputs are assumed uniform int8; each requantiser maps an accumulator standard deviation to
    about 32 so outputs use the int8 range without saturating most values. The gate requantiser
    maps one logit standard deviation to one nat (32 EXP steps).
    """
    rng = np.random.default_rng(seed)
    d, f, e = shape.hidden, shape.ffn, shape.experts

    def w(*dims: int) -> IntArray:
        return rng.integers(INT8_MIN, INT8_MAX + 1, size=dims, dtype=np.int64)

    w_std = _UNIFORM_INT8_STD
    in_acc = math.sqrt(d) * _UNIFORM_INT8_STD * w_std
    mid_acc = math.sqrt(f) * _TARGET_STD * w_std
    rq_in = tuple(_scale_to_requant(_TARGET_STD / in_acc) for _ in range(e))
    rq_down = tuple(_scale_to_requant(_TARGET_STD / mid_acc) for _ in range(e))
    # act(gate) * up: both about 32 in std, product about 32 * 32
    rq_hidden = tuple(_scale_to_requant(_TARGET_STD / (_TARGET_STD * _TARGET_STD))
                      for _ in range(e)) if shape.gated else None
    return MoEParams(
        router=w(d, e), up=w(e, d, f), gate=w(e, d, f) if shape.gated else None,
        down=w(e, f, d), up_q=rq_in, gate_q=rq_in if shape.gated else None,
        hidden_q=rq_hidden, down_q=rq_down,
        gate_weight_q=_scale_to_requant(EXP_STEPS_PER_NAT / in_acc), activation=activation)


def random_tokens(shape: MoEShape, seed: int) -> IntArray:
    """Uniform int8 tokens ``[T, d]``."""
    rng = np.random.default_rng(seed)
    return rng.integers(INT8_MIN, INT8_MAX + 1, size=(shape.tokens, shape.hidden), dtype=np.int64)


# ----------------------------------------------------------------------------- stream formats
def pack_tokens(x: npt.ArrayLike, word_bytes: int) -> npt.NDArray[np.uint8]:
    """Token stream words ``[T * ceil(d/W), W]`` of bytes, lane i%W of word i//W (spec 2)."""
    xa = np.asarray(x, dtype=np.int64)
    _check_word_bytes(word_bytes)
    _check_int8(xa, "tokens")
    t, d = xa.shape
    per_token = -(-d // word_bytes)
    padded = np.zeros((t, per_token * word_bytes), dtype=np.int64)
    padded[:, :d] = xa
    return (padded & 0xFF).astype(np.uint8).reshape(t * per_token, word_bytes)


def unpack_tokens(words: npt.ArrayLike, hidden: int) -> IntArray:
    """Inverse of :func:`pack_tokens`: int8 ``[T, d]``."""
    wa = np.asarray(words, dtype=np.int64)
    per_token = -(-hidden // wa.shape[1])
    if wa.shape[0] % per_token:
        raise ValueError(f"{wa.shape[0]} words is not a whole number of tokens of {per_token}")
    flat = wa.reshape(wa.shape[0] // per_token, per_token * wa.shape[1])[:, :hidden]
    return np.where(flat >= 128, flat - 256, flat)


def word_value(lanes: npt.ArrayLike) -> int:
    """The unsigned integer of one packed word (lane 0 in the least significant byte)."""
    return sum((int(b) & 0xFF) << (8 * i) for i, b in enumerate(np.asarray(lanes).tolist()))


def pack_weight_tiles(w: npt.ArrayLike, cols: int) -> IntArray:
    """Weight words ``[ceil(N/C) * K, C]`` for ``Wt[K, N]`` on a C-column array (spec 2)."""
    wa = np.asarray(w, dtype=np.int64)
    k, n = wa.shape
    tiles = -(-n // cols)
    padded = np.zeros((k, tiles * cols), dtype=np.int64)
    padded[:, :n] = wa
    return padded.reshape(k, tiles, cols).transpose(1, 0, 2).reshape(tiles * k, cols)


def pack_activation_tiles(x: npt.ArrayLike, rows: int) -> IntArray:
    """Activation words ``[ceil(M/R) * K, R]`` for ``X[M, K]`` on an R-row array (spec 2)."""
    return pack_weight_tiles(np.asarray(x, dtype=np.int64).T, rows)


def _check_word_bytes(word_bytes: int) -> None:
    if word_bytes < 1 or word_bytes > 64 or word_bytes & (word_bytes - 1):
        raise ValueError(f"word_bytes = {word_bytes}; allowed: a power of two in 1..64")
