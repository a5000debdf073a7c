"""The recurrence math and its kernels (no nn.Module here).

``reference`` is the readable oracle; kernels implementing :class:`lstmkit.ops.types.RecurrenceKernel`
run under one autograd function with a hand-written backward through time.
"""

from lstmkit.ops.types import LSTMState, RecurrenceGrads, RecurrenceInputs, RecurrenceKernel, RecurrenceParams

__all__ = ["LSTMState", "RecurrenceGrads", "RecurrenceInputs", "RecurrenceKernel", "RecurrenceParams"]
