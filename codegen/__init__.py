"""Kernel generator: InTAR-style reconfigurable MoE layers as HLS C++ and Amaranth HDL.

``codegen.generate_kernel(spec, out_dir) -> WriteResult`` (``.manifest``) is the Python API of
``moearch codegen``; the scheduler is :mod:`codegen.schedule`.
"""
from .generate import generate_kernel

__all__ = ["generate_kernel"]
