"""Shared checks for the Amaranth component tests."""
from __future__ import annotations

from pathlib import Path
from typing import Callable

import pytest
from amaranth.lib import wiring

from codegen.hdl.export import absolute_paths, lint_verilog, to_verilog
from verification.pytest_plugin import ensure_simulator

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def verilog_check() -> Callable[[wiring.Component, str], str]:
    """Convert a component to Verilog, check it is path-free and lint-clean under Verilator.

    Without Verilator the lint step skips with a reason (and fails in CI), as every simulator test does.
    """
    def check(component: wiring.Component, name: str) -> str:
        text = to_verilog(component, name=name)
        assert f"module {name}" in text
        assert str(REPO) not in text and str(Path.home()) not in text
        assert absolute_paths(text) == []
        verilator = ensure_simulator("verilator").executable  # skips here, fails in CI, when missing
        result = lint_verilog(text, top=name, verilator=verilator)
        assert result.ok, result.messages
        return text
    return check
