"""Every kind of bad device file gives exactly one ConfigError naming file, field, value, allowed."""
from __future__ import annotations

from pathlib import Path

import pytest

from accelerators import ConfigError, load_device

GOOD = """\
name: {name}
kind: gpu
vendor: Example
description: a small test GPU
compute:
  peak: {{bf16: 100 TFLOPS}}
  units: 10
  tile: [128, 128]
memory:
  - {{name: hbm, capacity: 16 GB, read_bandwidth: 1 TB/s, write_bandwidth: 1 TB/s}}
interconnect:
  scale_up: {{name: link, bandwidth: 100 GB/s, topology: switch, domain: 4}}
efficiency: {{matmul: 0.8, memory: 0.9, kernel_overhead: 3 us}}
sources:
  compute: test datasheet
  memory: test datasheet
  interconnect: test datasheet
  efficiency: test microbenchmark
"""


def _write(tmp_path: Path, text: str, name: str = "toy-gpu") -> Path:
    path = tmp_path / f"{name}.yaml"
    path.write_text(text)
    return path


def _error(path: Path) -> ConfigError:
    with pytest.raises(ConfigError) as caught:
        load_device(path)
    return caught.value


def _assert_names_all_four(error: ConfigError, path: Path, field: str, value: str, allowed: str) -> None:
    message = str(error)
    assert path.name in message
    assert f"'{field}'" in message
    assert value in message
    assert allowed in message
    assert error.field == field


def test_the_good_file_loads(tmp_path: Path) -> None:
    device = load_device(_write(tmp_path, GOOD.format(name="toy-gpu")))
    assert device.peak("bf16") == 100e12


def test_missing_field(tmp_path: Path) -> None:
    text = GOOD.format(name="toy-gpu").replace("vendor: Example\n", "")
    path = _write(tmp_path, text)
    _assert_names_all_four(_error(path), path, "vendor", "<missing>", "this field is required")


def test_missing_field_inside_a_memory_tier(tmp_path: Path) -> None:
    text = GOOD.format(name="toy-gpu").replace(", write_bandwidth: 1 TB/s", "")
    path = _write(tmp_path, text)
    _assert_names_all_four(_error(path), path, "memory.hbm.write_bandwidth", "<missing>", "required")


def test_wrong_unit(tmp_path: Path) -> None:
    text = GOOD.format(name="toy-gpu").replace("capacity: 16 GB", "capacity: 3 TB/s")
    path = _write(tmp_path, text)
    _assert_names_all_four(_error(path), path, "memory.hbm.capacity", "'3 TB/s'",
                           "a size such as '80 GB' or '512 MiB'")


def test_bare_number_without_unit(tmp_path: Path) -> None:
    text = GOOD.format(name="toy-gpu").replace("bandwidth: 100 GB/s", "bandwidth: 100")
    path = _write(tmp_path, text)
    _assert_names_all_four(_error(path), path, "interconnect.scale_up.bandwidth", "100",
                           "a bare number has no unit")


def test_negative_size(tmp_path: Path) -> None:
    text = GOOD.format(name="toy-gpu").replace("capacity: 16 GB", "capacity: -16 GB")
    path = _write(tmp_path, text)
    _assert_names_all_four(_error(path), path, "memory.hbm.capacity", "'-16 GB'", "greater than zero")


def test_unknown_key(tmp_path: Path) -> None:
    text = GOOD.format(name="toy-gpu").replace("  units: 10\n", "  units: 10\n  cores: 12\n")
    path = _write(tmp_path, text)
    error = _error(path)
    _assert_names_all_four(error, path, "compute.cores", "12", "allowed fields: peak, vector, units, tile")


def test_unknown_top_level_key(tmp_path: Path) -> None:
    path = _write(tmp_path, GOOD.format(name="toy-gpu") + "colour: green\n")
    _assert_names_all_four(_error(path), path, "colour", "'green'", "allowed fields: name, kind")


def test_wrong_type(tmp_path: Path) -> None:
    text = GOOD.format(name="toy-gpu").replace("units: 10", "units: many")
    path = _write(tmp_path, text)
    _assert_names_all_four(_error(path), path, "compute.units", "'many'", "integer")


def test_unknown_dtype_and_kind(tmp_path: Path) -> None:
    path = _write(tmp_path, GOOD.format(name="toy-gpu").replace("bf16: 100", "bf17: 100"))
    _assert_names_all_four(_error(path), path, "compute.peak.bf17", "'bf17'", "'bf16'")
    path = _write(tmp_path, GOOD.format(name="toy-gpu").replace("kind: gpu", "kind: tpu"))
    _assert_names_all_four(_error(path), path, "kind", "'tpu'", "'fpga', 'gpu', 'npu', 'pim' or 'rdu'")


def test_fraction_out_of_range(tmp_path: Path) -> None:
    path = _write(tmp_path, GOOD.format(name="toy-gpu").replace("matmul: 0.8", "matmul: 1.5"))
    _assert_names_all_four(_error(path), path, "efficiency.matmul", "1.5", "less than or equal to 1")


def test_malformed_yaml_reports_the_line(tmp_path: Path) -> None:
    text = GOOD.format(name="toy-gpu").replace("vendor: Example", "vendor: [Example")
    path = _write(tmp_path, text)
    error = _error(path)
    assert path.name in str(error)
    assert error.field is not None and error.field.startswith("line ")
    assert "valid YAML" in error.allowed


def test_duplicate_key_is_malformed(tmp_path: Path) -> None:
    path = _write(tmp_path, GOOD.format(name="toy-gpu") + "vendor: Other\n")
    error = _error(path)
    assert error.field == "line 19, column 1"
    assert "duplicate key 'vendor'" in error.allowed


def test_not_a_mapping(tmp_path: Path) -> None:
    path = _write(tmp_path, "- just\n- a list\n")
    error = _error(path)
    assert path.name in str(error) and "a YAML mapping of device fields" in error.allowed


def test_unknown_device_name_lists_the_catalog() -> None:
    with pytest.raises(ConfigError) as caught:
        load_device("h300-sxm")
    message = str(caught.value)
    assert "'device'" in message and "'h300-sxm'" in message
    assert "h100-sxm" in message and "sn40l-node" in message


def test_missing_file_path(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        load_device(tmp_path / "nope.yaml")
    assert "nope.yaml" in str(caught.value) and "an existing device file" in caught.value.allowed


def test_extends_cycle(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text("name: a\nextends: b.yaml\nsources: {chips: x}\nchips: 2\n")
    (tmp_path / "b.yaml").write_text("name: b\nextends: a.yaml\nsources: {chips: x}\nchips: 3\n")
    error = _error(tmp_path / "a.yaml")
    assert error.field == "extends"
    assert "b.yaml" in str(error) and "'a.yaml'" in str(error)
    assert "cycle: a -> b -> a" in error.allowed


def test_extends_itself(tmp_path: Path) -> None:
    path = _write(tmp_path, "name: loop\nextends: loop.yaml\n", name="loop")
    assert "cycle: loop -> loop" in _error(path).allowed


def test_extends_unknown_device(tmp_path: Path) -> None:
    path = _write(tmp_path, "name: child\nextends: h300-sxm\n", name="child")
    _assert_names_all_four(_error(path), path, "extends", "'h300-sxm'", "h100-sxm")


def test_number_without_source(tmp_path: Path) -> None:
    text = GOOD.format(name="toy-gpu").replace("  efficiency: test microbenchmark\n", "")
    path = _write(tmp_path, text)
    _assert_names_all_four(_error(path), path, "efficiency.matmul", "0.8", "a citation")


def test_partial_citation_leaves_the_rest_uncited(tmp_path: Path) -> None:
    text = GOOD.format(name="toy-gpu").replace("  memory: test datasheet\n",
                                               "  memory.hbm.capacity: test datasheet\n")
    path = _write(tmp_path, text)
    _assert_names_all_four(_error(path), path, "memory.hbm.read_bandwidth", "1000000000000.0", "a citation")


def test_source_key_that_matches_no_field(tmp_path: Path) -> None:
    path = _write(tmp_path, GOOD.format(name="toy-gpu") + "  memroy.hbm: typo\n")
    _assert_names_all_four(_error(path), path, "sources.memroy.hbm", "'memroy.hbm'", "a field path")


def test_child_override_needs_its_own_citation(tmp_path: Path) -> None:
    path = _write(tmp_path, "name: fast-h100\nextends: h100-sxm\n"
                            "memory:\n  - {name: hbm, read_bandwidth: 4 TB/s}\n", name="fast-h100")
    _assert_names_all_four(_error(path), path, "memory.hbm.read_bandwidth", "'4 TB/s'",
                           "this file's own 'sources:'")


def test_name_must_match_file(tmp_path: Path) -> None:
    path = _write(tmp_path, GOOD.format(name="other-name"))
    _assert_names_all_four(_error(path), path, "name", "'other-name'", "'toy-gpu'")


def test_tiers_out_of_order_and_duplicated(tmp_path: Path) -> None:
    tier = "  - {name: sram, capacity: 50 MB, read_bandwidth: 10 TB/s, write_bandwidth: 10 TB/s}\n"
    lines = GOOD.format(name="toy-gpu").split("interconnect:")
    out_of_order = _write(tmp_path, lines[0] + tier + "interconnect:" + lines[1])
    _assert_names_all_four(_error(out_of_order), out_of_order, "memory", "['hbm', 'sram']",
                           "fastest first, in the order sram, hbm, ddr, host")
    hbm = "  - {name: hbm, capacity: 8 GB, read_bandwidth: 1 TB/s, write_bandwidth: 1 TB/s}\n"
    twice = _write(tmp_path, lines[0] + hbm + "interconnect:" + lines[1], name="twice")
    twice.write_text(twice.read_text().replace("name: toy-gpu", "name: twice"))
    _assert_names_all_four(_error(twice), twice, "memory[1].name", "'hbm'", "at most once")


def test_kind_sections_must_match_the_kind(tmp_path: Path) -> None:
    text = GOOD.format(name="toy-gpu").replace("sources:", "rdu: {pcu: 1, pmu: 1, ddr_to_hbm: 1 GB/s}\nsources:")
    path = _write(tmp_path, text)
    _assert_names_all_four(_error(path), path, "rdu", "<rdu section>", "only in a device of kind 'rdu'")
    path = _write(tmp_path, GOOD.format(name="toy-gpu").replace("kind: gpu", "kind: pim"))
    _assert_names_all_four(_error(path), path, "pim", "<missing>", "needs a 'pim' section")


def test_roofline_devices_need_efficiency(tmp_path: Path) -> None:
    text = GOOD.format(name="toy-gpu").replace(
        "efficiency: {matmul: 0.8, memory: 0.9, kernel_overhead: 3 us}\n", "").replace(
        "  efficiency: test microbenchmark\n", "")
    path = _write(tmp_path, text)
    _assert_names_all_four(_error(path), path, "efficiency", "<missing>", "the roofline uses it")


def test_fpga_peak_must_match_the_fabric(tmp_path: Path) -> None:
    path = _write(tmp_path, _fpga_text("10 TOPS"), name="toy-fpga")
    _assert_names_all_four(_error(path), path, "compute.peak.int8", "10000000000000.0",
                           "dsp x int8_macs_per_dsp x 2 x clock = 0.6 TOPS")
    path.write_text(_fpga_text("0.6 TOPS"))
    assert load_device(path).peak("int8") == pytest.approx(0.6e12)


def test_every_problem_of_a_file_in_one_error(tmp_path: Path) -> None:
    """Four independent mistakes: one ConfigError (one run) that names all four, each with the
    file, the field, the value and what is allowed."""
    text = GOOD.format(name="toy-gpu").replace("capacity: 16 GB", "capacity: 16").replace(
        "units: 10", "units: -3").replace("vendor: Example\n", "").replace("kernel_overhead: 3 us",
                                                                            "kernel_overhead: 3 parsecs")
    path = _write(tmp_path, text)
    error = _error(path)
    assert isinstance(error, ConfigError) and len(error.problems) == 4, str(error)
    assert {p.field for p in error.problems} == {"vendor", "compute.units", "memory.hbm.capacity",
                                                 "efficiency.kernel_overhead"}
    message = str(error)
    assert message.startswith(f"{path}: 4 problems:")
    for problem in error.problems:
        assert problem.file == str(path) and problem.allowed
        assert str(problem) in message


def test_every_broken_cross_field_rule_in_one_error(tmp_path: Path) -> None:
    """Rules checked across fields (tier order, kind sections, citations) are all reported too."""
    text = GOOD.format(name="toy-gpu").replace("  efficiency: test microbenchmark\n", "").replace(
        ", domain: 4", "")
    path = _write(tmp_path, text)
    error = _error(path)
    fields = [p.field for p in error.problems]
    assert "interconnect.scale_up.domain" in fields and "efficiency.matmul" in fields, str(error)
    assert len(error.problems) >= 3


def test_a_name_mismatch_is_reported_with_the_other_problems(tmp_path: Path) -> None:
    path = _write(tmp_path, GOOD.format(name="other-gpu").replace("units: 10", "units: -3"), name="toy-gpu")
    error = _error(path)
    assert [p.field for p in error.problems] == ["name", "compute.units"], str(error)


def _fpga_text(peak: str) -> str:
    return f"""\
name: toy-fpga
kind: fpga
vendor: Example
description: a tiny FPGA
compute:
  peak: {{int8: {peak}}}
memory:
  - {{name: ddr, capacity: 4 GB, read_bandwidth: 10 GB/s, write_bandwidth: 10 GB/s}}
fpga: {{dsp: 1000, dsp_type: DSP48E2, lut: 1000, ff: 2000, bram36: 10, uram: 0, clock: 150 MHz,
        int8_macs_per_dsp: 2, hbm_channels: 0}}
sources: {{compute: derived, memory: board manual, fpga: data sheet}}
"""


def test_scale_up_needs_a_domain(tmp_path: Path) -> None:
    path = _write(tmp_path, GOOD.format(name="toy-gpu").replace(", domain: 4", ""))
    _assert_names_all_four(_error(path), path, "interconnect.scale_up.domain", "<missing>",
                           "number of devices reachable")


def test_kernel_overhead_may_be_zero_but_latency_may_not(tmp_path: Path) -> None:
    zero = GOOD.format(name="toy-gpu").replace("kernel_overhead: 3 us", "kernel_overhead: 0 s")
    assert load_device(_write(tmp_path, zero)).efficiency.kernel_overhead == 0.0
    path = _write(tmp_path, GOOD.format(name="toy-gpu").replace("domain: 4", "domain: 4, latency: 0 us"))
    _assert_names_all_four(_error(path), path, "interconnect.scale_up.latency", "'0 us'", "greater than zero")


def test_the_cli_prints_every_problem_and_exits_2(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from moearch.cli.main import cli

    text = GOOD.format(name="toy-gpu").replace("units: 10", "units: -3").replace("vendor: Example\n", "")
    path = _write(tmp_path, text)
    chart = tmp_path / "roofline.png"
    result = CliRunner().invoke(cli, ["roofline", "-w", "llama-2-7b", "-d", str(path), "-o", str(chart)])
    assert result.exit_code == 2
    assert "2 problems" in result.output and "'vendor'" in result.output and "'compute.units'" in result.output
    assert not chart.exists()
