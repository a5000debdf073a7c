"""Shared option types: ``--device`` accepts the devices this machine has, and names them otherwise;
``--seed`` and ``--out`` of the commands that train are checked before any work starts.

The device check is the library's (``lstmkit.forecast.regressor.device_problem``): the CLI and
``TrainConfig`` accept and refuse the same devices with the same words.
"""

from __future__ import annotations

import errno
import tempfile
from pathlib import Path

import click
import pytest
import torch
from click.testing import CliRunner

from lstmkit.cli import cli
from lstmkit.cli.options import DEVICE, OutFolder
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


def _command(name: str, folder: Path) -> list[str]:
    """A command line of ``name`` on data files that cannot be read: an option refused before the data is
    read gives a usage error, anything later a different one."""
    data = folder / "data.csv"
    data.write_text("not,a\nvalid,file\n")
    return {
        "classify": ["classify", str(data), str(data)],
        "text train": ["text", "train", str(data), "--out", str(folder / "fresh")],
        "forecast": ["forecast", str(data), "--target", "y"],
    }[name]


COMMANDS = ["classify", "text train", "forecast"]


@pytest.mark.parametrize("seed", ["-1", str(2**63)], ids=["negative", "too-large"])
@pytest.mark.parametrize("command", COMMANDS)
def test_seed_out_of_range_is_a_usage_error(tmp_path: Path, command: str, seed: str) -> None:
    result = CliRunner().invoke(cli, [*_command(command, tmp_path), "--seed", seed])
    assert result.exit_code == 2, result.output
    assert f"Invalid value for '--seed': {seed} is not in the range 0<=x<={2**63 - 1}" in result.output
    assert result.stdout == ""


@pytest.mark.parametrize("command", COMMANDS)
def test_out_under_a_file_is_a_usage_error(tmp_path: Path, command: str) -> None:
    (tmp_path / "file").write_text("x")
    out = tmp_path / "file" / "out"
    result = CliRunner().invoke(cli, [*_command(command, tmp_path), "--out", str(out)])
    assert result.exit_code == 2, result.output
    assert (
        f"Invalid value for '--out': cannot write '{out}': '{tmp_path / 'file'}' is a file, not a folder"
        in result.output
    )
    assert result.stdout == ""


@pytest.mark.parametrize("command", COMMANDS)
def test_out_that_cannot_be_written_is_a_usage_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, command: str
) -> None:
    args = _command(command, tmp_path)

    def refused(**kwargs: object) -> str:  # as in /sys, where even root may not make a folder
        raise PermissionError(errno.EPERM, "Operation not permitted", str(kwargs["dir"]))

    monkeypatch.setattr(tempfile, "mkdtemp", refused)
    out = tmp_path / "new" / "out"
    result = CliRunner().invoke(cli, [*args, "--out", str(out)])
    assert result.exit_code == 2, result.output
    assert (
        f"Invalid value for '--out': cannot write '{out}': making a folder in '{tmp_path}' failed: "
        f"Operation not permitted" in result.output
    )


@pytest.mark.parametrize("beside", [False, True], ids=["inside", "beside"])
def test_out_folder_probe_leaves_nothing_behind(tmp_path: Path, beside: bool) -> None:
    (tmp_path / "out").mkdir()
    assert OutFolder(beside=beside).convert(str(tmp_path / "out"), None, None) == tmp_path / "out"
    assert OutFolder(beside=beside).convert(str(tmp_path / "a" / "b"), None, None) == tmp_path / "a" / "b"
    assert sorted(p.name for p in tmp_path.rglob("*")) == ["out"]


def test_out_folder_beside_probes_the_parent(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    probed: list[str] = []
    real = tempfile.mkdtemp

    def recording(**kwargs: object) -> str:
        probed.append(str(kwargs["dir"]))
        return real(**kwargs)  # type: ignore[call-overload,no-any-return]

    monkeypatch.setattr(tempfile, "mkdtemp", recording)
    (tmp_path / "out").mkdir()
    OutFolder().convert(str(tmp_path / "out"), None, None)
    OutFolder(beside=True).convert(str(tmp_path / "out"), None, None)
    assert probed == [str(tmp_path / "out"), str(tmp_path)]
