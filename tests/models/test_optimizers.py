"""Optimizers built from names and specs: torch's fused implementation where it applies."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest
import torch
from torch import nn

from lstmkit.models.optimizer_state import check_saved_state
from lstmkit.models.optimizers import (
    SGD,
    Adagrad,
    Adam,
    OptimizerSpec,
    RMSprop,
    build_optimizer,
    get_optimizer,
    torch_adam,
)
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


@pytest.mark.parametrize(
    ("make", "expected"),
    [
        pytest.param(
            lambda: Adam(beta_1=0.8, beta_2=0.99, epsilon=1e-6),
            {"betas": (0.8, 0.99), "eps": 1e-6},
            id="adam",
        ),
        pytest.param(lambda: Adam(beta_2=0.9), {"betas": (0.9, 0.9)}, id="adam-beta_2-only"),
        pytest.param(
            lambda: RMSprop(rho=0.95, epsilon=1e-6, momentum=0.5),
            {"alpha": 0.95, "eps": 1e-6, "momentum": 0.5},
            id="rmsprop",
        ),
        pytest.param(lambda: SGD(momentum=0.9, nesterov=True), {"momentum": 0.9, "nesterov": True}, id="sgd"),
        pytest.param(lambda: Adagrad(epsilon=1e-5), {"eps": 1e-5}, id="adagrad"),
    ],
)
def test_keras_argument_names_become_torch_ones_and_the_optimizer_builds(
    make: Callable[[], OptimizerSpec], expected: dict[str, Any]
) -> None:
    spec = make()
    assert {k: spec.kwargs[k] for k in expected} == expected
    optimizer = build_optimizer(spec, nn.Linear(2, 1))
    assert {k: optimizer.defaults[k] for k in expected} == expected


def test_unknown_aliased_and_clipping_arguments_are_refused_where_the_spec_is_made() -> None:
    with pytest.raises(
        TypeError, match=r"Adam got an unknown argument 'beta1'; it accepts amsgrad, beta_1, "
    ):
        Adam(beta1=0.8)
    with pytest.raises(TypeError, match=r"RMSprop got an unknown argument 'nesterov'; .*\brho\b"):
        RMSprop(nesterov=True)
    with pytest.raises(ValueError, match=r"Adam got epsilon= and eps=, the same setting; pass one of them"):
        Adam(epsilon=1e-7, eps=1e-8)
    with pytest.raises(ValueError, match=r"Adam got beta_1/beta_2 and betas, the same setting"):
        Adam(beta_1=0.8, betas=(0.8, 0.9))
    with pytest.raises(
        TypeError, match=r"Adam\(clipnorm=\.\.\.\) is not supported: .*compile\(\.\.\., clipnorm"
    ):
        Adam(clipnorm=1.0)
    with pytest.raises(TypeError, match=r"SGD\(clipvalue=\.\.\.\) is not supported: use model\.compile"):
        SGD(clipvalue=0.5)
    with pytest.raises(TypeError, match=r"RMSprop\(global_clipnorm=\.\.\.\) is not supported"):
        RMSprop(global_clipnorm=1.0)
    with pytest.raises(TypeError, match=r"SGD got an unknown argument 'rho'; it accepts dampening, "):
        OptimizerSpec(torch.optim.SGD, {"rho": 0.9})  # a hand-made spec, when it is made


@pytest.mark.parametrize(
    ("make", "error", "message"),
    [
        (lambda: Adam(beta_1="x"), TypeError, r"Adam beta_1 must be a number in \[0, 1\), got str 'x'"),
        (lambda: Adam(beta_2=1.0), ValueError, r"Adam beta_2 must be in \[0, 1\), got 1.0"),
        (lambda: RMSprop(rho=2), ValueError, r"RMSprop rho must be in \[0, 1\), got 2"),
        (lambda: Adam(epsilon=-1), ValueError, r"Adam epsilon must be a finite number > 0, got -1"),
    ],
    ids=["beta_1-text", "beta_2-one", "rho-two", "epsilon-negative"],
)
def test_keras_argument_values_are_checked_where_the_spec_is_made(
    make: Callable[[], OptimizerSpec], error: type[Exception], message: str
) -> None:
    # (they reached torch only at fit, whose messages do not name Keras's arguments; rho=2 trained)
    with pytest.raises(error, match=message):
        make()


def _one_step(spec: OptimizerSpec, grad: float) -> float:
    net = nn.Linear(1, 1, bias=False)
    nn.init.ones_(net.weight)
    optimizer = build_optimizer(spec, net)
    net.weight.grad = torch.full_like(net.weight, grad)
    optimizer.step()
    return net.weight.item()


@pytest.mark.parametrize("grad", [0.0, 0.5], ids=["zero-grad", "grad"])
def test_adam_weight_decay_is_keras_decoupled_decay(grad: float) -> None:
    lr, wd, eps = 0.1, 0.01, 1e-7
    # Keras 3: p -= lr * wd * p, then Adam's first step p -= lr * m_hat / (sqrt(v_hat) + eps), m_hat = g,
    # v_hat = g**2
    decayed = 1.0 - lr * wd * 1.0
    expected = decayed - lr * grad / (abs(grad) + eps)
    assert _one_step(Adam(learning_rate=lr, weight_decay=wd), grad) == pytest.approx(expected, rel=1e-6)
    assert Adam(weight_decay=None).cls is torch.optim.Adam  # Keras's default: no decay


@pytest.mark.parametrize("make", [SGD, RMSprop, Adagrad], ids=["sgd", "rmsprop", "adagrad"])
def test_weight_decay_torch_couples_to_the_gradient_is_refused(make: Callable[..., OptimizerSpec]) -> None:
    name = make.__name__
    extra = {"momentum": 0.9} if name == "SGD" else {}  # plain SGD's L2 step is Keras's decay (below)
    with pytest.raises(ValueError, match=rf"{name}\(weight_decay=0\.01\) is not supported: Keras decays"):
        make(weight_decay=0.01, **extra)
    assert make(weight_decay=0.0).kwargs["weight_decay"] == 0.0


def test_sgd_without_momentum_decays_as_keras() -> None:
    p = torch.nn.Parameter(torch.tensor([1.0, -2.0]))
    holder = nn.Module()
    holder.p = p
    optimizer = build_optimizer(SGD(learning_rate=0.1, weight_decay=0.01), holder)
    p.grad = torch.tensor([0.5, 0.25])
    optimizer.step()
    # Keras 3: p -= lr * wd * p, then p -= lr * g (with g taken before the decay)
    expected = torch.tensor([1.0, -2.0]) * (1 - 0.1 * 0.01) - 0.1 * torch.tensor([0.5, 0.25])
    torch.testing.assert_close(p.detach(), expected)


@pytest.mark.parametrize(
    ("decay", "error", "message"),
    [(-1.0, ValueError, "weight_decay must be a finite number >= 0, got -1.0"),
     ("0.1", TypeError, "weight_decay must be a number, got str '0.1'")],
    ids=["negative", "text"],
)  # fmt: skip
def test_a_bad_weight_decay_is_refused_when_the_spec_is_made(
    decay: object, error: type, message: str
) -> None:
    with pytest.raises(error, match=f"^{message}$"):
        Adam(weight_decay=decay)


@pytest.mark.parametrize(
    ("cls", "kwargs"),
    [
        (torch.optim.Adam, {"amsgrad": True, "fused": True}),
        (torch.optim.AdamW, {}),
        (torch.optim.SGD, {"lr": 0.1}),
        (torch.optim.SGD, {"lr": 0.1, "momentum": 0.9, "fused": True}),
        (torch.optim.RMSprop, {"centered": True, "momentum": 0.9}),
        (torch.optim.Adagrad, {"fused": True}),
        (torch.optim.Adadelta, {}),
        (torch.optim.Adamax, {}),
        (torch.optim.NAdam, {}),
        (torch.optim.RAdam, {}),
        (torch.optim.ASGD, {}),
        (torch.optim.Rprop, {}),
    ],
    ids=lambda v: v.__name__ if isinstance(v, type) else "-".join(v) or "defaults",
)
def test_the_state_torch_saves_passes_the_check_of_a_saved_state(
    cls: type[torch.optim.Optimizer], kwargs: dict[str, Any]
) -> None:
    torch.manual_seed(0)
    net = _Net()
    optimizer = cls(net.parameters(), **kwargs)
    for _ in range(2):
        net(torch.randn(4, 3, 2)).sum().backward()
        optimizer.step()
    saved = optimizer.state_dict()
    check_saved_state(optimizer, saved["state"], saved["param_groups"])


def test_a_saved_state_of_a_complex_parameter_must_be_complex() -> None:
    weight = nn.Parameter(torch.ones(3, dtype=torch.complex64))
    optimizer = torch.optim.Adam([weight])
    weight.grad = torch.ones_like(weight)
    optimizer.step()
    saved = optimizer.state_dict()
    check_saved_state(optimizer, saved["state"], saved["param_groups"], ["w"])
    saved["state"][0]["exp_avg"] = torch.zeros(3)
    message = "the 'exp_avg' state of parameter 0 (w) holds torch.float32; expected a complex dtype, as the "
    with pytest.raises(ValueError, match=re.escape(message) + "parameter's torch.complex64$"):
        check_saved_state(optimizer, saved["state"], saved["param_groups"], ["w"])
