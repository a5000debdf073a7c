"""The training loop shared by the series and text classifiers: plateaus, diverged runs, settings."""

from __future__ import annotations

import math
import re

import numpy as np
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


@pytest.mark.parametrize(
    ("settings", "error", "message"),
    [
        pytest.param(
            {"learning_rate": "0.1"}, TypeError, "learning_rate must be a number, got str '0.1'", id="lr-str"
        ),
        pytest.param(
            {"learning_rate": 0.0},
            ValueError,
            "learning_rate must be a finite number > 0, got 0.0",
            id="lr-0",
        ),
        pytest.param(
            {"learning_rate": -1.0}, ValueError, "learning_rate must be a finite number > 0", id="lr-neg"
        ),
        pytest.param(
            {"learning_rate": math.nan},
            ValueError,
            "learning_rate must be a finite number > 0, got nan",
            id="lr-nan",
        ),
        pytest.param(
            {"weight_decay": math.inf}, ValueError, "weight_decay must be a finite number >= 0", id="wd-inf"
        ),
        pytest.param(
            {"weight_decay": True}, TypeError, "weight_decay must be a number, got bool", id="wd-bool"
        ),
        pytest.param(
            {"epochs": 2.0}, TypeError, "epochs must be an integer, got float 2.0", id="epochs-float"
        ),
        pytest.param({"batch_size": 0}, ValueError, "batch_size must be >= 1, got 0", id="batch-0"),
        pytest.param({"patience": 0}, ValueError, "patience must be >= 1, got 0", id="patience-0"),
        pytest.param(
            {"reduce_lr_patience": 0},
            ValueError,
            "reduce_lr_patience must be >= 1, got 0",
            id="lr-patience-0",
        ),
        pytest.param(
            {"seed": "0"}, TypeError, "seed must be an integer in [0, 2**63 - 1], got str '0'", id="seed-str"
        ),
        pytest.param(
            {"seed": True},
            TypeError,
            "seed must be an integer in [0, 2**63 - 1], got bool True",
            id="seed-bool",
        ),
        pytest.param(
            {"seed": -1}, ValueError, "seed must be an integer in [0, 2**63 - 1], got -1", id="seed-negative"
        ),
        pytest.param(
            {"seed": 2**63},
            ValueError,
            f"seed must be an integer in [0, 2**63 - 1], got {2**63}",
            id="seed-too-large",
        ),
        pytest.param(
            {"learning_rate": 10**400},
            ValueError,
            "learning_rate must be a finite number > 0, got a number of about 10**400, too large for a float",
            id="lr-overflow",
        ),
    ],
)
def test_fit_config_checks_its_settings(settings: dict[str, object], error: type, message: str) -> None:
    with pytest.raises(error, match=re.escape(message)):
        FitConfig(**settings)  # type: ignore[arg-type]


def test_fit_config_keeps_plain_numbers() -> None:
    config = FitConfig(
        epochs=np.int64(2),  # type: ignore[arg-type]
        learning_rate=1,
        weight_decay=np.float32(0.5),  # type: ignore[arg-type]
        patience=np.int32(3),  # type: ignore[arg-type]
        seed=np.int64(7),  # type: ignore[arg-type]
    )
    assert config == FitConfig(epochs=2, learning_rate=1.0, weight_decay=0.5, patience=3, seed=7)
    for name in ("epochs", "patience", "seed"):
        assert type(getattr(config, name)) is int
    assert type(config.learning_rate) is float and type(config.weight_decay) is float
