"""verification.kernel_bench without a simulator: the manifest checks, crafted routings (checked
against the golden model's own routing), the predicted stage table, the standard shapes."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from accelerators.errors import ConfigError
from verification import golden
from verification.kernel_bench import KernelDir, assignment_for_counts, make_layer, predicted_stages
from verification.kernel_bench.kernel import tokens_to_words, words_to_tokens
from verification.kernel_bench.suite import DEFAULT_EXAMPLE, SHAPES

SMALL = "--shape d=12,f=20,experts=4,top_k=2 --tokens 5 --pe 2x4 --stream-bytes 4 --gated"


@pytest.fixture(scope="module")
def small(moearch_kernel) -> KernelDir:
    return KernelDir.load(moearch_kernel(SMALL))


def test_load_reads_the_manifest(small: KernelDir) -> None:
    assert small.shape == golden.MoEShape(5, 12, 20, 4, 2, True)
    assert small.array == (2, 4) and small.stream_bytes == 4 and small.toplevel == "moe_kernel"
    assert small.front in ("dataflow", "sequential")
    assert sum(small.nominal_counts) == 10
    assert [p.name for p in small.sources] == ["moe_kernel.v"]
    assert "VARHIDDEN" in small.design().lint_waivers


def _copy(src: Path, dst: Path) -> Path:
    shutil.copytree(src, dst)
    return dst


def test_not_a_kernel_and_edited_sources_are_config_errors(small: KernelDir, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="manifest.json"):
        KernelDir.load(tmp_path)                                   # an empty directory
    (tmp_path / "manifest.json").write_text("{not json")
    with pytest.raises(ConfigError, match="not JSON"):
        KernelDir.load(tmp_path)
    (tmp_path / "manifest.json").write_text(json.dumps({"schema": "something/else"}))
    with pytest.raises(ConfigError, match="schema"):
        KernelDir.load(tmp_path)
    edited = _copy(small.root, tmp_path / "edited")
    verilog = edited / "rtl" / "moe_kernel.v"
    verilog.write_text(verilog.read_text() + "\n// edited\n")
    with pytest.raises(ConfigError, match="rtl/moe_kernel.v: content differs"):
        KernelDir.load(edited)
    no_rtl = _copy(small.root, tmp_path / "no-rtl")
    m = json.loads((no_rtl / "manifest.json").read_text())
    m["rtl"] = {"available": False, "files": [], "message": "not requested (--no-rtl)"}
    (no_rtl / "manifest.json").write_text(json.dumps(m))
    with pytest.raises(ConfigError, match="--no-rtl"):
        KernelDir.load(no_rtl)


@given(st.data())
@settings(max_examples=40, deadline=None)
def test_assignment_for_counts_meets_every_count(data: st.DataObject) -> None:
    experts = data.draw(st.integers(1, 9))
    k = data.draw(st.integers(1, experts))
    tokens = data.draw(st.integers(1, 12))
    # a random routing gives reachable counts
    chosen = [data.draw(st.permutations(range(experts)))[:k] for _ in range(tokens)]
    counts = np.bincount(np.array(chosen).ravel(), minlength=experts).tolist()
    assign = assignment_for_counts(counts, tokens, k)
    assert all(len(set(a)) == k for a in assign)
    assert np.bincount(np.array(assign).ravel(), minlength=experts).tolist() == counts


def test_assignment_rejects_impossible_counts() -> None:
    with pytest.raises(ValueError):
        assignment_for_counts([3, 0], tokens=2, k=1)          # more than T tokens on one expert
    with pytest.raises(ValueError):
        assignment_for_counts([1, 1], tokens=2, k=2)          # sums to 2, not T*k = 4


@pytest.mark.parametrize("routing", ["nominal", "no-tokens", "one-expert"])
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_crafted_routings_hold_in_the_golden_model(small: KernelDir, routing: str, seed: int) -> None:
    layer = make_layer(small, seed, routing, expert=seed % 4)
    counts = list(layer.counts)
    if routing == "nominal":
        assert tuple(counts) == small.nominal_counts
    elif routing == "no-tokens":
        assert counts[seed % 4] == 0
    else:
        assert counts[seed % 4] == small.shape.tokens
    # the other inputs stay random: the expert outputs are not all zero
    assert np.any(layer.gold.output != 0)


def test_token_words_round_trip(small: KernelDir) -> None:
    layer = make_layer(small, 5)
    words = tokens_to_words(layer.x, small.stream_bytes)
    assert len(words) == small.shape.tokens * -(-small.shape.hidden // small.stream_bytes)
    assert np.array_equal(words_to_tokens(words, small.stream_bytes, small.shape.hidden), layer.x)


def test_predicted_stages_add_up_to_the_layer(small: KernelDir) -> None:
    counts = make_layer(small, 9).counts
    stages, total = predicted_stages(small, counts)
    switch = small.switch_cycles
    assert sum(s.cycles for s in stages) + switch * (len(stages) - 1) == total
    experts = {s.expert for s in stages if s.expert is not None}
    assert experts == {e for e, c in enumerate(counts) if c > 0}
    nominal, nominal_total = predicted_stages(small, small.nominal_counts)
    assert nominal_total == small.manifest["predicted"]["cycles"]


def test_standard_shapes_cover_the_issue() -> None:
    sizes = []
    for args in SHAPES.values():
        kv = dict(x.split("=") for x in args[args.index("--shape") + 1].split(","))
        sizes.append((int(kv["experts"]), int(kv["top_k"]), "--gated" in args,
                      int(args[args.index("--tokens") + 1])))
    assert {e for e, _, _, _ in sizes} >= {4, 8} and {k for _, k, _, _ in sizes} >= {1, 2}
    assert {g for _, _, g, _ in sizes} == {True, False}
    assert any(k == e for e, k, _, _ in sizes) and any(t == 1 for *_, t in sizes)
    assert SHAPES[DEFAULT_EXAMPLE][:2] == ["--shape", "d=64,f=128,experts=8,top_k=2"]
