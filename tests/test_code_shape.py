"""The shape rules of docs/ARCHITECTURE.md, checked on the packages' source.

* no module over 500 lines and no function over 120 lines;
* imports of our own packages sit at module top: an import inside a function is only for an
  optional third-party dependency (the ``rl`` and ``dist`` extras), never to dodge a cycle. The one
  module of ours that needs such a dependency as a whole, ``dse.envs`` (gymnasium and PettingZoo),
  is imported where an RL agent first needs it, so the base install does not need the ``rl`` extra.
"""
from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
PACKAGES = ("accelerators", "archmodel", "codegen", "verification", "dse", "moearch")
MAX_MODULE_LINES = 500
MAX_FUNCTION_LINES = 120
#: our modules that need an optional extra to import (see the module docstring)
OPTIONAL_EXTRA_MODULES = ("dse.envs",)
SOURCES = sorted(p for pkg in PACKAGES for p in (REPO / pkg).rglob("*.py"))


def _functions(tree: ast.AST):
    return (n for n in ast.walk(tree) if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef)))


def test_the_packages_have_sources() -> None:
    assert {p.relative_to(REPO).parts[0] for p in SOURCES} == set(PACKAGES)


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: str(p.relative_to(REPO)))
def test_module_and_function_lengths(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    assert len(text.splitlines()) <= MAX_MODULE_LINES, f"{path.name}: split it along its seams"
    long = [f"{f.name} ({f.end_lineno - f.lineno + 1} lines)" for f in _functions(ast.parse(text))
            if f.end_lineno - f.lineno + 1 > MAX_FUNCTION_LINES]
    assert not long, long


def _optional_extra(path: Path, name: str) -> bool:
    """Is ``name`` (absolute, or relative to ``path``'s package) one of OPTIONAL_EXTRA_MODULES?"""
    if name.startswith("."):
        level = len(name) - len(name.lstrip("."))
        package = list(path.relative_to(REPO).with_suffix("").parts[:-1])
        name = ".".join(package[: len(package) - (level - 1)] + [name.lstrip(".")])
    return any(name == m or name.startswith(m + ".") for m in OPTIONAL_EXTRA_MODULES)


def test_the_base_install_imports_no_optional_extra() -> None:
    """``import moearch`` and the CLI need none of the rl/dist extras (torch, gymnasium, ray ...)."""
    code = ("import sys, moearch, moearch.cli.main; "
            "print(sorted(m for m in ('torch', 'gymnasium', 'pettingzoo', 'supersuit', 'stable_baselines3', "
            "'optuna', 'ray') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]", out.stdout


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: str(p.relative_to(REPO)))
def test_our_imports_sit_at_module_top(path: Path) -> None:
    inner = []
    for f in _functions(ast.parse(path.read_text(encoding="utf-8"))):
        for node in ast.walk(f):
            if isinstance(node, ast.ImportFrom):
                names = [node.module or ""] if node.level == 0 else ["." * node.level + (node.module or "")]
            elif isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            else:
                continue
            ours = [n for n in names if n.startswith(".") or n.split(".")[0] in PACKAGES]
            ours = [n for n in ours if not _optional_extra(path, n)]
            inner += [f"line {node.lineno}: {n} in {f.name}()" for n in ours]
    assert not inner, inner
