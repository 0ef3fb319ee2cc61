"""``moearch verify DIR``: lint, simulate (both simulators) and cross-check a generated kernel."""
from __future__ import annotations

import json
import sys
from typing import Any

import click

from verification.kernel_bench import TESTS
from verification.simulators import SIMULATORS
from verification.verify import verify_kernel

__all__ = ["verify", "format_report"]


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.1f}%"


def format_report(data: dict[str, Any]) -> str:
    """The text report of :meth:`verification.verify.VerifyReport.as_dict`."""
    s = data["shape"]
    rows, cols = data["pe_array"]
    out = [f"moearch verify: {data['kernel']} ({data['toplevel']}: T={s['tokens']} d={s['hidden']} "
           f"f={s['ffn']} E={s['experts']} top-{s['top_k']} {'gated' if s['gated'] else 'not gated'}"
           f", {rows}x{cols} PEs on {data['device']})"]
    lint = data["lint"]
    out.append(f"  lint        {lint['outcome']:7s} {lint['message'].splitlines()[0] if lint['message'] else ''}")
    if lint["outcome"] == "failed":
        out += ["      " + line for line in lint["message"].splitlines()[:20]]
    for sim, rep in data["simulators"].items():
        if rep["error"]:
            out.append(f"  {sim:11s} failed  {rep['error'].splitlines()[0]}")
            out += ["      " + line for line in rep["error"].splitlines()[1:12]]
            continue
        tests = rep["tests"]
        npass = sum(t["passed"] for t in tests)
        nskip = sum(t["outcome"] == "skipped" for t in tests)
        build = "cached" if rep["build_cached"] else f"{rep['build_time_s']:.1f} s"
        out.append(f"  {sim:11s} {'passed' if rep['passed'] else 'failed':7s} {npass}/{len(tests) - nskip} "
                   f"tests{f' ({nskip} skipped)' if nskip else ''}, {rep['version']}, seed {rep['seed']}, "
                   f"build {build}, run {rep['run_time_s']:.1f} s")
        for t in tests:
            extra = f"  {t['message']}" if t["outcome"] != "passed" and t["message"] else ""
            out.append(f"      {t['outcome']:7s} {t['name']}{extra}")
        if rep["waves"]:
            out.append(f"      waves: {rep['waves']}")
        if not rep["passed"]:
            out.append(f"      log: {rep['log']}")
    timed = [(sim, rep["timing"]) for sim, rep in data["simulators"].items() if rep.get("timing")]
    if timed:
        sim, t = timed[0]
        agree = all(other["stages"] == t["stages"] for _, other in timed[1:])
        out.append(f"  cycles      {t['routing']} routing {t['counts']} ({sim}"
                   f"{', identical on ' + ', '.join(s for s, _ in timed[1:]) if agree and len(timed) > 1 else ''}): "
                   f"layer {t['measured_cycles']} measured / {t['predicted_cycles']} predicted "
                   f"({100 * t['error']:+.1f}%), PE utilisation {_pct(t['pe_utilisation'])}")
        out.append(f"      {'stage':12s} {'mode':10s} {'predicted':>9s} {'measured':>9s} {'PE util':>8s} "
                   f"{'MAC util':>8s}")
        for st in t["stages"]:
            out.append(f"      {st['stage']:12s} {st['mode']:10s} {st['predicted_cycles']:9d} "
                       f"{st['measured_cycles']:9d} {_pct(st['pe_utilisation']):>8s} "
                       f"{_pct(st['mac_utilisation']):>8s}")
    res = data.get("resources")
    if res is not None:
        d = res["data"] or {}
        took = "cached" if d.get("cached") else f"{res['seconds']:.0f} s"
        out.append(f"  resources   {res['outcome']:7s} yosys synth_xilinx ({d.get('yosys', '')}, {took})")
        if d.get("rows"):
            out.append(f"      {'resource':9s} {'predicted':>10s} {'synthesised':>12s} {'error':>8s}  target")
            for r in d["rows"]:
                out.append(f"      {r['resource']:9s} {r['predicted']:10g} {r['measured']:12g} "
                           f"{_pct(r['error']):>8s}  {r['target']}  {'ok' if r['ok'] else 'MISSED'}")
        else:
            out += ["      " + line for line in res["message"].splitlines()[:20]]
    if data.get("junit"):
        out.append(f"  junit       {data['junit']}")
    out.append(f"result: {'PASSED' if data['passed'] else 'FAILED'}")
    return "\n".join(out)


@click.command("verify")
@click.argument("directory", type=click.Path(file_okay=False))
@click.option("--sim", type=click.Choice([*SIMULATORS, "all"]), default="all", show_default=True,
              help="Simulator(s) to run the cocotb tests on.")
@click.option("--seed", type=int, default=None,
              help="Seed of the test data and of cocotb (default: data seed 1, cocotb picks its own).")
@click.option("--test", "tests", multiple=True, type=click.Choice(TESTS),
              help="Run only this cocotb test (repeatable; default: all).")
@click.option("--junit", type=click.Path(dir_okay=False), default=None, help="Write a JUnit XML file.")
@click.option("--waves", is_flag=True, help="Record waveforms (FST/VCD) in the run directories.")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@click.option("--resources", is_flag=True,
              help="Also synthesise with Yosys (synth_xilinx) and compare DSP/LUT/FF/BRAM with the model.")
@click.option("--build-dir", default="build/sim", show_default=True, type=click.Path(file_okay=False),
              help="Simulator builds, runs, waves and synthesis go here (cached by content).")
def verify(directory: str, sim: str, seed: int | None, tests: tuple[str, ...], junit: str | None, waves: bool,
           as_json: bool, resources: bool, build_dir: str) -> None:
    """Verify the kernel `moearch codegen` wrote into DIRECTORY: Verilator lint, the cocotb tests
    bit-exact against the golden model on Verilator and Icarus, measured cycles per stage and PE
    utilisation against the FPGA model, and (--resources) Yosys resources against the model.
    Exit code 0 when everything passes, 1 when something fails, 2 for a directory that is not
    a valid generated kernel."""

    sims = SIMULATORS if sim == "all" else (sim,)
    report = verify_kernel(directory, sims=sims, build_root=build_dir, seed=seed, tests=tests or None,
                           waves=waves, resources=resources, junit=junit)
    data = report.as_dict()
    click.echo(json.dumps(data, indent=2, default=str) if as_json else format_report(data))
    sys.exit(0 if report.passed else 1)
