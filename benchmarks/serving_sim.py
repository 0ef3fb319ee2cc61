"""Speed of the in-flight-batching simulation (printed, never asserted; target: 1,000 requests well under 1 s).

    python benchmarks/serving_sim.py [--requests N]

Times ``archmodel.serving.simulate`` for Llama-3.1-8B on one H100 (ISL 1024, OSL 128) with each
engine preset at concurrency 1, 16 and 128 (closed loop) and one open-loop rate, after one
warm-up call (the operator table is built once per model).
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from accelerators.catalog import load_device  # noqa: E402
from archmodel.serving import engine_preset, simulate  # noqa: E402
from archmodel.workloads import load_workload  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=1000)
    args = parser.parse_args()
    model, device = load_workload("llama-3.1-8b"), load_device("h100-sxm")
    simulate(model, device, isl=1024, osl=128, engine=engine_preset("vllm"), concurrency=1, requests=2)
    print(f"{'engine':8} {'load':>12} {'requests':>9} {'steps':>7} {'seconds':>8}  bound")
    for name in ("trtllm", "vllm", "sglang"):
        for load in ({"concurrency": 1}, {"concurrency": 16}, {"concurrency": 128}, {"rate": 20.0}):
            t = time.perf_counter()
            r = simulate(model, device, isl=1024, osl=128, engine=engine_preset(name), requests=args.requests, **load)
            dt = time.perf_counter() - t
            label = f"c={load['concurrency']}" if "concurrency" in load else f"rate={load['rate']:g}/s"
            print(f"{name:8} {label:>12} {r.requests:9d} {r.steps:7d} {dt:8.3f}  {r.bound}")


if __name__ == "__main__":
    main()
