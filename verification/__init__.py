"""Verification: golden models, cocotb test benches, simulator runner and resource checks."""
