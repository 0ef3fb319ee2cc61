"""Measured serving rows: the aiconfigurator silicon CSV, or a small schema of our own.

Two schemas are read (the header decides):

* **aiconfigurator silicon** (``silicon_sample.csv`` of github ai-dynamo/aiconfigurator): columns
  ``backend``, ``backend_version``, ``model_path``, ``system``, ``precision``, ``mode``
  (``agg``/``disagg``), ``isl``, ``osl``, ``gemm_quant_mode``, ``moe_quant_mode``, ``batch_size``
  (the client concurrency), ``tp_size``, ``pp_size``, ``attention_dp_size``, ``moe_tp_size``,
  ``moe_ep_size``, ``silicon_ttft_ms``, ``silicon_tpot_ms`` (and more, ignored here);
* **ours**: ``model``, ``device``, ``engine``, ``isl``, ``osl``, ``concurrency``, ``tp``, ``ep``,
  ``ttft_ms``, ``tpot_ms``; optional ``precision`` (default ``bf16``), ``pp`` (1) and ``mode``
  (``agg``). ``model`` and ``device`` are catalog names or names the ``--map`` file maps.

Every row keeps its line number in the file so refusals and errors can name it. A blank
parallelism field (``moe_ep_size``, ``attention_dp_size``, ``pp_size``, ``moe_tp_size``) reads as 1,
as does a ``moe_ep_size`` or ``moe_tp_size`` of 0 (the source writes 0 for dense models).
Disaggregated rows leave the aggregated columns blank; they are read with those fields as 0
(``validate`` simulates them through :func:`archmodel.serving.disagg.simulate_disaggregated`).
Their pools are read from ``prefill_*`` and ``decode_*`` (``num_workers``, ``batch_size``,
``tp_size``, ``attention_dp_size``, ``moe_tp_size``, ``moe_ep_size``; blank reads as 0 for the
counts, 1 for the splits); their concurrency, when the source does not name it, is the decode
pool's ``batch_size x num_workers``.
"""
from __future__ import annotations

import csv
import math
import os
import re
from dataclasses import dataclass

from accelerators.errors import ConfigError, read_user_text

AIC_REQUIRED = ("backend", "model_path", "system", "mode", "isl", "osl", "batch_size", "tp_size",
                "silicon_ttft_ms", "silicon_tpot_ms")
OURS_REQUIRED = ("model", "device", "engine", "isl", "osl", "concurrency", "tp", "ep", "ttft_ms", "tpot_ms")


@dataclass(frozen=True)
class PhaseColumns:
    """One pool of a disaggregated row: ``workers`` engines of ``tp`` x ``attention_dp`` devices, MoE
    split ``moe_tp`` x ``moe_ep``, ``batch`` sequences per worker (0 where the source left it blank)."""

    workers: int
    batch: int
    tp: int
    attention_dp: int
    moe_tp: int
    moe_ep: int


@dataclass(frozen=True)
class MeasuredRow:
    line: int  # line in the file (the header is line 1)
    model: str  # as the file names it (Hugging Face id or catalog name)
    system: str
    backend: str  # engine
    mode: str  # "agg" or "disagg"
    isl: int
    osl: int
    concurrency: int
    tp: int
    pp: int
    ep: int
    attention_dp: int
    moe_tp: int
    precision: str  # as the file says ("" when blank)
    gemm_quant: str
    moe_quant: str
    ttft_ms: float
    tpot_ms: float
    version: str = ""
    row_id: str = ""
    prefill: PhaseColumns | None = None  # disaggregated rows only
    decode: PhaseColumns | None = None

    def config_key(self) -> tuple:
        """Everything that defines the measurement's setting (duplicates share it)."""
        return (self.model.lower(), self.system, self.backend, self.version, self.mode, self.isl, self.osl,
                self.concurrency, self.tp, self.pp, self.ep, self.attention_dp, self.moe_tp, self.precision,
                self.gemm_quant, self.moe_quant, self.prefill, self.decode)


def _int(file: str, line: int, col: str, text: str, *, blank: int | None = None, minimum: int = 1) -> int:
    text = (text or "").strip()
    if text == "" and blank is not None:
        return blank
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not (math.isfinite(value) and value == int(value) and value >= minimum):
        raise ConfigError(file, f"row {line}: {col}", text, f"a whole number >= {minimum}")
    return int(value)


def _ms(file: str, line: int, col: str, text: str) -> float:
    try:
        value = float((text or "").strip())
    except ValueError:
        value = math.nan
    if not (math.isfinite(value) and value > 0):
        raise ConfigError(file, f"row {line}: {col}", text, "a time in milliseconds > 0")
    return value


SILICON_CONCURRENCY = re.compile(r"(?:^|[;\s])silicon_concurrency=(\d+)(?:$|[;\s])")


def _silicon_concurrency(r: dict) -> int | None:
    """The measured client concurrency the source field ``silicon_data_source`` names, if any."""
    match = SILICON_CONCURRENCY.search(r.get("silicon_data_source") or "")
    return (int(match.group(1)) or None) if match else None


def _phase(file: str, line: int, r: dict, phase: str) -> PhaseColumns:
    def col(name: str) -> int:
        return _int(file, line, f"{phase}_{name}", r.get(f"{phase}_{name}", ""), blank=0, minimum=0)
    return PhaseColumns(workers=col("num_workers"), batch=col("batch_size"), tp=col("tp_size") or 1,
                        attention_dp=col("attention_dp_size") or 1, moe_tp=col("moe_tp_size") or 1,
                        moe_ep=col("moe_ep_size") or 1)


def _aic_row(file: str, line: int, r: dict) -> MeasuredRow:
    mode = r["mode"].strip()
    if mode not in ("agg", "disagg"):
        raise ConfigError(file, f"row {line}: mode", mode, "'agg' or 'disagg'")
    agg_blank = None if mode == "agg" else 0
    ep = _int(file, line, "moe_ep_size", r.get("moe_ep_size", ""), blank=1, minimum=0) or 1
    batch = _int(file, line, "batch_size", r["batch_size"], blank=agg_blank, minimum=0 if agg_blank == 0 else 1)
    prefill = decode = None
    if mode == "disagg":
        prefill, decode = _phase(file, line, r, "prefill"), _phase(file, line, r, "decode")
        batch = decode.batch * max(decode.workers, 1)  # the decode pool's sequences, unless named below
    return MeasuredRow(
        line=line, model=r["model_path"].strip(), system=r["system"].strip(), backend=r["backend"].strip(),
        mode=mode, isl=_int(file, line, "isl", r["isl"]), osl=_int(file, line, "osl", r["osl"]),
        concurrency=_silicon_concurrency(r) or batch,
        tp=_int(file, line, "tp_size", r["tp_size"], blank=agg_blank, minimum=0 if agg_blank == 0 else 1),
        pp=_int(file, line, "pp_size", r.get("pp_size", ""), blank=1),
        ep=ep, attention_dp=_int(file, line, "attention_dp_size", r.get("attention_dp_size", ""), blank=1),
        moe_tp=_int(file, line, "moe_tp_size", r.get("moe_tp_size", ""), blank=1, minimum=0) or 1,
        precision=(r.get("precision") or "").strip(), gemm_quant=(r.get("gemm_quant_mode") or "").strip(),
        moe_quant=(r.get("moe_quant_mode") or "").strip(),
        ttft_ms=_ms(file, line, "silicon_ttft_ms", r["silicon_ttft_ms"]),
        tpot_ms=_ms(file, line, "silicon_tpot_ms", r["silicon_tpot_ms"]),
        version=(r.get("backend_version") or "").strip(), row_id=(r.get("id") or "").strip(),
        prefill=prefill, decode=decode)


def _our_row(file: str, line: int, r: dict) -> MeasuredRow:
    mode = (r.get("mode") or "agg").strip() or "agg"
    if mode not in ("agg", "disagg"):
        raise ConfigError(file, f"row {line}: mode", mode, "'agg' or 'disagg'")
    precision = (r.get("precision") or "bf16").strip() or "bf16"
    tp = _int(file, line, "tp", r["tp"])
    ep = _int(file, line, "ep", r["ep"])
    return MeasuredRow(
        line=line, model=r["model"].strip(), system=r["device"].strip(), backend=r["engine"].strip().lower(),
        mode=mode, isl=_int(file, line, "isl", r["isl"]), osl=_int(file, line, "osl", r["osl"]),
        concurrency=_int(file, line, "concurrency", r["concurrency"]), tp=tp,
        pp=_int(file, line, "pp", r.get("pp", ""), blank=1), ep=ep, attention_dp=1,
        moe_tp=max(tp // ep, 1), precision=precision, gemm_quant=precision, moe_quant=precision,
        ttft_ms=_ms(file, line, "ttft_ms", r["ttft_ms"]), tpot_ms=_ms(file, line, "tpot_ms", r["tpot_ms"]),
        row_id=(r.get("id") or "").strip())


def read_measured(path: str | os.PathLike[str]) -> tuple[str, list[MeasuredRow]]:
    """The schema (``"aiconfigurator"`` or ``"moearch"``) and the rows of a measured CSV file.
    Lines starting with ``#`` are comments."""
    file = os.fspath(path)
    text = read_user_text(file, "CSV file")
    lines = [(i + 1, ln) for i, ln in enumerate(text.splitlines()) if ln.strip() and not ln.startswith("#")]
    if not lines:
        raise ConfigError(file, "header", "", "a CSV header naming the columns")
    reader = csv.DictReader([ln for _, ln in lines])
    header = set(reader.fieldnames or ())
    if set(AIC_REQUIRED) <= header:
        schema, make, required = "aiconfigurator", _aic_row, AIC_REQUIRED
    elif set(OURS_REQUIRED) <= header:
        schema, make, required = "moearch", _our_row, OURS_REQUIRED
    else:
        missing_aic = [c for c in AIC_REQUIRED if c not in header]
        missing_ours = [c for c in OURS_REQUIRED if c not in header]
        raise ConfigError(file, "header", sorted(header),
                          f"the aiconfigurator columns (missing {', '.join(missing_aic)}) or ours "
                          f"(missing {', '.join(missing_ours)})")
    rows = []
    for (line, _), record in zip(lines[1:], reader):
        if None in record or any(record.get(c) is None for c in required):
            raise ConfigError(file, f"row {line}", len([v for v in record.values() if v is not None]),
                              f"{len(reader.fieldnames or ())} fields, as the header has")
        rows.append(make(file, line, record))
    return schema, rows
