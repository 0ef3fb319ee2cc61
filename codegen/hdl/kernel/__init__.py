"""The parts of :class:`codegen.hdl.top.MoEKernel`, each adding its logic to the kernel's module.

Order of elaboration (each part reads what the earlier ones published in the
:class:`~codegen.hdl.kernel.scope.KernelScope`): :mod:`~.stages` (controller, decodes),
:mod:`~.storage` (components, buffers), :mod:`~.intake` (x, wreq, parameter block),
:mod:`~.feeder`, :mod:`~.drain`, :mod:`~.dataflow`, :mod:`~.ywriter`, :mod:`~.routing`,
:mod:`~.combine`, then :func:`~.stages.add_stage_done`.
"""
