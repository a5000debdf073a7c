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
    assert "gradient_flow_T<T>.png (not for copy" in help_text
    assert "data_T<T>.npy; for adding also signal_T<T>.npy" in help_text
    assert (
        "lstmkit gates reads an lstm_T<T>.safetensors with its data_T<T>.npy of adding or temporal_order"
        in (help_text)
    )


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


TINY = ["--hidden-size", "2", "--steps", "1", "--eval-every", "1"]


def _written(output: str, out: Path) -> set[str]:
    """The file names of the run's last line, ``wrote to OUT: a, b, ...``."""
    last = output.strip().splitlines()[-1]
    prefix = f"wrote to {out}: "
    assert last.startswith(prefix), last
    return set(last.removeprefix(prefix).split(", "))


def test_bench_memory_copy_lists_only_the_files_it_wrote(tmp_path: Path) -> None:
    out = tmp_path / "copy"
    args = ["bench", "memory", "--task", "copy", "--length", "1", "--models", "lstm", "gru", *TINY]
    result = CliRunner().invoke(cli, [*args, "--out", str(out)])
    assert result.exit_code == 0, result.output
    files = {p.name for p in out.iterdir()}
    assert _written(result.output, out) == files
    assert files == {
        "metrics.json",
        "loss_curves.png",
        "lstm_T1.safetensors",
        "gru_T1.safetensors",
        "data_T1.npy",
    }
    assert np.load(out / "data_T1.npy").shape == (64, 21)  # tokens: no gradient-flow plot, no input for gates


def test_bench_memory_temporal_order_lstm_feeds_gates_and_lists_its_files(tmp_path: Path) -> None:
    out = tmp_path / "order"
    args = ["bench", "memory", "--task", "temporal_order", "--length", "20", "--models", "lstm", *TINY]
    result = CliRunner().invoke(cli, [*args, "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert _written(result.output, out) == {p.name for p in out.iterdir()}
    assert (out / "gradient_flow_T20.png").is_file() and not (out / "signal_T20.npy").exists()
    gates = [
        "gates",
        str(out / "lstm_T20.safetensors"),
        str(out / "data_T20.npy"),
        "--out",
        str(tmp_path / "g"),
    ]
    result = CliRunner().invoke(cli, [*gates, "--sample", "2"])
    assert result.exit_code == 0, result.output


def test_bench_memory_writes_strict_json_after_a_diverged_run(tmp_path: Path) -> None:
    out = tmp_path / "diverged"
    args = ["bench", "memory", "--length", "4", "--models", "rnn", *TINY, "--lr", "1e30", "--out", str(out)]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output

    def refuse(constant: str) -> None:
        raise AssertionError(f"metrics.json holds {constant}, which strict JSON has not")

    metrics = json.loads((out / "metrics.json").read_text(), parse_constant=refuse)
    (run,) = metrics["results"]
    assert run["stopped"] == "diverged" and run["test_loss"] is None and run["curve"][-1]["val_loss"] is None


@pytest.mark.parametrize(
    ("args", "message"),
    [
        pytest.param(
            ["--length", "--models", "lstm"], "--length expects one or more integers, got none", id="length"
        ),
        pytest.param(
            ["--length", "8", "--models"], "--models expects one or more model names, got none", id="models"
        ),
        pytest.param(
            ["--models", "--length", "8"],
            "--models expects one or more model names, got none",
            id="models-first",
        ),
        pytest.param(
            ["--length", "-5"], "Invalid value for '--length': -5 is not in the range x>=1", id="negative"
        ),
        pytest.param(
            ["--length", "8", "-3"],
            "Invalid value for '--length': -3 is not in the range x>=1",
            id="negative-second",
        ),
        pytest.param(
            ["--length", "4", "--models", "rnn", "--seed", "-1"],
            "Invalid value for '--seed': -1 is not in the range 0<=x<=9223372036854775807",
            id="seed-negative",
        ),
        pytest.param(
            ["--length", "4", "--models", "rnn", "--seed", str(2**63)],
            f"Invalid value for '--seed': {2**63} is not in the range 0<=x<=9223372036854775807",
            id="seed-huge",
        ),
    ],
)
def test_bench_memory_usage_errors_come_before_any_run(args: list[str], message: str) -> None:
    result = CliRunner().invoke(cli, ["bench", "memory", *TINY, *args])  # TINY: a quick run if not refused
    assert result.exit_code == 2, result.output
    assert message in result.output and "memory benchmark:" not in result.output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        pytest.param(
            ["--length", "8", "8"], "lengths must be distinct, got (8, 8) with 8 more than once", id="lengths"
        ),
        pytest.param(
            ["--length", "8", "--models", "lstm", "lstm"],
            "models must be distinct, got ('lstm', 'lstm') with 'lstm' more than once",
            id="models",
        ),
        pytest.param(
            ["--task", "temporal_order", "--length", "10"],
            "length for task 'temporal_order' must be >= 20, got 10",
            id="short",
        ),
        pytest.param(
            ["--length", "8", "--lstm-forget-bias", "nan"],
            "lstm_forget_bias must be a finite number, got nan",
            id="bias",
        ),
    ],
)
def test_bench_memory_config_errors_are_one_line(args: list[str], message: str) -> None:
    result = CliRunner().invoke(cli, ["bench", "memory", *TINY, *args])
    assert result.exit_code == 2, result.output
    assert result.output == f"lstmkit: error: {message}\n"


def test_bench_memory_out_under_a_file_is_a_usage_error(tmp_path: Path) -> None:
    (tmp_path / "afile").write_text("not a folder")
    out = tmp_path / "afile" / "sub"
    result = CliRunner().invoke(
        cli, ["bench", "memory", "--length", "4", "--models", "rnn", *TINY, "--out", str(out)]
    )
    assert result.exit_code == 2, result.output
    assert f"--out '{out}' cannot be made a folder: Not a directory" in result.output
    assert "Traceback" not in result.output and "memory benchmark:" not in result.output


def test_bench_memory_defaults_are_the_configs() -> None:
    from lstmkit.cli.bench import memory
    from lstmkit.cli.options import MAX_SEED
    from lstmkit.tasks.memory import MemoryBenchConfig
    from lstmkit.utils import validation

    assert MAX_SEED == validation.MAX_SEED  # copied so that --help imports no torch
    config = MemoryBenchConfig()
    defaults = {p.name: p.default for p in memory.params if p.name is not None}
    shared = set(defaults) & set(vars(config))
    assert {"lengths", "models", "lstm_forget_bias", "seed", "lr", "max_steps"} <= shared
    assert {name: defaults[name] for name in shared} == {name: getattr(config, name) for name in shared}
