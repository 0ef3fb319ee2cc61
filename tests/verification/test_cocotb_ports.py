"""verification.cocotb_lib.ports: port directions parsed from Verilog, the ports file."""
from __future__ import annotations

from pathlib import Path

import pytest

from verification.cocotb_lib.ports import PORTS_ENV, load_ports, parse_ports, write_ports

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
