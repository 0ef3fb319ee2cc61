"""Device-field overrides go through the catalog's own validators and rules."""
from __future__ import annotations

import pytest

from accelerators.catalog import load_device
from dse.overrides import OverrideError, apply_device_overrides


def test_quantities_counts_and_dict_entries():
    base = load_device("h100-sxm")
    d = apply_device_overrides(base, [("memory.hbm.capacity", "141 GB"), ("compute.peak.bf16", "1.2 PFLOPS"),
                                      ("interconnect.scale_up.domain", 72), ("power.tdp", "1 kW")])
    assert d.tier("hbm").capacity == 141e9
    assert d.peak("bf16") == 1.2e15 and d.peak("fp8") == base.peak("fp8")
    assert d.interconnect.scale_up.domain == 72 and d.power.tdp == 1000.0
    assert base.tier("hbm").capacity == 80e9  # the catalog device is untouched


@pytest.mark.parametrize("path, value, words", [
    ("memory.hbm.capacity", 80, "unit"),
    ("memory.sram.capacity", "1 GB", "tier of this device"),
    ("memory.hbm", "1 GB", "tier field"),
    ("compute.speed", 1, "not one of"),
    ("fpga.dsp", 10, "no 'fpga' section"),
    ("efficiency.matmul", 1.5, "less than or equal"),
])
def test_bad_paths_and_values(path, value, words):
    with pytest.raises(OverrideError, match=words):
        apply_device_overrides(load_device("h100-sxm"), [(path, value)])


def test_cross_field_rules_run_again():
    # Fewer DSPs without a matching int8 peak breaks "peak = DSPs x MACs x 2 x clock".
    with pytest.raises(OverrideError) as info:
        apply_device_overrides(load_device("alveo-u280"), [("fpga.dsp", 4000)])
    assert info.value.path == "compute.peak.int8"
