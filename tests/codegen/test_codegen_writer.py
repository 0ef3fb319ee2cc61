"""The output directory: contents, manifest and hashes, whole-directory replacement, rtl/ handling."""
from __future__ import annotations

import json
import sys
import types
from pathlib import Path
from typing import Any

import pytest

import codegen.writer as writer_module
from accelerators.errors import ConfigError
from codegen.paths import absolute_paths
from codegen.manifest import MANIFEST_SCHEMA, check_manifest, file_digests, sources_digest
from codegen.plan import build_plan
from codegen.spec import KernelSpec
from codegen.writer import check_output_dir, write_kernel

SPEC = KernelSpec(16, 64, 128, 8, 2, True, pe_rows=8, pe_cols=8)


@pytest.fixture(scope="module")
def plan():
    return build_plan(SPEC)


def leftovers(parent: Path, name: str) -> list[str]:
    return sorted(p.name for p in parent.iterdir() if p.name.startswith(f".{name}."))


def test_directory_contents_and_manifest(plan, tmp_path) -> None:
    out = tmp_path / "moe0"
    result = write_kernel(plan, out, rtl=False)
    assert result.out_dir == out and not result.rtl_available
    assert set(result.files) == {"README.md", "manifest.json", "hls/moe_kernel.h", "hls/moe_kernel.cpp",
                                 "hls/moe_kernel_tb.cpp", "hls/Makefile", "hls/run_hls.tcl",
                                 "hls/include/moearch_hls.h", "hls/include/ap_int_compat.h",
                                 "hls/include/hls_stream_compat.h"}
    assert not (out / "rtl").exists()
    m = json.loads((out / "manifest.json").read_text())
    assert m == json.loads(json.dumps(result.manifest, default=float))
    assert m["schema"] == MANIFEST_SCHEMA and m["kernel"] == m["toplevel"] == "moe_kernel"
    assert m["shape"] == {"tokens": 16, "hidden": 64, "ffn": 128, "experts": 8, "top_k": 2, "gated": True}
    assert m["sources"] == [] and m["rtl"]["available"] is False and "not requested" in m["rtl"]["message"]
    assert m["interfaces"]["rtl"] == {"available": False, "reason": m["rtl"]["message"]}
    assert m["activation"]["name"] == "silu" and len(m["activation"]["table"]) == 256
    assert m["predicted"]["cycles"] == plan.predicted_cycles
    assert sum(1 for _ in m["predicted"]["cycles_per_stage"]) == len(plan.stages)
    assert [v["name"] for v in m["schedule"]["variants"]] == ["seq-stream", "seq-tiled"]
    assert m["schedule"]["stages"][0]["task"] == "load" and m["schedule"]["stages"][-1]["task"] == "combine"
    for key in ("task", "mode", "m", "n", "k", "src", "dst", "loop_order", "cycles"):
        assert key in m["schedule"]["stages"][1]
    assert m["datatypes"]["spec"] == "docs/kernel-arithmetic.md"
    assert m["files"] == file_digests(out) and m["sources_sha256"] == sources_digest(m["files"])
    assert set(m["files"]) == {f for f in result.files if f.startswith("hls/")}
    assert check_manifest(out) == []
    readme = (out / "README.md").read_text()
    for needle in ("make csim", "vitis_hls -f run_hls.tcl", "Top function: `moe_kernel`", "m_axi", "axis",
                   "RTL simulation", "not requested"):
        assert needle in readme
    for f in result.files:
        text = (out / f).read_text()
        assert absolute_paths(text) == [] and str(tmp_path) not in text, f
    assert leftovers(tmp_path, "moe0") == []


def test_manifest_detects_changed_sources(plan, tmp_path) -> None:
    out = tmp_path / "k"
    write_kernel(plan, out, rtl=False)
    cpp = out / "hls" / "moe_kernel.cpp"
    cpp.write_text(cpp.read_text().replace("II=1", "II=2", 1))
    (out / "hls" / "extra.h").write_text("// stray\n")
    (out / "hls" / "Makefile").unlink()
    problems = check_manifest(out)
    assert any("moe_kernel.cpp: content differs" in p for p in problems)
    assert any("extra.h: not listed" in p for p in problems)
    assert any("Makefile: listed in the manifest but missing" in p for p in problems)
    m = json.loads((out / "manifest.json").read_text())
    m["sources_sha256"] = "0" * 64
    (out / "manifest.json").write_text(json.dumps(m))
    assert any("sources_sha256" in p for p in check_manifest(out))


def test_an_existing_kernel_is_replaced_as_a_whole(plan, tmp_path) -> None:
    out = tmp_path / "k"
    write_kernel(plan, out, rtl=False)
    (out / "hls" / "stale.txt").write_text("from the old kernel")
    other = build_plan(KernelSpec(8, 32, 64, 4, 1, False, pe_rows=2, pe_cols=4, name="small"))
    write_kernel(other, out, rtl=False)
    assert not (out / "hls" / "stale.txt").exists() and not (out / "hls" / "moe_kernel.cpp").exists()
    assert (out / "hls" / "small.cpp").is_file() and check_manifest(out) == []
    assert leftovers(tmp_path, "k") == []


def test_a_crash_leaves_the_old_kernel_intact(plan, tmp_path, monkeypatch) -> None:
    out = tmp_path / "k"
    write_kernel(plan, out, rtl=False)
    before = file_digests(out, ("hls",))

    def boom(*args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(writer_module, "build_manifest", boom)
    with pytest.raises(RuntimeError, match="disk full"):
        write_kernel(build_plan(KernelSpec(8, 32, 64, 4, 1, False, pe_rows=2, pe_cols=4)), out, rtl=False)
    assert file_digests(out, ("hls",)) == before and check_manifest(out) == []
    assert leftovers(tmp_path, "k") == []


@pytest.mark.parametrize("setup", ["file", "foreign-dir", "other-manifest"])
def test_foreign_targets_are_refused_before_writing(plan, tmp_path, setup: str) -> None:
    out = tmp_path / "target"
    if setup == "file":
        out.write_text("not a directory")
    else:
        out.mkdir()
        (out / "notes.txt").write_text("mine")
        if setup == "other-manifest":
            (out / "manifest.json").write_text(json.dumps({"toplevel": "x"}))
    snapshot = {p.name: p.read_bytes() for p in ([out] if out.is_file() else out.iterdir())}
    with pytest.raises(ConfigError) as exc:
        write_kernel(plan, out, rtl=False)
    assert exc.value.field == "out"
    assert {p.name: p.read_bytes() for p in ([out] if out.is_file() else out.iterdir())} == snapshot
    assert leftovers(tmp_path, "target") == []


def test_empty_directory_is_used_and_cwd_is_refused(plan, tmp_path, monkeypatch) -> None:
    (tmp_path / "empty").mkdir()
    check_output_dir(tmp_path / "empty")
    monkeypatch.chdir(tmp_path / "empty")
    with pytest.raises(ConfigError):
        check_output_dir(".")


def test_rtl_omitted_with_a_reason_without_amaranth(plan, tmp_path, monkeypatch) -> None:
    """Only the optional dependency missing means "rtl/ omitted" (importing codegen.rtl fails on amaranth)."""
    def import_module(name):
        assert name == "codegen.rtl"
        raise ModuleNotFoundError("No module named 'amaranth'", name="amaranth")

    monkeypatch.setattr(writer_module, "importlib", types.SimpleNamespace(import_module=import_module))
    result = write_kernel(plan, tmp_path / "k")
    assert not result.rtl_available and result.rtl_message is not None and "Amaranth" in result.rtl_message
    m = result.manifest
    assert m["rtl"] == {"available": False, "files": [], "message": result.rtl_message} and m["sources"] == []
    assert not (tmp_path / "k" / "rtl").exists()
    assert result.rtl_message in (tmp_path / "k" / "README.md").read_text()


@pytest.mark.parametrize("missing", ["codegen.rtl", "codegen.hdl.top"])
def test_a_missing_module_of_ours_propagates(plan, tmp_path, monkeypatch, missing: str) -> None:
    """A missing codegen module is a bug, not "rtl/ omitted" (the writer used to exit 0 on it)."""
    monkeypatch.delitem(sys.modules, "codegen.rtl", raising=False)
    monkeypatch.setitem(sys.modules, missing, None)  # import fails as if the module did not exist
    with pytest.raises(ModuleNotFoundError) as info:
        write_kernel(plan, tmp_path / "k")
    assert info.value.name == missing
    assert not (tmp_path / "k").exists() and leftovers(tmp_path, "k") == []


def test_rtl_files_from_emit_verilog_are_listed_and_hashed(plan, tmp_path, monkeypatch) -> None:
    """The writer's contract with codegen.rtl.emit_verilog(plan, dir) -> list[Path], checked with a
    stand-in module (the real one is tested by the RTL tests)."""
    calls = []

    def emit_verilog(p, out_dir):
        calls.append((p, Path(out_dir).name))
        path = Path(out_dir) / f"{p.name}.v"
        path.write_text(f"module {p.name}(input clk);\nendmodule\n")
        return [path]

    fake: Any = types.ModuleType("codegen.rtl")
    fake.emit_verilog = emit_verilog
    fake.rtl_description = lambda p: None  # the manifest then describes the ports from the plan alone
    monkeypatch.setitem(sys.modules, "codegen.rtl", fake)
    result = write_kernel(plan, tmp_path / "k")
    assert calls == [(plan, "rtl")]
    m = result.manifest
    assert result.rtl_available and result.rtl_message is None
    assert m["sources"] == ["rtl/moe_kernel.v"] and m["toplevel"] == "moe_kernel"
    assert "rtl/moe_kernel.v" in m["files"] and check_manifest(tmp_path / "k") == []
    ports = {p["name"] for p in m["interfaces"]["rtl"]["ports"]}
    assert {"clk", "rst", "x_in__payload", "y_out__valid", "wreq__payload", "wdata__ready"} <= ports
    fields = [f["name"] for f in m["interfaces"]["rtl"]["formats"]["weight_request"]["fields"]]
    assert fields == ["tensor", "expert", "tile", "cols"]
    # verification.runner reads toplevel and sources from the manifest
    from verification.runner import DesignSources
    design = DesignSources.from_dir(tmp_path / "k")
    assert design.toplevel == "moe_kernel" and [p.name for p in design.sources] == ["moe_kernel.v"]
