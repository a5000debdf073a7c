"""See inside an LSTM: record its gates, measure gradient flow over time, and plot both."""

from lstmkit.inspect.gradient_flow import GradientFlow, gradient_flow
from lstmkit.inspect.record import GateRecord, find_lstms, record

__all__ = ["GateRecord", "GradientFlow", "find_lstms", "gradient_flow", "record"]
