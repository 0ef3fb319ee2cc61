"""verification.cocotb_lib.payload: Amaranth shapes and layouts <-> payload bits."""
from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from amaranth.hdl import signed, unsigned
from amaranth.lib import data

from codegen.hdl.requantizer import requantizer_input_layout
from verification.cocotb_lib.payload import codec


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


_LAYOUT = requantizer_input_layout(3)


@given(acc=st.lists(st.integers(-2**31, 2**31 - 1), min_size=3, max_size=3),
       mult=st.integers(0, 2**16 - 1), shift=st.integers(0, 63))
def test_struct_codec_round_trip_property(acc: list[int], mult: int, shift: int) -> None:
    encode, decode = codec(_LAYOUT)
    value = {"acc": acc, "mult": mult, "shift": shift}
    bits = encode(value)
    assert 0 <= bits < 2**_LAYOUT.size
    assert decode(bits) == value
    for lane, a in enumerate(acc):  # lane i occupies bits 32*i .. 32*i+31, two's complement
        assert (bits >> (32 * lane)) & 0xFFFFFFFF == a & 0xFFFFFFFF
