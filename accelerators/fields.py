"""The building blocks of device-file models: quantity types, counts, the frozen base model and
the cross-field error that names its own field. Shared by :mod:`accelerators.schema` and the kind
sections of :mod:`accelerators.kinds`."""
from __future__ import annotations

from functools import partial
from typing import Annotated, Final, Literal, get_args

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field
from pydantic_core import PydanticCustomError

from accelerators.units import Dimension, QuantityError, parse_quantity_value

__all__ = ["DTYPES", "TIER_ORDER", "Bandwidth", "Compute", "Count", "Dtype", "EnergyPerBit", "EnergyPerOp",
           "Fraction", "Frequency", "Frozen", "LinkName", "Power", "Size", "Time", "TimeOrZero", "TierName",
           "Topology", "rule_error"]

Dtype = Literal["bf16", "fp16", "fp8", "fp4", "int8", "int4", "fp32"]
DTYPES: Final[tuple[str, ...]] = get_args(Dtype)
TierName = Literal["sram", "hbm", "ddr", "host"]
TIER_ORDER: Final[tuple[str, ...]] = get_args(TierName)
Topology = Literal["switch", "full-mesh", "clos", "fat-tree", "ring", "torus", "mesh", "point-to-point"]
LinkName = Literal["scale_up", "scale_out", "host"]


def _quantity(dimension: Dimension, allow_zero: bool, value: object) -> float:
    try:
        return parse_quantity_value(value, dimension, allow_zero=allow_zero)
    except QuantityError as error:
        raise PydanticCustomError("quantity", "{allowed}", {"allowed": error.allowed}) from None


def _q(dimension: Dimension, *, allow_zero: bool = False) -> BeforeValidator:
    return BeforeValidator(partial(_quantity, dimension, allow_zero))


# Quantities with units: floats in SI base units once validated.
Size = Annotated[float, _q("size")]
Bandwidth = Annotated[float, _q("bandwidth")]
Compute = Annotated[float, _q("compute")]
Time = Annotated[float, _q("time")]
TimeOrZero = Annotated[float, _q("time", allow_zero=True)]
Power = Annotated[float, _q("power")]
Frequency = Annotated[float, _q("frequency")]
EnergyPerOp = Annotated[float, _q("energy_per_op")]
EnergyPerBit = Annotated[float, _q("energy_per_bit")]
Count = Annotated[int, Field(strict=True, ge=1)]
Fraction = Annotated[float, Field(gt=0.0, le=1.0)]


def rule_error(field: str, value: object, allowed: str) -> PydanticCustomError:
    """A cross-field error that names its own dotted field path (read back by the catalog)."""
    return PydanticCustomError("device_rule", "{allowed}",
                               {"field": field, "value": value, "allowed": allowed})


class Frozen(BaseModel):
    """Base of every device-file model: immutable, unknown fields refused."""

    model_config = ConfigDict(frozen=True, extra="forbid")
