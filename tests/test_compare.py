"""`moearch compare`: JSON contract, fewest devices that hold the model, the chart, bad input."""
import json

import pytest
from click.testing import CliRunner

from accelerators import load_device
from archmodel.compare import ROW_KEYS, fewest_devices, split_plan
from moearch.cli.main import cli
from archmodel.precision import Precision
from archmodel.serve import serve
from archmodel.serving import engine_preset, simulate
from archmodel.workloads import load_workload

DEVICES = "h100-sxm,mi300x,ascend-910c"


def run(*args):
    return CliRunner().invoke(cli, ["compare", *[str(a) for a in args]])


@pytest.fixture(scope="module")
def mixtral_rows():
    result = run("-w", "mixtral-8x7b", "-d", DEVICES, "--isl", 512, "--osl", 64, "--concurrency", 16, "--json")
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


def test_json_contract_one_row_per_device(mixtral_rows):
    data = mixtral_rows
    assert {"workload", "isl", "osl", "dtype", "rows"} <= data.keys()
    assert [r["device"] for r in data["rows"]] == DEVICES.split(",")
    for row in data["rows"]:
        assert set(ROW_KEYS) <= row.keys()
        assert row["output_tokens_per_s"] > 0 and row["tpot_s"] > 0 and row["energy_j_per_token"] > 0
        assert row["bottleneck"] in ("compute", "memory", "comm", "overhead")
        assert row["output_tokens_per_s"] == pytest.approx(row["devices"] * row["output_tokens_per_s_per_device"])


def test_each_device_on_the_fewest_that_hold_the_model(mixtral_rows):
    """Mixtral-8x7B in BF16 is 93 GB: two 80 GB H100s (tp2 ep2), one 192 GB MI300X, one 128 GB 910C."""
    rows = {r["device"]: r for r in mixtral_rows["rows"]}
    assert rows["h100-sxm"]["devices"] == 2 and rows["h100-sxm"]["parallel"] == {"tp": 2, "ep": 2, "pp": 1, "dp": 1}
    assert rows["mi300x"]["devices"] == 1 and rows["ascend-910c"]["devices"] == 1
    # The TDP bound is an upper bound on the modelled energy; the 910C file gives no TDP.
    assert rows["h100-sxm"]["energy_j_per_token"] < rows["h100-sxm"]["tdp_bound_j_per_token"]
    assert rows["ascend-910c"]["tdp_bound_j_per_token"] is None
    assert "static_power (not modelled)" in rows["mi300x"]["energy_defaults"]


def test_a_row_is_the_in_flight_simulation_of_that_split(mixtral_rows):
    model, h100 = load_workload("mixtral-8x7b"), load_device("h100-sxm")
    parallel, bf16 = split_plan(model, h100, 2), Precision.of("bf16")
    sim = simulate(model, h100, isl=512, osl=64, engine=engine_preset("trtllm"), concurrency=16, precision=bf16,
                   parallel=parallel)
    row = mixtral_rows["rows"][0]
    assert (row["schedule"], row["engine"], row["batch"], row["bound"]) == ("inflight", "trtllm", 16, sim.bound)
    assert row["tpot_s"] == pytest.approx(sim.tpot_s) and row["ttft_s"] == pytest.approx(sim.ttft_s)
    at_mean = serve(model, h100, isl=512, osl=64, batch=round(sim.mean_batch), precision=bf16, parallel=parallel)
    assert row["energy_j_per_token"] == pytest.approx(at_mean.energy_j_per_token)


def test_static_schedule_is_the_static_estimate_and_the_rdu_falls_back_to_it():
    result = run("-w", "mixtral-8x7b", "-d", "h100-sxm,sn40l", "--isl", 512, "--osl", 64, "--concurrency", 16,
                 "--schedule", "static", "--json")
    assert result.exit_code == 0, result.output
    h100_row, rdu_row = json.loads(result.output)["rows"]
    model, h100 = load_workload("mixtral-8x7b"), load_device("h100-sxm")
    r = serve(model, h100, isl=512, osl=64, batch=16, precision=Precision.of("bf16"), parallel=split_plan(model, h100, 2))
    assert h100_row["schedule"] == "static" and h100_row["tpot_s"] == pytest.approx(r.tpot_s)
    inflight = run("-w", "mixtral-8x7b", "-d", "sn40l", "--isl", 512, "--osl", 64, "--concurrency", 16, "--json")
    (rdu_inflight,) = json.loads(inflight.output)["rows"]
    assert rdu_inflight["schedule"] == "static" and rdu_inflight["tpot_s"] == pytest.approx(rdu_row["tpot_s"])


def test_fewest_devices_for_deepseek_v3_int8():
    """~680 GB of INT8 weights: 8 x 80 GB H100 = 640 GB is short, 16 hold it; 4 x 192 GB MI300X and
    8 x 128 GB 910C packages do (4 x 128 = 512 GB does not); the split stays within NVLink's 8."""
    model, int8 = load_workload("deepseek-v3"), Precision.of("int8")
    h100 = load_device("h100-sxm")
    assert fewest_devices(model, h100, int8, 1024, 256) == 16
    assert split_plan(model, h100, 16).tp == 8 and split_plan(model, h100, 16).ep == 16
    assert fewest_devices(model, load_device("mi300x"), int8, 1024, 256) == 4
    assert fewest_devices(model, load_device("ascend-910c"), int8, 1024, 256) == 8


def test_devices_flag_and_chart_written_atomically(tmp_path):
    chart = tmp_path / "out" / "chart.png"
    result = run("-w", "mixtral-8x7b", "-d", "h100-sxm,a100-sxm-80g", "--isl", 256, "--osl", 32, "--concurrency", 8,
                 "--devices", 4, "-o", chart, "--json")
    assert result.exit_code == 0, result.output
    rows = json.loads(result.output)["rows"]
    assert [r["devices"] for r in rows] == [4, 4]
    assert chart.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert [p.name for p in chart.parent.iterdir()] == ["chart.png"]  # no temporary file left behind


@pytest.mark.parametrize("args,needle", [
    (["-d", "h300"], "h300"),
    (["-d", "h100-sxm,"], "comma-separated"),
    (["-d", "h100-sxm", "--devices", 0], "--devices"),
    (["-d", "h100-sxm", "--concurrency", "many"], "--concurrency"),
])
def test_bad_input_exits_2_with_one_message(tmp_path, args, needle):
    chart = tmp_path / "c.png"
    result = run("-w", "mixtral-8x7b", "--isl", 128, "--osl", 16, "-o", chart, *args)
    assert result.exit_code == 2, result.output
    assert needle in result.output and "error:" in result.output
    assert not chart.exists()  # nothing is written before validation passes


def test_old_batch_spelling_is_a_hidden_alias():
    args = ("-w", "mixtral-8x7b", "-d", "h100-sxm", "--isl", 256, "--osl", 32, "--json")
    want, got = run(*args, "--concurrency", 8), run(*args, "--batch", 8)
    assert want.exit_code == got.exit_code == 0, got.output
    assert json.loads(got.stdout) == json.loads(want.stdout)
    assert "warning: --batch is deprecated" in got.stderr and want.stderr == ""
    assert "--batch" not in run("--help").output
