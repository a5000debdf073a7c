"""Shared option types: ``--device`` accepts the devices this machine has, and names them otherwise.

The check is the library's (``lstmkit.forecast.regressor.device_problem``): the CLI and ``TrainConfig``
accept and refuse the same devices with the same words.
"""

from __future__ import annotations

import click
import pytest
import torch

from lstmkit.cli.options import DEVICE
from lstmkit.forecast.regressor import TrainConfig, available_devices


@pytest.fixture
def two_gpus(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: False)


def test_cpu_is_always_accepted() -> None:
    assert available_devices()[0] == "cpu"
    assert DEVICE.convert("cpu", None, None) == "cpu"


@pytest.mark.parametrize("device", ["cuda", "cuda:0", "cuda:1"])
def test_cuda_devices_that_exist_are_accepted(two_gpus: None, device: str) -> None:
    assert DEVICE.convert(device, None, None) == device


@pytest.mark.parametrize("device", ["cuda:2", "meta", "foo", "mps", ""])
def test_other_devices_are_rejected_with_the_accepted_list(two_gpus: None, device: str) -> None:
    with pytest.raises(click.BadParameter) as caught:
        DEVICE.convert(device, None, None)
    assert caught.value.message == (
        f"{device!r} is not a device this machine can train on; expected one of cpu, cuda, cuda:0, cuda:1"
    )


@pytest.mark.parametrize("device", ["cuda:2", "foo"])
def test_the_cli_and_train_config_refuse_a_device_in_the_same_words(two_gpus: None, device: str) -> None:
    with pytest.raises(click.BadParameter) as caught:
        DEVICE.convert(device, None, None)
    with pytest.raises(ValueError) as refused:
        TrainConfig(device=device)
    assert str(refused.value) == f"device {caught.value.message}"
