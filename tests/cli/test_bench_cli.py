"""``lstmkit bench memory``: a tiny run end to end."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from lstmkit.cli import cli
from lstmkit.utils import serialization


def test_bench_memory_writes_metrics_and_plots(tmp_path: Path) -> None:
    out = tmp_path / "bench"
    args = [
        "bench",
        "memory",
        "--task",
        "adding",
        "--length",
        "6",
        "8",
        "--models",
        "lstm",
        "rnn",
        "--hidden-size",
        "8",
        "--steps",
        "4",
        "--eval-every",
        "2",
        "--out",
        str(out),
    ]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    table = [line.split() for line in result.output.splitlines() if line.strip().startswith(("6 ", "8 "))]
    assert [row[:2] for row in table] == [["6", "lstm"], ["6", "rnn"], ["8", "lstm"], ["8", "rnn"]]
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["config"]["lengths"] == [6, 8]
    assert {(r["model"], r["length"]) for r in metrics["results"]} == {
        ("lstm", 6),
        ("rnn", 6),
        ("lstm", 8),
        ("rnn", 8),
    }
    for r in metrics["results"]:
        assert r["baseline_loss"] > 0.16 and r["steps"] == 4 and r["test_loss"] > 0
    assert len(metrics["gradient_flow"]["8"]["lstm"]) == 8
    for name in ("loss_curves.png", "gradient_flow_T6.png", "gradient_flow_T8.png", "lstm_T8.safetensors"):
        assert (out / name).is_file()
    x, signal = np.load(out / "data_T8.npy"), np.load(out / "signal_T8.npy")
    assert x.shape == (64, 8, 2) and signal.shape == (64, 8)
    np.testing.assert_allclose(signal[:, -1], (x[..., 0] * x[..., 1]).sum(axis=1), rtol=1e-6)
    # a saved model and the written examples feed lstmkit gates
    args = [
        "gates",
        str(out / "lstm_T8.safetensors"),
        str(out / "data_T8.npy"),
        "--out",
        str(tmp_path / "g"),
        "--signal",
        str(out / "signal_T8.npy"),
        "--sample",
        "3",
    ]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    assert (tmp_path / "g" / "units_rnn_l0_forward.png").is_file()


def test_bench_memory_help_names_the_files_it_writes() -> None:
    help_text = " ".join(CliRunner().invoke(cli, ["bench", "memory", "--help"]).output.split())
    for name in ("metrics.json", "loss_curves.png", "gradient_flow_T<T>.png", "<model>_T<T>.safetensors"):
        assert name in help_text
    assert "data_T<T>.npy, signal_T<T>.npy" in help_text


def test_bench_memory_rejects_unknown_model() -> None:
    result = CliRunner().invoke(cli, ["bench", "memory", "--models", "transformer"])
    assert result.exit_code == 2 and "transformer" in result.output


@pytest.mark.parametrize(
    ("option", "value", "accepted"),
    [
        ("--threads", "0", "x>=1"),
        ("--hidden-size", "0", "x>=1"),
        ("--batch-size", "0", "x>=1"),
        ("--steps", "0", "x>=1"),
        ("--eval-every", "0", "x>=1"),
        ("--lr", "0.0", "x>0"),
        ("--time-limit", "0.0", "x>0"),
    ],
    ids=lambda v: str(v).lstrip("-"),
)
def test_bench_memory_rejects_out_of_range_numbers(option: str, value: str, accepted: str) -> None:
    result = CliRunner().invoke(cli, ["bench", "memory", "--length", "8", "--models", "lstm", option, value])
    assert result.exit_code == 2, result.output
    assert f"Invalid value for '{option}': {value} is not in the range {accepted}" in result.output


def test_bench_memory_writes_the_example_arrays_atomically(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    written: list[str] = []
    atomic = serialization.atomic_write_bytes

    def recording(path: str | os.PathLike[str], data: bytes) -> None:
        written.append(Path(path).name)
        atomic(path, data)

    monkeypatch.setattr(serialization, "atomic_write_bytes", recording)
    out = tmp_path / "bench"
    args = ["--length", "4", "--models", "lstm", "--hidden-size", "2", "--steps", "1", "--eval-every", "1"]
    result = CliRunner().invoke(cli, ["bench", "memory", "--task", "adding", *args, "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert {"data_T4.npy", "signal_T4.npy"} <= set(written)
    assert np.load(out / "data_T4.npy").shape == (64, 4, 2)
