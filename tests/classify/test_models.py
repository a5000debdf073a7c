from __future__ import annotations

import re

import numpy as np
import pytest
import torch
from torch import nn

from lstmkit.classify.models import LSTMFCN, LSTMClassifier


def small_models(channels: int, classes: int) -> dict[str, nn.Module]:
    return {
        "lstm": LSTMClassifier(channels, classes, hidden_size=6, num_layers=2),
        "lstm-unidirectional": LSTMClassifier(channels, classes, hidden_size=6, bidirectional=False),
        "lstm-fcn": LSTMFCN(channels, classes, hidden_size=4, filters=(4, 8, 4)),
    }


@pytest.mark.parametrize("name", ["lstm", "lstm-unidirectional", "lstm-fcn"])
def test_padding_does_not_change_the_prediction(name: str) -> None:
    torch.manual_seed(0)
    model = small_models(3, 4)[name].eval()
    short = torch.randn(1, 7, 3)
    padded = torch.cat([short, torch.zeros(1, 5, 3)], dim=1)
    other = torch.randn(1, 12, 3)
    alone = model(short, torch.tensor([7]))
    batched = model(torch.cat([padded, other]), torch.tensor([7, 12]))
    torch.testing.assert_close(batched[:1], alone, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("name", ["lstm", "lstm-fcn"])
def test_shapes_and_gradients(name: str) -> None:
    model = small_models(2, 3)[name]
    x = torch.randn(4, 9, 2, requires_grad=True)
    logits = model(x, torch.tensor([9, 3, 5, 1]))
    assert logits.shape == (4, 3)
    logits.sum().backward()
    assert x.grad is not None
    assert torch.all(x.grad[1, 3:] == 0)  # padded steps receive no gradient


def test_dimension_shuffle_reads_channels_as_steps() -> None:
    model = LSTMFCN(2, 3, hidden_size=4, filters=(4, 8, 4), dimension_shuffle=True, series_length=6)
    assert model.lstm.input_size == 6
    assert model(torch.randn(2, 6, 2), torch.tensor([6, 6])).shape == (2, 3)
    with pytest.raises(ValueError, match="needs every series to have length 6"):
        model(torch.randn(2, 6, 2), torch.tensor([6, 4]))
    with pytest.raises(ValueError, match="needs series_length"):
        LSTMFCN(2, 3, dimension_shuffle=True)


@pytest.mark.parametrize(
    ("options", "error", "message"),
    [
        pytest.param(
            {"kernel_sizes": (8, 0, 3)},
            ValueError,
            "LSTMFCN kernel_sizes[1] must be >= 1, got 0",
            id="kernel-0",
        ),
        pytest.param(
            {"filters": (4, 4)}, ValueError, "filters must be three positive integers", id="two-filters"
        ),
        pytest.param({"kernel_sizes": (8, 5, 3, 3)}, ValueError, "got [8, 5, 3, 3]", id="four-kernels"),
        pytest.param(
            {"filters": np.ones((1, 3), dtype=int)}, ValueError, "got [[1, 1, 1]]", id="two-dim-array"
        ),
        pytest.param(
            {"filters": (4.0, 8, 4)},
            TypeError,
            "LSTMFCN filters[0] must be an integer, got float 4.0",
            id="float-filter",
        ),
        pytest.param({"filters": 4}, TypeError, "got int 4", id="not-a-sequence"),
    ],
)
def test_lstm_fcn_checks_filters_and_kernel_sizes(
    options: dict[str, object], error: type, message: str
) -> None:
    with pytest.raises(error, match=re.escape(message)):
        LSTMFCN(2, 3, **options)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "filters",
    [
        pytest.param([4, 8, 4], id="list"),  # as a saved config gives them
        pytest.param(np.array([4, 8, 4]), id="numpy-array"),
        pytest.param((np.int32(4), np.int64(8), 4), id="numpy-ints"),
    ],
)
def test_lstm_fcn_takes_any_sequence_of_three_integers(filters: object) -> None:
    model = LSTMFCN(2, 3, filters=filters, kernel_sizes=[3, 3, 1])  # type: ignore[arg-type]
    assert [block.conv.out_channels for block in model.blocks] == [4, 8, 4]
    assert model(torch.zeros(2, 6, 2), torch.tensor([6, 4])).shape == (2, 3)
