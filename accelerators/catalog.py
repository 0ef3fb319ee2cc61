"""The device registry: list catalog devices, find their files, load and validate them.

``load_device`` takes a catalog name (``'h100-sxm'``) or a path to a YAML file. A file may say
``extends: <catalog name or relative .yaml path>``; the parent's raw mapping is merged deeply
with the child's before validation (mappings merge key by key, lists of named entries such as
memory tiers merge by ``name``, other values are replaced). Every numeric field a child file
sets itself must be cited by a key in the child's own ``sources``. Any problem raises exactly
one :class:`ConfigError` naming the file, the field, the value and what is allowed.
"""
from __future__ import annotations

import hashlib
from collections.abc import Mapping
from functools import lru_cache
from pathlib import Path
from typing import Any, Final

import yaml
from pydantic import BaseModel, ValidationError

from accelerators.errors import ConfigError, read_user_text
from accelerators.schema import Device, covering_source, leaf_paths, numeric_leaves
from accelerators.yaml_loader import UniqueKeyLoader

DEVICES_DIR: Final[Path] = Path(__file__).resolve().parent / "devices"
_SUFFIXES: Final = (".yaml", ".yml")


def list_devices() -> list[str]:
    """Names of the catalog devices, sorted."""
    return sorted(path.stem for path in DEVICES_DIR.glob("*.yaml"))


def device_path(name: str) -> Path:
    """The YAML file of catalog device ``name``; ConfigError listing the names if unknown."""
    path = DEVICES_DIR / f"{name}.yaml"
    if not path.is_file():
        raise ConfigError(None, "device", name, f"one of the catalog devices: {', '.join(list_devices())}, "
                          "or a path to a .yaml device file")
    return path


def load_device(name_or_path: str | Path) -> Device:
    """Load a catalog device by name, or a user device file by path.

    Results are cached by resolved path, modification time and a hash of the file's bytes, so an
    edited file is read again even when two writes fall in the same mtime tick.
    """
    path = _resolve(name_or_path)
    content = path.read_bytes()
    return _load_cached(str(path), path.stat().st_mtime_ns, hashlib.sha256(content).hexdigest())


def _resolve(name_or_path: str | Path) -> Path:
    text = str(name_or_path)
    looks_like_path = isinstance(name_or_path, Path) or text.endswith(_SUFFIXES) or "/" in text or "\\" in text
    if not looks_like_path:
        return device_path(text)
    path = Path(name_or_path).expanduser()
    if not path.is_file():
        raise ConfigError(str(path), None, text, "an existing device file (.yaml) or a catalog device name: "
                          + ", ".join(list_devices()))
    return path.resolve()


@lru_cache(maxsize=128)
def _load_cached(path_text: str, mtime_ns: int, digest: str) -> Device:
    del mtime_ns, digest  # parts of the cache key only: an edited file is read again
    path = Path(path_text)
    raw = _merged_raw(path, chain=())
    problems = list(_name_mismatch(path, raw))
    try:
        device = Device.model_validate(raw)
    except ValidationError as error:
        raise ConfigError.combine([*problems, *_config_errors(error, path, raw)]) from None
    problems += _uncited_overrides(path, _read_raw(path), device)
    if problems:
        raise ConfigError.combine(problems)
    return device


def _merged_raw(path: Path, chain: tuple[Path, ...], ref: str | None = None) -> dict[str, Any]:
    if path in chain:
        cycle = " -> ".join(p.stem for p in (*chain, path))
        raise ConfigError(str(chain[-1]), "extends", ref or path.stem,
                          f"a device that does not extend back to itself (cycle: {cycle})")
    raw = _read_raw(path)
    parent_ref = raw.get("extends")
    if parent_ref is None:
        return raw
    if not isinstance(parent_ref, str) or not parent_ref:
        raise ConfigError(str(path), "extends", parent_ref, "a catalog device name or a relative .yaml path")
    parent_path = _parent_path(path, parent_ref)
    parent = _merged_raw(parent_path, (*chain, path), parent_ref)
    merged = _deep_merge(parent, raw)
    merged["extends"] = parent_ref
    return merged


def _parent_path(child: Path, ref: str) -> Path:
    if ref.endswith(_SUFFIXES):
        candidate = (child.parent / ref).resolve()
        if not candidate.is_file():
            raise ConfigError(str(child), "extends", ref, "an existing .yaml file relative to this file, "
                              "or a catalog device name")
        return candidate
    try:
        return device_path(ref).resolve()
    except ConfigError as error:
        raise ConfigError(str(child), "extends", ref, error.allowed) from None


def _deep_merge(base: Mapping[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in override.items():
        old = merged.get(key)
        if isinstance(old, Mapping) and isinstance(value, Mapping):
            merged[key] = _deep_merge(old, value)
        elif isinstance(old, list) and isinstance(value, list) and _named_list(old) and _named_list(value):
            merged[key] = _merge_named(old, value)
        else:
            merged[key] = value
    return merged


def _named_list(value: object) -> bool:
    return isinstance(value, list) and all(isinstance(v, Mapping) and "name" in v for v in value)


def _merge_named(base: list[Mapping[str, Any]], override: list[Mapping[str, Any]]) -> list[dict[str, Any]]:
    result = [dict(item) for item in base]
    for item in override:
        for index, existing in enumerate(result):
            if existing["name"] == item["name"]:
                result[index] = _deep_merge(existing, item)
                break
        else:
            result.append(dict(item))
    return result


def _read_raw(path: Path) -> dict[str, Any]:
    text = read_user_text(path, "device file")
    try:
        data = yaml.load(text, Loader=UniqueKeyLoader)  # noqa: S506 - a SafeLoader subclass
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        line = f"line {mark.line + 1}, column {mark.column + 1}" if mark is not None else "unknown line"
        problem = getattr(error, "problem", None) or str(error)
        snippet = text.splitlines()[mark.line].strip() if mark is not None and mark.line < len(
            text.splitlines()) else ""
        raise ConfigError(str(path), line, snippet, f"valid YAML ({problem})") from None
    if not isinstance(data, dict):
        raise ConfigError(str(path), None, data, "a YAML mapping of device fields (name, kind, compute, ...)")
    return data


def _name_mismatch(path: Path, raw: Mapping[str, Any]) -> list[ConfigError]:
    name = raw.get("name")
    if isinstance(name, str) and name != path.stem:
        return [ConfigError(str(path), "name", name, f"the file name without .yaml ('{path.stem}')")]
    return []


def _uncited_overrides(path: Path, own_raw: Mapping[str, Any], device: Device) -> list[ConfigError]:
    """A child file must cite, in its own sources, every numeric field it sets itself."""
    if own_raw.get("extends") is None:
        return []
    own_sources = own_raw.get("sources") or {}
    numeric = numeric_leaves(device.model_dump(exclude_unset=True, exclude={"sources"}))
    return [ConfigError(str(path), leaf, value,
                        f"a citation in this file's own 'sources:' for '{leaf}' (it overrides "
                        "the parent's value, so the parent's citation does not cover it)")
            for leaf, value in leaf_paths(own_raw) if leaf in numeric and covering_source(leaf, own_sources) is None]


def _config_errors(error: ValidationError, path: Path, raw: Mapping[str, Any]) -> list[ConfigError]:
    """One ConfigError per problem pydantic found (field errors, or every broken cross-field rule).

    An error on a container whose own items failed (``memory`` after ``memory[0].capacity``) is a
    consequence, not a second mistake: it is left out."""
    details = error.errors(include_url=False)
    locs = [tuple(d["loc"]) for d in details]
    found: list[ConfigError] = []
    for detail in details:
        loc = tuple(detail["loc"])
        if any(len(other) > len(loc) and other[:len(loc)] == loc for other in locs):
            continue
        context = detail.get("ctx") or {}
        if detail["type"] == "device_rules":
            found += [ConfigError(str(path), rule["field"], rule["value"], rule["allowed"]) for rule in context["rules"]]
        else:
            found.append(_config_error(dict(detail), path, raw))
    return found


def _config_error(detail: dict[str, Any], path: Path, raw: Mapping[str, Any]) -> ConfigError:
    context = detail.get("ctx") or {}
    if detail["type"] == "device_rule":
        return ConfigError(str(path), context["field"], context["value"], context["allowed"])
    loc = tuple(detail["loc"])
    field = _dotted(loc, raw)
    value = detail.get("input")
    kind = detail["type"]
    if kind == "missing":
        return ConfigError(str(path), field, "<missing>", "this field is required")
    if kind == "extra_forbidden":
        allowed = _allowed_keys(loc[:-1])
        return ConfigError(str(path), field, value, f"no field '{loc[-1]}' here; allowed fields: {allowed}")
    if kind == "quantity":
        return ConfigError(str(path), field, value, context["allowed"])
    if kind == "literal_error":
        return ConfigError(str(path), field, value, f"one of {context['expected']}")
    return ConfigError(str(path), field, value, detail["msg"])


def _dotted(loc: tuple[Any, ...], raw: Mapping[str, Any]) -> str:
    parts: list[str] = []
    node: Any = raw
    for item in loc:
        if item == "[key]":
            continue
        if isinstance(item, int):
            label = f"[{item}]"
            if isinstance(node, list) and item < len(node) and isinstance(node[item], Mapping):
                name = node[item].get("name")
                label = str(name) if isinstance(name, str) else label
            node = node[item] if isinstance(node, list) and item < len(node) else None
            parts.append(label)
        else:
            node = node.get(item) if isinstance(node, Mapping) else None
            parts.append(str(item))
    return ".".join(parts)


def _allowed_keys(loc: tuple[Any, ...]) -> str:
    model: type[BaseModel] | None = Device
    for item in loc:
        if model is None:
            break
        if isinstance(item, int) or item == "[key]":
            continue
        info = model.model_fields.get(str(item))
        model = _model_in(info.annotation) if info is not None else None
    if model is None:
        return "(see docs/devices.md)"
    return ", ".join(model.model_fields)


def _model_in(annotation: Any) -> type[BaseModel] | None:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in getattr(annotation, "__args__", ()):
        found = _model_in(arg)
        if found is not None:
            return found
    return None
