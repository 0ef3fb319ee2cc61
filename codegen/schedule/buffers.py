"""On-chip buffers of a schedule: the fixed ones, each expert style's and their BRAM36 count."""
from __future__ import annotations

from collections.abc import Sequence

from archmodel.fpga.budget import Budget
from archmodel.fpga.resources import Buffer, bram36_blocks
from archmodel.fpga.timing import ceil_div
from archmodel.moe_layer import MoELayer

__all__ = ["buffer_blocks", "capacity_blocks", "df_buffers", "fixed_buffers", "seq_buffers"]


def fixed_buffers(s: MoELayer, b: Budget, W: int, front_seq: bool) -> list[Buffer]:
    T, d, E, k = s.tokens, s.hidden, s.experts, s.top_k
    tbits = max(1, (T - 1).bit_length())
    bufs = [
        Buffer("x", 8 * T, d, banks=W, lane_bits=8),         # one word per hidden index: any R rows gather
        Buffer("dispatch.tokens", tbits, T * k),             # per-expert token lists
        Buffer("dispatch.gates", 16, T * k),                 # Q1.15 gate weight per (token, rank)
        Buffer("y", 8 * W, T * k * ceil_div(d, W), lane_bits=8),  # expert outputs awaiting combine
        Buffer("exp_rom", 16, 256, rom=True),                # GateNormalizer EXP table (a ROM in logic)
    ]
    if front_seq:
        bufs += [Buffer("logits", 32 * min(E, b.cols), T * ceil_div(E, b.cols)),
                 Buffer("sel", k * (32 + max(1, (E - 1).bit_length())), T)]
    return bufs


def seq_buffers(s: MoELayer, b: Budget, count: int) -> list[Buffer]:
    R, C, f = b.rows, b.cols, s.ffn
    rt = ceil_div(count, R)
    bufs = [Buffer("h", 8 * R, rt * f, banks=C, lane_bits=8)]       # LaneBanks: C banks of R byte lanes
    if s.gated:
        bufs.append(Buffer("up_q", 8 * R, rt * f, banks=C, lane_bits=8))
    if count > R:
        bufs.append(Buffer("wtile", 8 * C, max(s.hidden, f)))
    return bufs


def df_buffers(s: MoELayer, b: Budget) -> list[Buffer]:
    R, f = b.rows, s.ffn
    bufs = [Buffer("h.blocks", 8 * R, 2 * f)]
    if s.gated:
        bufs.append(Buffer("up_q.blocks", 8 * R, 2 * f))
    return bufs


def capacity_blocks(b: Budget) -> float:
    return b.bram36 + 8.0 * b.uram  # a URAM288 holds eight BRAM36's bits (UG573)


def buffer_blocks(bufs: Sequence[Buffer]) -> float:
    return sum(bram36_blocks(x.width_bits, x.depth) for x in bufs if x.depth > 64)
