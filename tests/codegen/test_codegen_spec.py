"""KernelSpec validation, --shape / --pe parsing, scaled model layers, the int32 overflow rule."""
from __future__ import annotations

import dataclasses

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from accelerators.catalog import load_device
from accelerators.errors import ConfigError
from codegen.spec import (INT32_MAX, KernelSpec, accumulator_bounds, max_abs_accumulator, parse_pe, parse_shape,
                          spec_from_layer)
from verification import golden

BASE = KernelSpec(16, 64, 128, 8, 2, True, pe_rows=8, pe_cols=8)


def field_of(exc: pytest.ExceptionInfo[ConfigError]) -> str | None:
    return exc.value.field


def test_a_valid_spec_returns_itself() -> None:
    assert BASE.validate() is BASE


@pytest.mark.parametrize("name", ["tokens", "hidden", "ffn", "experts", "top_k", "scale"])
@pytest.mark.parametrize("value", [0, -3])
def test_zero_or_negative_sizes_name_the_parameter(name: str, value: int) -> None:
    with pytest.raises(ConfigError) as exc:
        dataclasses.replace(BASE, **{name: value}).validate()
    assert field_of(exc) == name
    assert str(value) in str(exc.value)


def test_top_k_larger_than_experts() -> None:
    with pytest.raises(ConfigError) as exc:
        dataclasses.replace(BASE, top_k=9).validate()
    assert field_of(exc) == "top_k" and "experts = 8" in str(exc.value)
    dataclasses.replace(BASE, top_k=8).validate()  # k == E is legal


@pytest.mark.parametrize("field,value", [("activation", "tanh"), ("stream_bytes", 3), ("stream_bytes", 128),
                                         ("style", "fast"), ("name", "2bad"), ("name", "a-b")])
def test_bad_options(field: str, value: object) -> None:
    with pytest.raises(ConfigError) as exc:
        dataclasses.replace(BASE, **{field: value}).validate()
    assert field_of(exc) == field


def test_pe_array_larger_than_the_dsps() -> None:
    dsp = load_device("alveo-u280").fpga.dsp  # 9,024 (DS963)
    assert dsp == 9024
    dataclasses.replace(BASE, pe_rows=94, pe_cols=96).validate()  # exactly 9,024 PEs
    with pytest.raises(ConfigError) as exc:
        dataclasses.replace(BASE, pe_rows=95, pe_cols=95).validate()  # 9,025
    assert field_of(exc) == "pe" and "9024" in str(exc.value)
    with pytest.raises(ConfigError) as exc:
        dataclasses.replace(BASE, pe_rows=8, pe_cols=None).validate()
    assert field_of(exc) == "pe"
    with pytest.raises(ConfigError) as exc:
        dataclasses.replace(BASE, pe_rows=0, pe_cols=8).validate()
    assert field_of(exc) == "pe"


def test_non_fpga_device() -> None:
    with pytest.raises(ConfigError) as exc:
        dataclasses.replace(BASE, device="h100-sxm").validate()
    assert field_of(exc) == "device"


def test_overflow_boundary_by_hand() -> None:
    # router/up/gate: d * 2**14 <= 2**31 - 1  <=>  d <= 131071
    dataclasses.replace(BASE, hidden=131071, pe_rows=None, pe_cols=None).validate()
    with pytest.raises(ConfigError) as exc:
        dataclasses.replace(BASE, hidden=131072).validate()
    assert field_of(exc) == "hidden" and "router accumulator" in str(exc.value)
    with pytest.raises(ConfigError) as exc:
        dataclasses.replace(BASE, ffn=131072).validate()
    assert field_of(exc) == "ffn" and "down accumulator" in str(exc.value)
    # combine: k * 2**22 <= 2**31 - 1  <=>  k <= 511
    dataclasses.replace(BASE, experts=600, top_k=511, hidden=16, ffn=16).validate()
    with pytest.raises(ConfigError) as exc:
        dataclasses.replace(BASE, experts=600, top_k=512, hidden=16, ffn=16).validate()
    assert field_of(exc) == "top_k" and "combine accumulator" in str(exc.value)


def test_bounds_by_hand() -> None:
    b = accumulator_bounds(64, 128, 2, True)
    assert b == {"router": 64 * 16384, "up": 64 * 16384, "gate": 64 * 16384, "down": 128 * 16384,
                 "hidden_product": 16384, "combine": 2 * 32768 * 128}
    assert "gate" not in accumulator_bounds(64, 128, 2, False)


@settings(max_examples=200, deadline=None)
@given(d=st.integers(1, 300_000), f=st.integers(1, 300_000), e=st.integers(1, 700), k=st.integers(1, 700),
       gated=st.booleans())
def test_overflow_rule_agrees_with_the_golden_model(d: int, f: int, e: int, k: int, gated: bool) -> None:
    """Our bound (codegen does not import verification) equals golden.max_abs_accumulator, and a
    spec is rejected for overflow exactly when golden says the shape does not fit int32."""
    k = min(k, e)
    shape = golden.MoEShape(4, d, f, e, k, gated)
    assert accumulator_bounds(d, f, k, gated) == golden.accumulator_bounds(shape)
    assert max_abs_accumulator(d, f, k, gated) == golden.max_abs_accumulator(shape)
    spec = KernelSpec(4, d, f, e, k, gated)
    if golden.fits_int32(shape):
        spec.validate()
    else:
        with pytest.raises(ConfigError, match="accumulator fits int32"):
            spec.validate()
        assert max_abs_accumulator(d, f, k, gated) > INT32_MAX


def test_parse_shape() -> None:
    assert parse_shape("d=64,f=128,experts=8,top_k=2") == {"hidden": 64, "ffn": 128, "experts": 8, "top_k": 2}
    assert parse_shape(" hidden=4, ffn=8 ,e=2,k=1") == {"hidden": 4, "ffn": 8, "experts": 2, "top_k": 1}


@pytest.mark.parametrize("text", ["", "d=64", "d=64,f=128,experts=8", "d=64;f=128;experts=8;top_k=2",
                                  "d=64,f=128,experts=8,top_k=two", "d=64,f=128,experts=8,top_k=2,x=1",
                                  "d=64,d=64,f=128,experts=8,top_k=2", "d:64,f=128,experts=8,top_k=2",
                                  "d=6.4,f=128,experts=8,top_k=2"])
def test_malformed_shape(text: str) -> None:
    with pytest.raises(ConfigError) as exc:
        parse_shape(text)
    assert field_of(exc) == "shape"


def test_parse_pe() -> None:
    assert parse_pe("8x16") == (8, 16) and parse_pe(" 4X4 ") == (4, 4)
    for bad in ("8", "8x", "x8", "8*8", "-1x4", "a x b"):
        with pytest.raises(ConfigError) as exc:
            parse_pe(bad)
        assert field_of(exc) == "pe"


def test_layer_scaled_down() -> None:
    spec = spec_from_layer("mixtral-8x7b", scale=64, tokens=8)
    assert (spec.hidden, spec.ffn, spec.experts, spec.top_k, spec.gated) == (4096 // 64, 14336 // 64, 8, 2, True)
    assert (spec.source_hidden, spec.source_ffn, spec.layer, spec.scale) == (4096, 14336, "mixtral-8x7b", 64)
    with pytest.raises(ConfigError) as exc:
        spec_from_layer("mixtral-8x7b", scale=3, tokens=8)  # 4096 is not divisible by 3
    assert field_of(exc) == "scale" and "4096" in str(exc.value)
    with pytest.raises(ConfigError) as exc:
        spec_from_layer("llama-2-7b", tokens=8)
    assert field_of(exc) == "layer"


def test_an_expert_count_beyond_what_a_kernel_holds_is_refused_up_front() -> None:
    """A million experts generated for minutes (one schedule and manifest entry per expert): the
    fuzzer found it; now it is one error naming the field."""
    from codegen.spec import MAX_EXPERTS

    with pytest.raises(ConfigError, match="at most 4,096 experts"):
        KernelSpec(tokens=8, hidden=16, ffn=32, experts=MAX_EXPERTS + 1, top_k=2).validate()
    assert KernelSpec(tokens=8, hidden=16, ffn=32, experts=2048, top_k=2, pe_rows=4, pe_cols=4).validate()


def test_a_token_count_beyond_an_engine_step_is_refused_up_front() -> None:
    """2**40 tokens ran out of memory building the variant table (the fuzzer's find)."""
    from codegen.spec import MAX_TOKENS

    with pytest.raises(ConfigError, match="at most 8,192 tokens"):
        KernelSpec(tokens=2**40, hidden=16, ffn=32, experts=4, top_k=2).validate()
    with pytest.raises(ConfigError, match="at most 8,192 tokens"):
        KernelSpec(tokens=MAX_TOKENS + 1, hidden=16, ffn=32, experts=4, top_k=2).validate()
