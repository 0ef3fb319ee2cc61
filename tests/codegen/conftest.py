"""Shared fixtures for the kernel-generator tests: plans, generated directories, compiled C-sims.

A C simulation is compiled once per shape per test session (``csim_kernel``); a missing g++ skips
the C-simulation tests with a reason, and fails them in CI (``CI=true``).
"""
from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from codegen.csim import compile_csim, find_cxx
from codegen.plan import KernelPlan, build_plan
from codegen.spec import KernelSpec
from codegen.writer import write_kernel


@dataclass(frozen=True)
class CompiledKernel:
    plan: KernelPlan
    out_dir: Path
    exe: Path


@pytest.fixture(scope="session")
def gxx() -> str:
    path = find_cxx()
    if path is None:
        if os.environ.get("CI") == "true":
            pytest.fail("g++ is required in CI for the HLS C-simulation tests")
        pytest.skip("g++ not found: the HLS C-simulation tests need a C++17 compiler")
    return path


@pytest.fixture(scope="session")
def csim_kernel(tmp_path_factory: pytest.TempPathFactory, gxx: str) -> Callable[[KernelSpec], CompiledKernel]:
    """Generate (through the writer) and compile a kernel, once per spec per session."""
    cache: dict[KernelSpec, CompiledKernel] = {}
    root = tmp_path_factory.mktemp("csim")

    def get(spec: KernelSpec) -> CompiledKernel:
        if spec not in cache:
            plan = build_plan(spec)
            out = root / f"k{len(cache)}"
            write_kernel(plan, out, rtl=False)
            exe = compile_csim(out / "hls", plan.name, build_dir=out / "bin", cxx=gxx)
            cache[spec] = CompiledKernel(plan, out, exe)
        return cache[spec]

    return get
