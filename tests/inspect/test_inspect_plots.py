"""Plots: files are written, inputs are checked, correlation finds the unit that carries the signal."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from lstmkit.inspect.gradient_flow import GradientFlow
from lstmkit.inspect.plots import (
    correlated_units,
    forget_time_constants,
    plot_correlated_units,
    plot_forget_distribution,
    plot_gates,
    plot_gradient_flow,
)
from lstmkit.inspect.record import GateRecord, record


@pytest.fixture
def records() -> list[GateRecord]:
    lstm = nn.LSTM(2, 6, num_layers=2, batch_first=True)
    return record(lstm, torch.randn(3, 12, 2))


def _is_png(path: Path) -> bool:
    return path.is_file() and path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_plots_write_png_files(records: list[GateRecord], tmp_path: Path) -> None:
    plot_gates(records[0], sample=1, path=tmp_path / "gates.png")
    plot_forget_distribution(records, tmp_path / "forget.png")
    plot_correlated_units(
        records[1], np.random.default_rng(0).normal(size=(3, 12)), path=tmp_path / "units.png"
    )
    flow = GradientFlow(np.geomspace(1e-6, 1.0, 12))
    plot_gradient_flow({"rnn": flow, "lstm": GradientFlow(np.ones(12))}, tmp_path / "flow.png")
    for name in ("gates", "forget", "units", "flow"):
        assert _is_png(tmp_path / f"{name}.png")


def test_figures_are_written_atomically_with_the_umask(records: list[GateRecord], tmp_path: Path) -> None:
    previous = os.umask(0o027)
    try:
        plot_forget_distribution(records, tmp_path / "forget.png")
    finally:
        os.umask(previous)
    assert [p.name for p in tmp_path.iterdir()] == ["forget.png"]  # no temporary file left
    assert (
        _is_png(tmp_path / "forget.png") and stat.S_IMODE((tmp_path / "forget.png").stat().st_mode) == 0o640
    )


def test_plot_gates_draws_series_and_one_panel_per_gate(records: list[GateRecord]) -> None:
    fig = plot_gates(records[0], gates=("f", "c"), series=np.arange(12.0))
    axes = [ax for ax in fig.axes if ax.get_label() != "<colorbar>"]
    assert len(axes) == 3
    np.testing.assert_array_equal(axes[0].lines[0].get_ydata(), np.arange(12.0))


def test_plot_gates_rejects_bad_arguments(records: list[GateRecord]) -> None:
    with pytest.raises(ValueError, match=r"sample must be in \[0, 3\) for a batch of 3, got 3"):
        plot_gates(records[0], sample=3)
    with pytest.raises(ValueError, match="gates must be a non-empty list of i, f, g, o, c, h, got \\['z'\\]"):
        plot_gates(records[0], gates=("z",))
    with pytest.raises(
        ValueError, match=r"series must be \(T,\) or \(T, I\) with T = 12 steps .* got shape \(5,\)"
    ):
        plot_gates(records[0], series=np.zeros(5))
    with pytest.raises(ValueError, match="max_units must be >= 1, got 0"):
        plot_gates(records[0], max_units=0)


def test_correlated_units_finds_the_unit_that_tracks_the_signal(records: list[GateRecord]) -> None:
    rec = records[0]
    signal = rec.c[:, :, 4] * 3.0 + 1.0  # unit 4's cell state, rescaled
    units, r = correlated_units(rec, signal, state="c", top=2)
    assert units[0] == 4
    assert r[0] == pytest.approx(1.0)
    with pytest.raises(ValueError, match=r"signal must have shape \(B, T\) = \(3, 12\), got \(12,\)"):
        correlated_units(rec, np.zeros(12))


def test_forget_time_constant_of_a_constant_gate() -> None:
    f = np.full((1, 4, 2), 0.9)
    rec = GateRecord("", 0, 0, "forward", np.zeros((1, 4, 1)), f, f, f, f, f, f)
    tau = forget_time_constants([rec])["/l0/forward"]
    np.testing.assert_allclose(tau, -1 / np.log(0.9))


def test_saturated_forget_gates_have_infinite_time_constants(tmp_path: Path) -> None:
    lstm = nn.LSTM(2, 3, batch_first=True)
    with torch.no_grad():
        lstm.bias_ih_l0[3:6] = 50.0  # f_t == 1.0 in float32: the cell is kept for ever
    records = record(lstm, torch.randn(2, 5, 2))
    tau = forget_time_constants(records)["/l0/forward"]
    assert np.all(tau == np.inf)
    figure = plot_forget_distribution(records, tmp_path / "forget.png")
    assert figure.axes[0].get_title() == "/l0/forward: median τ inf steps"


def test_a_closed_forget_gate_has_time_constant_zero() -> None:
    f = np.zeros((1, 3, 2))
    rec = GateRecord("", 0, 0, "forward", np.zeros((1, 3, 1)), f, f, f, f, f, f)
    np.testing.assert_array_equal(forget_time_constants([rec])["/l0/forward"], [0.0, 0.0])


def test_plot_gradient_flow_needs_a_model() -> None:
    with pytest.raises(ValueError, match="at least one model"):
        plot_gradient_flow({})


def test_plot_arguments_of_the_wrong_type_are_named(records: list[GateRecord]) -> None:
    flow = GradientFlow(np.ones(12))
    with pytest.raises(TypeError, match=r"flows must map each model's name to its GradientFlow, .* got list"):
        plot_gradient_flow([flow])  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"flows\['a'\] must be a GradientFlow .* got int"):
        plot_gradient_flow({"a": 5})  # type: ignore[dict-item]
    with pytest.raises(TypeError, match="sample must be an integer, got str '0'"):
        plot_gates(records[0], sample="0")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"series must be \(T,\) or \(T, I\) with T = 12 .* got shape \(\)"):
        plot_gates(records[0], series=5.0)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"series must be an array of numbers \(T,\) or \(T, I\), got list"):
        plot_gates(records[0], series=["a"] * 12)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"sample must be an integer, got float 0\.0"):
        plot_correlated_units(records[0], np.zeros((3, 12)), sample=0.0)  # type: ignore[arg-type]


@pytest.mark.parametrize("bad", [np.nan, np.inf], ids=["nan", "inf"])
def test_correlated_units_refuses_a_signal_with_nan_or_inf(records: list[GateRecord], bad: float) -> None:
    signal = np.random.default_rng(0).normal(size=(3, 12))
    signal[1, 4] = bad
    with pytest.raises(
        ValueError, match=r"signal contains 1 NaN or infinite value\(s\), the first at index \(1, 4\)"
    ):
        correlated_units(records[0], signal)


def test_correlated_units_needs_a_positive_integer_top(records: list[GateRecord]) -> None:
    signal = np.random.default_rng(0).normal(size=(3, 12))
    with pytest.raises(ValueError, match="top must be >= 1, got 0"):
        correlated_units(records[0], signal, top=0)
    with pytest.raises(TypeError, match="top must be an integer, got str '2'"):
        correlated_units(records[0], signal, top="2")  # type: ignore[arg-type]
    units, r = correlated_units(records[0], signal, top=100)  # at most every unit
    assert len(units) == len(r) == 6
