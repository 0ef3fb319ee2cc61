"""Kernel-generator timings (printed, never asserted; target: codegen of the default example < 10 s).

    python benchmarks/codegen.py [--repeat N] [--no-csim]

The default example is the issue's command:
``moearch codegen --shape d=64,f=128,experts=8,top_k=2 --tokens 16 --device alveo-u280 --pe 8x8
--gated --activation silu --stream-bytes 16 --out build/...``. Timed: the CLI end to end (spec,
schedule, HLS C++, Verilog when the RTL emitter is present, manifest, README), and separately
the plan, the writer, the g++ compile of the C simulation and one C-simulation run.
Writes benchmarks/results/codegen.json.
"""
from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from click.testing import CliRunner  # noqa: E402

from moearch.cli.common import atomic_write  # noqa: E402
from moearch.cli.main import cli  # noqa: E402
from codegen.csim import compile_csim, find_cxx, run_csim  # noqa: E402
from codegen.plan import build_plan  # noqa: E402
from codegen.spec import KernelSpec  # noqa: E402
from codegen.writer import write_kernel  # noqa: E402

ARGS = ["codegen", "--shape", "d=64,f=128,experts=8,top_k=2", "--tokens", "16", "--device", "alveo-u280",
        "--pe", "8x8", "--gated", "--activation", "silu", "--stream-bytes", "16"]
SPEC = KernelSpec(16, 64, 128, 8, 2, True, activation="silu", device="alveo-u280", pe_rows=8, pe_cols=8,
                  stream_bytes=16)


def timed(fn, repeat: int) -> tuple[float, object]:
    times, out = [], None
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--no-csim", action="store_true", help="skip the g++ compile and the C-simulation run")
    a = ap.parse_args()
    results: dict[str, object] = {"example": " ".join(["moearch", *ARGS])}
    with tempfile.TemporaryDirectory(dir=ROOT / "build" if (ROOT / "build").is_dir() else None) as tmp:
        tmp_path = Path(tmp)
        runner = CliRunner()

        def cli_run():
            res = runner.invoke(cli, [*ARGS, "--out", str(tmp_path / "cli")], catch_exceptions=False)
            if res.exit_code != 0:
                raise SystemExit(res.output)
            return res.output

        # a fresh process pays the interpreter start and the imports (numpy, amaranth, jinja2, catalog)
        cmd = [sys.executable, "-c", "from moearch.cli.main import main; main()", *ARGS,
               "--out", str(tmp_path / "process")]
        results["process_s"], _ = timed(lambda: subprocess.run(cmd, check=True, capture_output=True, cwd=ROOT), 1)
        results["cli_s"], output = timed(cli_run, a.repeat)
        results["plan_s"], plan = timed(lambda: build_plan(SPEC), a.repeat)
        results["write_s"], written = timed(lambda: write_kernel(plan, tmp_path / "w"), a.repeat)
        results["rtl_written"] = written.rtl_available
        results["rtl_message"] = written.rtl_message
        results["files"] = len(written.files)
        if not a.no_csim and find_cxx():
            t0 = time.perf_counter()
            exe = compile_csim(tmp_path / "w" / "hls", plan.name, build_dir=tmp_path / "bin")
            results["gxx_compile_s"] = time.perf_counter() - t0
            from verification import golden
            shape = golden.MoEShape(16, 64, 128, 8, 2, True)
            params, x = golden.random_params(shape, 0), golden.random_tokens(shape, 1)
            results["csim_run_s"], res = timed(lambda: run_csim(plan, exe, x, params, tmp_path / "run"), a.repeat)
            results["csim_bit_exact"] = bool((res.output == golden.moe_layer(x, params, shape).output).all())
    print(output.rstrip())
    print()
    print(f"codegen as a fresh process (start-up and imports): {results['process_s']:.2f} s   (target < 10 s)")
    print(f"codegen, CLI call in this process (median of {a.repeat}): {results['cli_s']:.2f} s")
    print(f"  plan (validate + schedule):                {results['plan_s'] * 1e3:.1f} ms")
    print(f"  writer (HLS, RTL: {'yes' if results['rtl_written'] else 'no'}, manifest, README):  "
          f"{results['write_s'] * 1e3:.1f} ms for {results['files']} files")
    if "gxx_compile_s" in results:
        print(f"g++ compile of the C simulation:              {results['gxx_compile_s']:.2f} s")
        print(f"C-simulation run (median):                    {results['csim_run_s'] * 1e3:.1f} ms, "
              f"bit-exact vs golden: {results['csim_bit_exact']}")
    out = ROOT / "benchmarks" / "results" / "codegen.json"
    atomic_write(out, lambda p: p.write_text(json.dumps(results, indent=2) + "\n"))
    print(f"wrote {out.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
