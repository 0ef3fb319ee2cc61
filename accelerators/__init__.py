"""Device catalog: one YAML file per accelerator, with the loader and validator."""
from accelerators.catalog import device_path, list_devices, load_device
from accelerators.errors import ConfigError
from accelerators.schema import Device, Link, MemoryTier
from accelerators.units import format_quantity, parse_quantity

__all__ = [
    "ConfigError",
    "Device",
    "Link",
    "MemoryTier",
    "device_path",
    "format_quantity",
    "list_devices",
    "load_device",
    "parse_quantity",
]
