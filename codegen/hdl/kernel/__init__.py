"""The parts of :class:`codegen.hdl.top.MoEKernel`.

Every part is a ``wiring.Component`` (a submodule of the kernel) joined with ``wiring.connect``
over the signatures of :mod:`~.links` (stage bus, stage ends, tally, requantiser words, the
dataflow gather and drain tap, :class:`~.links.BankPort` buffer sides):
:class:`~.stages.Sequencer` (controller, stage decodes, stage ends, ``rt`` / ``mrows``),
:class:`~.routing.TopKFeed`, :class:`~.routing.GateDispatch` (gate normaliser, dispatcher),
:class:`~.combine.CombineFeed`, :class:`~.ywriter.YWriter`, :class:`~.intake.TokenIntake`,
:class:`~.requests.WeightRequester`, :class:`~.params.ParamLoader`,
:class:`~.feeder.GemmFeeder`, :class:`~.drain.Drain`, :class:`~.dataflow.DfFeeder` and
:class:`~.dataflow.DfDrains`. The datapath units and the buffers they share are ordinary
submodules of the kernel, made by :func:`~.storage.add_units` and :func:`~.storage.add_buffers`.
"""
