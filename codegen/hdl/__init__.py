"""Amaranth components of the InTAR-style MoE kernel (spec: ``docs/kernel-arithmetic.md``).

Each module holds one component, tested bit for bit against ``verification.golden``.
"""
