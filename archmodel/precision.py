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
}
DTYPES = tuple(BYTES_PER_ELEMENT)


def dtype_bytes(dtype: str, field: str = "dtype") -> float:
    """Bytes per element of ``dtype``; a clear error for an unknown name."""
    try:
        return BYTES_PER_ELEMENT[dtype]
    except KeyError:
        raise ConfigError(None, field, dtype, f"allowed: {', '.join(DTYPES)}") from None


@dataclass(frozen=True)
class Precision:
    """Datatypes of weights, activations and KV cache. Compute runs at the weights' datatype
    for the GEMMs (weight-only int4 still computes at the activations' datatype)."""

    weights: str = "bf16"
    activations: str = "bf16"
    kv: str = "bf16"

    def __post_init__(self) -> None:
        dtype_bytes(self.weights, "dtype")
        dtype_bytes(self.activations, "activation dtype")
        dtype_bytes(self.kv, "kv-dtype")

    @property
    def compute_dtype(self) -> str:
        """The datatype the matrix unit runs at: int4 weights are dequantised to the activations'."""
        return self.activations if self.weights == "int4" else self.weights

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
        that datatype (int8 as W8A8); int4 is weight-only with bf16 activations. The KV cache follows
        the activations unless ``kv_dtype`` is given."""
        activations = "bf16" if dtype == "int4" else dtype
        return cls(weights=dtype, activations=activations, kv=kv_dtype or activations)
