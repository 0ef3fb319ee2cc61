"""Faults injected and survived: SIGKILL at random moments of ``codegen``, ``verify`` and ``validate``
(then the same command again), and write errors of the machine (disk full, read-only folder).

After each kill no output under its final name is half-written: it is the complete previous output
or the complete new one. The rerun gives what an uninterrupted run gives. A write error exits 1
with one line naming the output, leaves the previous output as it was and no temporary file.
The kill moments are drawn from a seeded generator over the command's own uninterrupted run time,
so a failure reproduces. (The Ray-backed DSE job: tests/dse/test_ray_faults.py; the demo:
tests/test_demo.py.)
"""
from __future__ import annotations

import errno
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from click.testing import CliRunner

from moearch.cli.main import cli

REPO = Path(__file__).resolve().parents[1]
KERNEL = ["--shape", "d=16,f=32,experts=4,top_k=2", "--device", "alveo-u280", "--pe", "4x8"]


@pytest.fixture(scope="module")
def measured(tmp_path_factory) -> Path:
    """Rows in our own schema (illustrative numbers: these tests check what survives a fault, not
    the errors), enough of them that validate runs for seconds."""
    lines = ["# illustrative rows for the fault tests, not measurements",
             "model,device,engine,isl,osl,concurrency,tp,ep,ttft_ms,tpot_ms"]
    lines += [f"llama-3.1-8b,h100-sxm,vllm,{isl},{osl},{c},{tp},1,{20 + c},{5 + c / 4}"
              for isl in (256, 1024) for osl in (64, 256) for c in (1, 4, 16) for tp in (1, 2)]
    path = tmp_path_factory.mktemp("measured") / "measured.csv"
    path.write_text("\n".join(lines) + "\n")
    return path


def moearch(*args: object, cwd: Path = REPO, timeout: float = 600) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "moearch.cli.main", *map(str, args)], cwd=cwd,
                          capture_output=True, text=True, timeout=timeout)


def kill_after(seconds: float, *args: object, cwd: Path = REPO) -> bool:
    """Run ``moearch args``, SIGKILL its whole process group after ``seconds`` (what a CI timeout or
    the OOM killer of a job's cgroup does); True if it was still running then."""
    proc = subprocess.Popen([sys.executable, "-m", "moearch.cli.main", *map(str, args)], cwd=cwd,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        proc.wait(timeout=seconds)
        return False
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        return True


def timed(*args: object) -> tuple[subprocess.CompletedProcess, float]:
    start = time.monotonic()
    result = moearch(*args)
    assert result.returncode == 0, result.stdout + result.stderr
    return result, time.monotonic() - start


def snapshot(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def moments(seed: int, total: float, n: int = 3) -> list[float]:
    rng = random.Random(seed)
    return sorted(rng.uniform(0.05, 0.95) * total for _ in range(n))


# --------------------------------------------------------------------------------------- codegen
def test_codegen_killed_at_random_moments_then_rerun(tmp_path: Path) -> None:
    clean = tmp_path / "clean"
    _, seconds = timed("codegen", *KERNEL, "--tokens", 4, "--out", clean)
    expected = snapshot(clean)
    previous = tmp_path / "previous"
    timed("codegen", *KERNEL, "--tokens", 2, "--out", previous)
    old = snapshot(previous)
    out = tmp_path / "k"
    killed = 0
    for delay in moments(11, seconds):
        shutil.rmtree(out, ignore_errors=True)
        shutil.copytree(previous, out)
        killed += kill_after(delay, "codegen", *KERNEL, "--tokens", 4, "--out", out)
        if out.exists():  # the old kernel or the new one, whole; nothing else under the final name
            assert snapshot(out) in (old, expected)
    assert killed, "every run finished before its kill"
    rerun = moearch("codegen", *KERNEL, "--tokens", 4, "--out", out)
    assert rerun.returncode == 0, rerun.stderr
    assert snapshot(out) == expected
    assert sorted(p.name for p in tmp_path.iterdir()) == ["clean", "k", "previous"]  # stale folders swept


# ---------------------------------------------------------------------------------------- verify
def _verdict(report: dict) -> dict:
    """What a verify run established (not how long it took or where it ran)."""
    return {"passed": report["passed"], "lint": report["lint"]["outcome"],
            **{name: {"passed": s["passed"], "tests": sorted((t["name"], t["outcome"]) for t in s["tests"]),
                      "cycles": (s["timing"] or {}).get("measured_cycles")}
               for name, s in report["simulators"].items()}}


def _junit_whole(path: Path) -> None:
    if path.exists():
        root = ET.parse(path).getroot()  # a half-written file does not parse
        assert root.tag == "testsuites" and int(root.get("tests", "0")) > 0


@pytest.mark.requires_sim("verilator")
def test_verify_killed_then_rerun(tmp_path: Path) -> None:
    kernel = tmp_path / "k"
    timed("codegen", *KERNEL, "--tokens", 4, "--out", kernel)
    builds, junit = tmp_path / "builds", tmp_path / "verify.xml"
    args = ("verify", kernel, "--sim", "verilator", "--build-dir", builds, "--junit", junit, "--json")
    clean, seconds = timed(*args)
    reference = _verdict(json.loads(clean.stdout))
    assert reference["passed"]
    junit.unlink()
    fresh = tmp_path / "fresh-builds"  # a kill during a build, not only during the tests
    args_fresh = ("verify", kernel, "--sim", "verilator", "--build-dir", fresh, "--junit", junit, "--json")
    assert kill_after(moments(12, seconds, 1)[0], *args_fresh)
    _junit_whole(junit)
    rerun = moearch(*args_fresh)
    assert rerun.returncode == 0, rerun.stdout[-3000:] + rerun.stderr
    assert _verdict(json.loads(rerun.stdout)) == reference
    _junit_whole(junit)


# -------------------------------------------------------------------------------------- validate
def test_validate_killed_at_random_moments_then_rerun(tmp_path: Path, measured: Path) -> None:
    table, plot = tmp_path / "rows.csv", tmp_path / "parity.png"
    args = ("validate", measured, "--csv", table, "-o", plot, "--json")
    clean, seconds = timed(*args)
    expected = (table.read_bytes(), plot.read_bytes(), json.loads(clean.stdout))
    table.write_text("previous\n")
    plot.write_bytes(b"previous")
    killed = 0
    for delay in moments(13, seconds):
        killed += kill_after(delay, *args)
        assert table.read_bytes() in (b"previous\n", expected[0])
        assert plot.read_bytes() in (b"previous", expected[1])
    assert killed, "every run finished before its kill"
    rerun = moearch(*args)
    assert rerun.returncode == 0, rerun.stderr
    assert (table.read_bytes(), plot.read_bytes(), json.loads(rerun.stdout)) == expected


# ---------------------------------------------------------------------------------- write errors
def _disk_full(monkeypatch: pytest.MonkeyPatch, under: Path) -> None:
    """Every write of a file below ``under`` fails as on a full disk."""
    real_write_text, real_write_bytes, real_open = Path.write_text, Path.write_bytes, open

    def full(path: object) -> None:
        if Path(str(path)).resolve().is_relative_to(under.resolve()):
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path))

    def write_text(self: Path, *a, **k):
        full(self)
        return real_write_text(self, *a, **k)

    def write_bytes(self: Path, *a, **k):
        full(self)
        return real_write_bytes(self, *a, **k)

    def opened(file, mode="r", *a, **k):
        if any(c in mode for c in "wax+"):
            full(file)
        return real_open(file, mode, *a, **k)

    monkeypatch.setattr(Path, "write_text", write_text)
    monkeypatch.setattr(Path, "write_bytes", write_bytes)
    monkeypatch.setattr("builtins.open", opened)


def _one_line_naming(result, output: Path, reason: str) -> None:
    assert result.exit_code == 1, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"error: cannot write {output}"), result.stderr
    assert reason in lines[0] and "Traceback" not in result.output


def test_a_full_disk_during_codegen_leaves_the_previous_kernel(tmp_path: Path, monkeypatch) -> None:
    out = tmp_path / "k"
    runner = CliRunner()
    assert runner.invoke(cli, ["codegen", *KERNEL, "--tokens", "2", "--no-rtl", "--out", str(out)]).exit_code == 0
    before = snapshot(out)
    _disk_full(monkeypatch, tmp_path)
    result = runner.invoke(cli, ["codegen", *KERNEL, "--tokens", "4", "--no-rtl", "--out", str(out)])
    _one_line_naming(result, out, "ENOSPC")
    assert snapshot(out) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["k"]


def test_a_full_disk_or_read_only_folder_during_validate_leaves_the_previous_table(tmp_path: Path, measured: Path,
                                                                                   monkeypatch) -> None:
    table = tmp_path / "rows.csv"
    table.write_text("previous\n")
    with monkeypatch.context() as patch:
        _disk_full(patch, tmp_path)
        result = CliRunner().invoke(cli, ["validate", str(measured), "--csv", str(table)])
    _one_line_naming(result, table, "ENOSPC")
    assert table.read_text() == "previous\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["rows.csv"]

    def read_only(*args, **kwargs):
        raise OSError(errno.EROFS, os.strerror(errno.EROFS), kwargs.get("dir"))

    monkeypatch.setattr("tempfile.mkstemp", read_only)
    result = CliRunner().invoke(cli, ["validate", str(measured), "--csv", str(table)])
    _one_line_naming(result, table, "EROFS")
    assert table.read_text() == "previous\n"
