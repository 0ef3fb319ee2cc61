"""Engine-faithful serving: engine presets and the in-flight-batching simulation.

>>> from archmodel.serving import engine_preset
>>> engine_preset("vllm").kv_block_tokens
16
"""
from archmodel.serving.engines import PRESETS, SOURCES, UNCONFIRMED, EnginePreset, engine_preset
from archmodel.serving.sim import LIMITS, Capacity, KvPool, SimResult, engine_capacity, kv_pool, simulate

__all__ = ["LIMITS", "PRESETS", "SOURCES", "UNCONFIRMED", "Capacity", "EnginePreset", "KvPool", "SimResult",
           "engine_capacity", "engine_preset", "kv_pool", "simulate"]
