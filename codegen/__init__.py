"""Kernel generator: InTAR-style reconfigurable MoE layers as HLS C++ and Amaranth HDL."""
