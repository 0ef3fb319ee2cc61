"""Print the serving validation tables of docs/validation.md (rerun after changing a model).

    python benchmarks/validation_report.py
"""
from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from accelerators.catalog import load_device  # noqa: E402
from archmodel.validation import evaluate_rows, plain_roofline  # noqa: E402

GOLDEN = ROOT / "tests" / "golden" / "trtllm-a100-llama2-7b.csv"


def main() -> None:
    rows = evaluate_rows(GOLDEN, "llama-2-7b", "a100-sxm-80g", "fp16")
    plain = evaluate_rows(GOLDEN, "llama-2-7b", "a100-sxm-80g", "fp16",
                          device_override=plain_roofline(load_device("a100-sxm-80g")))
    print("| metric | batch | ISL | OSL | measured | moearch | error | plain roofline | plain / measured | bound |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---|")
    for r, p in zip(rows, plain):
        unit = "tok/s/GPU" if r.metric == "throughput" else "ms"
        print(f"| {r.metric} ({unit}) | {r.batch} | {r.isl} | {r.osl} | {r.measured:,.1f} | {r.modelled:,.1f} | "
              f"{r.error:+.1%} | {p.modelled:,.1f} | {p.modelled / r.measured:.2f}x | {r.bottleneck} |")
    thr = [r for r in rows if r.metric == "throughput"]
    print(f"\nmean absolute error over the {len(thr)} throughput rows: {sum(abs(r.error) for r in thr) / len(thr):.1%}")


if __name__ == "__main__":
    main()
