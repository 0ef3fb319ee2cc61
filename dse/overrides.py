"""Override fields of a catalog device by dotted path, with the catalog's own validation.

Paths are those of ``accelerators.schema.leaf_paths``: ``chips``, ``power.tdp``, ``fpga.dsp``,
``pim.bandwidth_multiple``, ``compute.peak.bf16``, ``memory.hbm.capacity`` (tiers by name),
``interconnect.scale_up.bandwidth`` ... A value is written as in a device file (quantities as
strings with units: ``"64 GB"``, ``"2.4 TB/s"``; counts as integers) and converted by the field's
own pydantic validator; the device's cross-field rules then run again on the result, so an
override can never produce a device the catalog would reject.
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, Any

from pydantic import BaseModel, TypeAdapter, ValidationError
from pydantic_core import PydanticCustomError

from accelerators.schema import Device


class OverrideError(ValueError):
    """A path that names no field, or a value the field rejects; ``allowed`` says what fits."""

    def __init__(self, path: str, value: object, allowed: str):
        self.path = path
        self.value = value
        self.allowed = allowed
        super().__init__(f"device field '{path}': got {value!r}; {allowed}")


def _field_adapter(model: type[BaseModel], name: str) -> TypeAdapter:
    info = model.model_fields[name]
    annotation: Any = info.annotation
    if info.metadata:
        annotation = Annotated[(annotation, *info.metadata)]
    return TypeAdapter(annotation)


def _validate(model: type[BaseModel], name: str, raw: object, path: str) -> Any:
    try:
        return _field_adapter(model, name).validate_python(raw)
    except ValidationError as error:
        first = error.errors(include_url=False)[0]
        allowed = (first.get("ctx") or {}).get("allowed") or first["msg"]
        raise OverrideError(path, raw, str(allowed)) from None


def _model_type(model: type[BaseModel], name: str) -> type[BaseModel] | None:
    annotation = model.model_fields[name].annotation
    candidates = (annotation, *getattr(annotation, "__args__", ()))
    for candidate in candidates:
        if isinstance(candidate, type) and issubclass(candidate, BaseModel):
            return candidate
    return None


def _set(node: BaseModel, parts: Sequence[str], raw: object, path: str, si: bool = False) -> BaseModel:
    model = type(node)
    head = parts[0]
    if head not in model.model_fields or head == "sources":
        raise OverrideError(path, raw, f"a device field path; '{head}' is not one of "
                            f"{', '.join(f for f in model.model_fields if f != 'sources')}")
    current = getattr(node, head)
    rest = parts[1:]
    if isinstance(node, Device) and head == "memory":
        if not rest:
            raise OverrideError(path, raw, "a tier field such as memory.hbm.capacity")
        names = [tier.name for tier in node.memory]
        if rest[0] not in names:
            raise OverrideError(path, raw, f"a tier of this device: {', '.join(names)}")
        if len(rest) < 2:
            raise OverrideError(path, raw, "a tier field such as memory.hbm.capacity")
        tiers = tuple(_set(t, rest[1:], raw, path, si) if t.name == rest[0] else t for t in node.memory)
        return node.model_copy(update={"memory": tiers})
    if not rest:
        if isinstance(current, BaseModel):
            raise OverrideError(path, raw, f"a field inside '{head}': {', '.join(type(current).model_fields)}")
        return node.model_copy(update={head: raw if si else _validate(model, head, raw, path)})
    if isinstance(current, dict):
        if len(rest) != 1:
            raise OverrideError(path, raw, f"one key under '{head}'")
        merged = {**current, **({rest[0]: raw} if si else _validate(model, head, {rest[0]: raw}, path))}
        return node.model_copy(update={head: merged})
    if current is None:
        if _model_type(model, head) is None:
            raise OverrideError(path, raw, f"'{head}' has no fields")
        raise OverrideError(path, raw, f"a section this device has; it has no '{head}' section")
    if not isinstance(current, BaseModel):
        raise OverrideError(path, raw, f"'{head}' has no fields")
    return node.model_copy(update={head: _set(current, rest, raw, path, si)})


def apply_device_overrides(device: Device, overrides: Sequence[tuple[str, object]], *, si: bool = False) -> Device:
    """``device`` with each ``(path, value)`` applied; OverrideError if a path or value is bad
    or the result breaks a device rule (tier order, FPGA peak = DSPs x MACs x 2 x clock ...).

    Values are written as in a device file; with ``si=True`` they are numbers already in the
    schema's SI units (what adapters compute, e.g. a scaled bandwidth in bytes/s)."""
    if not overrides:
        return device
    result: BaseModel = device
    for path, raw in overrides:
        result = _set(result, path.split("."), raw, path, si)
    assert isinstance(result, Device)
    try:
        # The schema's cross-field rules (a model validator) run again on the edited device.
        result._check_rules()  # type: ignore[operator]  # pydantic's model_validator descriptor is callable at run time
    except PydanticCustomError as error:
        context = error.context or {}
        raise OverrideError(str(context.get("field", "")), context.get("value"),
                            str(context.get("allowed", error.message()))) from None
    return result


def check_path(device: Device, path: str, raw: object) -> None:
    """Raise OverrideError if ``path`` cannot take ``raw`` on ``device`` (used when a space loads)."""
    result: BaseModel = device
    _set(result, path.split("."), raw, path)
