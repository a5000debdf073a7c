"""The training loop shared by the series and text classifiers: plateaus, diverged runs, settings."""

from __future__ import annotations

import math

import pytest
import torch
from torch import Tensor, nn

from lstmkit.classify.training import FitConfig, fit_classifier

X, LENGTHS, Y = torch.zeros(4, 3, 1), torch.full((4,), 3), torch.tensor([0, 1, 0, 1])


class Constant(nn.Module):
    """Logits ``weight * fill``: with ``fill=0`` the loss never falls (zero gradient), with NaN it is NaN."""

    def __init__(self, fill: float) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.zeros(2))
        self.fill = fill

    def forward(self, x: Tensor, lengths: Tensor) -> Tensor:
        return self.weight.expand(len(x), 2) * self.fill


@pytest.mark.parametrize(
    ("patience", "rates"),
    [
        pytest.param(1, [1e-3, 1e-3, 5e-4, 2.5e-4], id="after-each-epoch"),
        pytest.param(2, [1e-3, 1e-3, 1e-3, 5e-4], id="after-two-epochs"),
    ],
)
def test_reduce_lr_patience_counts_epochs_without_a_lower_loss(patience: int, rates: list[float]) -> None:
    config = FitConfig(epochs=4, batch_size=2, reduce_lr_patience=patience)
    logs = fit_classifier(Constant(0.0), X, LENGTHS, Y, config)
    assert [epoch["lr"] for epoch in logs] == pytest.approx(rates)  # lr logged before the epoch's halving


def test_a_loss_that_is_never_finite_is_a_clear_error() -> None:
    with pytest.raises(
        ValueError, match="training diverged: the training loss was NaN or infinite in all 2 epoch"
    ):
        fit_classifier(Constant(math.nan), X, LENGTHS, Y, FitConfig(epochs=2, batch_size=2))


@pytest.mark.parametrize("name", ["patience", "reduce_lr_patience"])
def test_patience_settings_must_be_positive(name: str) -> None:
    with pytest.raises(ValueError, match=f"{name} must be >= 1, got 0"):
        fit_classifier(Constant(0.0), X, LENGTHS, Y, FitConfig(epochs=1, **{name: 0}))  # type: ignore[arg-type]
