"""The memory benchmark: an LSTM beats the baseline on a short adding problem; the config checks itself."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch

from lstmkit.tasks.generators import ADDING_BASELINE_MSE
from lstmkit.tasks.memory import (
    CurvePoint,
    MemoryBenchConfig,
    RunResult,
    format_table,
    initial_network,
    run_memory_benchmark,
    train_one,
)
from lstmkit.tasks.models import SequenceNet, load_memory_net, save_memory_net
from lstmkit.tasks.plots import plot_loss_curves


def test_lstm_beats_the_baseline_on_short_adding_problem() -> None:
    config = MemoryBenchConfig(
        task="adding",
        lengths=(20,),
        models=("lstm",),
        hidden_size=32,
        batch_size=64,
        lr=1e-2,
        max_steps=300,
        eval_every=50,
        eval_size=500,
        test_size=1000,
        stop_when_solved=False,
    )
    result, net = train_one(config, "lstm", 20)
    assert result.steps == 300 and result.stopped == "max_steps" and len(result.curve) == 6
    assert result.baseline_loss == pytest.approx(ADDING_BASELINE_MSE)
    assert result.test_loss < 0.2 * ADDING_BASELINE_MSE
    assert not net.training


def test_stop_when_solved_and_runs_are_repeatable() -> None:
    config = MemoryBenchConfig(
        task="adding",
        lengths=(8,),
        models=("gru",),
        hidden_size=16,
        lr=1e-2,
        max_steps=400,
        eval_every=50,
        eval_size=300,
        test_size=300,
    )
    first, _ = train_one(config, "gru", 8)
    second, _ = train_one(config, "gru", 8)
    assert first.test_loss == second.test_loss and first.steps == second.steps
    assert first.stopped == "solved" and first.steps < 400
    assert first.steps_to_solve == first.steps and first.curve[-1].val_loss < 0.01
    assert all(p.val_loss >= 0.01 for p in first.curve[:-1])


@pytest.mark.parametrize("task", ["copy", "temporal_order"])
def test_other_tasks_run_and_report_accuracy(task: str) -> None:
    config = MemoryBenchConfig(
        task=task,
        lengths=(20,),
        models=("rnn", "lstm"),
        hidden_size=8,
        max_steps=3,
        eval_every=2,
        eval_size=20,
        test_size=20,
    )
    results = run_memory_benchmark(config)
    assert [(r.model, r.length) for r in results] == [("rnn", 20), ("lstm", 20)]
    assert all(r.test_accuracy is not None and 0 <= r.test_accuracy <= 1 for r in results)
    assert all(r.baseline_accuracy is not None for r in results)
    table = format_table(results)
    assert table.splitlines()[2].split()[:2] == ["20", "rnn"]


def test_loss_curve_plot_and_model_round_trip(tmp_path: Path) -> None:
    config = MemoryBenchConfig(
        lengths=(6,),
        models=("lstm", "rnn"),
        hidden_size=8,
        max_steps=4,
        eval_every=2,
        eval_size=10,
        test_size=10,
    )
    results = run_memory_benchmark(config)
    plot_loss_curves(results, tmp_path / "curves.png")
    assert (tmp_path / "curves.png").read_bytes()[:4] == b"\x89PNG"
    net = SequenceNet("lstm", 2, 8, 1)
    save_memory_net(tmp_path / "net.safetensors", net, task="adding")
    loaded = load_memory_net(tmp_path / "net.safetensors")
    x = torch.randn(2, 5, 2)
    torch.testing.assert_close(loaded(x), net.eval()(x))


def test_config_rejects_bad_values() -> None:
    with pytest.raises(
        ValueError, match="unknown task 'add'; expected one of 'adding', 'copy', 'temporal_order'"
    ):
        MemoryBenchConfig(task="add")
    with pytest.raises(ValueError, match="unknown model 'lstm2'"):
        MemoryBenchConfig(models=("lstm2",))
    with pytest.raises(ValueError, match="lengths must name at least one"):
        MemoryBenchConfig(lengths=())
    with pytest.raises(ValueError, match="lr must be a finite number > 0, got -1"):
        MemoryBenchConfig(lr=-1)
    with pytest.raises(ValueError, match="max_steps must be >= 1, got 0"):
        MemoryBenchConfig(max_steps=0)


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        pytest.param("clip_norm", 0.0, "clip_norm must be a finite number > 0, got 0.0", id="clip-zero"),
        pytest.param("clip_norm", -1.0, "clip_norm must be a finite number > 0, got -1.0", id="clip-neg"),
        pytest.param("clip_norm", math.nan, "clip_norm must be a finite number > 0, got nan", id="clip-nan"),
        pytest.param(
            "lstm_forget_bias", math.nan, "lstm_forget_bias must be a finite number, got nan", id="bias"
        ),
        pytest.param("seed", -1, r"seed must be an integer in \[0, 2\*\*63 - 1\], got -1", id="seed-neg"),
        pytest.param(
            "seed",
            2**63,
            r"seed must be an integer in \[0, 2\*\*63 - 1\], got 9223372036854775808",
            id="seed-big",
        ),
        pytest.param(
            "lengths",
            (8, 8),
            r"lengths must be distinct, got \(8, 8\) with 8 more than once",
            id="lengths-twice",
        ),
        pytest.param(
            "models",
            ("lstm", "gru", "lstm"),
            r"models must be distinct, got \('lstm', 'gru', 'lstm'\) with 'lstm' more than once",
            id="models-twice",
        ),
    ],
)
def test_config_rejects_bad_values_naming_the_field(field: str, value: object, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        MemoryBenchConfig(**{field: value})  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        pytest.param(
            "models",
            "lstm",
            r"models must be a tuple such as \('lstm', 'gru', 'rnn'\), got str 'lstm'; write \('lstm',\)",
            id="models-str",
        ),
        pytest.param(
            "lengths",
            100,
            r"lengths must be a tuple such as \(100, 200\), got int 100; write \(100,\)",
            id="lengths-int",
        ),
        pytest.param(
            "lengths", (8.0,), "length for task 'adding' must be an integer, got float 8.0", id="length-float"
        ),
        pytest.param("lr", "0.1", "lr must be a number, got str '0.1'", id="lr-str"),
        pytest.param(
            "time_limit",
            "5",
            r"time_limit \(seconds, or None for no limit\) must be a number, got str '5'",
            id="time-str",
        ),
        pytest.param("clip_norm", None, "clip_norm must be a number, got NoneType None", id="clip-none"),
        pytest.param(
            "lstm_forget_bias", "1", "lstm_forget_bias must be a number, got str '1'", id="bias-str"
        ),
        pytest.param(
            "stop_when_solved", 1, "stop_when_solved must be True or False, got int 1", id="stop-int"
        ),
        pytest.param(
            "seed", 0.5, r"seed must be an integer in \[0, 2\*\*63 - 1\], got float 0.5", id="seed-float"
        ),
        pytest.param(
            "seed", None, r"seed must be an integer in \[0, 2\*\*63 - 1\], got NoneType None", id="seed-none"
        ),
    ],
)
def test_config_rejects_wrong_types_naming_the_field(field: str, value: object, message: str) -> None:
    with pytest.raises(TypeError, match=message):
        MemoryBenchConfig(**{field: value})  # type: ignore[arg-type]


def test_config_stores_lists_as_tuples_and_defaults_to_forget_bias_one() -> None:
    config = MemoryBenchConfig(lengths=[8, 6], models=["gru"])  # type: ignore[arg-type]
    assert config.lengths == (8, 6) and config.models == ("gru",)
    assert hash(config) == hash(MemoryBenchConfig(lengths=(8, 6), models=("gru",)))
    assert MemoryBenchConfig().lstm_forget_bias == 1.0  # as the CLI's --lstm-forget-bias and the docs


def test_config_keeps_numpy_numbers_as_plain_ones_for_metrics_json() -> None:
    import dataclasses
    import json

    import numpy as np

    config = MemoryBenchConfig(
        lengths=[np.int64(8)],
        lr=np.float32(0.5),
        seed=np.int64(3),
        hidden_size=np.int32(4),  # type: ignore[list-item,arg-type]
    )
    assert json.loads(json.dumps(dataclasses.asdict(config)))["lengths"] == [8]
    assert type(config.lr) is float and type(config.seed) is int and type(config.hidden_size) is int


@pytest.mark.parametrize(
    ("task", "shortest"), [("adding", 2), ("copy", 1), ("temporal_order", 20)], ids=lambda v: str(v)
)
def test_config_takes_each_tasks_shortest_length_and_refuses_one_less(task: str, shortest: int) -> None:
    config = MemoryBenchConfig(
        task=task, lengths=(shortest,), models=("lstm",), hidden_size=2, max_steps=1, eval_size=4, test_size=4
    )
    (result,) = run_memory_benchmark(config)
    assert result.length == shortest and result.steps == 1
    with pytest.raises(
        ValueError, match=f"length for task '{task}' must be >= {shortest}, got {shortest - 1}"
    ):
        MemoryBenchConfig(task=task, lengths=(shortest - 1,))


def test_the_largest_seed_runs() -> None:
    config = MemoryBenchConfig(
        lengths=(4,), models=("rnn",), hidden_size=2, max_steps=2, eval_size=4, test_size=4, seed=2**63 - 1
    )
    (result,) = run_memory_benchmark(config)  # the validation and test sets' seeds wrap into range
    assert result.steps == 2


def test_lstm_forget_bias_applies_to_the_lstm_only() -> None:
    config = MemoryBenchConfig(hidden_size=4, lstm_forget_bias=1.0)
    lstm = initial_network(config, "lstm").rnn
    forget_rows = slice(4, 8)  # gate order i, f, g, o
    total = lstm.bias_ih_l0[forget_rows] + lstm.bias_hh_l0[forget_rows]
    plain = initial_network(MemoryBenchConfig(hidden_size=4, lstm_forget_bias=0.0), "lstm").rnn
    torch.testing.assert_close(total, plain.bias_ih_l0[forget_rows] + plain.bias_hh_l0[forget_rows] + 1.0)
    assert isinstance(initial_network(config, "gru").rnn, torch.nn.GRU)  # GRU built without the option
    with pytest.raises(ValueError, match="forget_bias applies to the LSTM only"):
        SequenceNet("rnn", 2, 4, 1, forget_bias=1.0)


@pytest.mark.parametrize("cell", ["lstm", "gru", "rnn"])
def test_last_readout_is_the_head_of_the_sequences_last_step(cell: str) -> None:
    torch.manual_seed(2)
    last = SequenceNet(cell, 2, 5, 3)  # type: ignore[arg-type]
    every = SequenceNet(cell, 2, 5, 3, readout="all")  # type: ignore[arg-type]
    every.load_state_dict(last.state_dict())
    x = torch.randn(4, 6, 2)
    torch.testing.assert_close(last(x), every(x)[:, -1], rtol=0, atol=0)


def test_a_damaged_memory_net_file_is_a_value_error(tmp_path: Path) -> None:
    from lstmkit.utils.serialization import load_bundle, save_bundle

    save_memory_net(tmp_path / "net.safetensors", SequenceNet("lstm", 2, 4, 1), task="adding")
    tensors, config = load_bundle(tmp_path / "net.safetensors")
    save_bundle(tmp_path / "no_cell.safetensors", tensors, {k: v for k, v in config.items() if k != "cell"})
    with pytest.raises(ValueError, match="is a damaged memory_task_net file: KeyError: 'cell'"):
        load_memory_net(tmp_path / "no_cell.safetensors")
    save_bundle(tmp_path / "wider.safetensors", tensors, {**config, "hidden_size": 5})
    with pytest.raises(ValueError, match="is a damaged memory_task_net file: RuntimeError: Error"):
        load_memory_net(tmp_path / "wider.safetensors")


def _result(task: str, model: str, length: int, baseline: float) -> RunResult:
    curve = [CurvePoint(step, 1.0, 1.0 / step, None, 0.0) for step in (1, 2)]
    return RunResult(task, model, length, 10, 0.5, baseline, None, None, 2, None, "max_steps", 0.0, curve)


def test_loss_curves_of_two_tasks_at_one_length_go_on_two_panels() -> None:
    results = [
        _result("copy", "lstm", 3, 0.9),
        _result("adding", "rnn", 3, 1 / 6),
        _result("copy", "gru", 3, 0.9),
    ]
    fig = plot_loss_curves(results)
    titles = [ax.get_title() for ax in fig.axes]
    assert titles == ["adding, T = 3", "copy, T = 3"]
    for ax, models, baseline in zip(fig.axes, (["rnn"], ["lstm", "gru"]), (1 / 6, 0.9), strict=True):
        *curves, dashed = ax.lines
        assert [line.get_label() for line in curves] == models
        assert dashed.get_label() == "baseline" and dashed.get_ydata()[0] == pytest.approx(baseline)
    with pytest.raises(TypeError, match="plot_loss_curves takes RunResult items, got dict"):
        plot_loss_curves([results[0].to_dict()])  # type: ignore[list-item]


def test_a_config_that_is_not_a_memory_bench_config_is_named() -> None:
    settings = {"task": "adding"}
    with pytest.raises(
        TypeError, match=r"^config must be a MemoryBenchConfig, got dict; make one from the settings"
    ):
        train_one(settings, "lstm", 10)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="config must be a MemoryBenchConfig, got dict"):
        run_memory_benchmark(settings)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="config must be a MemoryBenchConfig, got dict"):
        initial_network(settings, "lstm")  # type: ignore[arg-type]
