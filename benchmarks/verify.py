"""Verification timings (printed, never asserted).

    python benchmarks/verify.py [--icarus-tests nominal_routing] [--keep]

For the issue's default example (``moearch codegen --shape d=64,f=128,experts=8,top_k=2 --tokens
16 --device alveo-u280 --pe 8x8 --gated``), in a fresh build directory (nothing cached):

* the end-to-end time of ``moearch codegen`` + ``moearch verify --sim all`` as two fresh processes
  (Icarus limited to ``--icarus-tests``: it simulates the 64-PE array slowly);
* per simulator: build time, the wall time of each cocotb test and the simulated cycles per
  second (cycles the test simulated / its wall time, the bench's Python included);
* ``verilator --lint-only -Wall`` time.

Writes benchmarks/results/verify.json.
"""
from __future__ import annotations

import argparse
import json
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from moearch.cli.common import atomic_write  # noqa: E402
from verification.kernel_bench.suite import DEFAULT_EXAMPLE, SHAPES  # noqa: E402

MOEARCH = [sys.executable, "-m", "moearch.cli.main"]


def run(cmd: list[str], cwd: Path) -> tuple[float, subprocess.CompletedProcess]:
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, check=False)
    return time.perf_counter() - t0, proc


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--icarus-tests", nargs="*", default=["nominal_routing"],
                    help="cocotb tests to run on Icarus (default: nominal_routing; none: all)")
    ap.add_argument("--keep", action="store_true", help="keep the scratch directory")
    a = ap.parse_args()
    (ROOT / "build").mkdir(exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix="bench-verify-", dir=ROOT / "build"))
    results: dict[str, object] = {
        "example": " ".join(["moearch", "codegen", *SHAPES[DEFAULT_EXAMPLE]]),
        "machine": {"python": platform.python_version(), "cpus": __import__("os").cpu_count()},
    }
    try:
        kernel = tmp / "moe0"
        t_gen, proc = run([*MOEARCH, "codegen", *SHAPES[DEFAULT_EXAMPLE], "--out", str(kernel)], tmp)
        if proc.returncode:
            raise SystemExit(proc.stdout + proc.stderr)
        sims = {}
        total_verify = 0.0
        for sim, tests in (("verilator", []), ("icarus", a.icarus_tests)):
            cmd = [*MOEARCH, "verify", str(kernel), "--sim", sim, "--json", "--build-dir",
                   str(tmp / "sim"), "--seed", "1", *(x for t in tests for x in ("--test", t))]
            t_ver, proc = run(cmd, tmp)
            total_verify += t_ver
            if proc.returncode not in (0, 1):
                raise SystemExit(proc.stdout + proc.stderr)
            data = json.loads(proc.stdout)
            rep = data["simulators"][sim]
            per_test = []
            for t in rep["tests"]:
                cycles = t["metrics"].get("sim_cycles", 0.0)
                per_test.append({"test": t["name"], "outcome": t["outcome"], "cycles": cycles,
                                 "wall_s": t["wall_time_s"],
                                 "cycles_per_s": cycles / t["wall_time_s"] if t["wall_time_s"] else None})
            cycles = sum(t["cycles"] for t in per_test)
            wall = sum(t["wall_s"] for t in per_test)
            sims[sim] = {"passed": rep["passed"], "version": rep["version"],
                         "build_s": rep["build_time_s"], "run_s": rep["run_time_s"],
                         "verify_command_s": t_ver, "tests": per_test, "cycles": cycles,
                         "cycles_per_s": cycles / wall if wall else None,
                         "lint_s": data["lint"]["seconds"]}
        results.update({"codegen_s": t_gen, "verify_s": total_verify,
                        "generate_and_verify_s": t_gen + total_verify, "simulators": sims,
                        "icarus_tests": a.icarus_tests or "all"})
    finally:
        if not a.keep:
            shutil.rmtree(tmp, ignore_errors=True)
    print(f"default example: {results['example']}")
    print(f"  codegen (fresh process)          {results['codegen_s']:7.1f} s")
    for sim, s in results["simulators"].items():
        print(f"  {sim:9s} build {s['build_s']:6.1f} s   run {s['run_s']:6.1f} s   "
              f"{s['cycles']:9.0f} cycles at {s['cycles_per_s']:8.0f} cycles/s   "
              f"({'passed' if s['passed'] else 'FAILED'}; lint {s['lint_s']:.1f} s)")
        for t in s["tests"]:
            rate = f"{t['cycles_per_s']:8.0f}" if t["cycles_per_s"] else "       -"
            print(f"      {t['test']:22s} {t['cycles']:8.0f} cycles {t['wall_s']:7.2f} s {rate} cycles/s")
    print(f"  generate + verify (end to end)   {results['generate_and_verify_s']:7.1f} s")
    out = ROOT / "benchmarks" / "results" / "verify.json"
    text = json.dumps(results, indent=2, default=float)
    atomic_write(out, lambda p: p.write_text(text))
    print(f"wrote {out.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
