"""Amaranth components of the InTAR-style MoE kernel (spec: ``docs/kernel-arithmetic.md``).

One component a module, each tested bit for bit against ``verification.golden``; the timing
contract of each is in its module docstring and in the spec's "Hardware timing" section.
"""
from .combiner import Combiner
from .gate_normalizer import GateNormalizer
from .lookup_table import LookupTable
from .pe_array import PEArray
from .requantizer import Requantizer
from .serializer import Serializer
from .topk import TopK

__all__ = ["Combiner", "GateNormalizer", "LookupTable", "PEArray", "Requantizer", "Serializer",
           "TopK"]
