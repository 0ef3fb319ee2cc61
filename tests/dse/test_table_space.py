"""Table spaces (``evaluator: table``): metrics read from measured points, exact; infeasible rows;
eval_cost_s; parameters and fixed; the errors for bad files and bad spaces."""
from __future__ import annotations

import json
import os

import pytest
from click.testing import CliRunner
from table_fixtures import (ABSENT, CORRECT, CSV, CSV_VALID, INVALID, csv_space, expected_cost_s, kt_space, mutated,
                            write_kt)

from accelerators.errors import ConfigError
from dse.evaluation import evaluate_chunk
from dse.measured import TableSource, load_table
from dse.space_file import load_space
from moearch.cli.main import cli


@pytest.fixture
def kt_file(tmp_path, write_space):
    write_kt(tmp_path)
    return write_space(kt_space())


def by_config(space, evaluations):
    return {tuple(space.values_of(space.design_at(i))[k] for k in ("block_x", "block_y", "unroll")): ev
            for i, ev in enumerate(evaluations)}


def test_kernel_tuner_space_every_design_exactly(kt_file):
    space = load_space(kt_file)
    assert space.names == ("block_x", "block_y", "unroll", "use_cmem")          # the file's keys, in its order
    assert [p.values for p in space.parameters] == [(16, 32, 64), (1, 2), (0, 1), (1,)]
    assert space.size == 12 and space.workload is None and space.base_device is None and space.domain == "table"
    results = by_config(space, evaluate_chunk(space, [space.design_at(i) for i in range(space.size)]))
    for config, (time, power, *_rest) in CORRECT.items():
        ev = results[config]
        assert ev.status == "ok" and ev.feasible
        assert ev.metrics == {"time_s": time / 1000, "power": power, "eval_cost_s": expected_cost_s(config)}
        assert ev.objectives == {"time_s": time / 1000}
    for config, (why, _value, compilation) in INVALID.items():
        ev = results[config]
        assert (ev.status, ev.feasible, ev.violation) == ("infeasible", False, 1.0)
        # what trying it cost stays on its row: compilation + framework (2 ms), no runs
        assert ev.metrics == {"eval_cost_s": pytest.approx((compilation + 2.0) / 1000, rel=1e-15)}
        assert ev.violated == (f"valid configuration: measured invalid: {why}",)
    for config in ABSENT:
        assert results[config].status == "infeasible" and results[config].violation == 1.0
        assert results[config].violated == ("valid configuration: not in the table",)


def test_eval_cost_sums_compile_framework_validation_and_runtimes(kt_file):
    space = load_space(kt_file)
    (ev,) = evaluate_chunk(space, [space.design_of({"block_x": 32, "block_y": 2, "unroll": 1, "use_cmem": 1})])
    # 1500 ms compile + 40 ms framework + 20 ms validation + 4 x 1.25 ms runs; search_algorithm (7 ms) left out
    assert ev.metrics["eval_cost_s"] == pytest.approx(1.565, rel=1e-15)


def test_gzip_file_reads_the_same(tmp_path, write_space):
    write_kt(tmp_path)
    write_kt(tmp_path, "kt.json.gz", compress=True)
    plain, packed = load_space(write_space(kt_space())), load_space(write_space(kt_space("kt.json.gz")))
    designs = [plain.design_at(i) for i in range(plain.size)]
    outcomes = [[(ev.status, ev.metrics, ev.violated) for ev in evaluate_chunk(s, designs)] for s in (plain, packed)]
    assert outcomes[0] == outcomes[1] and plain.table.digest != packed.table.digest


def test_csv_space_types_validity_and_metrics(tmp_path, write_space):
    (tmp_path / "points.csv").write_text(CSV)
    space = load_space(write_space(csv_space()))
    assert space.names == ("block_x", "layout", "unroll")
    assert [p.values for p in space.parameters] == [(16, 32, 64), ("row", "col"), (0, 1)]
    assert space.parameters[0].ordinal and not space.parameters[1].ordinal
    evaluations = evaluate_chunk(space, [space.design_at(i) for i in range(space.size)])
    results = {tuple(space.values_of(space.design_at(i)).values()): ev for i, ev in enumerate(evaluations)}
    for config, (time, power) in CSV_VALID.items():
        assert results[config].status == "ok" and results[config].metrics == {"time_s": time, "power_w": power}
    assert results[(64, "col", 0)].metrics == {"power_w": 245.0}               # time not measured: left out
    assert results[(16, "row", 1)].violated == ("valid configuration: measured invalid",)
    assert results[(32, "row", 1)].violated == ("valid configuration: measured invalid: compile",)
    assert results[(16, "col", 1)].violated == ("valid configuration: not in the table",)
    assert sum(ev.status == "ok" for ev in evaluations) == 6 and len(evaluations) == 12


def test_csv_default_parameters_are_the_other_columns(tmp_path, write_space):
    (tmp_path / "points.csv").write_text("\n".join(line.rsplit(",", 1)[0] for line in CSV.splitlines()))  # no note
    space = load_space(write_space(csv_space().replace("parameters: [block_x, layout, unroll], ", "")))
    assert space.names == ("block_x", "layout", "unroll")


def test_parameters_groups_subsets_and_fixed(tmp_path, write_space):
    write_kt(tmp_path)
    space = load_space(write_space(kt_space(extra="""
parameters:
  - {name: block_x, agent: threads, values: [64, 16]}
  - {name: unroll, agent: loops}
fixed: {block_y: 1, use_cmem: 1}
""")))
    assert space.names == ("block_x", "unroll") and space.parameters[0].values == (16, 64)
    assert space.groups == {"threads": (0,), "loops": (1,)} and space.fixed == (("block_y", 1), ("use_cmem", 1))
    evaluations = evaluate_chunk(space, [space.design_at(i) for i in range(space.size)])
    assert [ev.status for ev in evaluations] == ["ok", "ok", "ok", "infeasible"]   # (64, 1, 1) is not in the table
    assert evaluations[1].metrics["time_s"] == CORRECT[(16, 1, 1)][0] / 1000


def test_a_subset_of_parameters_without_fixed_is_refused(tmp_path, write_space):
    write_kt(tmp_path)
    with pytest.raises(ConfigError) as error:
        load_space(write_space(kt_space(extra="parameters: [{name: block_x}, {name: unroll}]\n")))
    assert error.value.field == "parameters"
    assert "missing: block_y, use_cmem" in str(error.value) and "fixed: {block_y: 1, use_cmem: 1}" in str(error.value)


def test_user_constraints_on_parameters_and_metrics(tmp_path, write_space):
    write_kt(tmp_path)
    space = load_space(write_space(kt_space(extra='constraints: ["block_x <= 32", "eval_cost_s <= 1.5"]\n')))
    results = by_config(space, evaluate_chunk(space, [space.design_at(i) for i in range(space.size)]))
    assert results[(64, 1, 0)].status == "infeasible" and results[(64, 1, 0)].violated == ("block_x <= 32",)
    best = results[(32, 2, 1)]                        # the fastest point costs 1.565 s to measure
    assert best.status == "ok" and not best.feasible and best.violated == ("eval_cost_s <= 1.5",)
    assert results[(32, 1, 0)].feasible


def test_workload_base_device_and_domain_are_refused(tmp_path, write_space):
    write_kt(tmp_path)
    with pytest.raises(ConfigError) as error:
        load_space(write_space(kt_space(extra="workload: {model: mixtral-8x7b}\nbase_device: h100-sxm\ndomain: cluster\n")))
    assert [p.field for p in error.value.problems] == ["workload", "base_device", "domain"]
    assert all("not used with evaluator: table" in p.allowed for p in error.value.problems)


def test_a_model_space_refuses_a_table_section(small_space_file, write_space):
    with pytest.raises(ConfigError, match="only with evaluator: table"):
        load_space(write_space(small_space_file.read_text() + "table: {path: x.json, format: kernel-tuner}\n"))


def problems_of(text_or_path, write_space) -> list[ConfigError]:
    with pytest.raises(ConfigError) as error:
        load_space(write_space(text_or_path))
    return list(error.value.problems)


def test_space_section_errors_all_at_once(tmp_path, write_space):
    write_kt(tmp_path)
    problems = problems_of(kt_space(extra="""
parameters:
  - {name: block_z}
  - {name: block_x, agent: Threads}
  - {name: unroll, values: [0, 5]}
  - {name: block_y, range: {min: 1, max: 2, step: 1}}
fixed: {use_cmem: 2}
constraints: ["speed <= 1"]
""").replace("metric: time_s", "metric: latency_s"), write_space)
    fields = [p.field for p in problems]
    assert fields == ["fixed.use_cmem", "parameters[0].name", "parameters.block_x.agent", "parameters.unroll.values",
                      "parameters[3].range", "objectives[0].metric", "constraints[0]"]
    assert "block_x, block_y, unroll, use_cmem" in problems[1].allowed
    assert "a value of use_cmem in the table: 1" in problems[0].allowed
    assert "time_s, eval_cost_s, power" in problems[5].allowed


def test_parameters_named_twice_or_also_fixed(tmp_path, write_space):
    write_kt(tmp_path)
    problems = problems_of(kt_space(extra="""
parameters: [{name: block_x}, {name: block_x}, {name: unroll}, {name: block_y}]
fixed: {unroll: 0, use_cmem: 1, threads: 4}
"""), write_space)
    assert [(p.field, p.value) for p in problems] == [("fixed.threads", 4), ("parameters.block_x", "block_x"),
                                                      ("fixed.unroll", "unroll")]
    (problem,) = problems_of(kt_space(extra="fixed: {block_x: 16, block_y: 1, unroll: 0, use_cmem: 1}\n"),
                             write_space)
    assert problem.field == "fixed" and "at least one configuration key left as a parameter" in problem.allowed


def test_table_section_errors(tmp_path, write_space):
    problems = problems_of("""
name: t
evaluator: table
table: {path: 3, format: excel, columns: [a]}
objectives: [{metric: time_s}]
""", write_space)
    assert [p.field for p in problems] == ["table.columns", "table.path", "table.format"]
    problems = problems_of("""
name: t
evaluator: table
table: {path: p.csv, format: csv, parameters: [a, a]}
objectives: [{metric: time_s}]
""", write_space)
    assert [p.field for p in problems] == ["table.metrics", "table.parameters"]
    problems = problems_of(kt_space().replace("format: kernel-tuner", "format: kernel-tuner, metrics: {t: s}"),
                           write_space)
    assert problems[0].field == "table.metrics" and "only for format: csv" in problems[0].allowed


def test_unreadable_file_names_the_space_field_and_path(tmp_path, write_space):
    (problem,) = problems_of(kt_space("missing.json"), write_space)
    assert problem.field == "table.path" and problem.value == str(tmp_path / "missing.json")
    assert "No such file" in problem.allowed and problem.file.endswith(".yaml")


def test_bad_json_and_bad_gzip(tmp_path, write_space):
    (tmp_path / "kt.json").write_text('{"results": [1,]}')
    (problem,) = problems_of(kt_space(), write_space)
    assert problem.file == str(tmp_path / "kt.json") and problem.field == "line 1, column 16"
    assert "valid JSON" in problem.allowed
    (tmp_path / "kt.json").write_bytes(b"\x1f\x8b\x08\x00broken")
    (problem,) = problems_of(kt_space(), write_space)
    assert "a complete gzip file" in problem.allowed


def test_kernel_tuner_file_errors_all_at_once(tmp_path, write_space):
    def change(doc):
        doc["metadata"]["timeunit"] = "fortnights"
        doc["results"][0]["configuration"]["block_x"] = [16]
        doc["results"][1]["configuration"].pop("unroll")
        doc["results"][2]["measurements"][0]["value"] = "fast"
        doc["results"][6]["times"]["runtimes"] = "many"
        doc["results"][5]["invalidity"] = None
    write_kt(tmp_path, document=mutated(change))
    problems = problems_of(kt_space(), write_space)
    assert [p.field for p in problems] == ["metadata.timeunit", "results[0].configuration.block_x",
                                           "results[1].configuration", "results[2].measurements[0].value",
                                           "results[5].invalidity", "results[6].times.runtimes"]
    assert all(p.file == str(tmp_path / "kt.json") for p in problems)
    assert "miliseconds" in problems[0].allowed and "block_x, block_y, unroll, use_cmem" in problems[2].allowed


def test_rows_without_the_objective_measurement(tmp_path, write_space):
    def change(doc):
        for result in doc["results"]:
            if result["invalidity"] == "correct":
                result["measurements"] = [m for m in result["measurements"] if m["name"] != "power"] \
                    if result["configuration"]["block_x"] == 16 else result["measurements"]
    write_kt(tmp_path, document=mutated(change))
    problems = problems_of(kt_space().replace("metric: time_s", "metric: power"), write_space)
    assert [p.field for p in problems] == ["results[0]", "results[1]", "results[2]"]
    assert all("a measurement of 'power'" in p.allowed for p in problems)
    assert problems[0].value == {"block_x": 16, "block_y": 1, "unroll": 0, "use_cmem": 1}
    # a space that fixes block_x to a value whose rows all have it loads
    space = load_space(write_space(kt_space(extra="fixed: {block_x: 32}\n").replace("metric: time_s", "metric: power")))
    assert space.names == ("block_y", "unroll", "use_cmem")


def test_many_rows_with_one_mistake_are_listed_five_and_counted(tmp_path, write_space):
    def change(doc):
        for result in doc["results"]:
            result["measurements"] = [{"name": "time", "value": None, "unit": ""}]
            result["invalidity"] = "correct"
    write_kt(tmp_path, document=mutated(change))
    problems = problems_of(kt_space(), write_space)
    assert len(problems) == 6 and problems[-1].field == "results[*].measurements[*].value"
    assert problems[-1].value == "3 more like the 5 above"


def test_duplicate_configurations(tmp_path, write_space):
    def same(doc):
        doc["results"].append(dict(doc["results"][0]))
    write_kt(tmp_path, document=mutated(same))
    assert load_space(write_space(kt_space())).size == 12                     # an identical repeat is one point

    def other(doc):
        doc["results"].append({**doc["results"][0], "measurements": [{"name": "time", "value": 9.0, "unit": ""}]})
    write_kt(tmp_path, document=mutated(other))
    (problem,) = problems_of(kt_space(), write_space)
    assert problem.field == "results[8]" and "results[0] has this configuration" in problem.allowed


def test_csv_file_errors(tmp_path, write_space):
    (tmp_path / "points.csv").write_text(CSV.replace("power_w", "watts"))
    (problem,) = problems_of(csv_space(), write_space)
    assert problem.field == "header" and "a column 'power_w' (declared in the space's table.metrics)" in problem.allowed
    (tmp_path / "points.csv").write_text(CSV + "16,col,,0.1,1,1,\n32,col,1,fast,1,1,\n64,row\n16,row,0,0.5,9,1,\n")
    problems = problems_of(csv_space(), write_space)
    assert [p.field for p in problems] == ["line 10, column unroll", "line 11, column time_s", "line 12",
                                           "line 13"]
    assert "line 2 has this configuration" in problems[3].allowed
    (tmp_path / "points.csv").write_text(CSV)
    problems = problems_of(csv_space(objective="time_s"), write_space)
    assert [p.field for p in problems] == ["line 7"] and "a measurement of 'time_s'" in problems[0].allowed


def test_table_is_read_once_per_path_and_mtime(tmp_path):
    path = write_kt(tmp_path)
    source = TableSource(str(path), "kernel-tuner")
    first = load_table(source)
    assert load_table(source) is first
    document = mutated(lambda doc: doc["results"][0]["measurements"][0].update(value=3.5))
    path.write_text(json.dumps(document))
    os.utime(path, ns=(path.stat().st_atime_ns, path.stat().st_mtime_ns + 10**9))
    second = load_table(source)
    assert second is not first and second.digest != first.digest
    with pytest.raises(ConfigError, match="the table file changed"):
        load_table(TableSource(str(path), "kernel-tuner", digest=first.digest))


def test_fingerprint_follows_the_table_contents(tmp_path, write_space):
    write_kt(tmp_path)
    space_file = write_space(kt_space())
    before = load_space(space_file).fingerprint
    assert load_space(write_space(kt_space())).fingerprint == before
    path = write_kt(tmp_path, document=mutated(lambda doc: doc["results"][0]["measurements"][0].update(value=3.5)))
    os.utime(path, ns=(path.stat().st_atime_ns, path.stat().st_mtime_ns + 10**9))
    assert load_space(space_file).fingerprint != before


def test_check_command_on_a_table_space(kt_file):
    result = CliRunner().invoke(cli, ["dse", "check", str(kt_file), "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["size"] == 12 and data["domain"] == "table" and data["base_device"] is None
    assert data["table"]["format"] == "kernel-tuner" and data["table"]["path"].endswith("kt.json")
    assert set(data["metrics"]) == {"time_s", "eval_cost_s", "power"} and data["metrics"]["power"] == "W"
    assert [p["target"] for p in data["parameters"]] == ["table"] * 4
    result = CliRunner().invoke(cli, ["dse", "check", str(kt_file)])
    assert result.exit_code == 0 and "table kt.json" in result.output
