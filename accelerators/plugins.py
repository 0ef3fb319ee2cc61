"""Plug-ins found by looking: every module (or sub-package) of a package that defines one named object.

Device kinds use it twice, for their device-file rules (``accelerators/kinds/``, ``KIND``) and their
models (``archmodel/devices/``, ``PLUGIN``), so neither keeps a list of kinds to edit.
"""
from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Iterable
from typing import TypeVar

__all__ = ["discover"]

T = TypeVar("T")


def discover(package: str, path: Iterable[str], attribute: str, kind: type[T], *, packages_only: bool = False) -> dict[str, T]:
    """``{module name: module.<attribute>}`` for every module of ``package`` (at ``path``), in
    alphabetical order. Each object must be a ``kind`` whose ``name`` is its module's name; a module
    that breaks this is a TypeError naming its file and what it must define."""
    found: dict[str, T] = {}
    for info in sorted(pkgutil.iter_modules(path), key=lambda i: i.name):
        if packages_only and not info.ispkg:
            continue
        module = importlib.import_module(f"{package}.{info.name}")
        value = getattr(module, attribute, None)
        if not isinstance(value, kind) or getattr(value, "name", None) != info.name:
            raise TypeError(f"{module.__file__}: a plug-in module of {package} must define "
                            f"{attribute} = {kind.__name__}({info.name!r}, ...)")
        found[info.name] = value
    return found
