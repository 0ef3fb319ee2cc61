"""archmodel.moe_layer: the one MoE layer shape contract and its validator, used by the FPGA cost
model, the kernel generator (schedule, KernelSpec, KernelGeometry) and the golden model."""
from __future__ import annotations

from typing import Any

import pytest

from accelerators.errors import ConfigError
from archmodel.fpga import tasks
from archmodel.moe_layer import MoELayer, check_counts, uniform_counts
from codegen.spec import KernelSpec
from verification import golden

GOOD: dict[str, Any] = {"tokens": 4, "hidden": 8, "ffn": 16, "experts": 4, "top_k": 2, "gated": True}


def test_one_declaration() -> None:
    assert golden.MoEShape is MoELayer and tasks.MoELayer is MoELayer
    assert KernelSpec(**GOOD).shape == MoELayer(**GOOD)


@pytest.mark.parametrize("field, value", [("tokens", 0), ("tokens", -1), ("hidden", 0), ("ffn", -3),
                                          ("experts", 0), ("top_k", 0), ("hidden", 2.0), ("tokens", True)])
def test_non_positive_or_non_integer_sizes(field: str, value: object) -> None:
    with pytest.raises(ConfigError) as info:
        MoELayer(**{**GOOD, field: value})
    assert (info.value.field, info.value.value) == (field, value)
    # every declaration of the shape refuses it the same way
    with pytest.raises(ConfigError) as spec_info:
        KernelSpec(**{**GOOD, field: value}).validate()
    assert spec_info.value.field == field
    with pytest.raises(ConfigError):
        golden.MoEShape(**{**GOOD, field: value})


def test_zero_tokens_is_not_a_layer_but_an_idle_expert_is_fine() -> None:
    with pytest.raises(ConfigError, match="a whole number >= 1"):
        MoELayer(**{**GOOD, "tokens": 0})
    shape = MoELayer(**GOOD)
    assert check_counts(shape, [4, 4, 0, 0]) == (4, 4, 0, 0)
    assert uniform_counts(shape) == (2, 2, 2, 2)


def test_top_k_above_experts() -> None:
    with pytest.raises(ConfigError) as info:
        MoELayer(**{**GOOD, "top_k": 5})
    assert info.value.field == "top_k" and "at most experts = 4" in str(info.value)
    assert MoELayer(**{**GOOD, "top_k": 4}).top_k == 4  # k = E is legal


def test_gated_must_be_a_bool() -> None:
    with pytest.raises(ConfigError) as info:
        MoELayer(**{**GOOD, "gated": 1})
    assert info.value.field == "gated"


def test_kernel_geometry_takes_the_contract() -> None:
    pytest.importorskip("amaranth")
    from codegen.hdl.interface import KernelGeometry
    with pytest.raises(ConfigError) as info:
        KernelGeometry(0, 8, 16, 4, 2, True, 4, 4, 8)
    assert info.value.field == "tokens"
    with pytest.raises(ConfigError):
        KernelGeometry(4, 8, 16, 4, 5, True, 4, 4, 8)


@pytest.mark.parametrize("counts", [[8, 0, 0], [9, 0, 0, -1], [3, 3, 3, 0], [2, 2, 2, True]])
def test_bad_counts(counts) -> None:
    with pytest.raises(ConfigError) as info:
        check_counts(MoELayer(**GOOD), counts)
    assert info.value.field == "tokens_per_expert"
