"""The built-in workload catalog: published Hugging Face ``config.json`` files under ``configs/``.

Each built-in is read by the same loader as a user's file; the registry adds only the catalog
name and the URL the file was taken from.
"""
from __future__ import annotations

import os
from pathlib import Path

from accelerators.errors import ConfigError
from archmodel.workload import ModelConfig
from archmodel.workloads.hf_config import load_hf_config

CONFIG_DIR = Path(__file__).resolve().parent / "configs"

# catalog name -> Hugging Face repository whose config.json is stored as configs/<name>.json
_REPOS: dict[str, str] = {
    "deepseek-v3": "deepseek-ai/DeepSeek-V3",
    "gpt-oss-120b": "openai/gpt-oss-120b",
    "gpt-oss-20b": "openai/gpt-oss-20b",
    "gpt2-medium": "openai-community/gpt2-medium",
    "llama-2-7b": "meta-llama/Llama-2-7b-hf",
    "llama-3.1-8b": "meta-llama/Llama-3.1-8B",
    "llama-3.1-70b": "meta-llama/Llama-3.1-70B",
    "llama-3.3-70b": "meta-llama/Llama-3.3-70B-Instruct",  # released only as an instruct model
    "mixtral-8x22b": "mistralai/Mixtral-8x22B-v0.1",
    "mixtral-8x7b": "mistralai/Mixtral-8x7B-v0.1",
    "qwen2-57b-a14b": "Qwen/Qwen2-57B-A14B",
    "qwen3-235b-a22b": "Qwen/Qwen3-235B-A22B",
    "qwen3-30b-a3b": "Qwen/Qwen3-30B-A3B",
    "qwen3-32b": "Qwen/Qwen3-32B",
}

# catalog alias -> (stored config it shares, its own repository): models released with the
# architecture of another, their config.json equal in every key the loader reads
# (DeepSeek-R1 is DeepseekV3ForCausalLM with DeepSeek-V3's shapes: 61 layers, 256 routed experts).
_ALIASES: dict[str, tuple[str, str]] = {
    "deepseek-r1": ("deepseek-v3", "deepseek-ai/DeepSeek-R1"),
}


def source_url(name: str) -> str:
    """The published ``config.json`` a built-in workload was copied from (an alias: its own)."""
    repo = _ALIASES[name][1] if name in _ALIASES else _REPOS[name]
    return f"https://huggingface.co/{repo}/blob/main/config.json"


def list_workloads() -> list[str]:
    """Names of the built-in workloads (aliases included), sorted."""
    return sorted([*_REPOS, *_ALIASES])


def load_workload(name_or_path: str | os.PathLike[str]) -> ModelConfig:
    """A built-in workload by name, or a user ``config.json`` (file, or directory holding one)."""
    key = os.fspath(name_or_path)
    name = key.strip().lower()
    if name in _REPOS or name in _ALIASES:
        stored = _ALIASES[name][0] if name in _ALIASES else name
        return load_hf_config(CONFIG_DIR / f"{stored}.json", name=name, source=source_url(name))
    if os.path.exists(key) or os.sep in key or "/" in key or key.endswith(".json"):
        return load_hf_config(key)
    raise ConfigError(None, "workload", key,
                      f"one of: {', '.join(list_workloads())}; or a path to a Hugging Face "
                      "config.json (or a directory containing one)")
