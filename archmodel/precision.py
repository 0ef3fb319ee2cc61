"""Datatypes and their sizes; the precision a model runs at (weights, activations, KV cache)."""
from __future__ import annotations

from dataclasses import dataclass

from accelerators.errors import ConfigError

BYTES_PER_ELEMENT: dict[str, float] = {
    "fp32": 4.0,
    "bf16": 2.0,
    "fp16": 2.0,
    "fp8": 1.0,
    "int8": 1.0,
    "int4": 0.5,
    # Block-scaled 4-bit floats (E2M1 elements): NVFP4 adds one FP8 (E4M3) scale per 16 elements,
    # MXFP4 one E8M0 scale per 32 (OCP Microscaling Formats (MX) v1.0 specification, 2023;
    # NVIDIA, 'Introducing NVFP4 for efficient and accurate low-precision inference', 2025).
    "nvfp4": (16 * 4 + 8) / 16 / 8,
    "mxfp4": (32 * 4 + 8) / 32 / 8,
}
DTYPES = tuple(BYTES_PER_ELEMENT)
#: weight-only formats: the matrix unit runs at the activations' datatype (weights are dequantised)
WEIGHT_ONLY = ("int4", "mxfp4")
#: formats whose GEMMs run on the FP4 tensor cores (activations quantised to the same format)
FP4_COMPUTE = ("nvfp4",)


def dtype_bytes(dtype: str, field: str = "dtype") -> float:
    """Bytes per element of ``dtype``; a clear error for an unknown name."""
    try:
        return BYTES_PER_ELEMENT[dtype]
    except KeyError:
        raise ConfigError(None, field, dtype, f"allowed: {', '.join(DTYPES)}") from None


@dataclass(frozen=True)
class Precision:
    """Datatypes of weights, activations and KV cache. Compute runs at the weights' datatype
    for the GEMMs: weight-only int4 and MXFP4 compute at the activations' datatype, NVFP4 (W4A4)
    on the device's ``fp4`` peak."""

    weights: str = "bf16"
    activations: str = "bf16"
    kv: str = "bf16"

    def __post_init__(self) -> None:
        dtype_bytes(self.weights, "dtype")
        dtype_bytes(self.activations, "activation dtype")
        dtype_bytes(self.kv, "kv-dtype")

    @property
    def compute_dtype(self) -> str:
        """The datatype the matrix unit runs at (the key of the device's ``compute.peak``)."""
        if self.weights in WEIGHT_ONLY:
            return self.activations
        return "fp4" if self.weights in FP4_COMPUTE else self.weights

    @property
    def weight_bytes(self) -> float:
        return BYTES_PER_ELEMENT[self.weights]

    @property
    def activation_bytes(self) -> float:
        return BYTES_PER_ELEMENT[self.activations]

    @property
    def kv_bytes(self) -> float:
        return BYTES_PER_ELEMENT[self.kv]

    @classmethod
    def of(cls, dtype: str, kv_dtype: str | None = None) -> "Precision":
        """The usual serving setting for ``--dtype``: fp16/bf16/fp8 and int8 run weights and activations in
        that datatype (int8 as W8A8); int4 and mxfp4 are weight-only with bf16 activations; nvfp4 is
        W4A4 with FP8 between the GEMMs (its activations are quantised to NVFP4 at each GEMM's input,
        as TensorRT-LLM's NVFP4 recipe). The KV cache follows the activations unless ``kv_dtype`` is
        given."""
        activations = "bf16" if dtype in WEIGHT_ONLY else "fp8" if dtype in FP4_COMPUTE else dtype
        return cls(weights=dtype, activations=activations, kv=kv_dtype or activations)
