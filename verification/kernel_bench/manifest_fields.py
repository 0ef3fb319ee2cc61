"""The manifest fields the bench reads, checked before anything reads them.

A manifest edited by hand (or by a script) can keep its schema and its source hashes and still
lose a field or change its type; each field below is checked for presence and type, every problem
is reported at once (one ``ConfigError`` naming the file, the dotted field, the value and what is
allowed), so a bad manifest never reaches the bench as a ``KeyError``.
"""
from __future__ import annotations

from collections.abc import Callable
from pathlib import PurePosixPath
from typing import Any

from accelerators.errors import ConfigError

from codegen.spec import KernelSpec

__all__ = ["check_fields"]

_MISSING = object()


def _whole(minimum: int) -> tuple[Callable[[Any], bool], str]:
    return (lambda v: isinstance(v, int) and not isinstance(v, bool) and v >= minimum,
            f"a whole number >= {minimum}")


def _inside(v: Any) -> bool:
    if not isinstance(v, list) or not v:
        return False
    return all(isinstance(s, str) and s and not PurePosixPath(s).is_absolute() and ".." not in PurePosixPath(s).parts
               for s in v)


def _counts(v: Any) -> bool:
    return isinstance(v, list) and all(isinstance(c, int) and not isinstance(c, bool) and c >= 0 for c in v)


def _pair(v: Any) -> bool:
    return isinstance(v, list) and len(v) == 2 and all(isinstance(c, int) and not isinstance(c, bool) and c >= 1
                                                       for c in v)


def _identifier(v: Any) -> bool:
    return isinstance(v, str) and v.isidentifier()


def _request(v: Any) -> bool:
    if not isinstance(v, dict):
        return False
    try:
        KernelSpec(**v)
    except TypeError:
        return False
    return True


FIELDS: tuple[tuple[str, Callable[[Any], bool], str], ...] = (
    ("files", lambda v: isinstance(v, dict) and all(isinstance(k, str) and isinstance(x, str) for k, x in v.items()),
     "the sha256 of every generated file (a mapping of path to digest)"),
    ("toplevel", _identifier, "the Verilog top module's name (an identifier)"),
    ("sources", _inside, "a list of file paths inside the kernel directory (relative, no '..')"),
    ("request", _request, f"the codegen request: a mapping of {', '.join(KernelSpec.__dataclass_fields__)}"),
    *((f"shape.{k}", *_whole(1)) for k in ("tokens", "hidden", "ffn", "experts", "top_k")),
    ("shape.gated", lambda v: isinstance(v, bool), "true or false"),
    ("activation.name", lambda v: isinstance(v, str) and bool(v), "the activation's name"),
    ("device.pe_array", _pair, "[rows, cols], two whole numbers >= 1"),
    ("schedule.stream_bytes", *_whole(1)),
    ("schedule.nominal_tokens_per_expert", _counts, "a list of whole numbers >= 0 (tokens per expert)"),
    ("interfaces.rtl.schedule_rom", lambda v: isinstance(v, dict) and bool(v), "the schedule ROM (a mapping)"),
    ("interfaces.rtl.schedule_rom.front", lambda v: isinstance(v, str), "the front stage's name"),
    ("interfaces.rtl.schedule_rom.switch_cycles", *_whole(0)),
    ("interfaces.rtl.schedule_rom.rom", lambda v: isinstance(v, list) and all(isinstance(r, dict) for r in v),
     "a list of ROM rows (mappings)"),
    ("predicted.cycles", *_whole(0)),
    ("predicted.cycles_per_stage", lambda v: isinstance(v, (list, dict)), "the predicted cycles of each stage"),
    ("predicted.resources", lambda v: isinstance(v, dict), "the predicted resources (a mapping)"),
)


def _get(data: Any, dotted: str) -> Any:
    for key in dotted.split("."):
        if not isinstance(data, dict) or key not in data:
            return _MISSING
        data = data[key]
    return data


def check_fields(manifest: dict[str, Any], file: str) -> None:
    """``ConfigError`` listing every field of ``manifest`` the bench reads that is missing or of the wrong type."""
    problems = []
    for dotted, ok, allowed in FIELDS:
        value = _get(manifest, dotted)
        if value is _MISSING:
            problems.append(ConfigError(file, dotted, "<missing>", allowed))
        elif not ok(value):
            problems.append(ConfigError(file, dotted, value, allowed))
    shape = manifest.get("shape")
    if not problems and isinstance(shape, dict) and shape["top_k"] > shape["experts"]:
        problems.append(ConfigError(file, "shape.top_k", shape["top_k"], f"at most shape.experts ({shape['experts']})"))
    if problems:
        raise ConfigError.combine(problems)
