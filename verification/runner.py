"""Build a Verilog design once per simulator and run cocotb tests on it.

:func:`build_and_run` drives ``cocotb_tools.runner`` (Verilator or Icarus) in a child Python
process whose environment this module sets completely: ``PATH`` with the simulator's directory
(:mod:`verification.simulators`), ``PYTHONPATH`` with the project and the test module's directory,
no ``PYTEST_CURRENT_TEST`` (so cocotb's runner neither exits on a failing test nor renames the
results file) and the two side-channel files of :mod:`verification.cocotb_lib` (port list,
metrics). The parent never changes its own environment.

Builds are cached: the build directory is ``<build_root>/<toplevel>-<sim>-<digest>``, where the
digest hashes the source and include file contents, defines, parameters, build arguments, waves,
timescale and the simulator and cocotb versions. A finished build leaves ``moearch-build.json``
there; a later run with the same digest skips the build. Every run gets its own directory under
``<build dir>/runs/`` with ``results.xml``, ``metrics.json``, ``run.log`` and (on request) waves.

Verilator builds with ``-Wall``; :data:`VERILATOR_WAIVERS` lists the warnings that Amaranth/Yosys
output always raises and why they are harmless; every other warning fails the build.
What a run reports (:class:`TestResult`, :class:`RunResult`, :func:`parse_results`) lives in
:mod:`verification.run_results` and is re-exported here.
"""
from __future__ import annotations

import fcntl
import hashlib
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from verification.cocotb_lib.metrics import METRICS_ENV, read_metrics
from verification.cocotb_lib.ports import PORTS_ENV, parse_ports, write_ports
from verification.run_results import RunResult, TestResult, parse_results
from verification.simulators import (SimName, SimulatorInfo, check_sim_name, require,
                                     verilator_fst_supported)

__all__ = [
    "BuildError",
    "DesignSources",
    "RunResult",
    "SimulationError",
    "TIMESCALE",
    "TestResult",
    "VERILATOR_WAIVERS",
    "WaveFormat",
    "build_and_run",
    "build_digest",
    "parse_results",
    "wave_format",
]

#: Amaranth's Verilog declares no timescale; every build uses this one.
TIMESCALE = ("1ns", "1ps")

#: Verilator ``-Wall`` warnings waived for every build, each inherent to Yosys-written Verilog:
VERILATOR_WAIVERS: Mapping[str, str] = {
    "DECLFILENAME": "Yosys writes every submodule (with escaped names) into one file",
    "UNUSEDSIGNAL": "Yosys keeps alias wires and unused struct/array bits of Amaranth signals",
    "PROCASSINIT": "Amaranth expresses reset values as initialisers of procedurally assigned regs",
    "WIDTHEXPAND": "Yosys folds explicit sign extensions into context-extended operands "
                   "(well-defined Verilog); truncation (WIDTHTRUNC) stays fatal",
}

BUILD_MARKER = "moearch-build.json"
_SOURCE_SUFFIXES = (".v", ".sv")
_STRIPPED_ENV = ("PYTEST_CURRENT_TEST", "WAVES", "GUI", "COCOTB_TEST_FILTER", "COCOTB_TESTCASE",
                 "COCOTB_TEST_MODULES", "COCOTB_TOPLEVEL", "COCOTB_RESULTS_FILE",
                 "COCOTB_RANDOM_SEED", "PYTHONPATH")


class BuildError(RuntimeError):
    """The simulator could not build the design; the message ends with the build log's tail."""


class SimulationError(RuntimeError):
    """The simulation produced no results (crash, timeout); the message ends with the log's tail."""


def _tuple_of_pairs(value: Mapping[str, object] | Sequence[tuple[str, object]]
                    ) -> tuple[tuple[str, str], ...]:
    items = value.items() if isinstance(value, Mapping) else value
    return tuple((str(k), str(v)) for k, v in items)


@dataclass(frozen=True)
class DesignSources:
    """A Verilog design: its top module, source files and build options.

    ``verilator_args`` / ``icarus_args`` go to that simulator's compiler only;
    ``lint_waivers`` are extra Verilator warning codes to waive (documented by the caller).
    """

    toplevel: str
    sources: tuple[Path, ...]
    includes: tuple[Path, ...] = ()
    defines: tuple[tuple[str, str], ...] = ()
    parameters: tuple[tuple[str, str], ...] = ()
    verilator_args: tuple[str, ...] = ()
    icarus_args: tuple[str, ...] = ()
    lint_waivers: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        set_ = object.__setattr__
        set_(self, "sources", tuple(Path(p) for p in self.sources))
        set_(self, "includes", tuple(Path(p) for p in self.includes))
        set_(self, "defines", _tuple_of_pairs(self.defines))
        set_(self, "parameters", _tuple_of_pairs(self.parameters))
        for name in ("verilator_args", "icarus_args", "lint_waivers"):
            set_(self, name, tuple(str(a) for a in getattr(self, name)))
        if not self.toplevel:
            raise ValueError("DesignSources.toplevel must name the top module")
        if not self.sources:
            raise ValueError(f"DesignSources for {self.toplevel!r} has no source files")

    @classmethod
    def from_dir(cls, directory: str | Path, toplevel: str | None = None) -> DesignSources:
        """The design in ``directory``.

        With a ``manifest.json`` holding ``toplevel`` and/or ``sources`` (paths relative to the
        directory), those are used; otherwise every ``*.v``/``*.sv`` file, sorted. The top module
        is ``toplevel``, else the manifest's, else the stem of the only source file.
        """
        root = Path(directory)
        if not root.is_dir():
            raise FileNotFoundError(f"design directory {root} does not exist")
        manifest: dict[str, Any] = {}
        if (root / "manifest.json").is_file():
            manifest = json.loads((root / "manifest.json").read_text())
        if "sources" in manifest:
            sources = [root / str(p) for p in manifest["sources"]]
        else:
            sources = sorted(p for p in root.iterdir() if p.suffix in _SOURCE_SUFFIXES)
        top = toplevel or manifest.get("toplevel")
        if top is None:
            if len(sources) != 1:
                raise ValueError(f"{root}: {len(sources)} Verilog files and no toplevel given "
                                 "(pass toplevel= or add 'toplevel' to manifest.json)")
            top = sources[0].stem
        return cls(toplevel=str(top), sources=tuple(sources))

    def check_files(self) -> None:
        """``FileNotFoundError`` naming the first missing source or include directory."""
        for path in self.sources:
            if not path.is_file():
                raise FileNotFoundError(f"{self.toplevel}: source file {path} does not exist")
        for path in self.includes:
            if not path.is_dir():
                raise FileNotFoundError(f"{self.toplevel}: include directory {path} does not exist")

    def files_digest(self) -> list[tuple[str, str]]:
        """(name, sha256) of every source and include file; names carry no absolute paths."""
        entries = [(f"src{i}/{p.name}", hashlib.sha256(p.read_bytes()).hexdigest())
                   for i, p in enumerate(self.sources)]
        for i, inc in enumerate(self.includes):
            for f in sorted(q for q in inc.rglob("*") if q.is_file()):
                entries.append((f"inc{i}/{f.relative_to(inc).as_posix()}",
                                hashlib.sha256(f.read_bytes()).hexdigest()))
        return entries


# ------------------------------------------------------------------------------ the build cache
def _cocotb_version() -> str:
    from importlib.metadata import version

    return version("cocotb")


WaveFormat = Literal["fst", "vcd"]


def wave_format(sim: SimName) -> WaveFormat:
    """FST, except Verilator without ``lz4.h`` (its FST writer needs it), which writes VCD."""
    return "fst" if sim == "icarus" or verilator_fst_supported() else "vcd"


def _build_args(design: DesignSources, sim: SimName, waves: WaveFormat | None) -> list[str]:
    if sim == "verilator":
        waivers = [*VERILATOR_WAIVERS, *design.lint_waivers]
        trace = {None: [], "vcd": ["--trace-structs"],
                 "fst": ["--trace-fst", "--trace-structs"]}[waves]
        return ["-Wall", *(f"-Wno-{w}" for w in waivers), *design.verilator_args, *trace]
    return list(design.icarus_args)


def build_digest(design: DesignSources, info: SimulatorInfo, *, waves: WaveFormat | None) -> str:
    """The cache key of a build of ``design`` with ``info``'s simulator."""
    key = {
        "toplevel": design.toplevel, "sim": info.name, "sim_version": info.version,
        "cocotb": _cocotb_version(), "files": design.files_digest(),
        "defines": design.defines, "parameters": design.parameters,
        "args": _build_args(design, info.name, waves), "waves": waves,
        "timescale": TIMESCALE,
    }
    return hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()


@contextmanager
def _locked(path: Path) -> Iterator[None]:
    """An exclusive lock on ``path`` (a lock file), so parallel sessions build a design once."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _read_marker(build_dir: Path, digest: str, artifact: Path) -> dict[str, Any] | None:
    """The build marker if it matches ``digest`` and the build's output is still there."""
    marker = build_dir / BUILD_MARKER
    if not marker.is_file() or not artifact.is_file():
        return None
    try:
        data = json.loads(marker.read_text())
    except json.JSONDecodeError:
        return None
    return data if data.get("digest") == digest else None


def _write_json(path: Path, data: Any) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(data, indent=1, sort_keys=True))
    tmp.replace(path)


def _tail(path: Path, lines: int = 40) -> str:
    if not path.is_file():
        return "(no log)"
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])


# ------------------------------------------------------------------------------ the child process
def _child_env(info: SimulatorInfo, python_paths: Sequence[Path], extra: Mapping[str, str]
               ) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in _STRIPPED_ENV}
    project = Path(__file__).resolve().parents[1]
    inherited = [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]
    env["PYTHONPATH"] = os.pathsep.join([*(str(p) for p in python_paths), str(project),
                                         *inherited])
    env["PATH"] = info.subprocess_path(env.get("PATH", ""))
    env.update({str(k): str(v) for k, v in extra.items()})
    return env


def _resolve_test_module(test_module: str | Path) -> tuple[str, list[Path]]:
    """A dotted module name and the directories to put on PYTHONPATH for it."""
    text = str(test_module)
    if text.endswith(".py"):
        path = Path(text).resolve()
        if not path.is_file():
            raise FileNotFoundError(f"cocotb test module {path} does not exist")
        return path.stem, [path.parent]
    return text, []


def _run_child(job: dict[str, Any], env: dict[str, str], log: Path, timeout_s: float | None
               ) -> dict[str, Any]:
    """Run :func:`_child_main` on ``job``; return the status it recorded (empty if none)."""
    job_file = Path(job["run_dir"]) / "job.json"
    _write_json(job_file, job)
    with open(log, "w") as out:
        try:
            subprocess.run([sys.executable, "-m", "verification.runner", str(job_file)],
                           env=env, cwd=job["run_dir"], stdout=out, stderr=subprocess.STDOUT,
                           timeout=timeout_s, check=False)
        except subprocess.TimeoutExpired:
            raise SimulationError(f"{job['toplevel']} on {job['sim']}: no result after "
                                  f"{timeout_s} s\n{_tail(log)}") from None
    status_file = Path(job["run_dir"]) / "status.json"
    return json.loads(status_file.read_text()) if status_file.is_file() else {}


def _child_main(job_file: Path) -> int:
    """Inside the child: build (if asked) and test with cocotb_tools.runner, record the status."""
    from cocotb_tools.runner import get_runner

    job = json.loads(job_file.read_text())
    status_file = Path(job["run_dir"]) / "status.json"
    status: dict[str, Any] = {}
    runner = get_runner(job["sim"])
    if job["do_build"]:
        started = time.monotonic()
        try:
            runner.build(sources=job["sources"], includes=job["includes"],
                         defines=dict(job["defines"]), parameters=dict(job["parameters"]),
                         build_args=job["build_args"], hdl_toplevel=job["toplevel"],
                         build_dir=job["build_dir"], always=True, timescale=tuple(job["timescale"]),
                         waves=job["waves"])
        except (Exception, SystemExit) as exc:  # noqa: BLE001 - reported to the parent
            status["build"] = f"failed: {exc}"
            _write_json(status_file, status)
            return 1
        status["build"] = "ok"
        status["build_time_s"] = time.monotonic() - started
        _write_json(status_file, status)
    try:
        runner.test(test_module=job["test_module"], hdl_toplevel=job["toplevel"],
                    hdl_toplevel_lang="verilog", testcase=job["testcases"], seed=job["seed"],
                    build_dir=job["build_dir"], test_dir=job["run_dir"],
                    results_xml=job["results_xml"], waves=job["waves"],
                    plusargs=job["plusargs"], timescale=tuple(job["timescale"]))
        status["test"] = "ok"
    except SystemExit as exc:  # cocotb's runner exits when the simulator returns non-zero
        status["test"] = f"simulator exit code {exc.code}"
    _write_json(status_file, status)
    return 0


# ------------------------------------------------------------------------------ the entry point
@dataclass(frozen=True)
class _Plan:
    """Everything one call needs: the simulator, the cache key, the directories, the job."""

    info: SimulatorInfo
    digest: str
    build_dir: Path
    run_dir: Path
    wave_format: WaveFormat | None
    job: dict[str, Any]
    env: dict[str, str]

    @property
    def log(self) -> Path:
        return self.run_dir / "run.log"

    @property
    def artifact(self) -> Path:
        """The file a finished build leaves: Verilator's executable or Icarus's ``sim.vvp``."""
        if self.info.name == "verilator":
            return self.build_dir / str(self.job["toplevel"])
        return self.build_dir / "sim.vvp"


def _plan(design: DesignSources, info: SimulatorInfo, test_module: str | Path,
          testcases: Sequence[str] | None, build_root: Path, seed: int | None, waves: bool,
          extra_env: Mapping[str, str]) -> _Plan:
    module, python_paths = _resolve_test_module(test_module)
    fmt = wave_format(info.name) if waves else None
    digest = build_digest(design, info, waves=fmt)
    build_dir = build_root.resolve() / f"{design.toplevel}-{info.name}-{digest[:16]}"
    (build_dir / "runs").mkdir(parents=True, exist_ok=True)
    run_dir = Path(tempfile.mkdtemp(prefix=f"{module.rsplit('.', 1)[-1]}-",
                                    dir=build_dir / "runs"))
    ports_file = build_dir / "ports.json"
    if not ports_file.is_file():
        text = "\n".join(p.read_text() for p in design.sources)
        write_ports(parse_ports(text, design.toplevel), ports_file)
    env = _child_env(info, python_paths, {
        **extra_env, PORTS_ENV: str(ports_file), METRICS_ENV: str(run_dir / "metrics.json")})
    icarus_waves = waves and info.name == "icarus"
    job: dict[str, Any] = {
        "sim": info.name, "toplevel": design.toplevel,
        "sources": [str(p.resolve()) for p in design.sources],
        "includes": [str(p.resolve()) for p in design.includes],
        "defines": design.defines, "parameters": design.parameters,
        "build_args": _build_args(design, info.name, fmt), "build_dir": str(build_dir),
        "waves": waves, "timescale": TIMESCALE, "test_module": module,
        "testcases": list(testcases) if testcases is not None else None, "seed": seed,
        "run_dir": str(run_dir), "results_xml": str(run_dir / "results.xml"),
        "plusargs": [f"+dumpfile_path={run_dir / (design.toplevel + '.fst')}"]
        if icarus_waves else [],
        "do_build": False,
    }
    return _Plan(info, digest, build_dir, run_dir, fmt, job, env)


def _execute(plan: _Plan, build_root: Path, timeout_s: float | None) -> dict[str, Any]:
    """Run the job, building first unless the cache has the build; return the child's status."""
    if _read_marker(plan.build_dir, plan.digest, plan.artifact) is None:
        # another process may be building the same design: build under a lock, test there too
        with _locked(build_root.resolve() / f".{plan.build_dir.name}.lock"):
            if _read_marker(plan.build_dir, plan.digest, plan.artifact) is None:
                plan.job["do_build"] = True
                status = _run_child(plan.job, plan.env, plan.log, timeout_s)
                if status.get("build") != "ok":
                    raise BuildError(f"{plan.job['toplevel']} on {plan.info.name}: build failed "
                                     f"({status.get('build', 'no status')})\n{_tail(plan.log)}")
                _write_json(plan.build_dir / BUILD_MARKER, {
                    "digest": plan.digest, "sim": plan.info.name,
                    "sim_version": plan.info.version, "toplevel": plan.job["toplevel"],
                    "build_args": plan.job["build_args"],
                    "build_time_s": status.get("build_time_s", 0.0)})
                return status
    return _run_child(plan.job, plan.env, plan.log, timeout_s)


def _collect(plan: _Plan, status: Mapping[str, Any], testcases: Sequence[str] | None,
             elapsed: float) -> RunResult:
    results_xml = Path(plan.job["results_xml"])
    name, top, module = plan.info.name, str(plan.job["toplevel"]), str(plan.job["test_module"])
    if not results_xml.is_file():
        raise SimulationError(f"{top} on {name}: no results.xml "
                              f"({status.get('test', 'no status')})\n{_tail(plan.log)}")
    tests, used_seed = parse_results(results_xml, read_metrics(plan.run_dir / "metrics.json"))
    for wanted in testcases or ():
        if all(t.name != wanted for t in tests):
            tests.append(TestResult(wanted, "error", 0.0, 0.0,
                                    f"not run: no cocotb test {wanted!r} in {module}"))
    if status.get("test", "ok") != "ok":
        tests.append(TestResult("simulator", "error", 0.0, 0.0,
                                f"{status['test']}; see {plan.log}"))
    built = bool(plan.job["do_build"])
    build_time = float(status.get("build_time_s", 0.0)) if built else 0.0
    wave_file = (plan.run_dir / f"dump.{plan.wave_format}" if name == "verilator"
                 else plan.run_dir / f"{top}.fst")
    return RunResult(
        simulator=name, simulator_version=plan.info.version, toplevel=top, test_module=module,
        tests=tuple(tests), seed=used_seed if used_seed is not None else plan.job["seed"],
        build_dir=plan.build_dir, run_dir=plan.run_dir, results_xml=results_xml, log=plan.log,
        build_cached=not built, build_time_s=build_time, run_time_s=elapsed - build_time,
        waves=wave_file if plan.wave_format and wave_file.is_file() else None)


def build_and_run(design: DesignSources, sim: str, test_module: str | Path,
                  testcases: Sequence[str] | None = None, *, build_root: Path,
                  seed: int | None = None, waves: bool = False,
                  extra_env: Mapping[str, str] | None = None,
                  timeout_s: float | None = 1800.0) -> RunResult:
    """Build ``design`` for ``sim`` (unless cached) and run the cocotb tests of ``test_module``.

    ``test_module`` is a dotted module name importable from the project, or the path of a
    ``.py`` file (its directory goes on ``PYTHONPATH``). ``testcases`` picks tests by name
    (all when None); a requested test that did not run is reported as an ``error``.
    ``extra_env`` reaches the cocotb tests' environment. Waves (``waves=True``) go to the run
    directory: FST (Icarus; Verilator when ``lz4.h`` is installed), else VCD (Verilator).
    Raises :class:`~verification.simulators.SimulatorMissing`, :class:`BuildError` or
    :class:`SimulationError`; failing tests are reported in the result, not raised.
    """
    info = require(check_sim_name(sim))
    design.check_files()
    plan = _plan(design, info, test_module, testcases, Path(build_root), seed, waves,
                 extra_env or {})
    started = time.monotonic()
    status = _execute(plan, Path(build_root), timeout_s)
    return _collect(plan, status, testcases, time.monotonic() - started)


if __name__ == "__main__":
    sys.exit(_child_main(Path(sys.argv[1])))
