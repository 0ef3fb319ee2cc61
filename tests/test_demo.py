"""`moearch demo --quick` end to end, run from the built wheel outside the checkout, and its report
opened in headless Chromium.

The report must show every section with real data and every image must load in a real browser.
Chromium is Debian's package (the Makefile installs it when missing and root); without it the
browser check skips here and fails in CI.
"""
from __future__ import annotations

import json
import os
import re
import shutil
import struct
import subprocess
import sys
from pathlib import Path

import pytest

from installed import build_wheel, installed_env, run_installed, unpack

from moearch.demo.screenshot import find_chromium

REPO = Path(__file__).resolve().parents[1]
SECTIONS = ("summary", "devices", "roofline", "tiers", "coe", "validation", "dse", "kernel")
CHROMIUM_FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync")
# Appended to a copy of the report (the report itself has no scripts): after load, the title says
# how many images there are and how many failed to decode.
PROBE = ("<script>window.addEventListener('load', () => { const imgs = [...document.images]; "
         "const broken = imgs.filter(i => !(i.complete && i.naturalWidth > 0)).length; "
         "document.title = 'images:' + imgs.length + ':broken:' + broken; });</script>")


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> Path:
    """The wheel, unpacked into a site folder outside the checkout (see tests/installed.py)."""
    root = tmp_path_factory.mktemp("wheel")
    return unpack(build_wheel(root / "dist"), root / "site")


@pytest.fixture(scope="module")
def report(installed: Path, tmp_path_factory) -> Path:
    work = tmp_path_factory.mktemp("demo")
    # the README's picture comes from this command (on the full demo): its first screen, by Chromium
    shot = ("--screenshot", "first-screen.png") if find_chromium() else ()
    result = run_installed(installed, work, "demo", "--quick", "--out", "demo-report", *shot)
    assert result.returncode == 0, result.stdout + result.stderr
    (work / "output.txt").write_text(result.stdout)
    return work / "demo-report"


def test_the_demo_ran_from_the_wheel_not_the_checkout(installed: Path, report: Path) -> None:
    probe = run_installed(installed, report.parent, "--version")
    assert probe.returncode == 0, probe.stderr
    where = subprocess.run([sys.executable, "-S", "-c", "import moearch, archmodel, codegen.hdl, dse.agents; "
                            "print(moearch.__file__, archmodel.__file__)"], cwd=report.parent,
                           env=installed_env(installed), capture_output=True, text=True, check=True).stdout.split()
    assert all(Path(p).is_relative_to(installed) for p in where), where
    for data in ("moearch/examples/fpga-moe-kernel.yaml", "accelerators/devices/h100-sxm.yaml",
                 "archmodel/workloads/configs", "rtl_templates/hls", "codegen/hls/include"):
        assert (installed / data).exists(), data


def test_progress_names_each_sub_step_in_order(report: Path) -> None:
    """Without a terminal (CI logs) the live bar does not render; the sub-step lines must."""
    lines = (report.parent / "output.txt").read_text().splitlines()
    expected = ["modelling: serving", "exploration: DSE job ga", "exploration: DSE job marl",
                "exploration: DSE job random", "exploration: DSE report", "kernel: generating", "kernel: HLS C-simulation",
                "kernel: RTL: Verilator lint", "kernel: RTL: cocotb tests on verilator",
                "kernel: RTL: cocotb nominal_routing on icarus", "kernel: RTL: Yosys synth_xilinx", "index.html  ("]
    found = [next((i for i, line in enumerate(lines) if want in line), None) for want in expected]
    assert None not in found and found == sorted(found), list(zip(expected, found))


def chromium() -> str:
    exe = find_chromium()
    if exe is None:
        message = "chromium is not installed (apt-get install chromium; `make test` does it as root)"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    return exe


def test_report_has_every_section_with_data(report: Path) -> None:
    page = (report / "index.html").read_text(encoding="utf-8")
    for anchor in SECTIONS:
        assert f"id='{anchor}'" in page, anchor
    assert "http://" not in page and "https://" not in page and "<script" not in page  # self-contained
    data = json.loads((report / "demo.json").read_text())
    assert len(data["modelling"]["serving"]) >= 5
    assert {r["kind"] for r in data["modelling"]["serving"]} == {"gpu", "npu", "rdu", "pim", "fpga"}
    assert {j["agent"] for j in data["exploration"]["jobs"]} == {"marl", "random", "ga"}
    assert all(j["evaluations"] == data["exploration"]["budget"] for j in data["exploration"]["jobs"])
    kernel = data["kernel"]
    assert kernel["csim_bit_exact"] is True
    verify = kernel["verify"]
    assert kernel["rtl_available"] and verify["lint"]["outcome"] == "passed", json.dumps(verify, default=str)[:2000]
    sims = verify["simulators"]
    assert "verilator" in sims and all(s["passed"] for s in sims.values()), json.dumps(sims, default=str)[:2000]
    # The resource cross-check ran (its tolerances are the verification suite's business; DSPs are exact).
    rows = {r["resource"]: r for r in verify["resources"]["data"]["rows"]}
    assert rows["dsp"]["predicted"] == rows["dsp"]["measured"] > 0
    timing = next(s["timing"] for s in sims.values() if s["timing"])
    assert abs(timing["error"]) <= 0.10  # the target: measured cycles within 10% of the model


def test_report_renders_in_chromium_with_every_image(report: Path) -> None:
    exe = chromium()
    probe = report / "probe.html"
    probe.write_text((report / "index.html").read_text(encoding="utf-8").replace("</body>", PROBE + "</body>"),
                     encoding="utf-8")
    profile = report.parent / "chromium-profile"
    common = [exe, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", "--virtual-time-budget=10000"]
    dom = subprocess.run([*common, "--dump-dom", probe.as_uri()], capture_output=True, text=True, timeout=120)
    match = re.search(r"<title>images:(\d+):broken:(\d+)</title>", dom.stdout)
    assert match, dom.stdout[:500] + dom.stderr[-2000:]
    images, broken = int(match.group(1)), int(match.group(2))
    # compare, roofline, Pareto front, best-so-far, hypervolume, schedule timeline: all decoded.
    assert images == (report / "index.html").read_text(encoding="utf-8").count("<img ") >= 6 and broken == 0


def test_the_demo_renders_its_first_screen_for_the_readme(report: Path) -> None:
    chromium()
    shot = (report.parent / "first-screen.png").read_bytes()
    assert shot[:8] == b"\x89PNG\r\n\x1a\n" and shot.endswith(b"IEND\xaeB`\x82")
    width, height = struct.unpack(">II", shot[16:24])
    assert (width, height) == (1280, 1500)  # moearch.demo.screenshot.FIRST_SCREEN, as README's picture
    readme = (REPO / "docs" / "images" / "demo-report.png").read_bytes()
    assert struct.unpack(">II", readme[16:24]) == (width, height)


# --- killed part-way, then run again ---------------------------------------------------------------
def _run_seconds(report: Path) -> float:
    """The uninterrupted run's time, from its last line (``report: .../index.html  (NNN s)``)."""
    match = re.search(r"index\.html\s+\((\d+) s\)", (report.parent / "output.txt").read_text())
    assert match, "the demo did not print its run time"
    return float(match.group(1))


def _whole(name: str, data: bytes) -> bool:
    """Whether a file of the report is complete (a half-written one is not)."""
    if name.endswith(".png"):
        return data.startswith(b"\x89PNG\r\n\x1a\n") and data.endswith(b"IEND\xaeB`\x82")
    if name.endswith(".json"):
        json.loads(data)
        return True
    if name.endswith(".html"):
        return data.rstrip().endswith(b"</html>")
    if name.endswith(".db"):
        import sqlite3
        with sqlite3.connect(f"file:{name}?mode=ro", uri=True) as db:
            return db.execute("SELECT value FROM meta WHERE key = 'status'").fetchone()[0] in ("'done'", '"done"')
    return True


def _results(data: dict) -> dict:
    """What the demo concluded, without timings, seeds cocotb drew, or paths."""
    kernel = data["kernel"]
    sims = (kernel["verify"] or {}).get("simulators", {})
    return {
        "serving": data["modelling"]["serving"], "coe": data["modelling"]["coe"],
        "validation": data["validation"].get("groups"),
        "exploration": [{k: j[k] for k in ("agent", "evaluations", "best", "best_design", "rows")}
                        for j in data["exploration"]["jobs"]],
        "kernel": {"design": kernel["design"], "spec": kernel["spec"], "predicted": kernel["predicted_cycles"],
                   "csim": kernel["csim_bit_exact"],
                   "sims": {n: (s["passed"], (s["timing"] or {}).get("measured_cycles")) for n, s in sims.items()}},
    }


def test_the_demo_killed_part_way_then_rerun_gives_the_same_results(installed: Path, report: Path,
                                                                      tmp_path: Path) -> None:
    import random
    import signal

    out = tmp_path / "demo-report"
    shutil.copytree(report, out)
    before = {p.relative_to(out).as_posix(): p.read_bytes() for p in out.rglob("*") if p.is_file()}
    delay = random.Random(16).uniform(0.1, 0.9) * _run_seconds(report)
    proc = subprocess.Popen([sys.executable, "-S", "-m", "moearch.cli.main", "demo", "--quick", "--out", out.name],
                            cwd=tmp_path, env=installed_env(installed), stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        proc.wait(timeout=delay)
        pytest.fail(f"the demo finished before its kill at {delay:.0f} s")
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    for path in sorted(p for p in out.rglob("*") if p.is_file() and not p.name.startswith(".")):
        name = path.relative_to(out).as_posix()
        data = path.read_bytes()
        if before.get(name) != data:  # rewritten by the killed run: it must be whole
            assert _whole(str(path) if name.endswith(".db") else name, data), name
    rerun = run_installed(installed, tmp_path, "demo", "--quick", "--out", out.name)
    assert rerun.returncode == 0, rerun.stdout[-3000:] + rerun.stderr[-3000:]
    assert _results(json.loads((out / "demo.json").read_text())) == _results(json.loads((report / "demo.json").read_text()))
