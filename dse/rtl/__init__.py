"""The RTL evaluator (``evaluator: rtl``): a design becomes a generated kernel, Verilator measures its
cycles and Yosys its resources; the analytical model screens and scales.

* :mod:`dse.rtl.settings`: the space file's ``rtl:`` section;
* :mod:`dse.rtl.measure`: one kernel generated, simulated and synthesised, cached by its hash;
* :mod:`dse.rtl.evaluator`: the :class:`~dse.evaluation.DesignEvaluator` a job runs.
"""
