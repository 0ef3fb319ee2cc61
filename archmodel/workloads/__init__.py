"""Workloads: built-in Hugging Face configs, the offline ``config.json`` loader and the catalog.

>>> from archmodel.workloads import load_workload
>>> load_workload("mixtral-8x7b").moe.top_k
2
"""
from archmodel.workloads.hf_config import SUPPORTED_MODEL_TYPES, config_from_dict, load_hf_config
from archmodel.workloads.registry import list_workloads, load_workload, source_url

__all__ = [
    "SUPPORTED_MODEL_TYPES",
    "config_from_dict",
    "list_workloads",
    "load_hf_config",
    "load_workload",
    "source_url",
]
