"""cocotb verification of a kernel that ``moearch codegen`` generated.

* :mod:`verification.kernel_bench.kernel` - manifest, test data with crafted routings, the
  model's predicted stages (no cocotb import);
* :mod:`verification.kernel_bench.bench` - the cocotb harness (token driver, weight memory,
  output monitor, stage probe);
* :mod:`verification.kernel_bench.cocotb_kernel` - the cocotb tests (module name
  :data:`TEST_MODULE`), configured through ``MOEARCH_KERNEL_DIR`` and ``MOEARCH_KERNEL_CONFIG``.
"""
from verification.kernel_bench.kernel import (KernelDir, Layer, PredictedStage,
                                              assignment_for_counts, can_craft_counts, make_layer,
                                              predicted_stages)

TEST_MODULE = "verification.kernel_bench.cocotb_kernel"
KERNEL_ENV = "MOEARCH_KERNEL_DIR"
CONFIG_ENV = "MOEARCH_KERNEL_CONFIG"
#: the JSON file the cocotb tests write beside the simulator's results (per-stage cycles, PE use)
REPORT_NAME = "kernel_bench.json"
TESTS = ("random_layers", "nominal_routing", "expert_without_tokens", "all_tokens_one_expert",
         "back_pressure", "reset_mid_layer")

__all__ = ["CONFIG_ENV", "KERNEL_ENV", "REPORT_NAME", "KernelDir", "Layer", "PredictedStage", "TESTS",
           "TEST_MODULE", "assignment_for_counts", "can_craft_counts", "make_layer",
           "predicted_stages"]
