"""Workloads (MoE model IR), the operator table and the analytical device models."""
