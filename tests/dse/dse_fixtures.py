"""Space texts shared by the dse tests."""

SMALL = """
name: small-cluster
workload: {model: mixtral-8x7b, phase: decode, batch: 32, context: 1024}
base_device: h100-sxm
parameters:
  - {name: tp, values: [1, 2, 4, 8], agent: parallelism}
  - {name: ep, values: [1, 2, 4, 8], agent: parallelism}
  - {name: batch, range: {min: 8, max: 256, log2_step: 1}, agent: serving}
  - {name: dtype, values: [bf16, fp8], agent: serving}
constraints: ["memory_fraction <= 0.9", "tpot_s <= 0.05"]
objectives: [{metric: tokens_per_s_per_device, goal: max}, {metric: energy_per_token_j, goal: min}]
"""
