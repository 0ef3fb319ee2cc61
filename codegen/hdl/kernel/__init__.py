"""The parts of :class:`codegen.hdl.top.MoEKernel`.

``wiring.Component`` parts (submodules of the kernel, joined with ``wiring.connect`` over the
signatures of :mod:`~.links`): :class:`~.stages.Sequencer` (controller, stage decodes, stage
ends), :class:`~.routing.TopKFeed`, :class:`~.routing.GateDispatch` (gate normaliser,
dispatcher), :class:`~.combine.CombineFeed`, :class:`~.ywriter.YWriter`.

Parts that still add their logic to the kernel's module, in this order, each reading what the
earlier ones published in the :class:`~codegen.hdl.kernel.scope.KernelScope` that
:func:`~.stages.open_scope` opens: :mod:`~.storage` (units, buffers), :mod:`~.intake` (x, wreq,
parameter block), :mod:`~.feeder`, :mod:`~.drain`, :mod:`~.dataflow`.
"""
