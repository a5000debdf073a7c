"""Optimizers built from names and specs: torch's fused implementation where it applies."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from lstmkit.models.optimizers import Adam, OptimizerSpec, build_optimizer, get_optimizer, torch_adam
from lstmkit.nn import LSTM


class _Net(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.lstm = LSTM(2, 6, batch_first=True, layer_norm=True)
        self.head = nn.Linear(6, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        _, (h, _) = self.lstm(x)
        return self.head(h[-1])


@pytest.mark.parametrize("name", ["adam", "adamw", "sgd", "adagrad"])
def test_named_optimizers_run_fused_and_match_the_tensor_by_tensor_loop(name: str) -> None:
    torch.manual_seed(0)
    fused_net, loop_net = _Net(), _Net()
    loop_net.load_state_dict(fused_net.state_dict())
    spec = get_optimizer(name)
    assert isinstance(spec, OptimizerSpec)
    fused = build_optimizer(spec, fused_net)
    loop = build_optimizer(OptimizerSpec(spec.cls, {**spec.kwargs, "fused": False}), loop_net)
    assert fused.defaults["fused"] is True and not loop.defaults["fused"]
    x, y = torch.randn(5, 7, 2), torch.randn(5, 1)
    start = fused_net.head.weight.detach().clone()
    for _ in range(4):
        for net, opt in ((fused_net, fused), (loop_net, loop)):
            opt.zero_grad()
            nn.functional.mse_loss(net(x), y).backward()
            opt.step()
    for (name_f, p_f), p_l in zip(fused_net.named_parameters(), loop_net.parameters(), strict=True):
        torch.testing.assert_close(p_f, p_l, rtol=1e-5, atol=1e-6, msg=name_f)
    assert not torch.equal(fused_net.head.weight, start)  # the steps moved the weights


def test_an_explicit_choice_is_kept_and_optimizers_without_a_fused_kernel_build() -> None:
    net = nn.Linear(3, 2)
    assert build_optimizer(Adam(foreach=True), net).defaults["foreach"] is True
    assert not build_optimizer(Adam(foreach=True), net).defaults["fused"]
    rmsprop = build_optimizer(get_optimizer("rmsprop"), net)  # type: ignore[arg-type]
    assert "fused" not in rmsprop.defaults
    adam = torch_adam(net, lr=0.01)
    assert adam.defaults["fused"] is True and adam.defaults["eps"] == 1e-8  # torch's defaults, not Keras's


def test_lr_is_the_learning_rate_and_a_conflict_is_refused() -> None:
    from lstmkit.models.optimizers import SGD

    assert Adam(lr=0.5).kwargs["lr"] == 0.5  # Keras 2's alias, and torch's own name
    assert SGD(lr=0.2).kwargs["lr"] == 0.2
    assert Adam(learning_rate=0.5, lr=0.5).kwargs["lr"] == 0.5
    with pytest.raises(ValueError, match=r"got learning_rate=0\.1 and lr=0\.5; pass one of them"):
        Adam(learning_rate=0.1, lr=0.5)
