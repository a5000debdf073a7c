"""The export switch: lstmkit modules run on traceable backends while exported, and get theirs back."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from lstmkit.export import eval_mode, traceable
from lstmkit.export.backends import export_backend, reference_modules
from lstmkit.export.signature import BATCH, STEPS, resize, signature
from lstmkit.nn import LSTM, LSTMCell


def _net() -> nn.Module:
    return nn.ModuleDict(
        {
            "plain": LSTM(2, 3, backend="fused", check_finite=True),
            "projected": LSTM(2, 3, proj_size=2, backend="fused"),
            "peephole": LSTM(2, 3, peephole=True, backend="fused"),
            "cell": LSTMCell(2, 3, backend="fused"),
            "ln_cell": LSTMCell(2, 3, layer_norm=True, backend="fused"),
            "dropout": nn.Dropout(0.5),
        }
    )


@pytest.mark.parametrize(
    ("exporter", "expected"),
    [
        ("torchscript", {"plain": "torch", "projected": "reference", "peephole": "reference"}),
        ("dynamo", {"plain": "reference", "projected": "reference", "peephole": "reference"}),
    ],
)
def test_traceable_switches_every_module_and_restores_it_on_error(exporter: str, expected: dict) -> None:
    net = _net()
    with pytest.raises(RuntimeError, match="inside"), traceable(net, exporter):
        assert {name: net[name].backend for name in expected} == expected
        assert net["cell"].backend == "torch" and net["ln_cell"].backend == "reference"
        assert not any(getattr(m, "check_finite", False) for m in net.modules())
        raise RuntimeError("inside")
    assert all(m.backend == "fused" for m in net.modules() if isinstance(m, LSTM | LSTMCell))
    assert net["plain"].check_finite and not net["projected"].check_finite


def test_traced_modules_run_the_same_numbers() -> None:
    net = _net()
    x = torch.randn(4, 2, 2)
    before = [net[name](x)[0] for name in ("plain", "projected", "peephole")]
    with traceable(net, "dynamo"):
        after = [net[name](x)[0] for name in ("plain", "projected", "peephole")]
    for a, b in zip(before, after, strict=True):
        torch.testing.assert_close(a, b, atol=1e-6, rtol=0)


def test_eval_mode_restores_each_submodule_s_own_mode() -> None:
    net = _net().train()
    net["cell"].eval()  # mixed modes, as a frozen part of a network
    with pytest.raises(RuntimeError), eval_mode(net):
        assert not any(m.training for m in net.modules())
        raise RuntimeError
    assert net.training and net["plain"].training and not net["cell"].training


def test_eval_mode_gives_a_module_built_inside_its_parent_s_mode() -> None:
    for training in (True, False):
        net = nn.Sequential(nn.Linear(2, 2)).train(training)
        with eval_mode(net):
            net.append(nn.Dropout(0.5))  # as a lazy layer builds its modules on the first forward
            assert net[1].training  # (a new module starts in training mode)
        assert [m.training for m in net.modules()] == [training] * 3


def test_reference_modules_and_backends() -> None:
    names = [name for name, _ in reference_modules(_net())]
    assert names == ["projected", "peephole", "ln_cell"]
    assert export_backend(LSTM(2, 3), "torchscript") == "torch"
    assert export_backend(LSTM(2, 3), "dynamo") == "reference"


def test_generic_axes_rule_and_resized_inputs_stay_valid() -> None:
    ids, lengths = torch.tensor([[1, 2, 3], [4, 5, 6]]), torch.tensor([3, 1])
    x = torch.randn(2, 3, 4)
    sig = signature(nn.Identity(), (x, ids, lengths, torch.randn(2, 5)))
    assert sig.axes == ({0: BATCH, 1: STEPS}, {0: BATCH, 1: STEPS}, {0: BATCH}, {0: BATCH})
    grown = resize(sig.args, sig.axes, (BATCH, STEPS), seed=0)
    assert [tuple(t.shape) for t in grown] == [(3, 4, 4), (3, 4), (3,), (3, 5)]
    assert grown[1].tolist() == [[1, 2, 3, 1], [4, 5, 6, 4], [1, 2, 3, 1]]  # ids repeat cyclically
    assert grown[2].tolist() == [3, 1, 3]  # lengths stay within the steps
