"""Measured design spaces (``evaluator: table``): the designs and metrics come from a file of
measured points instead of a model.

* :mod:`dse.measured.table` — :class:`TableSource` (which file, which format) and
  :class:`MeasuredTable` (configuration -> measured point);
* :mod:`dse.measured.formats` — the readers: Kernel Tuner T4 results JSON (optionally gzip) and
  CSV, with the metrics each gives (``time_s``, ``eval_cost_s`` ...);
* :mod:`dse.measured.loader` — :func:`load_table`, once per process and file version;
* :mod:`dse.measured.section` — the ``table:``, ``parameters:`` and ``fixed:`` sections of a
  table space file.

A design of a table space that the file does not have, or has measured invalid, is infeasible
before evaluation (``not in the table``, ``measured invalid: compile``); the others' metrics are
the file's.
"""
from .loader import load_table
from .table import FORMATS, MeasuredPoint, MeasuredTable, TableSource

__all__ = ["FORMATS", "MeasuredPoint", "MeasuredTable", "TableSource", "load_table"]
