"""The header-only HLS compatibility layer, compiled with g++ -std=c++17 -Wall -Wextra -Werror."""
from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from verification import golden

INCLUDE = Path(__file__).resolve().parents[1] / "codegen" / "hls" / "include"
FLAGS = ["-std=c++17", "-Wall", "-Wextra", "-Werror", "-O1"]


@pytest.fixture(scope="module")
def gxx() -> str:
    path = shutil.which("g++")
    if path is None:
        if os.environ.get("CI") == "true":
            pytest.fail("g++ is required in CI for the HLS compatibility tests")
        pytest.skip("g++ not found: the HLS C-simulation tests need a C++17 compiler")
    return path


def build(gxx: str, tmp: Path, source: str, extra: tuple[str, ...] = ()) -> subprocess.CompletedProcess[str]:
    src = tmp / "main.cpp"
    src.write_text(source)
    return subprocess.run([gxx, *FLAGS, *extra, "-I", str(INCLUDE), str(src), "-o", str(tmp / "main")],
                          capture_output=True, text=True, timeout=120, check=False)


def run(gxx: str, tmp: Path, source: str) -> dict[str, str]:
    compiled = build(gxx, tmp, source)
    assert compiled.returncode == 0, compiled.stderr
    out = subprocess.run([str(tmp / "main")], capture_output=True, text=True, timeout=60,
                         check=True).stdout
    return dict(line.split(" ", 1) for line in out.splitlines())


SEMANTICS = r"""
#include <iostream>
#include <sstream>
#include <stdexcept>
#include "moearch_hls.h"

#define SHOW(name, expr) std::cout << name << " " << (expr) << "\n"

int main() {
  ap_int<8> a = 127;
  a += 1;
  SHOW("int8_wrap_add", a);
  SHOW("int8_from_200", ap_int<8>(200));
  SHOW("uint8_from_minus1", ap_uint<8>(-1));
  SHOW("uint8_from_256", ap_uint<8>(256));
  ap_int<8> x = 100, y = 100;
  int64_t wide = x * y;
  ap_int<8> narrow = x * y;
  SHOW("product_wide", wide);
  SHOW("product_narrow", narrow);
  SHOW("mixed_compare", (ap_int<8>(-1) < ap_uint<8>(1)) ? 1 : 0);
  ap_int<32> acc = 2147483647;
  acc += ap_int<8>(1);
  SHOW("int32_wrap", acc);
  ap_int<32> from_wider = ap_int<40>(int64_t{1} << 35) + 5;
  SHOW("narrowing_copy", from_wider);
  ap_int<16> s = -256;
  s >>= 4;
  SHOW("arith_shift", s);
  ap_uint<8> u = 0x81;
  u <<= 1;
  SHOW("uint_shift", u);
  ap_uint<8> bits = 0;
  bits[3] = 1;
  SHOW("bit_set", bits);
  bits.range(7, 4) = 0xA;
  SHOW("range_set", bits);
  ap_uint<4> hi = bits.range(7, 4);
  SHOW("range_get", hi);
  SHOW("bit_get", bits[7] ? 1 : 0);
  ap_int<1> one_bit = 1;
  SHOW("int1", one_bit);
  ap_uint<64> big = ~uint64_t{0};
  big += 1;
  SHOW("uint64_wrap", big);
  ap_int<8> c = -128;
  c--;
  SHOW("int8_wrap_dec", c);
  ap_int<8> q = -7;
  q /= 2;
  SHOW("int8_div", q);

  hls::stream<ap_int<8>> fifo("fifo");
  SHOW("empty_at_start", fifo.empty() ? 1 : 0);
  for (int i = 0; i < 5; ++i) fifo.write(i * 100);
  std::ostringstream order;
  while (!fifo.empty()) order << fifo.read() << ",";
  SHOW("fifo_order", order.str());
  ap_int<8> dummy;
  SHOW("read_nb_empty", fifo.read_nb(dummy) ? 1 : 0);
  hls::stream<int, 2> bounded;
  bounded << 1;
  bounded << 2;
  SHOW("full_at_depth", bounded.full() ? 1 : 0);
  SHOW("write_nb_full", bounded.write_nb(3) ? 1 : 0);
  int first = 0;
  bounded >> first;
  SHOW("first_out", first);
  try {
    hls::stream<int> dry("dry");
    dry.read();
    SHOW("empty_read", "no-throw");
  } catch (const std::runtime_error& e) {
    SHOW("empty_read", e.what());
  }
  int total = 0;
  for (int i = 0; i < 4; ++i) {
    MOEARCH_HLS_PRAGMA(HLS PIPELINE II=1)
    total += i;
  }
  SHOW("pragma_loop", total);
  return 0;
}
"""


def test_ap_int_and_stream_semantics(gxx: str, tmp_path: Path) -> None:
    out = run(gxx, tmp_path, SEMANTICS)
    assert out == {
        "int8_wrap_add": "-128",
        "int8_from_200": "-56",  # 200 - 256
        "uint8_from_minus1": "255",
        "uint8_from_256": "0",
        "product_wide": "10000",  # exact, like Vitis' widened product type
        "product_narrow": "16",  # 10000 = 39 * 256 + 16
        "mixed_compare": "1",
        "int32_wrap": "-2147483648",
        "narrowing_copy": "5",  # 2**35 + 5 keeps its low 32 bits
        "arith_shift": "-16",
        "uint_shift": "2",  # 0x102 wraps to 0x02
        "bit_set": "8",
        "range_set": "168",  # 0xA8
        "range_get": "10",
        "bit_get": "1",
        "int1": "-1",  # a 1-bit signed 1 is -1
        "uint64_wrap": "0",
        "int8_wrap_dec": "127",
        "int8_div": "-3",  # C++ division truncates toward zero
        "empty_at_start": "1",
        "fifo_order": "0,100,-56,44,-112,",  # 200, 300, 400 wrap to int8
        "read_nb_empty": "0",
        "full_at_depth": "1",
        "write_nb_full": "0",
        "first_out": "1",
        "empty_read": "hls::stream 'dry' read while empty",
        "pragma_loop": "6",
    }


REQUANT = r"""
#include <iostream>
#include "moearch_hls.h"

// The spec's requantiser and gate normalisation written with the compat types.
ap_int<8> requant(ap_int<32> acc, ap_uint<16> mult, ap_uint<6> shift) {
  ap_int<49> prod = acc * mult;
  ap_int<64> rounding = shift == 0 ? int64_t{0} : (int64_t{1} << (shift - 1));
  ap_int<64> scaled = prod + rounding;
  scaled >>= shift.to_int();
  if (scaled > 127) return 127;
  if (scaled < -128) return -128;
  return scaled;
}

ap_uint<16> gate(ap_uint<16> e, ap_uint<32> total) {
  ap_uint<48> numer = (e.to_uint64() << 15) + (total >> 1);
  return numer / total;
}

int main() {
  const long long accs[] = {ACCS};
  const int mults[] = {MULTS};
  const int shifts[] = {SHIFTS};
  for (unsigned i = 0; i < sizeof(accs) / sizeof(accs[0]); ++i) {
    std::cout << "rq" << i << " " << requant(accs[i], mults[i], shifts[i]) << "\n";
  }
  const int exps[] = {EXPS};
  for (unsigned i = 0; i + 1 < sizeof(exps) / sizeof(exps[0]); i += 2) {
    ap_uint<32> total = exps[i] + exps[i + 1];
    std::cout << "g" << i << " " << gate(exps[i], total) << "," << gate(exps[i + 1], total) << "\n";
  }
  return 0;
}
"""


def test_spec_arithmetic_in_cpp_matches_golden(gxx: str, tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    accs = np.concatenate([[golden.INT32_MIN, golden.INT32_MAX, 5, -5, 0],
                           rng.integers(golden.INT32_MIN, golden.INT32_MAX, size=40)])
    mults = np.concatenate([[65535, 65535, 1, 1, 7], rng.integers(0, 65536, size=40)])
    shifts = np.concatenate([[0, 63, 1, 1, 3], rng.integers(0, 64, size=40)])
    table = golden.exp_lut()
    q = rng.integers(0, 256, size=(20, 2))
    q[:, 0] = 0  # rank 0 is the maximum
    exps = table[q]
    source = (REQUANT.replace("ACCS", ", ".join(f"{int(a)}LL" for a in accs))
              .replace("MULTS", ", ".join(map(str, mults)))
              .replace("SHIFTS", ", ".join(map(str, shifts)))
              .replace("EXPS", ", ".join(map(str, exps.ravel()))))
    out = run(gxx, tmp_path, source)
    for i, (a, m, s) in enumerate(zip(accs, mults, shifts)):
        assert int(out[f"rq{i}"]) == int(golden.requantize(np.array([a]), int(m), int(s))[0]), i
    want = golden.normalize_gates(exps)
    for t in range(len(exps)):
        assert out[f"g{2 * t}"] == f"{want[t, 0]},{want[t, 1]}"


def test_raw_pragmas_need_the_documented_flag(gxx: str, tmp_path: Path) -> None:
    source = '#include "moearch_hls.h"\nint main() {\n  int s = 0;\n  for (int i = 0; i < 3; ++i) {\n' \
             '#pragma HLS PIPELINE II=1\n    s += i;\n  }\n  return s == 3 ? 0 : 1;\n}\n'
    assert build(gxx, tmp_path, source).returncode != 0  # -Wall -Werror: unknown pragma
    assert build(gxx, tmp_path, source, ("-Wno-unknown-pragmas",)).returncode == 0
    assert subprocess.run([str(tmp_path / "main")], check=False).returncode == 0


def test_widths_above_64_are_rejected(gxx: str, tmp_path: Path) -> None:
    result = build(gxx, tmp_path, '#include "moearch_hls.h"\nint main() { ap_int<65> x; (void)x; }\n')
    assert result.returncode != 0 and "1..64 bits" in result.stderr
