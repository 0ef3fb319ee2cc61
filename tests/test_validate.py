"""Measured rows: the reader (aiconfigurator and our schema), the name map's refusals, and the errors."""
from __future__ import annotations

from pathlib import Path

import pytest

from accelerators.catalog import load_device
from accelerators.errors import ConfigError
from archmodel.measured import read_measured
from archmodel.parallel import Parallelism
from archmodel.precision import Precision
from archmodel.serving import engine_preset, simulate
from archmodel.serving.disagg import PhasePool, simulate_disaggregated
from archmodel.validate import load_map, measured_metrics, plan_row, validate
from archmodel.workloads import load_workload

MEASURED = Path(__file__).resolve().parents[2] / "shared" / "datasets" / "aic-silicon" / "h100-measured.csv"
if not MEASURED.exists():
    MEASURED = Path("/work/shared/datasets/aic-silicon/h100-measured.csv")
needs_data = pytest.mark.skipif(not MEASURED.exists(), reason="the measured data set is not on this machine")

# Lines of h100-measured.csv: a disaggregated DeepSeek-V3 row, Llama-3.1-8B on TRT-LLM,
# Qwen3-235B-A22B-FP8 on TRT-LLM (tp4), Qwen3-32B (not in the catalog), gpt-oss-120b nvfp4 on H100.
LINES = (2, 400, 101, 698, 683)


def _sample(tmp_path: Path, lines=LINES, repeat: int | None = None) -> Path:
    text = MEASURED.read_text().splitlines()
    body = [text[i - 1] for i in lines] + ([text[repeat - 1]] if repeat else [])
    path = tmp_path / "sample.csv"
    path.write_text("\n".join([text[0], *body]) + "\n")
    return path


@needs_data
def test_reader_on_real_rows(tmp_path):
    schema, rows = read_measured(_sample(tmp_path))
    assert schema == "aiconfigurator"
    disagg, llama, qwen, _, oss = rows
    # the concurrency is the one the source names (silicon_concurrency=6), the agg columns blank
    assert (disagg.mode, disagg.concurrency, disagg.tp) == ("disagg", 6, 0)
    assert llama.model == "meta-llama/Llama-3.1-8B-Instruct" and llama.backend == "trtllm"
    assert (llama.isl, llama.osl, llama.concurrency, llama.tp, llama.ep, llama.precision) == (1024, 128, 8, 1, 1, "")
    assert (qwen.tp, qwen.ep, qwen.moe_tp, qwen.gemm_quant) == (4, 4, 1, "fp8_block")
    assert oss.moe_quant == "nvfp4"
    assert llama.ttft_ms > 0 and llama.tpot_ms > 0
    assert [r.line for r in rows] == [2, 3, 4, 5, 6]


def test_the_named_silicon_concurrency_wins_over_batch_size(tmp_path):
    """Some sources write a per-GPU batch_size and the benchmark's concurrency in the source field."""
    header = ("id,silicon_data_source,backend,model_path,system,precision,mode,isl,osl,gemm_quant_mode,"
              "moe_quant_mode,batch_size,tp_size,pp_size,attention_dp_size,moe_tp_size,moe_ep_size,"
              "silicon_ttft_ms,silicon_tpot_ms")
    rows = ["a,job=1; silicon_concurrency=192; image=x,trtllm,openai/gpt-oss-120b,h100_sxm,fp8,agg,4000,1000,"
            "fp8,fp8,48,4,1,,4,1,1591,48.8",
            "b,job=2; image=x,trtllm,openai/gpt-oss-120b,h100_sxm,fp8,agg,4000,1000,fp8,fp8,48,4,1,,4,1,1591,48.8",
            "c,no_silicon_concurrency=7,trtllm,openai/gpt-oss-120b,h100_sxm,fp8,agg,4000,1000,fp8,fp8,48,4,1,,4,1,"
            "1591,48.8"]
    path = tmp_path / "m.csv"
    path.write_text("\n".join([header, *rows]) + "\n")
    _, read = read_measured(path)
    assert [r.concurrency for r in read] == [192, 48, 48]


@needs_data
def test_mapping_refusals_name_the_reason(tmp_path):
    _, rows = read_measured(_sample(tmp_path, repeat=400))
    names, seen = load_map(), {}
    plans = [plan_row(r, names, seen) for r in rows]
    disagg, llama, qwen, unknown, oss, duplicate = plans
    # prefill: 1 worker, attention DP 16 + EP 16; decode: 3 workers of TP16 + EP16, batch 2 each
    assert disagg.workload == "deepseek-v3" and disagg.precision == Precision.of("fp8")
    assert disagg.pools == (PhasePool(1, Parallelism(tp=1, dp=16, ep=16), 1),
                            PhasePool(3, Parallelism(tp=16, ep=16), 2))
    assert llama.workload == "llama-3.1-8b" and llama.precision == Precision.of("bf16")
    assert qwen.workload == "qwen3-235b-a22b" and qwen.parallel == Parallelism(tp=4, ep=4)
    assert qwen.precision == Precision.of("fp8")
    assert unknown.startswith("unknown model 'MiniMaxAI/MiniMax-M2.5'")
    assert oss.startswith("nvfp4 on Hopper")
    assert duplicate == "duplicate of line 3 (the same setting measured again)"


@needs_data
def test_validate_lists_every_row(tmp_path):
    path = _sample(tmp_path, lines=(2, 698, 683, 400), repeat=400)
    report = validate(path, requests=20)
    assert len(report.rows) + len(report.skipped) == 5
    assert [r.row.line for r in report.rows] == [2, 5]
    disagg_group, group = report.groups
    assert disagg_group.group == "deepseek-ai/DeepSeek-V3 / trtllm disagg" and disagg_group.rows == 1
    assert group.group == "meta-llama/Llama-3.1-8B-Instruct / trtllm" and group.rows == 1
    row = report.rows[1]
    sim = simulate(load_workload("llama-3.1-8b"), load_device("h100-sxm"), isl=1024, osl=128,
                   engine=engine_preset("trtllm"), concurrency=8, requests=20)
    assert row.predicted["tpot_ms"] == pytest.approx(sim.tpot_s * 1e3)
    e = row.error("tpot_ms")
    assert e == pytest.approx((sim.tpot_s * 1e3 - row.measured["tpot_ms"]) / row.measured["tpot_ms"])
    assert group.mape["tpot_ms"] == pytest.approx(abs(e)) and group.mean_error["tpot_ms"] == pytest.approx(e)
    run = simulate_disaggregated(load_workload("deepseek-v3"), load_device("h100-sxm"), isl=8192, osl=1024,
                                 concurrency=6, prefill=PhasePool(1, Parallelism(tp=1, dp=16, ep=16), 1),
                                 decode=PhasePool(3, Parallelism(tp=16, ep=16), 2), precision=Precision.of("fp8"))
    assert report.rows[0].predicted["ttft_ms"] == pytest.approx(run.ttft_s * 1e3)
    data = report.to_json()
    assert data["simulated"] == 2 and data["skipped"] == 3
    assert {s["reason"].split(":")[0].split(" (")[0] for s in data["skipped_rows"]} == {
        "unknown model 'MiniMaxAI/MiniMax-M2.5'", "nvfp4 on Hopper", "duplicate of line 5"}


def test_our_schema_and_the_derived_throughput(tmp_path):
    path = tmp_path / "ours.csv"
    path.write_text("# measured on our bench\nmodel,device,engine,isl,osl,concurrency,tp,ep,ttft_ms,tpot_ms\n"
                    "llama-3.1-8b,h100-sxm,vllm,512,64,4,1,1,40,8\n")
    schema, (row,) = read_measured(path)
    assert schema == "moearch" and row.line == 3 and row.backend == "vllm"
    # Closed loop: 4 clients each finish a request every 40 ms + 63 x 8 ms = 0.544 s.
    assert measured_metrics(row)["tokens_per_s"] == pytest.approx(4 * 64 / 0.544)
    report = validate(path, requests=12)
    assert len(report.rows) == 1 and not report.skipped


def test_a_row_copying_another_rows_measurements_is_refused(tmp_path):
    path = tmp_path / "ours.csv"
    path.write_text("model,device,engine,isl,osl,concurrency,tp,ep,ttft_ms,tpot_ms\n"
                    "llama-3.1-8b,h100-sxm,trtllm,256,16,8,8,1,30,7\n"
                    "llama-3.1-8b,h100-sxm,trtllm,256,16,8,64,1,30,7\n")
    _, rows = read_measured(path)
    seen: dict = {}
    assert not isinstance(plan_row(rows[0], load_map(), seen), str)
    assert plan_row(rows[1], load_map(), seen).startswith("repeats the measured TTFT and TPOT of line 2")


def test_a_map_file_adds_names(tmp_path):
    path = tmp_path / "ours.csv"
    path.write_text("model,device,engine,isl,osl,concurrency,tp,ep,ttft_ms,tpot_ms\n"
                    "our-llama,lab-gpu,trtllm,256,16,2,1,1,30,7\n")
    assert validate(path, requests=4).skipped[0].reason.startswith("unknown model 'our-llama'")
    mapping = tmp_path / "map.yaml"
    mapping.write_text("models: {our-llama: llama-3.1-8b}\nsystems: {lab-gpu: h100-sxm}\n")
    report = validate(path, mapping, requests=4)
    assert [r.workload for r in report.rows] == ["llama-3.1-8b"]
    mapping.write_text("models: {our-llama: llama-9}\nsystems: {lab-gpu: h100-sxm}\n")
    assert validate(path, mapping, requests=4).skipped[0].reason.startswith("the map names what the catalog cannot")
    mapping.write_text("model: {our-llama: llama-3.1-8b}\n")
    with pytest.raises(ConfigError, match="map.yaml.*'models' and/or 'systems'"):
        load_map(mapping)


@pytest.mark.parametrize("body, field", [
    ("model,device,engine,isl,osl,concurrency,tp,ep,ttft_ms\nx,y,vllm,1,1,1,1,1,1\n", "header"),
    ("model,device,engine,isl,osl,concurrency,tp,ep,ttft_ms,tpot_ms\nx,y,vllm,0,1,1,1,1,1,1\n", "row 2: isl"),
    ("model,device,engine,isl,osl,concurrency,tp,ep,ttft_ms,tpot_ms\nx,y,vllm,8,1,1,1,1,1,fast\n", "row 2: tpot_ms"),
    ("model,device,engine,isl,osl,concurrency,tp,ep,ttft_ms,tpot_ms\nx,y,vllm,8,1,1,1,1,1\n", "row 2"),
    ("", "header"),
])
def test_malformed_files_name_file_and_row(tmp_path, body, field):
    path = tmp_path / "bad.csv"
    path.write_text(body)
    with pytest.raises(ConfigError) as info:
        read_measured(path)
    assert info.value.file == str(path) and info.value.field == field


def test_a_missing_file():
    with pytest.raises(ConfigError, match="a readable CSV file"):
        read_measured("/nonexistent/measured.csv")


def test_the_validate_command(tmp_path):
    import json

    import click
    from click.testing import CliRunner

    from moearch.cli.main import MoearchGroup
    from moearch.cli.validate_cmd import validate_cmd

    @click.group(cls=MoearchGroup)
    def cli():
        pass

    cli.add_command(validate_cmd)
    path = tmp_path / "ours.csv"
    path.write_text("model,device,engine,isl,osl,concurrency,tp,ep,ttft_ms,tpot_ms\n"
                    "llama-3.1-8b,h100-sxm,vllm,512,32,4,1,1,40,8\n"
                    "llama-3.1-8b,h100-sxm,trtllm,512,32,4,1,1,30,7\n"
                    "no-such-model,h100-sxm,vllm,512,32,4,1,1,40,8\n"
                    "no-such-model,h100-sxm,vllm,256,32,4,1,1,40,8\n")
    runner = CliRunner()
    out = runner.invoke(cli, ["validate", str(path), "--requests", "12"])
    assert out.exit_code == 0, out.output
    assert "llama-3.1-8b / vllm" in out.output and "llama-3.1-8b / trtllm" in out.output
    assert "unknown model 'no-such-model'" in out.output and "4-5" in out.output
    csv_out, png = tmp_path / "rows.csv", tmp_path / "parity.png"
    out = runner.invoke(cli, ["validate", str(path), "--requests", "12", "--json", "--csv", str(csv_out), "-o", str(png)])
    assert out.exit_code == 0, out.output
    data = json.loads(out.output)
    assert data["simulated"] == 2 and data["skipped"] == 2 and len(data["groups"]) == 2
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    lines = csv_out.read_text().splitlines()
    assert len(lines) == 5 and "reason" in lines[0]
    bad = tmp_path / "bad.csv"
    bad.write_text("model,device\nx,y\n")
    out = runner.invoke(cli, ["validate", str(bad)])
    assert out.exit_code == 2 and "bad.csv" in out.output
