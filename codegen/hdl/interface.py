"""External interface of the generated MoE kernel (`MoEKernel`): ports, encodings, word orders.

This module is the single definition the RTL top level, the manifest, the HLS emitter and the
test benches (Amaranth and cocotb weight-memory models) read. It imports nothing from
``verification`` (parameters are duck-typed: anything with the attributes of
``verification.golden.MoEParams``).

Ports (Amaranth names; Verilog flattens ``x.payload`` to ``x__payload`` etc.; one clock domain,
``clk`` and synchronous active-high ``rst``). Every stream is valid/ready (``amaranth.lib.stream``):
a beat transfers in a cycle where both are high; ``valid`` never depends on ``ready``.

==============  ====  =====================  ===================================================
port            dir   payload bits           meaning
==============  ====  =====================  ===================================================
``x_in``        in    ``8 * W``              token stream (``docs/kernel-arithmetic.md`` §2):
                                             tokens in order, ``ceil(d / W)`` words a token,
                                             element ``i`` in byte lane ``i % W`` of word
                                             ``i // W``; unused lanes ignored.
``y_out``       out   ``8 * W``              the layer's int8 output, same packing (unused
                                             lanes of a token's last word are zero).
``wreq``        out   ``request_bits``       weight request (:func:`encode_request`).
``wdata``       in    ``wdata_bits``         the requested words, in order (below).
``stage``       out   ``STAGE_BITS``         schedule-ROM row currently running.
``stage_valid`` out   1                      a stage is running (0 in switch cycles).
``expert``      out   ``expert_bits``        expert of the running expert stage.
``pe_busy``     out   1                      the PE array performs R*C MACs this cycle (in
                                             an ``expert_df`` stage: a sub-array performs
                                             its MACs).
==============  ====  =====================  ===================================================

One *layer* is: the kernel reads ``T`` tokens and the parameter block, computes, and writes
``T`` tokens; then it starts the next layer (everything is requested again: the memory side may
change weights and parameters between layers). Request order within a layer
(:func:`requests_for_layer`): a sequential front asks for the parameter block in its first cycle
and then the router's column tiles; a dataflow front asks for its router tile first and the
parameter block right after it (the gate requantiser, word 0, is needed before the first
token reaches the gate normaliser); then, per expert that received tokens, in expert order, the
column tiles of up, (gate,) down (sequential variants) or ``DF_UP``, ``DF`` x ``(B - 1)``,
``DF_DOWN`` (the ``df`` variant, ``B = ceil(count / R)`` row blocks). An expert without tokens
is never requested.

Weight requests (``wreq`` payload, fields from the least significant bit):
``tensor`` (3 bits, :class:`Tensor`), ``expert`` (``expert_bits``), ``tile``
(``tile_bits``), ``cols`` (``cols_bits``). Responses arrive on ``wdata`` in request order; the
kernel may have several requests outstanding and accepts the words of one response at its own
pace (``wdata.ready``).

* ``Tensor.PARAMS`` (``expert = tile = cols = 0``): the requantisation parameter block, sent
  once per layer, :func:`param_block_words` words. Word 0 is the gate requantiser ``RQg``; then
  for each expert ``e = 0..E-1``: ``RQup[e]``, (gated: ``RQgate[e]``, ``RQhid[e]``),
  ``RQdown[e]``. Each word: bits 0..15 ``mult``, bits 16..21 ``shift``, the rest zero.
* A weight tensor ``Wt[K, N]`` (``ROUTER``: ``Wr [d, E]``; ``UP`` / ``GATE``: ``W[e] [d, f]``;
  ``DOWN``: ``Wd[e] [f, d]``): the column tile ``tile`` of width ``cols`` (``1 <= cols <= C``;
  the sequential stages use ``cols = C``, the spec's weight tiles): ``K`` words, word ``kk``
  carrying ``Wt[kk, tile * cols + c]`` as int8 in byte lane ``c`` for ``c < cols`` (zero for
  ``c >= cols`` and beyond ``N``). With ``cols = C`` this is ``golden.pack_weight_tiles``.

* ``Tensor.DF_UP`` / ``Tensor.DF`` / ``Tensor.DF_DOWN`` (``tile = 0``, ``cols = C``): the
  interleaved weights of one *phase* of a dataflow (``df``) expert, whose PE columns are split
  into sub-array A (lanes ``0 .. cA-1``: up, then gate when gated) and sub-array D (lanes
  ``cA .. C-1``: down) by :func:`df_split` (``(cu, [cg,] cd)``, the schedule's ``col_split``,
  ``cA = cu [+ cg]``). An expert with ``c`` tokens in ``B = ceil(c / R)`` row blocks runs
  ``B + 1`` phases and makes one request per phase: ``DF_UP`` (phase 0: A on row block 0),
  ``DF`` (phase ``p = 1 .. B-1``: A on row block ``p``, D on row block ``p - 1``), ``DF_DOWN``
  (phase ``B``: D on row block ``B - 1``). The weights are the same for every row block (they
  are re-streamed), so the response depends only on the kind. Word ``j`` carries, with
  ``wA = cg`` (gated) or ``cu`` (plain), ``nA = ceil(f / wA)`` A tiles of ``K = d`` and
  ``nD = ceil(d / cd)`` D tiles of ``K = f``:

  - A lanes (``DF_UP``, ``DF``; words ``j < nA * d``; ``t = j // d``, ``kk = j % d``): lane
    ``c < cu`` is ``Wu[e][kk, t * cu + c]`` (zero when ``t * cu + c >= f``, so up tiles beyond
    ``ceil(f / cu)`` are zero); gated, lane ``cu + c`` (``c < cg``) is
    ``Wg[e][kk, t * cg + c]`` (zero beyond ``f``);
  - D lanes (``DF``, ``DF_DOWN``; words ``j < nD * f``; ``t = j // f``, ``kk = j % f``): lane
    ``cA + c`` (``c < cd``) is ``Wd[e][kk, t * cd + c]`` (zero beyond ``d``);
  - every other lane is zero. ``DF_UP`` has ``nA * d`` words, ``DF_DOWN`` ``nD * f``, ``DF``
    ``max(nA * d, nD * f)``.

  The kernel consumes one word a cycle and feeds both sub-arrays from it (they advance in
  lockstep), so the single port carries all sub-arrays' weights at full rate.

``wdata_bits = max(8 * C, 32)`` so that a parameter word always fits; weight words use the low
``8 * C`` bits (``C`` int8 lanes) and leave the rest zero.
"""
from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from amaranth.hdl import unsigned
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from ..schedule.styles import expert_style
from .geometry import (
    DF_TENSORS,
    MULT_BITS,
    PARAM_WORD_BITS,
    SHIFT_BITS,
    STAGE_BITS,
    TENSOR_BITS,
    DfLayout,
    KernelGeometry,
    Tensor,
    WeightRequest,
    ceil_div,
    df_split,
)

__all__ = [
    "DF_TENSORS", "DfLayout", "KernelGeometry", "MULT_BITS", "PARAM_WORD_BITS", "SHIFT_BITS", "STAGE_BITS", "TENSOR_BITS", "Tensor",
    "WeightRequest", "decode_request", "encode_request", "kernel_signature", "pack_param_word",
    "param_block_words", "param_word_fields", "port_table", "df_split", "request_layout", "requests_for_layer",
    "unpack_param_word", "weight_request_words",
]


def request_layout(geom: KernelGeometry) -> data.StructLayout:
    """The ``wreq`` payload, fields from the least significant bit."""
    return data.StructLayout({
        "tensor": unsigned(TENSOR_BITS),
        "expert": unsigned(geom.expert_bits),
        "tile": unsigned(geom.tile_bits),
        "cols": unsigned(geom.cols_bits),
    })


def encode_request(geom: KernelGeometry, request: WeightRequest) -> int:
    """The integer value of the ``wreq`` payload for ``request``."""
    fields = [(int(request.tensor), TENSOR_BITS), (request.expert, geom.expert_bits),
              (request.tile, geom.tile_bits), (request.cols, geom.cols_bits)]
    value, pos = 0, 0
    for v, width in fields:
        if v >= 1 << width:
            raise ValueError(f"{request} does not fit the request fields of {geom}")
        value |= v << pos
        pos += width
    return value


def decode_request(geom: KernelGeometry, value: int) -> WeightRequest:
    """Inverse of :func:`encode_request` (raises ``ValueError`` on an invalid payload)."""
    if value < 0 or value >> geom.request_bits:
        raise ValueError(f"request payload {value:#x} is wider than {geom.request_bits} bits")
    out = []
    for width in (TENSOR_BITS, geom.expert_bits, geom.tile_bits, geom.cols_bits):
        out.append(value & ((1 << width) - 1))
        value >>= width
    tensor, expert, tile, cols = out
    try:
        kind = Tensor(tensor)
    except ValueError:
        raise ValueError(f"request names tensor code {tensor}; allowed: "
                         f"{[int(t) for t in Tensor]}") from None
    req = WeightRequest(kind, expert, tile, cols)
    if kind in DF_TENSORS:
        if expert >= geom.experts or cols != geom.cols or geom.df is None:
            raise ValueError(f"{req} is not a request of {geom}")
        return req
    if kind != Tensor.PARAMS:
        if expert >= geom.experts or cols > geom.cols or (kind == Tensor.GATE and not geom.gated):
            raise ValueError(f"{req} is not a request of {geom}")
        if kind == Tensor.ROUTER and expert:
            raise ValueError(f"a ROUTER request has expert = 0, got {req}")
        n = geom.tensor_dims(kind)[1]
        if tile * cols >= n:
            raise ValueError(f"{req}: tile starts at column {tile * cols} >= N = {n}")
    return req


# ------------------------------------------------------------------------------ words
def pack_param_word(mult: int, shift: int) -> int:
    if not 0 <= mult < 1 << MULT_BITS or not 0 <= shift < 1 << SHIFT_BITS:
        raise ValueError(f"requantiser ({mult}, {shift}) out of range")
    return mult | shift << MULT_BITS


def unpack_param_word(word: int) -> tuple[int, int]:
    return word & ((1 << MULT_BITS) - 1), (word >> MULT_BITS) & ((1 << SHIFT_BITS) - 1)


def _requant_pairs(params: Any) -> list[tuple[int, int]]:
    gated = params.gate is not None
    pairs = [(params.gate_weight_q.mult, params.gate_weight_q.shift)]
    for e in range(len(params.up_q)):
        seq = [params.up_q[e]]
        if gated:
            seq += [params.gate_q[e], params.hidden_q[e]]
        seq.append(params.down_q[e])
        pairs += [(int(q.mult), int(q.shift)) for q in seq]
    return pairs


def param_block_words(params: Any) -> list[int]:
    """The ``PARAMS`` response for ``params`` (a ``golden.MoEParams``-like object)."""
    return [pack_param_word(m, s) for m, s in _requant_pairs(params)]


def _tensor(params: Any, tensor: Tensor, expert: int) -> Any:
    if tensor == Tensor.ROUTER:
        return params.router
    arr = {Tensor.UP: params.up, Tensor.GATE: params.gate, Tensor.DOWN: params.down}[tensor]
    if arr is None:
        raise ValueError(f"{tensor.name} requested but the parameters have no such tensor")
    return arr[expert]


def weight_request_words(params: Any, request: WeightRequest) -> list[int]:
    """The words ``wdata`` carries in answer to ``request``, as unsigned integers.

    Weight words put lane ``c`` (int8, two's complement) in bits ``8c .. 8c+7``; the value does
    not depend on the array width ``C`` because lanes ``>= cols`` are zero.
    """
    request = WeightRequest(request.tensor, request.expert, request.tile, request.cols)
    if request.tensor == Tensor.PARAMS:
        return param_block_words(params)
    if request.tensor in DF_TENSORS:
        return _df_words(params, request)
    w = _tensor(params, request.tensor, request.expert)
    rows = [[int(v) for v in row] for row in (w.tolist() if hasattr(w, "tolist") else w)]
    k, n = len(rows), len(rows[0]) if rows else 0
    first = request.tile * request.cols
    if first >= n:
        raise ValueError(f"{request}: tile starts at column {first} >= N = {n}")
    words = []
    for kk in range(k):
        word = 0
        for c in range(request.cols):
            if first + c < n:
                word |= (rows[kk][first + c] & 0xFF) << (8 * c)
        words.append(word)
    return words


def _df_words(params: Any, request: WeightRequest) -> list[int]:
    """The response to a dataflow request (``DF_UP``, ``DF``, ``DF_DOWN``)."""
    import numpy as np

    gated = params.gate is not None
    up = np.asarray(_tensor(params, Tensor.UP, request.expert), dtype=np.int64)
    down = np.asarray(_tensor(params, Tensor.DOWN, request.expert), dtype=np.int64)
    gate = np.asarray(_tensor(params, Tensor.GATE, request.expert), dtype=np.int64) if gated else None
    d, f = up.shape
    lay = DfLayout.of(d, f, gated, request.cols)
    n_words = lay.words(request.tensor)
    lanes = np.zeros((n_words, lay.cols), dtype=np.int64)

    def place(w: Any, beats: int, k: int, n: int, width: int, lane0: int) -> None:
        j = np.arange(min(n_words, beats))
        t, kk = j // k, j % k
        for c in range(width):
            col = t * width + c
            ok = col < n
            lanes[j[ok], lane0 + c] = w[kk[ok], col[ok]]

    if request.tensor in (Tensor.DF_UP, Tensor.DF):
        place(up, lay.words_a, d, f, lay.cu, 0)
        if gate is not None:
            place(gate, lay.words_a, d, f, lay.cg, lay.cu)
    if request.tensor in (Tensor.DF, Tensor.DF_DOWN):
        place(down, lay.words_d, f, d, lay.cd, lay.lanes_a)
    raw = (lanes & 0xFF).astype(np.uint8)
    return [int.from_bytes(row.tobytes(), "little") for row in raw]


def _variant_name(variants: Any, count: int) -> str:
    """The variant of ``count`` in ``variants``: ``(min, max, name)`` tuples, or objects / dicts
    with ``min_tokens``, ``max_tokens`` and ``name`` (or ``variant``)."""
    for v in variants:
        if isinstance(v, dict):
            lo, hi, name = v["min_tokens"], v["max_tokens"], v.get("name", v.get("variant"))
        elif isinstance(v, (tuple, list)):
            lo, hi, name = v
        else:
            lo, hi, name = v.min_tokens, v.max_tokens, v.name
        if int(lo) <= count <= int(hi):
            return str(name)
    raise ValueError(f"no variant covers {count} tokens")


def requests_for_layer(geom: KernelGeometry, counts: Sequence[int],
                       front: str = "sequential", variants: Any = None) -> list[WeightRequest]:
    """The requests a layer with per-expert token ``counts`` makes, in order (experts without
    tokens make none). A sequential front requests the parameter block first (in ``load``), then
    the router tiles; a dataflow front requests its router tile first and the parameter block
    after it. ``variants`` (optional): the kernel's variant table, as ``(min_tokens,
    max_tokens, name)`` tuples or objects/dicts with those fields (e.g. the manifest's
    ``schedule_rom.variant_ranges`` or ``ScheduleResult.variants``); an expert whose count
    selects ``df`` makes ``DF_UP``, ``DF`` x ``(B - 1)``, ``DF_DOWN`` with ``B = ceil(count /
    R)``. Without ``variants`` every expert is sequential (column tiles of up, (gate,) down)."""
    c = geom.cols
    router = [WeightRequest(Tensor.ROUTER, 0, n, c) for n in range(ceil_div(geom.experts, c))]
    if front == "sequential":
        out = [WeightRequest(Tensor.PARAMS)] + router
    elif front == "dataflow":
        out = router + [WeightRequest(Tensor.PARAMS)]
    else:
        raise ValueError(f"front = {front!r}; allowed: sequential, dataflow")
    for e, count in enumerate(counts):
        if count == 0:
            continue
        if variants is not None and expert_style(_variant_name(variants, int(count))).mode == "dataflow":
            blocks = ceil_div(int(count), geom.rows)
            out += [WeightRequest(Tensor.DF_UP, e, 0, c)]
            out += [WeightRequest(Tensor.DF, e, 0, c) for _ in range(blocks - 1)]
            out += [WeightRequest(Tensor.DF_DOWN, e, 0, c)]
            continue
        roles = [Tensor.UP] + ([Tensor.GATE] if geom.gated else []) + [Tensor.DOWN]
        for role in roles:
            n_size = geom.tensor_dims(role)[1]
            out += [WeightRequest(role, e, n, c) for n in range(ceil_div(n_size, c))]
    return out


# ------------------------------------------------------------------------------ ports
def kernel_signature(geom: KernelGeometry) -> wiring.Signature:
    """The ``wiring.Signature`` of ``MoEKernel`` for ``geom``."""
    return wiring.Signature({
        "x_in": In(stream.Signature(unsigned(geom.stream_bits))),
        "y_out": Out(stream.Signature(unsigned(geom.stream_bits))),
        "wreq": Out(stream.Signature(request_layout(geom))),
        "wdata": In(stream.Signature(unsigned(geom.wdata_bits))),
        "stage": Out(STAGE_BITS),
        "stage_valid": Out(1),
        "expert": Out(geom.expert_bits),
        "pe_busy": Out(1),
    })


def port_table(geom: KernelGeometry) -> list[dict[str, Any]]:
    """The Verilog ports of the top module (name, direction, bits, meaning), for the manifest."""
    rows: list[dict[str, Any]] = [
        {"name": "clk", "dir": "in", "bits": 1, "meaning": "clock (rising edge)"},
        {"name": "rst", "dir": "in", "bits": 1, "meaning": "synchronous reset, active high"},
    ]

    def stream_ports(name: str, direction: str, bits: int, meaning: str) -> Iterable[dict[str, Any]]:
        back = "out" if direction == "in" else "in"
        yield {"name": f"{name}__payload", "dir": direction, "bits": bits, "meaning": meaning}
        yield {"name": f"{name}__valid", "dir": direction, "bits": 1, "meaning": f"{name} valid"}
        yield {"name": f"{name}__ready", "dir": back, "bits": 1, "meaning": f"{name} ready"}

    rows += stream_ports("x_in", "in", geom.stream_bits, "token stream, W int8 lanes a word")
    rows += stream_ports("y_out", "out", geom.stream_bits, "output token stream, same packing")
    rows += stream_ports("wreq", "out", geom.request_bits,
                         "weight request: tensor[3], expert, tile, cols (LSB first)")
    rows += stream_ports("wdata", "in", geom.wdata_bits, "weight / parameter words")
    rows += [
        {"name": "stage", "dir": "out", "bits": STAGE_BITS, "meaning": "schedule-ROM row running"},
        {"name": "stage_valid", "dir": "out", "bits": 1, "meaning": "a stage is running"},
        {"name": "expert", "dir": "out", "bits": geom.expert_bits, "meaning": "current expert"},
        {"name": "pe_busy", "dir": "out", "bits": 1, "meaning": "PE array MAC cycle"},
    ]
    return rows


def param_word_fields() -> dict[str, tuple[int, int]]:
    """Bit ranges ``(lsb, width)`` of a parameter word."""
    return {"mult": (0, MULT_BITS), "shift": (MULT_BITS, SHIFT_BITS)}
