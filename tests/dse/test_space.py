"""Space files: loading, expansion, design encoding, and one clear error per kind of mistake."""
from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from accelerators.errors import ConfigError
from dse.space_file import load_space, parse_space

EXAMPLES = sorted((Path(__file__).resolve().parents[2] / "examples").glob("*.yaml"))


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.stem)
def test_every_example_space_loads(path):
    try:
        space = load_space(path)
    except ConfigError as error:
        if error.field == "table.path":  # a measured space (evaluator: table) whose data set is elsewhere
            pytest.skip(f"{path.name}: its table file is not on this machine ({error.value})")
        raise
    assert space.size >= 2 and space.objectives and len(space.groups) >= 2


def test_small_space_shape(small_space):
    s = small_space
    assert s.names == ("tp", "ep", "batch", "dtype")
    assert s.parameters[2].values == (8, 16, 32, 64, 128, 256)   # range 8..256, log2_step 1
    assert s.cardinalities == (4, 4, 6, 2) and s.size == 192
    assert s.groups == {"parallelism": (0, 1), "serving": (2, 3)}
    assert [p.target for p in s.parameters] == ["knob", "knob", "workload", "knob"]
    assert s.parameters[3].ordinal is False and s.parameters[0].ordinal is True


def test_settings_split_by_target(small_space):
    design = small_space.design_of({"tp": 2, "ep": 4, "batch": 64, "dtype": "fp8"})
    settings = small_space.settings(design)
    assert settings.workload.batch == 64 and settings.workload.context == 1024
    assert settings.knob_map == {"tp": 2, "ep": 4, "dtype": "fp8"}
    assert small_space.key(design) == '{"batch":64,"dtype":"fp8","ep":4,"tp":2}'


@settings(max_examples=100, deadline=None)
@given(st.integers(min_value=0, max_value=191))
def test_design_index_round_trip(index):
    space = _small()
    design = space.design_at(index)
    assert space.index_of(design) == index
    assert space.design_of(space.values_of(design)) == design


_cache = {}


def _small():
    if "s" not in _cache:
        from dse_fixtures import SMALL
        _cache["s"] = parse_space(SMALL)
    return _cache["s"]


def test_numeric_values_are_sorted_and_linear_ranges_expand(write_space):
    space = load_space(write_space("""
name: s
workload: {model: mixtral-8x7b}
base_device: h100-sxm
parameters:
  - {name: tp, values: [8, 1, 4, 2]}
  - {name: zipf, range: {min: 0, max: 1, step: 0.25}}
objectives: [{metric: latency_s, goal: min}]
"""))
    assert space.parameters[0].values == (1, 2, 4, 8)
    assert space.parameters[1].values == (0.0, 0.25, 0.5, 0.75, 1.0)
    assert list(space.groups) == ["default"]


def test_device_field_parameters(write_space):
    space = load_space(write_space("""
name: s
workload: {model: mixtral-8x7b}
base_device: h100-sxm
parameters:
  - {name: hbm_capacity, target: device.memory.hbm.capacity, values: ["80 GB", "141 GB"]}
  - {name: tp, values: [1, 2]}
objectives: [{metric: latency_s, goal: min}]
"""))
    settings = space.settings(space.design_of({"hbm_capacity": "141 GB", "tp": 2}))
    assert settings.device == (("memory.hbm.capacity", "141 GB"),)


BASE = """
name: s
workload: {model: mixtral-8x7b}
base_device: h100-sxm
parameters:
  - {name: tp, values: [1, 2]}
objectives: [{metric: latency_s, goal: min}]
"""


@pytest.mark.parametrize("old, new, field, words", [
    ("- {name: tp, values: [1, 2]}", "- {name: pe_rows, values: [1, 2]}", "parameters.pe_rows.name", "knob"),
    ("- {name: tp, values: [1, 2]}", "- {name: tp, values: []}", "parameters.tp.values", "non-empty"),
    ("- {name: tp, values: [1, 2]}", "- {name: tp, values: [1, 1]}", "parameters.tp.values", "distinct"),
    ("- {name: tp, values: [1, 2]}", "- {name: tp, values: [0, 2]}", "parameters.tp.values", ">= 1"),
    ("- {name: tp, values: [1, 2]}", "- {name: tp, range: {min: 4, max: 2, log2_step: 1}}", "parameters.tp.range.max",
     ">= min"),
    ("- {name: tp, values: [1, 2]}", "- {name: tp, values: [1, 2], agent: Compute}", "parameters.tp.agent",
     "lower-case"),
    ("- {name: tp, values: [1, 2]}", "- {name: x, target: device.memory.hbm.bandwidth, values: ['1 TB/s']}",
     "parameters.x.values", "read_bandwidth"),
    ("- {name: tp, values: [1, 2]}", "- {name: x, target: device.memory.hbm.capacity, values: [80]}",
     "parameters.x.values", "unit"),
    ("objectives: [{metric: latency_s, goal: min}]", "objectives: [{metric: dsp, goal: min}]",
     "objectives[0].metric", "metric of domain 'cluster'"),
    ("objectives: [{metric: latency_s, goal: min}]", "objectives: [{metric: latency_s, goal: lowest}]",
     "objectives[0].goal", "min or max"),
    ("base_device: h100-sxm", "base_device: h100-sxm\nconstraints: ['dsp <= 9024']", "constraints[0]",
     "neither a numeric parameter"),
    ("base_device: h100-sxm", "base_device: h100-sxm\nconstraints: ['tp <= ']", "constraints[0]", "position"),
    ("base_device: h100-sxm", "base_device: h100-sxm\nevaluator: rtl", "evaluator", "RTL is generated for: fpga-kernel"),
    ("base_device: h100-sxm", "base_device: h100-sxm\nevaluator: vhdl", "evaluator", "archmodel, table, rtl"),
    ("base_device: h100-sxm", "base_device: h100-sxm\nspeed: fast", "speed", "allowed"),
    ("base_device: h100-sxm", "base_device: no-such-device", "base_device", "catalog"),
    ("base_device: h100-sxm", "base_device: alveo-u280\ndomain: cluster", "base_device", "kind gpu or npu"),
    ("{model: mixtral-8x7b}", "{model: mixtral-8x7b, phase: training}", "workload.phase", "prefill, decode, serve"),
    ("{model: mixtral-8x7b}", "{model: gpt-5}", "workload.model", "mixtral-8x7b"),
    ("name: s", "name: S_1", "name", "lower-case"),
])
def test_one_clear_error_per_mistake(write_space, old, new, field, words):
    path = write_space(BASE.replace(old, new, 1))
    with pytest.raises(ConfigError) as info:
        load_space(path)
    error = info.value
    assert error.file == str(path)
    assert error.field == field, str(error)
    assert words in str(error)


def test_duplicate_yaml_key_and_string_parameter_in_constraint(write_space):
    with pytest.raises(ConfigError, match="duplicate key"):
        load_space(write_space(BASE.replace("name: s", "name: s\nname: t")))
    text = BASE.replace("- {name: tp, values: [1, 2]}", "- {name: dtype, values: [bf16, fp8]}")
    with pytest.raises(ConfigError, match="non-numeric"):
        load_space(write_space(text + "constraints: ['dtype <= 1']\n"))


def test_design_checks(small_space):
    with pytest.raises(ValueError):
        small_space.check((0, 0, 0))
    with pytest.raises(ValueError):
        small_space.check((0, 0, 6, 0))


def test_every_mistake_of_a_space_file_in_one_error():
    """Four independent mistakes (a name, a parameter's agent, an objective's goal, a constraint's
    metric): one ConfigError that names all four, each with the file, field, value and what is allowed."""
    from dse_fixtures import SMALL

    text = (SMALL.replace("name: small-cluster", "name: Small_Cluster")
            .replace("values: [bf16, fp8], agent: serving", "values: [bf16, fp8], agent: Serving!")
            .replace("{metric: energy_per_token_j, goal: min}", "{metric: energy_per_token_j, goal: lowest}")
            .replace('"tpot_s <= 0.05"', '"latency_ms <= 50"'))
    with pytest.raises(ConfigError) as info:
        parse_space(text, source="bad-space.yaml")
    error = info.value
    assert [p.field for p in error.problems] == ["name", "parameters.dtype.agent", "objectives[1].goal",
                                                 "constraints[1]"], str(error)
    assert all(p.file == "bad-space.yaml" for p in error.problems)
    assert str(error).startswith("bad-space.yaml: 4 problems:")


@pytest.mark.parametrize("edit, field", [
    ("objectives: [{metric: [energy_j], goal: min}]", "objectives[0].metric"),   # unhashable: was a TypeError
    ("objectives: [{metric: {a: 1}, goal: min}]", "objectives[0].metric"),
    ("parameters:\n  - {name: batch, range: {min: 8, max: 256, log2_step: 1.0e+300}}", None),  # was an OverflowError
    ("parameters:\n  - {name: batch, range: {min: 8, max: 256, log2_step: .inf}}", "parameters.batch.range.log2_step"),
    ("parameters:\n  - {name: batch, range: {min: 8, max: 256, step: .inf}}", "parameters.batch.range.step"),
])
def test_values_of_the_wrong_type_or_size_are_config_errors(edit: str, field: str | None) -> None:
    """The fuzzer's space-file findings: each is one ConfigError (or a valid space), never a traceback."""
    from dse_fixtures import SMALL

    key = edit.split(":", 1)[0]
    lines = [line for line in SMALL.strip().splitlines() if not line.startswith(key) and
             not (key == "parameters" and line.startswith("  - "))]
    text = "\n".join(lines) + "\n" + edit + "\n"
    if field is None:
        assert parse_space(text).parameters[0].values == (8,)
        return
    with pytest.raises(ConfigError) as caught:
        parse_space(text)
    assert any(p.field == field for p in caught.value.problems), [p.field for p in caught.value.problems]
