"""verification.cocotb_lib parts that run without a simulator: scoreboard comparison and
report, payload codecs, port parsing, metrics files. (Driver, monitor, reset and the memory
model run inside the simulators in test_runner.py.)"""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from amaranth.hdl import signed, unsigned
from amaranth.lib import data

from codegen.hdl.requantizer import requantizer_input_layout
from verification.cocotb_lib import (MISSING, Mismatch, Scoreboard, ScoreboardError, StreamSignals,
                                     codec, compare, load_ports, parse_ports, read_metrics,
                                     record_metric)
from verification.cocotb_lib.metrics import METRICS_ENV
from verification.cocotb_lib.ports import PORTS_ENV, write_ports


# ----------------------------------------------------------------------------------- scoreboard
def test_compare_reports_wrong_missing_and_extra_words() -> None:
    assert compare([1, 2, 3], [1, 2, 3]) == []
    assert compare([1, 2, 3], [1, 5, 3]) == [Mismatch(1, 2, 5)]
    assert compare([1, 2, 3], [1, 2]) == [Mismatch(2, 3, MISSING)]
    assert compare([1], [1, 9]) == [Mismatch(1, MISSING, 9)]
    assert compare([{"a": 1}], [{"a": 1}]) == []


def test_scoreboard_report_lists_index_expected_got() -> None:
    board = Scoreboard("o", max_report=2)
    board.expect([0x10, 0x11, 0x12, 0x13])
    for v in (0x10, 0x21, 0x12):
        board.receive(v)
    with pytest.raises(ScoreboardError) as err:
        board.check()
    assert str(err.value).splitlines() == [
        "scoreboard 'o': 2 mismatch(es); expected 4 words, received 3",
        "  index 1: expected 17 (0x11), got 33 (0x21)",
        "  index 3: expected 19 (0x13), got nothing",
    ]
    board.max_report = 1
    assert board.report().splitlines()[-1] == "  ... and 1 more"


def test_scoreboard_passes_on_equal_streams_and_formats_negatives() -> None:
    board = Scoreboard()
    board.expect([-3, 4])
    board.receive(-3)
    board.receive(4)
    board.check()
    board.receive(-1)
    assert "index 2: expected nothing, got -1" in board.report()


# ----------------------------------------------------------------------------------- payloads
def test_codec_round_trips_a_struct_payload() -> None:
    layout = requantizer_input_layout(2)
    encode, decode = codec(layout)
    value = {"acc": [-5, 2**31 - 1], "mult": 65535, "shift": 63}
    bits = encode(value)
    assert 0 <= bits < 2**layout.size
    # acc lane 0 is the least significant field: -5 as 32-bit two's complement
    assert bits & 0xFFFFFFFF == 2**32 - 5
    assert (bits >> 64) & 0xFFFF == 65535 and bits >> 80 == 63
    assert decode(bits) == value


def test_codec_plain_shapes() -> None:
    enc, dec = codec(signed(8))
    assert enc(-1) == 0xFF and dec(0xFF) == -1 and dec(0x7F) == 127
    with pytest.raises(ValueError, match="does not fit"):
        enc(128)
    enc_u, dec_u = codec(unsigned(4))
    assert enc_u(15) == 15 and dec_u(0x1F) == 15
    enc_a, dec_a = codec(data.ArrayLayout(signed(8), 3))
    assert dec_a(enc_a([1, -1, -128])) == [1, -1, -128]


def test_stream_signal_names_follow_amaranth() -> None:
    assert StreamSignals.amaranth("i") == StreamSignals("i__payload", "i__valid", "i__ready")
    custom = StreamSignals("s_tdata", "s_tvalid", "s_tready")
    assert StreamSignals.of(custom) is custom and StreamSignals.of("o").valid == "o__valid"


# ----------------------------------------------------------------------------------- ports
AMARANTH_STYLE = """
(* top = 1 *)
module top(clk, rst, i__payload, i__valid, i__ready);
  input clk; wire clk;
  input rst;
  input [85:0] i__payload; // a struct
  input i__valid;
  output i__ready;
  \\top.sub  sub (.clk(clk));
endmodule
module \\top.sub (clk);
  input clk;
  output [3:0] hidden;
endmodule
"""


def test_parse_ports_amaranth_and_ansi() -> None:
    ports = parse_ports(AMARANTH_STYLE, "top")
    assert [(p.name, p.direction, p.width) for p in ports.values()] == [
        ("clk", "input", 1), ("rst", "input", 1), ("i__payload", "input", 86),
        ("i__valid", "input", 1), ("i__ready", "output", 1)]
    assert list(parse_ports(AMARANTH_STYLE, "top.sub")) == ["clk", "hidden"]
    ansi = ("module m #(parameter W = 8) (input wire clk, input [W-1:0] a, b,\n"
            " output reg [3:0] y);\nendmodule")
    assert [(p.name, p.direction, p.width) for p in parse_ports(ansi, "m").values()] == [
        ("clk", "input", 1), ("a", "input", None), ("b", "input", None), ("y", "output", 4)]
    with pytest.raises(KeyError, match="'absent'"):
        parse_ports(ansi, "absent")


def test_ports_file_round_trip(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    ports = parse_ports(AMARANTH_STYLE, "top")
    path = write_ports(ports, tmp_path / "ports.json")
    assert load_ports(path) == ports
    monkeypatch.setenv(PORTS_ENV, str(path))
    assert load_ports() == ports
    monkeypatch.delenv(PORTS_ENV)
    with pytest.raises(RuntimeError, match=PORTS_ENV):
        load_ports()


# ----------------------------------------------------------------------------------- metrics
def test_metrics_merge_per_test(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "metrics.json"
    monkeypatch.setenv(METRICS_ENV, str(path))
    record_metric("cycles", 120, test="t1")
    record_metric("latency", 3.5, test="t1")
    record_metric("cycles", 7, test="t2")
    record_metric("cycles", 121, test="t1")  # the last value wins
    assert read_metrics(path) == {"t1": {"cycles": 121.0, "latency": 3.5}, "t2": {"cycles": 7.0}}
    assert json.loads(path.read_text())["t2"] == {"cycles": 7}
    with pytest.raises(ValueError, match="finite"):
        record_metric("bad", float("nan"), test="t1")
    assert read_metrics(tmp_path / "absent.json") == {}


def test_metrics_outside_a_cocotb_test_need_a_name(tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(METRICS_ENV, str(tmp_path / "m.json"))
    with pytest.raises(RuntimeError, match="pass test=<name>"):
        record_metric("cycles", 1)


# ------------------------------------------------------------------------- inside a simulator
def test_driver_monitor_codec_on_the_requantizer(sim_build_root: Path) -> None:
    """Struct payloads through codec, golden agreement, latency 3 measured from beat times."""
    from conftest import REPO
    from designs import write_verilog

    from codegen.hdl.requantizer import Requantizer
    from verification.pytest_plugin import ensure_simulator
    from verification.runner import DesignSources, build_and_run

    ensure_simulator("icarus")  # the cheap build; Verilator runs the same parts in test_runner
    src = write_verilog(Requantizer(2), "requantizer2", REPO / "build" / "tests" / "verification")
    run = build_and_run(DesignSources("requantizer2", (src,)), "icarus",
                        Path(__file__).with_name("cocotb_requantizer_tests.py"),
                        build_root=sim_build_root, seed=99)
    assert run.passed, run.summary()
    assert [t.name for t in run.tests] == ["matches_golden_under_backpressure",
                                           "latency_is_three_cycles"]
    assert run.test("latency_is_three_cycles").metrics == {"latency_cycles": 3.0}
