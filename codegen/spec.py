"""What a user asks the kernel generator for, validated at the edge.

A :class:`KernelSpec` is the layer shape (tokens ``T``, hidden ``d``, expert FFN ``f``, experts
``E``, top-``k``, gated or not), the activation, the FPGA part and PE array, and the token-stream
width. :meth:`KernelSpec.validate` raises one :class:`~accelerators.errors.ConfigError` naming the
parameter for bad input, before anything is built or written:

* sizes must be whole numbers ``>= 1`` and ``top_k <= experts``;
* the activation must be one of the shipped tables (``docs/kernel-arithmetic.md`` 1.5);
* ``stream_bytes`` must be a power of two in 1..64 (spec section 2);
* the PE array must fit the part's DSP slices (one int8 MAC per DSP, as Yosys maps the RTL);
* no int32 accumulator may overflow for any int8 data (spec 1.7): see :func:`accumulator_bounds`,
  computed here from the documented arithmetic (``codegen`` does not import ``verification``);
* a real model's layer scaled down with ``scale = N`` needs ``d`` and ``f`` divisible by ``N``.

The schedule may still reject a spec whose buffers do not fit the part's BRAM/URAM
(:func:`codegen.plan.build_plan`), also with a ConfigError.
"""
from __future__ import annotations

import re
from dataclasses import asdict, dataclass

from accelerators.catalog import load_device
from accelerators.errors import ConfigError
from accelerators.kinds.fpga import FpgaSpec
from archmodel.moe_layer import MoELayer
from archmodel.workloads import load_workload

__all__ = ["ACTIVATIONS", "INT32_MAX", "MAX_EXPERTS", "MAX_TOKENS", "KernelSpec", "accumulator_bounds", "max_abs_accumulator",
           "parse_pe", "parse_shape", "spec_from_layer"]

INT32_MAX = 2**31 - 1
#: largest |int8 x int8| product: (-128) * (-128)
MAX_PRODUCT = 128 * 128
#: gate weights are unsigned Q1.15; their largest value is 1.0 = 2**15 (spec 1.3)
GATE_ONE = 1 << 15
#: largest |int8|
INT8_MAG = 128
ACTIVATIONS: tuple[str, ...] = ("gelu", "identity", "relu", "silu")
STREAM_BYTES: tuple[int, ...] = (1, 2, 4, 8, 16, 32, 64)
STYLES: tuple[str, ...] = ("intar", "dataflow", "sequential")
#: most experts a generated kernel holds: its schedule ROM, HLS tables and manifest have one entry
#: per expert (generation time and file size grow with it; a million experts took minutes). Every
#: published MoE fits: DeepSeek-V3 256, Kimi K2 384 routed experts, Switch-C 2,048.
MAX_EXPERTS = 4096
#: most tokens a generated kernel takes in one call: its variant table has an entry per token count
#: 1..tokens (scheduling grows with the square of it). The engines' largest step is this size:
#: TensorRT-LLM, vLLM and SGLang default max_num_tokens to 8,192 (archmodel.serving.engines).
MAX_TOKENS = 8192
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
#: keys of the ``--shape`` string and the spec field each sets
SHAPE_KEYS: dict[str, str] = {"d": "hidden", "hidden": "hidden", "f": "ffn", "ffn": "ffn",
                              "experts": "experts", "e": "experts", "top_k": "top_k", "k": "top_k"}


def accumulator_bounds(hidden: int, ffn: int, top_k: int, gated: bool) -> dict[str, int]:
    """Worst-case magnitude of every int32 accumulator for any int8 data (spec 1.7).

    * router logits and up/gate projections sum ``d`` products of two int8 values, each at most
      ``128 * 128 = 2**14`` in magnitude: ``d * 2**14``;
    * the down projection sums ``f`` such products: ``f * 2**14``;
    * the gated product ``act(gate) * up`` is one int8 x int8 product: ``2**14``;
    * the combine sums ``k`` terms ``g * y`` with ``0 <= g <= 2**15`` (Q1.15) and ``|y| <= 128``:
      ``k * 2**22``.
    """
    bounds = {"router": hidden * MAX_PRODUCT, "up": hidden * MAX_PRODUCT, "down": ffn * MAX_PRODUCT,
              "combine": top_k * GATE_ONE * INT8_MAG}
    if gated:
        bounds["gate"] = hidden * MAX_PRODUCT
        bounds["hidden_product"] = MAX_PRODUCT
    return bounds


def max_abs_accumulator(hidden: int, ffn: int, top_k: int, gated: bool) -> int:
    return max(accumulator_bounds(hidden, ffn, top_k, gated).values())


@dataclass(frozen=True)
class KernelSpec:
    """The user's request. ``pe_rows``/``pe_cols`` ``None``: the array the cost model picks (:func:`codegen.plan.fastest_array`)."""

    tokens: int
    hidden: int
    ffn: int
    experts: int
    top_k: int
    gated: bool = False
    activation: str = "silu"
    device: str = "alveo-u280"
    pe_rows: int | None = None
    pe_cols: int | None = None
    stream_bytes: int = 16
    style: str = "intar"
    name: str = "moe_kernel"          # HLS top function / Verilog top module
    layer: str | None = None          # the model whose MoE layer this is (``--layer``), if any
    scale: int = 1                    # d and f were divided by this (``--scale``)

    @property
    def source_hidden(self) -> int:
        """``d`` before scaling."""
        return self.hidden * self.scale

    @property
    def source_ffn(self) -> int:
        return self.ffn * self.scale

    @property
    def shape(self) -> MoELayer:
        """The layer shape (the shared contract; ConfigError naming the field if it is not one)."""
        return MoELayer(self.tokens, self.hidden, self.ffn, self.experts, self.top_k, self.gated)

    def as_dict(self) -> dict:
        return asdict(self)

    def validate(self) -> KernelSpec:
        """Raise ConfigError for the first bad parameter; return ``self`` when valid. The layer
        shape is checked by its contract (:class:`archmodel.moe_layer.MoELayer`)."""
        _ = self.shape
        if self.tokens > MAX_TOKENS:
            raise ConfigError(None, "tokens", self.tokens,
                              f"at most {MAX_TOKENS:,} tokens per kernel call (the variant table has an entry per "
                              "token count; engines run at most 8,192 tokens a step: their max_num_tokens)")
        if self.experts > MAX_EXPERTS:
            raise ConfigError(None, "experts", self.experts,
                              f"at most {MAX_EXPERTS:,} experts (the kernel's schedule ROM and manifest hold one entry "
                              "per expert; the largest published MoE, Switch-C, has 2,048)")
        if not isinstance(self.scale, int) or isinstance(self.scale, bool) or self.scale < 1:
            raise ConfigError(None, "scale", self.scale, "a whole number >= 1")
        if self.activation not in ACTIVATIONS:
            raise ConfigError(None, "activation", self.activation, f"one of {', '.join(ACTIVATIONS)}")
        if self.stream_bytes not in STREAM_BYTES or isinstance(self.stream_bytes, bool):
            raise ConfigError(None, "stream_bytes", self.stream_bytes,
                              "a power of two 1..64 (bytes per token-stream word)")
        if self.style not in STYLES:
            raise ConfigError(None, "style", self.style, f"one of {', '.join(STYLES)}")
        if not isinstance(self.name, str) or not _NAME.match(self.name):
            raise ConfigError(None, "name", self.name, "a C identifier (letters, digits, _)")
        worst = max_abs_accumulator(self.hidden, self.ffn, self.top_k, self.gated)
        if worst > INT32_MAX:
            bounds = accumulator_bounds(self.hidden, self.ffn, self.top_k, self.gated)
            which = max(bounds, key=bounds.__getitem__)
            field = {"router": "hidden", "up": "hidden", "gate": "hidden", "down": "ffn",
                     "combine": "top_k"}.get(which, "hidden")
            raise ConfigError(None, field, getattr(self, field),
                              f"a size whose worst-case {which} accumulator fits int32: {worst} > "
                              f"{INT32_MAX} (|int8 x int8| <= 2**14 per product, docs/kernel-arithmetic.md 1.7; "
                              f"d and f <= 131071)")
        self._validate_array()
        return self

    def _validate_array(self) -> None:
        rows, cols = self.pe_rows, self.pe_cols
        if (rows is None) != (cols is None):
            raise ConfigError(None, "pe", f"{rows}x{cols}", "both rows and columns (RxC), or neither")
        device = load_device(self.device)  # ConfigError for an unknown device
        fpga = device.section(FpgaSpec)
        if fpga is None:
            raise ConfigError(None, "device", self.device, "an FPGA device, e.g. alveo-u280, alveo-u55c, "
                              "versal-vck190")
        if rows is None or cols is None:
            return
        for value in (rows, cols):
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ConfigError(None, "pe", f"{rows}x{cols}", "RxC with whole numbers >= 1")
        if rows * cols > fpga.dsp:
            raise ConfigError(None, "pe", f"{rows}x{cols}",
                              f"at most {fpga.dsp} PEs: {self.device} has {fpga.dsp} "
                              f"{fpga.dsp_type} slices and the RTL maps one int8 MAC to one DSP")


def parse_shape(text: str) -> dict[str, int]:
    """``"d=64,f=128,experts=8,top_k=2"`` -> ``{"hidden": 64, "ffn": 128, "experts": 8, "top_k": 2}``.

    Keys: ``d``/``hidden``, ``f``/``ffn``, ``experts``/``e``, ``top_k``/``k``; all four needed.
    """
    allowed = "comma-separated key=value with keys d, f, experts, top_k (e.g. d=64,f=128,experts=8,top_k=2)"
    out: dict[str, int] = {}
    if not isinstance(text, str) or not text.strip():
        raise ConfigError(None, "shape", text, allowed)
    for part in text.split(","):
        key, sep, value = part.strip().partition("=")
        key = key.strip().lower()
        if not sep or key not in SHAPE_KEYS:
            raise ConfigError(None, "shape", text, allowed)
        field = SHAPE_KEYS[key]
        if field in out:
            raise ConfigError(None, "shape", text, f"{allowed}; each key once")
        value = value.strip()
        if not re.fullmatch(r"[+-]?\d+", value):
            raise ConfigError(None, "shape", text, f"{allowed}; values are whole numbers")
        out[field] = int(value)
    missing = [k for k in ("hidden", "ffn", "experts", "top_k") if k not in out]
    if missing:
        raise ConfigError(None, "shape", text, f"{allowed}; missing {', '.join(missing)}")
    return out


def parse_pe(text: str) -> tuple[int, int]:
    """``"8x8"`` -> ``(8, 8)`` (rows x columns)."""
    m = re.fullmatch(r"\s*(\d+)\s*[xX]\s*(\d+)\s*", text or "")
    if not m:
        raise ConfigError(None, "pe", text, "RxC, e.g. 8x8 (PE rows x columns)")
    return int(m.group(1)), int(m.group(2))


def spec_from_layer(layer: str, *, scale: int = 1, tokens: int, **options: object) -> KernelSpec:
    """The MoE layer of a real model (``archmodel.workloads.load_workload``), ``d`` and ``f``
    divided by ``scale`` (both must be divisible by it)."""
    model = load_workload(layer)
    if model.moe is None or not model.is_moe:
        raise ConfigError(None, "layer", layer, "a model with MoE layers (e.g. mixtral-8x7b, qwen3-30b-a3b)")
    if not isinstance(scale, int) or isinstance(scale, bool) or scale < 1:
        raise ConfigError(None, "scale", scale, "a whole number >= 1")
    d, f = model.hidden_size, model.moe.expert_intermediate_size
    for what, size in (("hidden", d), ("ffn", f)):
        if size % scale:
            raise ConfigError(None, "scale", scale, f"a divisor of the layer's {what} size {size} "
                              f"(d = {d}, f = {f} of {model.name} are divided by the scale)")
    return KernelSpec(tokens=tokens, hidden=d // scale, ffn=f // scale, experts=model.moe.num_experts,
                      top_k=model.moe.top_k, gated=model.moe.gated, layer=model.name, scale=scale,
                      **options)  # type: ignore[arg-type]
