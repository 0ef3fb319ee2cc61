"""How long the main job takes a newcomer (printed, never asserted).

    python benchmarks/demo.py [--make] [--keep]

From a fresh clone of this checkout's HEAD (nothing built or cached in it: no ``build/``, no
``demo-report/``), with this checkout's installed environment:

The validation step reads the measured rows beside this checkout (``MOEARCH_MEASURED``), as it does here.

* ``moearch demo --quick`` *cold* (the first run in the clone) and *warm* (the same command again:
  the Verilator builds and the Yosys synthesis are cached under ``build/``), each with the time of
  every step and sub-step, read from the demo's own progress lines (``  12.3 s  step: what``);
* with ``--make``: ``make demo`` in another fresh clone, which creates its own ``.venv`` (pip
  from this machine's cache), compiles the Yosys WebAssembly if it is not compiled yet, then runs
  the full job; the time of the environment and of the job are reported apart.

The one-time costs a newcomer pays before the first report (the venv, Yosys's WebAssembly
compilation, the apt packages) belong to ``make``'s install step: the demo itself only reads what
they left. Writes ``benchmarks/results/demo.json``.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "benchmarks" / "results" / "demo.json"
LINE = re.compile(r"^\s*(?P<t>\d+(?:\.\d+)?) s\s+(?P<step>[a-z]+): (?P<what>.*)$")
TOTAL = re.compile(r"index\.html\s+\((?P<t>\d+) s\)")


def clone(into: Path) -> Path:
    subprocess.run(["git", "clone", "--quiet", str(ROOT), str(into)], check=True)
    return into


def steps_of(output: str) -> dict[str, object]:
    """Each step's and sub-step's start (s since the job started) and duration, from the progress lines."""
    marks = [(float(m["t"]), m["step"], m["what"]) for m in map(LINE.match, output.splitlines()) if m]
    total = TOTAL.search(output)
    end = float(total["t"]) if total else (marks[-1][0] if marks else 0.0)
    subs = [{"step": step, "what": what[:80], "start_s": t,
             "seconds": round((marks[i + 1][0] if i + 1 < len(marks) else end) - t, 1)}
            for i, (t, step, what) in enumerate(marks)]
    per_step: dict[str, float] = {}
    for s in subs:
        per_step[s["step"]] = round(per_step.get(s["step"], 0.0) + s["seconds"], 1)
    return {"total_s": end, "steps": per_step, "sub_steps": subs}


def run_timed(args: list[str], cwd: Path, env: dict[str, str] | None = None) -> tuple[float, str]:
    start = time.perf_counter()
    proc = subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(args)} failed ({proc.returncode}):\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
    return seconds, proc.stdout + proc.stderr


#: the measured rows the demo's validation step reads beside a checkout (a clone elsewhere does not
#: have them beside it: they are passed the way a user would, through MOEARCH_MEASURED)
DEV_SET = ROOT.parent / "shared" / "datasets" / "aic-silicon" / "h100-measured.csv"


def demo_env() -> dict[str, str]:
    env = {**os.environ, "COLUMNS": "160"}
    if DEV_SET.is_file() and "MOEARCH_MEASURED" not in env:
        env["MOEARCH_MEASURED"] = str(DEV_SET)
    return env


def quick_runs(work: Path) -> list[dict]:
    repo = clone(work / "quick")
    command = [sys.executable, "-m", "moearch.cli.main", "demo", "--quick"]
    env = demo_env()
    runs = []
    for label in ("cold", "warm"):
        wall, output = run_timed(command, repo, env)
        runs.append({"command": "moearch demo --quick", "state": label, "wall_s": round(wall, 1), **steps_of(output)})
        print(f"moearch demo --quick ({label}): {wall:.0f} s wall; " +
              ", ".join(f"{k} {v:.0f} s" for k, v in runs[-1]["steps"].items()), flush=True)
    return runs


def make_run(work: Path) -> dict:
    repo = clone(work / "make")
    env = {k: v for k, v in demo_env().items() if not k.startswith("VIRTUAL_ENV")}
    start = time.perf_counter()
    venv_s, _ = run_timed(["make", "venv-demo", "sysdeps"], repo, env)
    job_s, output = run_timed(["make", "demo"], repo, env)
    wall = time.perf_counter() - start
    result = {"command": "make demo", "state": "cold", "wall_s": round(wall, 1), "environment_s": round(venv_s, 1),
              **steps_of(output)}
    print(f"make demo (cold): {wall:.0f} s wall = {venv_s:.0f} s environment + {job_s:.0f} s job; " +
          ", ".join(f"{k} {v:.0f} s" for k, v in result["steps"].items()), flush=True)
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--make", action="store_true", help="also time `make demo` from a fresh clone")
    parser.add_argument("--keep", action="store_true", help="keep the clones (printed)")
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args(argv)
    work = Path(tempfile.mkdtemp(prefix="moearch-demo-bench-"))
    try:
        runs = quick_runs(work)
        if args.make:
            runs.append(make_run(work))
    finally:
        if args.keep:
            print(f"clones kept in {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True).stdout.strip()
    data = {"date": datetime.now(timezone.utc).strftime("%Y-%m-%d"), "commit": commit, "cores": os.cpu_count(),
            "python": platform.python_version(), "runs": runs}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    tmp = args.out.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(data, indent=1) + "\n")
    tmp.replace(args.out)
    print(f"wrote {args.out.relative_to(ROOT) if args.out.is_relative_to(ROOT) else args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
