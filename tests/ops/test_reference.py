"""The reference recurrence agrees with torch's own LSTM on the plain configuration."""

from __future__ import annotations

import torch

from lstmkit.ops.reference import recurrence
from lstmkit.ops.types import RecurrenceInputs, RecurrenceParams


def test_reference_matches_torch_lstm_float64() -> None:
    lstm = torch.nn.LSTM(3, 5, dtype=torch.float64)
    x = torch.randn(7, 4, 3, dtype=torch.float64)
    h0 = torch.randn(1, 4, 5, dtype=torch.float64)
    c0 = torch.randn(1, 4, 5, dtype=torch.float64)
    expected, (h_n, c_n) = lstm(x, (h0, c0))
    xg = x @ lstm.weight_ih_l0.t() + lstm.bias_ih_l0 + lstm.bias_hh_l0
    y, h, c = recurrence(RecurrenceInputs(xg, h0[0], c0[0]), RecurrenceParams(lstm.weight_hh_l0))
    torch.testing.assert_close(y, expected, rtol=1e-10, atol=1e-12)
    torch.testing.assert_close(h, h_n[0], rtol=1e-10, atol=1e-12)
    torch.testing.assert_close(c, c_n[0], rtol=1e-10, atol=1e-12)
