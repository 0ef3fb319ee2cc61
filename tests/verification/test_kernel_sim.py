"""Generated kernels (``moearch codegen``) on Verilator and Icarus through the cocotb bench of
``verification.kernel_bench``: bit-exact against ``golden.moe_layer`` (random layers back to back,
the nominal routing, an expert without tokens, every token to one expert, random back-pressure on
every stream, a reset in the middle of a layer), weight requests exactly as the interface says,
and every stage's cycles against the FPGA model. One build per shape and simulator."""
from __future__ import annotations

from typing import Any

import pytest

from verification.kernel_bench import TESTS
from verification.kernel_bench.suite import DEFAULT_EXAMPLE, SHAPES

SIMS = ("verilator", "icarus")
#: Icarus simulates the default example's 64-PE array at about 600 cycles/s (Verilator: about
#: 20,000), so by default it runs only the nominal layer there; --slow runs everything
ICARUS_DEFAULT_EXAMPLE_TESTS = ("nominal_routing",)


class Runs:
    """One run of the kernel tests per (shape, simulator, tests), made on first use."""

    def __init__(self, sim_session: Any, kernel: Any) -> None:
        self.sim, self.kernel = sim_session, kernel
        self.cache: dict[tuple[str, str, tuple[str, ...] | None], Any] = {}

    def get(self, shape: str, sim: str, tests: tuple[str, ...] | None = None) -> Any:
        key = (shape, sim, tests)
        if key not in self.cache:
            directory = self.kernel(SHAPES[shape])
            result = self.sim.run_kernel(directory, sim=sim, tests=tests, seed=11, check=False)
            self.cache[key] = (result, self.sim.kernel_report(result))
        return self.cache[key]


@pytest.fixture(scope="module")
def runs(request: pytest.FixtureRequest, moearch_kernel: Any) -> Runs:
    from verification.pytest_plugin import _SESSION_KEY

    return Runs(request.config.stash[_SESSION_KEY], moearch_kernel)


#: the dataflow-expert kernel is an extra beyond the issue's shapes: Icarus by default (its
#: build takes a fraction of a second), Verilator with --slow
SLOW_CASES = {("df-e4-k2-gated", "verilator")}


def _tests_for(shape: str, sim: str) -> tuple[str, ...] | None:
    return ICARUS_DEFAULT_EXAMPLE_TESTS if (shape, sim) == (DEFAULT_EXAMPLE, "icarus") else None


CASES = [pytest.param(shape, sim, id=f"{shape}-{sim}",
                      marks=[pytest.mark.slow] if (shape, sim) in SLOW_CASES else [])
         for shape in SHAPES for sim in SIMS]


def _size(shape: str, key: str) -> int:
    args = SHAPES[shape]
    if key == "tokens":
        return int(args[args.index("--tokens") + 1])
    sizes = dict(kv.split("=") for kv in args[args.index("--shape") + 1].split(","))
    return int(sizes[key])


def _check_run(result: Any, report: dict[str, Any], shape: str) -> None:
    k_equals_e = _size(shape, "top_k") == _size(shape, "experts")
    for test in result.tests:
        if test.name == "expert_without_tokens" and k_equals_e:
            assert test.outcome == "skipped", test.message  # every expert gets every token
        else:
            assert test.passed, result.summary()
    for name, data in report.items():
        for i, layer in enumerate(data["layers"]):
            assert sum(layer["counts"]) == _size(shape, "tokens") * _size(shape, "top_k")
            if not layer["timing"]:
                continue
            # the model's cycles for the routing that ran: per stage and per layer within 10 %
            for st in layer["stages"]:
                err = abs(st["measured_cycles"] - st["predicted_cycles"]) / st["predicted_cycles"]
                assert err <= 0.10, (name, i, st)
            err = abs(layer["measured_cycles"] - layer["predicted_cycles"]) / layer["predicted_cycles"]
            assert err <= 0.10, (name, i, layer["measured_cycles"], layer["predicted_cycles"])
            # in a sequential stage pe_busy counts exactly the stage's MAC beats
            for st in layer["stages"]:
                if st["mode"] == "sequential":
                    assert st["busy_cycles"] == st["mac_beats"], (name, i, st)
        assert data["busy_outside_stages"] == 0


@pytest.mark.parametrize("shape,sim", CASES)
def test_kernel_bit_exact_and_on_model_cycles(runs: Runs, shape: str, sim: str) -> None:
    result, report = runs.get(shape, sim, _tests_for(shape, sim))
    wanted = _tests_for(shape, sim) or TESTS
    assert [t.name for t in result.tests] == list(wanted)
    _check_run(result, report, shape)
    if "expert_without_tokens" in report:
        layer = report["expert_without_tokens"]["layers"][0]
        empty = [e for e, c in enumerate(layer["counts"]) if c == 0]
        assert empty and not any(s["expert"] in empty for s in layer["stages"])
    if "all_tokens_one_expert" in report:
        layer = report["all_tokens_one_expert"]["layers"][0]
        assert max(layer["counts"]) == _size(shape, "tokens")


@pytest.mark.slow
def test_default_example_all_tests_on_icarus(runs: Runs) -> None:
    result, report = runs.get(DEFAULT_EXAMPLE, "icarus")
    _check_run(result, report, DEFAULT_EXAMPLE)


@pytest.mark.parametrize("shape", [pytest.param(s, marks=[pytest.mark.slow] if (s, "verilator") in SLOW_CASES
                                                 else []) for s in SHAPES])
def test_simulators_measure_the_same_cycles(runs: Runs, shape: str) -> None:
    tests = _tests_for(shape, "icarus")
    _, ver = runs.get(shape, "verilator", _tests_for(shape, "verilator"))
    _, ica = runs.get(shape, "icarus", tests)
    common = sorted(set(ver) & set(ica))
    assert common
    for name in common:
        for a, b in zip(ver[name]["layers"], ica[name]["layers"]):
            assert a["counts"] == b["counts"]
            assert [(s["stage"], s["measured_cycles"], s["busy_cycles"]) for s in a["stages"]] == \
                   [(s["stage"], s["measured_cycles"], s["busy_cycles"]) for s in b["stages"]]


def test_default_example_matches_the_manifest_and_keeps_the_array_busy(runs: Runs) -> None:
    """The issue's example under its nominal routing: the layer takes exactly the manifest's
    predicted cycles, stage by stage, and the PE array is busy >= 90 % of every sequential
    expert stage (the rest is the fill/drain of the last tile and the requantiser)."""
    result, report = runs.get(DEFAULT_EXAMPLE, "verilator")
    data = report["nominal_routing"]
    layer = data["layers"][0]
    assert layer["routing"] == "nominal" and layer["counts"] == [4] * 8
    assert layer["measured_cycles"] == layer["manifest_predicted_cycles"] == 25537
    manifest = data["manifest_stage_cycles"]
    # the manifest lists the dataflow front as four overlapping stages; the RTL reports one
    assert [s["measured_cycles"] for s in layer["stages"][1:]] == manifest[4:]
    experts = [s for s in layer["stages"] if s["mode"] == "sequential" and s["expert"] is not None]
    assert len(experts) == 24
    assert all(s["pe_utilisation"] >= 0.90 for s in experts), experts
    # useful MACs: 4 tokens on 8 PE rows leave half of every beat's rows empty
    assert all(0.45 <= s["mac_utilisation"] <= 0.5 for s in experts)
    assert result.test("nominal_routing").metrics["layer_cycle_error"] == 0.0
