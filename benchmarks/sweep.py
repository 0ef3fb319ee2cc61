"""Vectorised sweeps: design points per second of the analytical models (printed, never asserted).

    python benchmarks/sweep.py [--points N] [--big N] [--chunk N]

1. decode-step latency of one workload over batch x context on one device, one core;
2. batch x context x dtype x device (every GPU/NPU in the catalog);
3. one sweep per architecture (GPU, NPU, dataflow RDU, Logic-PIM, FPGA), each through its own
   device model (the issue's floor: 100,000 points/s each);
4. a large sweep (default 10 million points) evaluated in chunks, with the peak memory it took.
Writes benchmarks/results/sweep.json.
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")  # one core, as the target says

import numpy as np  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from accelerators.catalog import list_devices, load_device  # noqa: E402
from archmodel.parallel import Parallelism  # noqa: E402
from archmodel.precision import Precision  # noqa: E402
from archmodel.step import DEVICE_MODELS, step_latency  # noqa: E402
from archmodel.workloads import load_workload  # noqa: E402


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def timed(fn, *args, repeat: int = 3, **kw):
    fn(*args, **kw)  # compile and warm up
    best = float("inf")
    out = None
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn(*args, **kw)
        best = min(best, time.perf_counter() - t0)
    return best, out


def random_points(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    return rng.integers(1, 513, n).astype(float), rng.integers(128, 32769, n).astype(float)


def decode_sweep(model, device, n: int) -> dict:
    b, c = random_points(n)
    t, lat = timed(step_latency, model, device, b=b, s=1, c=c, precision=Precision.of("bf16"), parallel=Parallelism(tp=2))
    assert np.all(np.isfinite(lat))
    return {"points": n, "seconds": t, "points_per_s": n / t, "us_per_point": t / n * 1e6}


def cross_sweep(model, n_batch: int = 64, n_ctx: int = 64) -> dict:
    """batch x context grid, for every dtype the device supports and every device with a model."""
    b = np.geomspace(1, 1024, n_batch).round()[:, None]
    c = np.geomspace(128, 32768, n_ctx).round()[None, :]
    total, seconds, per_device = 0, 0.0, {}
    for name in list_devices():
        dev = load_device(name)
        if dev.kind not in DEVICE_MODELS:
            continue
        try:
            step_latency(model, dev, b=1, s=1, c=128, precision=Precision.of("bf16"), parallel=Parallelism(tp=8))
        except (ValueError, KeyError):
            continue  # the device lacks what this model needs (reported by the model's own tests)
        count, dt = 0, 0.0
        for dtype in ("bf16", "fp8", "int8", "int4"):
            if Precision.of(dtype).compute_dtype not in dev.compute.peak:
                continue
            t, _ = timed(step_latency, model, dev, b=b, s=1, c=c, precision=Precision.of(dtype),
                         parallel=Parallelism(tp=8), repeat=2)
            count += b.size * c.size
            dt += t
        per_device[name] = {"points": count, "points_per_s": count / dt if dt else 0.0}
        total += count
        seconds += dt
    return {"points": total, "seconds": seconds, "points_per_s": total / seconds, "per_device": per_device}


#: One representative device a kind, with the split and datatype it is usually run at.
ARCHITECTURES = (
    ("gpu", "h100-sxm", Parallelism(tp=2), "bf16"),
    ("npu", "ascend-910c", Parallelism(tp=1), "int8"),
    ("rdu", "sn40l-node", Parallelism(tp=8), "bf16"),
    ("pim", "duplex", Parallelism(tp=2), "fp16"),
    ("fpga", "alveo-u280", Parallelism(tp=1), "int8"),
)


def architecture_sweeps(model, n: int) -> dict:
    b, c = random_points(n, seed=1)
    out = {}
    for kind, name, parallel, dtype in ARCHITECTURES:
        dev = load_device(name)
        t, lat = timed(step_latency, model, dev, b=b, s=1, c=c, precision=Precision.of(dtype), parallel=parallel,
                       repeat=2)
        assert dev.kind == kind and np.all(np.isfinite(lat))
        out[kind] = {"device": name, "model": DEVICE_MODELS[kind].__name__,
                     "points": n, "points_per_s": n / t}
    return out


def big_sweep(model, device, n: int, chunk: int) -> dict:
    t0 = time.perf_counter()
    best, worst = float("inf"), 0.0
    for start in range(0, n, chunk):
        m = min(chunk, n - start)
        b, c = random_points(m, seed=start)
        lat = step_latency(model, device, b=b, s=1, c=c, precision=Precision.of("bf16"), parallel=Parallelism(tp=2))
        best, worst = min(best, float(lat.min())), max(worst, float(lat.max()))
    t = time.perf_counter() - t0
    return {"points": n, "chunk": chunk, "seconds": t, "points_per_s": n / t, "peak_rss_mib": peak_rss_mib(),
            "latency_range_s": [best, worst]}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--workload", default="mixtral-8x7b")
    ap.add_argument("--device", default="h100-sxm")
    ap.add_argument("--points", type=int, default=1_000_000)
    ap.add_argument("--big", type=int, default=10_000_000)
    ap.add_argument("--chunk", type=int, default=1_000_000)
    args = ap.parse_args()
    model, device = load_workload(args.workload), load_device(args.device)
    results = {"workload": args.workload, "device": args.device}
    results["decode"] = d = decode_sweep(model, device, args.points)
    print(f"decode-step latency, {args.workload} on {args.device} (tp2), {d['points']:,} points: "
          f"{d['points_per_s']:,.0f} points/s ({d['us_per_point']:.3f} µs/point)")
    results["cross"] = x = cross_sweep(model)
    print(f"batch x context x dtype x device: {x['points']:,} points over {len(x['per_device'])} devices: "
          f"{x['points_per_s']:,.0f} points/s")
    for name, row in x["per_device"].items():
        print(f"    {name:16s} {row['points']:>8,} points  {row['points_per_s']:>14,.0f} points/s")
    results["architectures"] = a = architecture_sweeps(model, min(args.points, 200_000))
    print("decode-step latency per architecture (each through its own device model):")
    for kind, row in a.items():
        print(f"    {kind:5s} {row['device']:12s} {row['model']:14s} {row['points_per_s']:>12,.0f} points/s")
    results["big"] = g = big_sweep(model, device, args.big, args.chunk)
    print(f"chunked sweep of {g['points']:,} points in chunks of {g['chunk']:,}: {g['seconds']:.1f} s, "
          f"{g['points_per_s']:,.0f} points/s, peak RSS {g['peak_rss_mib']:.0f} MiB")
    out = Path(__file__).parent / "results" / "sweep.json"
    out.parent.mkdir(exist_ok=True)
    tmp = out.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(results, indent=2))
    tmp.replace(out)
    print(f"wrote {out.relative_to(Path.cwd()) if out.is_relative_to(Path.cwd()) else out}")


if __name__ == "__main__":
    main()
