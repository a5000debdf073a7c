"""The last layer's final state of a stacked, possibly bidirectional LSTM."""

from __future__ import annotations

import pytest
import torch

from lstmkit.nn import LSTM, last_layer_state


def test_last_layer_state_is_the_top_layers_final_states_side_by_side() -> None:
    lstm = LSTM(3, 4, num_layers=2, bidirectional=True, batch_first=True)
    out, (h_n, _) = lstm(torch.randn(2, 5, 3))
    state = last_layer_state(h_n, 2)
    assert state.shape == (2, 8)
    torch.testing.assert_close(state[:, :4], out[:, -1, :4])  # forward: the last step's output
    torch.testing.assert_close(state[:, 4:], out[:, 0, 4:])  # backward: the first step's output
    with pytest.raises(ValueError, match=r"expected h_n of shape \(L \* 2, B, R\), got \(3, 2, 4\)"):
        last_layer_state(h_n[:3], 2)
