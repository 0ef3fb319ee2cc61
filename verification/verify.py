"""``moearch verify``: everything that says a generated kernel does what its manifest claims.

:func:`verify_kernel` runs, for one directory written by ``moearch codegen``:

1. the manifest check (``KernelDir.load``: a ``ConfigError`` - exit code 2 - when the directory
   is not a kernel, has no RTL, or its sources do not match the manifest's hashes);
2. ``verilator --lint-only -Wall`` on the Verilog with the documented waivers
   (``verification.runner.VERILATOR_WAIVERS`` and ``kernel_bench.kernel.LINT_WAIVERS``);
3. the cocotb tests of :mod:`verification.kernel_bench.cocotb_kernel` on each simulator
   (bit-exact against ``golden.moe_layer``; requests against the interface; per-stage cycles
   and PE utilisation; the layer's cycles within 10 % of the model's prediction);
4. optionally (``resources=True``) Yosys ``synth_xilinx`` and the comparison of DSP / LUT / FF /
   BRAM with the model (:mod:`verification.resources`).

The result, :class:`VerifyReport`, is what the CLI prints (text or ``--json``) and what the JUnit
file holds (the cocotb runs, plus a ``moearch-verify`` suite for lint and resources).
"""
from __future__ import annotations

import json
import os
import subprocess
import time
import xml.etree.ElementTree as ET
from concurrent.futures import ThreadPoolExecutor
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from accelerators.errors import ConfigError
from verification.junit import to_junit_xml
from verification.kernel_bench import REPORT_NAME, TEST_MODULE, TESTS
from verification.kernel_bench.kernel import CONFIG_ENV, KERNEL_ENV, LINT_WAIVERS, KernelDir
from verification.resources import SynthError, compare, synthesize
from verification.runner import VERILATOR_WAIVERS, BuildError, SimulationError, build_and_run
from verification.simulators import SIMULATORS, SimulatorMissing, require, simulators_required

__all__ = ["CheckResult", "SimReport", "VerifyReport", "lint_kernel", "run_kernel_tests",
           "verify_kernel"]

#: the cocotb test whose per-stage table is the cycle / utilisation report
TIMING_TEST = "nominal_routing"


@dataclass(frozen=True)
class CheckResult:
    """One non-simulation check (lint, resources): outcome ``passed``/``failed``/``skipped``."""

    name: str
    outcome: str
    message: str = ""
    seconds: float = 0.0
    data: Any = None

    @property
    def ok(self) -> bool:
        return self.outcome in ("passed", "skipped")

    def as_dict(self) -> dict[str, Any]:
        return {"name": self.name, "outcome": self.outcome, "message": self.message,
                "seconds": round(self.seconds, 3), "data": self.data}


@dataclass
class SimReport:
    """The cocotb tests on one simulator."""

    simulator: str
    run: Any = None                      # verification.runner.RunResult, None if it never ran
    error: str = ""                      # why it did not run (missing simulator, build error)
    bench: dict[str, Any] = field(default_factory=dict)  # kernel_bench.json of the run

    @property
    def passed(self) -> bool:
        return self.run is not None and not self.error and self.run.passed

    def tests(self) -> list[dict[str, Any]]:
        if self.run is None:
            return []
        return [{"name": t.name, "outcome": t.outcome, "passed": t.passed,
                 "message": t.message.splitlines()[0] if t.message else "",
                 "sim_time_ns": t.sim_time_ns, "wall_time_s": round(t.wall_time_s, 3),
                 "metrics": dict(t.metrics)} for t in self.run.tests]

    def timing(self) -> dict[str, Any] | None:
        """The timing test's layer: per stage predicted / measured cycles and PE utilisation."""
        data = self.bench.get(TIMING_TEST)
        if not data or not data.get("layers"):
            return None
        layer = data["layers"][0]
        return {
            "routing": layer["routing"], "counts": layer["counts"],
            "predicted_cycles": layer["predicted_cycles"],
            "measured_cycles": layer["measured_cycles"],
            "manifest_predicted_cycles": layer.get("manifest_predicted_cycles"),
            "error": (layer["measured_cycles"] - layer["predicted_cycles"])
            / layer["predicted_cycles"],
            "pe_utilisation": (layer["busy_cycles"] / sum(
                s["measured_cycles"] for s in layer["stages"] if s["mac_beats"]))
            if any(s["mac_beats"] for s in layer["stages"]) else None,
            "stages": [{k: s[k] for k in ("stage", "mode", "expert", "predicted_cycles",
                                          "measured_cycles", "pe_utilisation", "mac_utilisation",
                                          "busy_cycles", "mac_beats")}
                       for s in layer["stages"]],
        }

    def as_dict(self) -> dict[str, Any]:
        run = self.run
        return {
            "simulator": self.simulator, "passed": self.passed, "error": self.error,
            "version": run.simulator_version if run else None,
            "seed": run.seed if run else None,
            "build_cached": run.build_cached if run else None,
            "build_time_s": round(run.build_time_s, 3) if run else None,
            "run_time_s": round(run.run_time_s, 3) if run else None,
            "log": str(run.log) if run else None,
            "waves": str(run.waves) if run and run.waves else None,
            "tests": self.tests(), "timing": self.timing(),
        }


@dataclass
class VerifyReport:
    kernel: KernelDir
    lint: CheckResult
    sims: list[SimReport]
    resources: CheckResult | None = None
    junit: Path | None = None

    @property
    def passed(self) -> bool:
        return (self.lint.ok and bool(self.sims) and all(s.passed for s in self.sims)
                and (self.resources is None or self.resources.ok))

    def as_dict(self) -> dict[str, Any]:
        m = self.kernel.manifest
        return {
            "kernel": str(self.kernel.root), "toplevel": self.kernel.toplevel,
            "shape": m["shape"], "pe_array": m["device"]["pe_array"], "device": m["device"]["name"],
            "passed": self.passed, "lint": self.lint.as_dict(),
            "simulators": {s.simulator: s.as_dict() for s in self.sims},
            "resources": self.resources.as_dict() if self.resources else None,
            "junit": str(self.junit) if self.junit else None,
        }


# ------------------------------------------------------------------------------------ lint
def lint_kernel(kernel: KernelDir) -> CheckResult:
    """``verilator --lint-only -Wall`` with the runner's and the kernel's waivers."""
    try:
        info = require("verilator")
    except SimulatorMissing as exc:
        outcome = "failed" if simulators_required() else "skipped"
        return CheckResult("lint", outcome, str(exc))
    waivers = [*VERILATOR_WAIVERS, *LINT_WAIVERS]
    cmd = [str(info.executable), "--lint-only", "-Wall", *(f"-Wno-{w}" for w in waivers),
           "--top-module", kernel.toplevel, *(str(p) for p in kernel.sources)]
    started = time.monotonic()
    proc = subprocess.run(cmd, capture_output=True, text=True, env=info.subprocess_env(),
                          timeout=600, check=False)
    seconds = time.monotonic() - started
    text = (proc.stdout + proc.stderr).strip()
    if proc.returncode != 0:
        return CheckResult("lint", "failed", text[-4000:] or f"exit code {proc.returncode}", seconds)
    return CheckResult("lint", "passed", f"verilator --lint-only -Wall clean (waived: "
                       f"{', '.join(waivers)})", seconds, {"waivers": waivers})


# ------------------------------------------------------------------------------------ simulation
def run_kernel_tests(kernel: KernelDir, sim: str, *, build_root: Path,
                     tests: Sequence[str] | None = None, seed: int | None = None,
                     waves: bool = False, config: Mapping[str, Any] | None = None) -> SimReport:
    """Build (cached) and run the kernel's cocotb tests on ``sim``; never raises for a
    simulator, build or simulation problem (it is in ``SimReport.error``)."""
    report = SimReport(sim)
    cfg = dict(config or {})
    if seed is not None:
        cfg.setdefault("seed", seed)
    env = {KERNEL_ENV: str(kernel.root), CONFIG_ENV: json.dumps(cfg)}
    try:
        run = build_and_run(kernel.design(), sim, TEST_MODULE, list(tests) if tests else None,
                            build_root=build_root, seed=seed, waves=waves, extra_env=env)
    except SimulatorMissing as exc:
        report.error = str(exc)
        return report
    except (BuildError, SimulationError) as exc:
        report.error = str(exc)
        return report
    report.run = run
    bench_file = run.run_dir / REPORT_NAME
    if bench_file.is_file():
        report.bench = json.loads(bench_file.read_text())
    return report


# ------------------------------------------------------------------------------------ resources
def check_resources(kernel: KernelDir, build_root: Path) -> CheckResult:
    """Yosys ``synth_xilinx`` of the kernel against the manifest's predicted resources."""
    predicted = kernel.manifest["predicted"]["resources"]
    try:
        synth = synthesize(kernel.sources, kernel.toplevel, build_root=build_root)
    except (SynthError, FileNotFoundError) as exc:
        return CheckResult("resources", "failed", str(exc))
    rows = compare(predicted, synth.resources)
    bad = [r for r in rows if not r.ok]
    message = "; ".join(f"{r.resource}: predicted {r.predicted:g}, synthesised {r.measured:g} "
                        f"(target {r.target})" for r in bad) or "every resource within its target"
    device = kernel.manifest["device"]
    return CheckResult("resources", "failed" if bad else "passed", message, synth.seconds, {
        "rows": [r.as_dict() for r in rows], "synthesised": synth.resources,
        "cached": synth.cached, "log": str(synth.log), "yosys": synth.yosys_version,
        "device": device["name"], "modules": synth.module_resources()})


# ------------------------------------------------------------------------------------ JUnit
def write_report_junit(report: VerifyReport, path: Path) -> Path:
    """The cocotb runs (``verification.junit``) plus a ``moearch-verify`` suite for the checks."""
    runs = [s.run for s in report.sims if s.run is not None]
    root = to_junit_xml(runs, name="moearch-verify", relative_to=Path.cwd())
    checks = [report.lint] + ([report.resources] if report.resources else [])
    checks += [CheckResult(f"{s.simulator}.run", "failed", s.error) for s in report.sims if s.error]
    suite = ET.SubElement(root, "testsuite", name=f"moearch-verify.{report.kernel.toplevel}",
                          tests=str(len(checks)),
                          failures=str(sum(c.outcome == "failed" for c in checks)),
                          errors="0", skipped=str(sum(c.outcome == "skipped" for c in checks)),
                          time=f"{sum(c.seconds for c in checks):.3f}")
    for c in checks:
        case = ET.SubElement(suite, "testcase", name=c.name, classname="moearch-verify",
                             time=f"{c.seconds:.3f}")
        if c.outcome in ("failed", "skipped"):
            child = ET.SubElement(case, "failure" if c.outcome == "failed" else "skipped",
                                  message=(c.message.splitlines() or [c.outcome])[0])
            child.text = c.message
    for key in ("tests", "failures", "skipped"):
        total = sum(int(s.get(key, "0")) for s in root.iter("testsuite"))
        root.set(key, str(total))
    ET.indent(root)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    ET.ElementTree(root).write(tmp, encoding="utf-8", xml_declaration=True)
    os.replace(tmp, path)
    return path


# ------------------------------------------------------------------------------------ entry point
def verify_kernel(directory: str | Path, *, sims: Sequence[str] = SIMULATORS,
                  build_root: str | Path = "build/sim", seed: int | None = None,
                  tests: Sequence[str] | None = None, waves: bool = False,
                  resources: bool = False, junit: str | Path | None = None,
                  config: Mapping[str, Any] | None = None,
                  note: Callable[[str], None] | None = None,
                  tests_by_sim: Mapping[str, Sequence[str]] | None = None) -> VerifyReport:
    """Verify the kernel in ``directory`` (``ConfigError`` if it is not a valid kernel).

    ``tests_by_sim`` runs other tests on the simulators it names than ``tests`` (e.g. only the
    nominal-routing test on Icarus, slow on large kernels); ``note``, when given, is called before
    each part (lint, each simulator, synthesis)."""
    note = note or (lambda _: None)
    kernel = KernelDir.load(directory)
    by_sim = dict(tests_by_sim or {})
    per_sim = {sim: tuple(by_sim[sim]) if sim in by_sim else (tuple(tests) if tests is not None else None)
               for sim in sims}
    unknown = sorted({t for chosen in per_sim.values() for t in chosen or ()} - set(TESTS))
    if unknown:
        raise ConfigError(None, "test", ", ".join(unknown), f"one of {', '.join(TESTS)}")
    root = Path(build_root)
    note("Verilator lint (-Wall)")
    lint = lint_kernel(kernel)
    # The simulators and Yosys are independent child processes: run them side by side, as many at
    # once as the machine has cores (the notes still come in this order, as each part is started).
    with ThreadPoolExecutor(max_workers=max(1, min(len(sims) + bool(resources), os.cpu_count() or 1))) as pool:
        running = []
        for sim in sims:
            chosen = per_sim[sim]
            note(f"cocotb {', '.join(chosen) if chosen else 'tests'} on {sim}")
            running.append(pool.submit(run_kernel_tests, kernel, sim, build_root=root, tests=chosen, seed=seed,
                                       waves=waves, config=config))
        if resources:
            note("Yosys synth_xilinx: resources against the model")
        synthesis = pool.submit(check_resources, kernel, root) if resources else None
        reports = [job.result() for job in running]
        res = synthesis.result() if synthesis is not None else None
    report = VerifyReport(kernel, lint, reports, res)
    if junit is not None:
        report.junit = write_report_junit(report, Path(junit))
    return report
