"""An RTL-in-the-loop DSE job on Ray, uninterrupted and under SIGKILL (issue 14's acceptance run).

    python benchmarks/dse_rtl.py [--budget 200] [--agent ga] [--out docs/dse-rtl/dse_rtl.json]

Runs the example space ``fpga-moe-kernel-rtl`` (``evaluator: rtl``: the model screens each round,
the better half is measured as a generated kernel on Verilator with Yosys resources) twice on a
local Ray cluster of 2 workers, each run with an empty kernel cache of its own:

1. uninterrupted: ``moearch dse run ... --backend ray --workers 2``;
2. interrupted: the same command; a Ray worker is SIGKILLed in the middle of a kernel measurement
   (once the measurement's work folder has existed for ``--worker-kill-after`` seconds), later the
   driver is SIGKILLed once the job holds half the rows of the uninterrupted run, and
   ``moearch dse resume --backend ray --workers 2`` finishes the job.

Prints and writes: wall time of each phase, evaluations, rows, designs measured in RTL, distinct
kernels measured, and whether the interrupted job's rows equal the uninterrupted one's (design,
status, metrics, objectives: ``Row.comparable``). Timing is printed, never asserted.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from dse.store import JobStore, count_rows  # noqa: E402

SPACE = REPO / "moearch" / "examples" / "fpga-moe-kernel-rtl.yaml"


def space_with_cache(folder: Path) -> Path:
    """The example space with its kernel cache in ``folder/cache`` (each run starts cold)."""
    data = yaml.safe_load(SPACE.read_text())
    data["rtl"] = {**data["rtl"], "cache": str(folder / "cache")}
    path = folder / SPACE.name
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def moearch(*args: str) -> list[str]:
    return [sys.executable, "-m", "moearch.cli.main", *args]


def run_args(space: Path, out: Path, args) -> list[str]:
    return moearch("dse", "run", str(space), "--agent", args.agent, "--seed", str(args.seed), "--budget",
                   str(args.budget), "--designs-per-round", "8", "--chunk", "8", "--quiet", "--backend", "ray",
                   "--workers", "2", "--output", str(out))


def busy_workers() -> list[int]:
    table = subprocess.run(["ps", "-eo", "pid=,args="], capture_output=True, text=True, check=True).stdout
    return [int(line.split(None, 1)[0]) for line in table.splitlines() if "ray::evaluate_chunk" in line]


def summary(path: Path, cache: Path) -> dict:
    with JobStore.open(path) as store:
        rows = store.rows()
    measured = [r for r in rows if not r.cached and r.metrics.get("fidelity") == 1.0]
    return {"rows": len(rows), "evaluations": sum(r.evaluated for r in rows),
            "failed": sum(r.status == "failed" for r in rows),
            "rtl_designs": len(measured), "kernels_measured": len(list(cache.glob("*.json")))}


def comparable(path: Path) -> list:
    with JobStore.open(path) as store:
        return [r.comparable() for r in store.rows()]


def uninterrupted(root: Path, args) -> tuple[dict, Path]:
    folder = root / "clean"
    folder.mkdir()
    space, out = space_with_cache(folder), folder / "job.db"
    started = time.monotonic()
    subprocess.run(run_args(space, out, args), cwd=REPO, check=True)
    return {"wall_s": round(time.monotonic() - started, 1), **summary(out, folder / "cache")}, out


def interrupted(root: Path, args, clean_rows: int) -> tuple[dict, Path]:
    folder = root / "killed"
    folder.mkdir()
    space, out = space_with_cache(folder), folder / "job.db"
    work = folder / "cache" / "work"
    started = time.monotonic()
    proc = subprocess.Popen(run_args(space, out, args), cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    worker_killed: dict = {}
    measuring_since = None
    try:
        while proc.poll() is None:
            if not worker_killed:
                if work.is_dir() and any(work.iterdir()):
                    measuring_since = measuring_since or time.monotonic()
                    if time.monotonic() - measuring_since >= args.worker_kill_after and busy_workers():
                        pid = busy_workers()[0]
                        os.kill(pid, signal.SIGKILL)
                        worker_killed = {"pid": pid, "at_s": round(time.monotonic() - started, 1),
                                         "rows": count_rows(out)}
                        print(f"SIGKILL Ray worker {pid} mid-measurement at {worker_killed['at_s']} s", flush=True)
            elif count_rows(out) >= clean_rows // 2:
                os.kill(proc.pid, signal.SIGKILL)
                break
            time.sleep(0.05)
        proc.wait()
        if proc.returncode != -signal.SIGKILL:
            raise SystemExit(f"the job ended before the driver kill (exit {proc.returncode}): "
                             f"{proc.stderr.read().decode()[-2000:]}")
    finally:
        if proc.poll() is None:
            proc.kill()
    driver_killed = {"at_s": round(time.monotonic() - started, 1), "rows": count_rows(out)}
    print(f"SIGKILL driver at {driver_killed['at_s']} s with {driver_killed['rows']} rows", flush=True)
    resumed_at = time.monotonic()
    subprocess.run(moearch("dse", "resume", str(out), "--quiet", "--backend", "ray", "--workers", "2"), cwd=REPO,
                   check=True)
    return {"wall_s": round(time.monotonic() - started, 1), "resume_s": round(time.monotonic() - resumed_at, 1),
            "worker_killed": worker_killed, "driver_killed": driver_killed,
            **summary(out, folder / "cache")}, out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--budget", type=int, default=200)
    parser.add_argument("--agent", default="ga")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--worker-kill-after", type=float, default=20.0,
                        help="seconds into a kernel measurement before its worker is killed")
    parser.add_argument("--out", type=Path, default=REPO / "docs" / "dse-rtl" / "dse_rtl.json")
    args = parser.parse_args(argv)
    root = Path(tempfile.mkdtemp(prefix="dse-rtl-"))
    try:
        clean, clean_db = uninterrupted(root, args)
        print(f"uninterrupted: {clean}", flush=True)
        killed, killed_db = interrupted(root, args, clean["rows"])
        same = comparable(killed_db) == comparable(clean_db)
        print(f"interrupted: {killed}\nsame rows as uninterrupted: {same}", flush=True)
    finally:
        shutil.rmtree(root, ignore_errors=True)
    result = {"space": SPACE.name, "agent": args.agent, "seed": args.seed, "budget": args.budget,
              "backend": "ray, 2 workers", "date": time.strftime("%Y-%m-%d"), "uninterrupted": clean,
              "interrupted": killed, "same_rows": same}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=1) + "\n")
    print(f"wrote {args.out.relative_to(REPO) if args.out.is_relative_to(REPO) else args.out}")
    return 0 if same else 1


if __name__ == "__main__":
    raise SystemExit(main())
