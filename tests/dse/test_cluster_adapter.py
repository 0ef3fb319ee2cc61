"""The cluster adapter agrees with archmodel called directly, and a design's numbers do not depend
on which designs share its batch."""
from __future__ import annotations

import json

import numpy as np
import pytest
from dse_fixtures import SMALL

from accelerators.catalog import load_device
from archmodel.energy import step_energy
from archmodel.parallel import Parallelism
from archmodel.precision import Precision
from archmodel.serve import serve
from archmodel.step import model_step
from archmodel.workloads import load_workload
from dse.evaluation import evaluate_chunk
from dse.space_file import parse_space


def test_decode_metrics_equal_model_step(small_space):
    design = small_space.design_of({"tp": 4, "ep": 2, "batch": 64, "dtype": "fp8"})
    (ev,) = evaluate_chunk(small_space, [design])
    assert ev.status == "ok"
    step = model_step(load_workload("mixtral-8x7b"), load_device("h100-sxm"), b=64, s=1, c=1024,
                      precision=Precision.of("fp8"), parallel=Parallelism(tp=4, ep=2))
    t = float(step.latency)
    assert ev.metrics["latency_s"] == pytest.approx(t, rel=1e-12)
    assert ev.metrics["tokens_per_s"] == pytest.approx(64 / t, rel=1e-12)
    assert ev.metrics["tokens_per_s_per_device"] == pytest.approx(64 / t / 4, rel=1e-12)
    joules = step_energy(step, load_device("h100-sxm"), Precision.of("fp8"), Parallelism(tp=4, ep=2))
    expected = 4 * (float(joules.dynamic_j) + joules.figures.static_power * t)     # 4 devices, as serve counts
    assert ev.metrics["energy_j"] == pytest.approx(expected, rel=1e-12)
    assert ev.metrics["energy_j"] < 4 * 700 * t                                     # below the TDP bound
    assert ev.objectives == {"tokens_per_s_per_device": ev.metrics["tokens_per_s_per_device"],
                             "energy_per_token_j": ev.metrics["energy_per_token_j"]}


def test_serve_phase_equals_archmodel_serve():
    space = parse_space(SMALL.replace("phase: decode, batch: 32, context: 1024",
                                      "phase: serve, batch: 32, context: 512, output: 64"))
    design = space.design_of({"tp": 2, "ep": 1, "batch": 32, "dtype": "bf16"})
    (ev,) = evaluate_chunk(space, [design])
    result = serve(load_workload("mixtral-8x7b"), load_device("h100-sxm"), isl=512, osl=64, batch=32,
                   precision=Precision.of("bf16"), parallel=Parallelism(tp=2))
    assert ev.metrics["ttft_s"] == result.ttft_s and ev.metrics["tpot_s"] == result.tpot_s
    assert ev.metrics["tokens_per_s"] == result.output_tokens_per_s
    assert ev.metrics["latency_s"] == pytest.approx(result.prefill_s + result.decode_s)
    assert ev.metrics["energy_per_token_j"] == pytest.approx(result.energy_j_per_token, rel=1e-12)


def test_invalid_configurations_are_infeasible_not_failed(small_space):
    design = small_space.design_of({"tp": 2, "ep": 4, "batch": 8, "dtype": "bf16"})  # ep 4 does not divide tp*dp 2
    (ev,) = evaluate_chunk(small_space, [design])
    assert ev.status == "infeasible" and "a divisor of tp*dp" in ev.violated[0]


def test_metrics_do_not_depend_on_batch_mates(small_space):
    rng = np.random.default_rng(0)
    designs = [small_space.design_at(int(i)) for i in rng.choice(small_space.size, 60, replace=False)]
    together = evaluate_chunk(small_space, designs)
    alone = [evaluate_chunk(small_space, [d])[0] for d in designs]
    shuffled = evaluate_chunk(small_space, designs[::-1])[::-1]
    as_text = lambda e: json.dumps([e.status, e.metrics], sort_keys=True)  # noqa: E731 - NaN-safe equality
    assert [as_text(e) for e in together] == [as_text(e) for e in alone] == [as_text(e) for e in shuffled]
    assert sum(e.status == "ok" for e in together) >= 10
