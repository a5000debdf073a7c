"""``lstmkit bench memory``: a tiny run end to end."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from lstmkit.cli import cli


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
    # a saved model feeds lstmkit gates
    np_data = tmp_path / "x.csv"
    np_data.write_text("v,m\n" + "\n".join(f"{t / 8},{int(t in (1, 6))}" for t in range(8)))
    result = CliRunner().invoke(
        cli, ["gates", str(out / "lstm_T8.safetensors"), str(np_data), "--out", str(tmp_path / "g")]
    )
    assert result.exit_code == 0, result.output


def test_bench_memory_rejects_unknown_model() -> None:
    result = CliRunner().invoke(cli, ["bench", "memory", "--models", "transformer"])
    assert result.exit_code == 2 and "transformer" in result.output
