"""The RTL evaluator (``evaluator: rtl``): the ``rtl:`` section, the screen, the scaling by the measured
cycle ratio, the kernel a design becomes, the cache and its work folders, and one real measurement
(generated kernel on Verilator: cycles equal the model's, the second call is a cache hit)."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from accelerators.errors import ConfigError
from dse.evaluation import evaluate_chunk, evaluator_for
from dse.evaluators.base import Settings, WorkloadSpec
from dse.rtl import evaluator as rtl_evaluator
from dse.rtl.evaluator import RtlEvaluator, kernel_spec
from dse.rtl.measure import RtlFailure, measure_kernel, sweep_work
from dse.rtl.settings import RtlSettings
from dse.space_file import load_space, parse_space
from verification.simulators import find, simulators_required

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
RTL_SPACE = EXAMPLES / "fpga-moe-kernel-rtl.yaml"
MODEL_SPACE = EXAMPLES / "fpga-moe-kernel.yaml"


def _text(rtl: str = "", evaluator: str = "rtl", base: Path = MODEL_SPACE) -> str:
    lines = [line for line in base.read_text().splitlines() if not line.startswith(("evaluator:", "rtl:"))]
    return "\n".join([*lines, f"evaluator: {evaluator}", rtl]) + "\n"


def test_the_example_is_an_rtl_space_with_its_settings():
    space = load_space(RTL_SPACE)
    assert space.evaluator == "rtl" and space.rtl == RtlSettings(screen=0.5)
    assert isinstance(evaluator_for(space), RtlEvaluator)


def test_defaults_and_a_cache_relative_to_the_space_file(tmp_path):
    assert parse_space(_text()).rtl == RtlSettings()
    space = parse_space(_text("rtl: {cache: kernels}"), source="s.yaml", base_dir=tmp_path)
    assert space.rtl is not None and space.rtl.cache == str((tmp_path / "kernels").resolve())


@pytest.mark.parametrize("section, field", [
    ("rtl: {scale: 0}", "rtl.scale"), ("rtl: {tokens: 2.5}", "rtl.tokens"), ("rtl: {max_pe: true}", "rtl.max_pe"),
    ("rtl: {simulator: vcs}", "rtl.simulator"), ("rtl: {resources: 1}", "rtl.resources"),
    ("rtl: {screen: 0}", "rtl.screen"), ("rtl: {screen: 1.5}", "rtl.screen"), ("rtl: {cache: ''}", "rtl.cache"),
    ("rtl: {colour: red}", "rtl.colour"), ("rtl: [1]", "rtl")])
def test_a_bad_rtl_field_is_named(section, field):
    with pytest.raises(ConfigError) as err:
        parse_space(_text(section), source="s.yaml")
    assert field in {p.field for p in err.value.problems}
    assert "s.yaml" in str(err.value)


def test_every_bad_rtl_field_is_reported_at_once():
    with pytest.raises(ConfigError) as err:
        parse_space(_text("rtl: {scale: 0, simulator: vcs}"))
    assert {p.field for p in err.value.problems} == {"rtl.scale", "rtl.simulator"}


def test_an_rtl_section_needs_the_rtl_evaluator():
    with pytest.raises(ConfigError) as err:
        parse_space(_text("rtl: {scale: 64}", evaluator="archmodel"))
    assert "only with evaluator: rtl" in str(err.value)


def test_rtl_is_refused_for_a_domain_codegen_does_not_build():
    with pytest.raises(ConfigError) as err:
        parse_space(_text(base=EXAMPLES / "duplex-device.yaml"), base_dir=EXAMPLES)
    assert "RTL is generated for: fpga-kernel" in str(err.value)


def test_the_fingerprint_follows_what_decides_metrics_not_the_cache(tmp_path):
    base = parse_space(_text()).fingerprint
    assert parse_space(_text(f"rtl: {{cache: {tmp_path}}}")).fingerprint == base
    assert parse_space(_text("rtl: {scale: 64}")).fingerprint != base
    assert parse_space(_text(evaluator="archmodel")).fingerprint != base


def _settings(**knobs) -> Settings:
    return Settings(WorkloadSpec("mixtral-8x7b", "decode", 32, 2048), tuple(knobs.items()))


def test_a_design_becomes_its_kernel_capped_and_scaled():
    rtl = RtlSettings(scale=128, tokens=8, max_pe=4)
    spec = kernel_spec("alveo-u280", _settings(pe_rows=32, pe_cols=64, schedule="sequential"), rtl)
    assert (spec.pe_rows, spec.pe_cols, spec.style) == (4, 4, "sequential")
    assert (spec.hidden, spec.ffn, spec.tokens, spec.experts, spec.scale) == (4096 // 128, 14336 // 128, 8, 8, 128)
    # a dataflow router streams each of the 8 experts through a column of its own
    spec = kernel_spec("alveo-u280", _settings(pe_rows=16, pe_cols=16, schedule="dataflow"), rtl)
    assert (spec.pe_rows, spec.pe_cols) == (4, 8)
    assert kernel_spec("alveo-u280", _settings(pe_rows=4, pe_cols=4, schedule="intar"), rtl).pe_cols == 4


FEASIBLE = [(3, 3, 1, 6, 1, 0), (0, 0, 0, 5, 0, 1), (1, 3, 1, 5, 1, 1), (0, 2, 1, 5, 1, 0)]


def _fake_measurements(monkeypatch, ratio: float, fail_style: str | None = None) -> list:
    calls: list = []

    def fake(spec, rtl):
        calls.append(spec)
        if spec.style == fail_style:
            raise RtlFailure("nominal_routing on verilator failed: output mismatch")
        model = 1000.0 * spec.pe_rows + spec.pe_cols
        return {"rtl_cycles": model * ratio, "model_cycles": model, "rtl_lut": 10.0, "model_lut": 9.0}, False

    monkeypatch.setattr(rtl_evaluator, "measure_kernel", fake)
    return calls


def test_the_screen_measures_the_share_the_model_ranks_best(monkeypatch):
    calls = _fake_measurements(monkeypatch, ratio=1.25)
    space = parse_space(_text("rtl: {screen: 0.5}"))
    model = {ev.key: ev for ev in evaluate_chunk(parse_space(_text(evaluator="archmodel")), FEASIBLE)}
    got = evaluate_chunk(space, FEASIBLE)
    assert all(ev.status == "ok" for ev in got) and len(calls) == 2
    by_latency = sorted(got, key=lambda ev: model[ev.key].metrics["latency_s"])
    assert [ev.metrics["fidelity"] for ev in by_latency] == [1.0, 1.0, 0.0, 0.0]
    for ev in got:
        m = model[ev.key].metrics
        if ev.metrics["fidelity"] == 1.0:
            assert ev.metrics["rtl_cycle_ratio"] == 1.25 and ev.metrics["model_latency_s"] == m["latency_s"]
            assert ev.metrics["latency_s"] == pytest.approx(1.25 * m["latency_s"])
            assert ev.metrics["energy_j"] == pytest.approx(1.25 * m["energy_j"])
            assert ev.metrics["tokens_per_s"] == pytest.approx(m["tokens_per_s"] / 1.25)
            assert ev.objectives["latency_s"] == ev.metrics["latency_s"]
        else:
            assert ev.metrics["latency_s"] == m["latency_s"] and "rtl_cycles" not in ev.metrics


def test_a_failed_measurement_is_that_designs_failed_row(monkeypatch):
    _fake_measurements(monkeypatch, ratio=1.0, fail_style="dataflow")
    got = evaluate_chunk(parse_space(_text("rtl: {screen: 1}")), FEASIBLE)
    failed = [ev for ev in got if ev.status == "failed"]
    assert len(failed) == 2 and all("output mismatch" in (ev.error or "") for ev in failed)
    assert all(ev.metrics["fidelity"] == 1.0 for ev in got if ev.status == "ok")


def test_a_killed_measurements_work_folder_is_swept_a_live_ones_kept(tmp_path):
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    (tmp_path / "work" / f"abc.{dead.pid}").mkdir(parents=True)
    (tmp_path / "work" / f"def.{os.getpid()}").mkdir()
    sweep_work(tmp_path)
    assert sorted(p.name for p in (tmp_path / "work").iterdir()) == [f"def.{os.getpid()}"]


@pytest.mark.skipif(find("verilator") is None and not simulators_required(), reason="Verilator is not installed")
def test_a_real_kernel_measured_on_verilator_then_read_from_the_cache(tmp_path):
    rtl = RtlSettings(scale=128, tokens=2, max_pe=4, resources=False, cache=str(tmp_path))
    spec = kernel_spec("alveo-u280", _settings(pe_rows=4, pe_cols=4, schedule="sequential"), rtl)
    metrics, cached = measure_kernel(spec, rtl)
    assert not cached and metrics["rtl_cycles"] == metrics["model_cycles"] > 0  # the model is cycle-exact
    [result] = tmp_path.glob("*.json")
    assert json.loads(result.read_text())["spec"]["pe_rows"] == 4
    assert not any((tmp_path / "work").iterdir())  # the build is removed once the result is written
    assert measure_kernel(spec, rtl) == (metrics, True)
