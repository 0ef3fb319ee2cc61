"""Write a generated kernel's directory: ``hls/``, ``rtl/``, ``manifest.json``, ``README.md``.

Everything is written into a temporary directory beside the target and renamed over it as a
whole, so a crash never leaves a half-written kernel and an existing kernel is replaced only
complete. An existing target is replaced only if it is empty or was written by ``moearch codegen``
(it holds a ``manifest.json`` of this schema): anything else is a ConfigError, raised before
anything is written.

``rtl/`` comes from ``codegen.rtl.emit_verilog(plan, dir)`` (the Amaranth top level). Without
Amaranth (an optional dependency) the writer omits ``rtl/`` and says why in the manifest and in
:attr:`WriteResult.rtl_message`; it never writes placeholder Verilog. Any other missing module
propagates.
"""
from __future__ import annotations

import importlib
import json
import os
import secrets
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jinja2

import rtl_templates
from accelerators.errors import ConfigError, output_error

from .hls.emit import emit_hls, hls_interface
from .paths import absolute_paths
from .manifest import MANIFEST_NAME, MANIFEST_SCHEMA, build_manifest
from .plan import KernelPlan

__all__ = ["WriteResult", "check_output_dir", "write_kernel"]


@dataclass(frozen=True)
class WriteResult:
    out_dir: Path
    files: tuple[str, ...]           # relative posix paths, sorted
    manifest: dict[str, Any]
    rtl_available: bool
    rtl_message: str | None          # why rtl/ is missing (None when it was written)
    plan: KernelPlan = field(repr=False, compare=False)  # what was generated


def check_output_dir(out_dir: str | Path) -> Path:
    """ConfigError unless ``out_dir`` is absent, an empty directory or a codegen output."""
    out = Path(out_dir)
    allowed = ("a new directory, an empty directory, or one written by moearch codegen "
               "(holding its manifest.json); other content is never replaced")
    if out.exists() or out.is_symlink():
        if not out.is_dir() or out.is_symlink():
            raise ConfigError(None, "out", str(out), allowed)
        if any(out.iterdir()):
            manifest = out / MANIFEST_NAME
            try:
                schema = json.loads(manifest.read_text()).get("schema") if manifest.is_file() else None
            except (json.JSONDecodeError, OSError, AttributeError):
                schema = None
            if schema != MANIFEST_SCHEMA:
                raise ConfigError(None, "out", str(out), allowed)
    if out.resolve() == Path.cwd().resolve() or out.resolve() == Path(out.resolve().anchor):
        raise ConfigError(None, "out", str(out), "a subdirectory (not the current or root directory)")
    return out


def _emit_rtl(plan: KernelPlan, rtl_dir: Path) -> tuple[list[Path], str | None, dict[str, Any] | None]:
    """Call ``codegen.rtl.emit_verilog``: ``(paths, None, description)``, or ``([], reason, None)``
    when Amaranth (the RTL emitter's optional dependency) is not installed or the RTL does not
    implement this plan's schedule. Any other missing module is a bug and propagates."""
    try:
        rtl_module = importlib.import_module("codegen.rtl")  # the whole emitter needs amaranth
    except ModuleNotFoundError as exc:
        if (exc.name or "").split(".")[0] == "amaranth":
            return [], "rtl/ omitted: the RTL emitter needs Amaranth (pip install 'moearch[rtl]')", None
        raise
    rtl_dir.mkdir(parents=True, exist_ok=True)
    try:
        paths = [Path(p) for p in rtl_module.emit_verilog(plan, rtl_dir)]
    except ConfigError as exc:
        # the RTL implements a subset of the schedules the cost model can pick (e.g. not the df
        # variant): the HLS kernel is still generated, and the reason is recorded
        return [], f"rtl/ omitted: the RTL does not implement this schedule ({exc})", None
    return paths, None, rtl_module.rtl_description(plan)


def _readme(plan: KernelPlan, manifest: dict[str, Any]) -> str:
    root = Path(rtl_templates.__file__).resolve().parent / "kernel"
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(root)), undefined=jinja2.StrictUndefined,
                             keep_trailing_newline=True, autoescape=False)
    return env.get_template("README.md.j2").render(plan=plan, m=manifest, hls=hls_interface(plan))


def _relative(paths: list[Path], root: Path) -> list[str]:
    out = []
    for p in paths:
        p = p if p.is_absolute() else (Path.cwd() / p)
        out.append(p.resolve().relative_to(root.resolve()).as_posix())
    return sorted(out)


def _check_no_absolute_paths(root: Path) -> None:
    for p in sorted(q for q in root.rglob("*") if q.is_file()):
        found = absolute_paths(p.read_text(errors="replace"))
        if found:
            raise RuntimeError(f"generated file {p.relative_to(root)} contains absolute paths: {found[:3]}")


def _normalise_modes(root: Path) -> None:
    """Give every file the mode a new file gets under the user's umask (tools that write through
    ``mkstemp`` leave 0600), without touching the process umask."""
    probe = root / ".mode-probe"
    probe.write_text("")
    mode = probe.stat().st_mode & 0o777
    probe.unlink()
    for p in root.rglob("*"):
        if p.is_file():
            os.chmod(p, mode)


def write_kernel(plan: KernelPlan, out_dir: str | Path, *, rtl: bool = True) -> WriteResult:
    """Generate ``plan`` into ``out_dir`` (replaced as a whole); see the module docstring."""
    out = check_output_dir(out_dir)
    parent = out.parent
    try:
        parent.mkdir(parents=True, exist_ok=True)
        _sweep_stale(out)
        tmp = parent / f".{out.name}.tmp-{os.getpid()}-{secrets.token_hex(4)}"
        tmp.mkdir()
    except OSError as exc:
        raise output_error(exc, out)  # noqa: B904 - the cause is kept by output_error
    try:
        hls_paths = emit_hls(plan, tmp / "hls")
        rtl_description = None
        if rtl:
            rtl_paths, rtl_message, rtl_description = _emit_rtl(plan, tmp / "rtl")
        else:
            rtl_paths, rtl_message = [], "rtl/ omitted: not requested (--no-rtl)"
        if not rtl_paths and (tmp / "rtl").exists():
            shutil.rmtree(tmp / "rtl")
        rtl_files = _relative(rtl_paths, tmp)
        _normalise_modes(tmp)
        manifest = build_manifest(plan, tmp, rtl_files=rtl_files, rtl_message=rtl_message,
                                  hls_files=_relative(hls_paths, tmp), rtl_description=rtl_description)
        (tmp / MANIFEST_NAME).write_text(json.dumps(manifest, indent=2, default=float) + "\n")
        (tmp / "README.md").write_text(_readme(plan, manifest))
        _check_no_absolute_paths(tmp)
        files = tuple(sorted(p.relative_to(tmp).as_posix() for p in tmp.rglob("*") if p.is_file()))
        _replace(tmp, out)
    except OSError as exc:  # disk full, read-only folder: name the output, leave the old one
        shutil.rmtree(tmp, ignore_errors=True)
        raise output_error(exc, out)  # noqa: B904 - the cause is kept by output_error
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return WriteResult(out, files, manifest, bool(rtl_files), rtl_message, plan)


def _sweep_stale(out: Path) -> None:
    """Remove the temporary and moved-aside folders a killed codegen left beside ``out``
    (``.NAME.tmp-PID-*``, ``.NAME.old-PID-*`` of a process that no longer runs)."""
    for sibling in out.parent.glob(f".{out.name}.*-*-*"):
        kind, _, rest = sibling.name[len(out.name) + 2:].partition("-")
        pid = rest.partition("-")[0]
        if kind in ("tmp", "old") and pid.isdigit() and not _alive(int(pid)) and sibling.is_dir():
            shutil.rmtree(sibling, ignore_errors=True)


def _alive(pid: int) -> bool:
    """Whether a process ``pid`` exists (one of another user still counts)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass
    return True


def _replace(tmp: Path, out: Path) -> None:
    """Rename ``tmp`` to ``out``; an existing ``out`` is moved aside first and removed after."""
    if not out.exists():
        os.rename(tmp, out)
        return
    old = out.parent / f".{out.name}.old-{os.getpid()}-{secrets.token_hex(4)}"
    os.rename(out, old)
    try:
        os.rename(tmp, out)
    except BaseException:
        os.rename(old, out)
        raise
    shutil.rmtree(old, ignore_errors=True)
