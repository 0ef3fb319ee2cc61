"""Engine-faithful serving: engine presets and the in-flight-batching simulation.

>>> from archmodel.serving import engine_preset
>>> engine_preset("vllm").kv_block_tokens
16
"""
from archmodel.serving.engines import PRESETS, SOURCES, UNCONFIRMED, EnginePreset, engine_preset
from archmodel.serving.sim import LIMITS, KvPool, SimResult, kv_pool, simulate

__all__ = ["LIMITS", "PRESETS", "SOURCES", "UNCONFIRMED", "EnginePreset", "KvPool", "SimResult",
           "engine_preset", "kv_pool", "simulate"]
