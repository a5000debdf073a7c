"""``lstmkit forecast`` and ``lstmkit predict`` on a saved forecaster, with tiny settings."""

from __future__ import annotations

import json
import os
import re
import stat
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner, Result

from lstmkit.cli import cli
from lstmkit.utils.serialization import save_bundle

TINY = [
    "--lookback",
    "8",
    "--horizon",
    "2",
    "--epochs",
    "2",
    "--folds",
    "2",
    "--units",
    "8",
    "--test-size",
    "30",
]


def _csv(path: Path, n: int = 160, *, shuffle: bool = False) -> Path:
    rng = np.random.default_rng(0)
    t = np.arange(n)
    frame = pd.DataFrame(
        {
            "date": pd.date_range("2021-01-01", periods=n, freq="D").strftime("%Y-%m-%d"),
            "price": 50 + np.sin(2 * np.pi * t / 7) + 0.05 * t + 0.1 * rng.normal(size=n),
            "volume": rng.uniform(1, 2, size=n),
        }
    )
    if shuffle:
        frame = frame.sample(frac=1.0, random_state=0)
    frame.to_csv(path, index=False)
    return path


def _run(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args))


def _error_line(result: Result) -> str:
    """The single error line of a failed command (input errors print nothing else)."""
    assert result.exit_code == 2, result.output
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert "Traceback" not in result.output
    return lines[0]


def test_forecast_writes_everything_and_predict_uses_the_model(tmp_path: Path) -> None:
    data = _csv(tmp_path / "prices.csv", shuffle=True)
    out = tmp_path / "run"
    result = _run(
        "forecast", str(data), "--target", "price", "--features", "volume", *TINY, "--out", str(out)
    )
    assert result.exit_code == 0, result.output
    for method in ("lstm", "persistence", "seasonal_naive(m=7)", "drift", "moving_average(k=7)"):
        assert method in result.stdout
    assert "MASE" in result.stdout and "DirAcc" in result.stdout and "final test span" in result.stdout
    assert "dates were not sorted; sorted 160 rows by date" in result.stderr
    assert sorted(p.name for p in out.iterdir()) == [
        "forecast.png",
        "forecasts.csv",
        "metrics.json",
        "model.lstmkit",
        "next_forecast.csv",
    ]
    metrics = json.loads((out / "metrics.json").read_text())
    assert {row["method"] for row in metrics["test"]} >= {"lstm", "persistence"}
    assert metrics["data"]["season"] == 7
    forecasts = pd.read_csv(out / "forecasts.csv")
    assert {"span", "origin", "date", "step", "actual", "lstm", "persistence", "lstm_q0.1"} <= set(
        forecasts.columns
    )
    assert (out / "forecast.png").read_bytes()[:4] == b"\x89PNG"

    predicted = _run("predict", str(out / "model.lstmkit"), str(data))
    assert predicted.exit_code == 0, predicted.output
    table = pd.read_csv(pd.io.common.StringIO(predicted.stdout))
    assert list(table.columns) == ["date", "price", "q0.1", "q0.5", "q0.9"]
    assert list(table["date"]) == ["2021-06-10", "2021-06-11"]  # the two days after the last row

    written = tmp_path / "next.csv"
    assert _run("predict", str(out / "model.lstmkit"), str(data), "--out", str(written)).exit_code == 0
    assert written.read_text() == predicted.stdout


def test_quiet_prints_only_the_table(tmp_path: Path) -> None:
    result = _run(
        "forecast", str(_csv(tmp_path / "p.csv", shuffle=True)), "--target", "price", *TINY, "--quiet"
    )
    assert result.exit_code == 0, result.output
    assert result.stderr == ""


def test_seasonal_naive_short_of_a_season_is_reported_na_and_the_rest_is_scored(tmp_path: Path) -> None:
    # 40 daily rows, season 14: fold1, fold2 and the test span forecast first from rows 10, 18 and 26
    data = _csv(tmp_path / "short.csv", n=40)
    options = ["--lookback", "3", "--horizon", "2", "--epochs", "1", "--units", "4", "--season", "14"]
    sizes = ["--folds", "2", "--fold-size", "8", "--test-size", "14"]
    out = tmp_path / "run"
    result = _run("forecast", str(data), "--target", "price", *options, *sizes, "--out", str(out))
    assert result.exit_code == 0, result.output
    seasonal = "seasonal_naive(m=14)"
    reason = (
        f"{seasonal} needs 14 observations up to a forecast origin; fold1's first origin (2021-01-10) has 10"
    )
    pooled, test = result.stdout.split("final test span")
    assert re.search(rf"{re.escape(seasonal)}( +n/a){{4}}\n", pooled)
    assert f"n/a: {reason}, so it is not pooled over the folds" in pooled
    assert "n/a" not in test  # on the test span every origin has a season of history
    assert "lstm does NOT beat the best baseline" in test or "lstm beats the best baseline" in test
    assert f"lstmkit: note: {reason}: it is not scored there (n/a)" in result.stderr
    metrics = json.loads((out / "metrics.json").read_text())
    fold1 = {row["method"]: row for row in metrics["folds"] if row["span"] == "fold1"}
    assert fold1[seasonal]["unavailable"] == reason and fold1[seasonal]["mase"] is None
    assert fold1["lstm"]["unavailable"] is None and fold1["lstm"]["mase"] > 0


def test_demo_runs_on_the_bundled_series() -> None:
    result = _run(
        "forecast",
        "--demo",
        "--lookback",
        "5",
        "--epochs",
        "1",
        "--folds",
        "0",
        "--test-size",
        "30",
        "--units",
        "4",
        "--batch-size",
        "512",
        "--quiet",
    )
    assert result.exit_code == 0, result.output
    assert "dexuseu_daily.csv: target DEXUSEU" in result.stdout
    assert "transform log_return" in result.stdout and "persistence" in result.stdout


def test_predict_with_other_columns(tmp_path: Path) -> None:
    data = _csv(tmp_path / "p.csv")
    out = tmp_path / "run"
    assert (
        _run(
            "forecast",
            str(data),
            "--target",
            "price",
            "--features",
            "volume",
            *TINY,
            "--out",
            str(out),
            "--quiet",
        ).exit_code
        == 0
    )
    other = tmp_path / "other.csv"
    pd.read_csv(data).drop(columns=["volume"]).to_csv(other, index=False)
    line = _error_line(_run("predict", str(out / "model.lstmkit"), str(other)))
    assert "was trained on columns ['price', 'volume']" in line and "lacks ['volume']" in line


@pytest.mark.parametrize(
    ("edit", "args", "message"),
    [
        (None, ["--target", "close"], "target column 'close' not found"),
        ("text", ["--target", "price"], "column 'price' must be numeric, got non-numeric value 'abc'"),
        ("bad_date", ["--target", "price"], "could not parse 1 date(s) in column 'date', the first 'soon'"),
        ("duplicate", ["--target", "price"], "1 duplicate date(s), the first 2021-01-02"),
        ("nan", ["--target", "price"], "choose a fill policy (fill= / --fill)"),
        ("short", ["--target", "price"], "too short"),
        (None, [], "missing --target; the columns of"),
        (None, ["--target", "price", "--quantiles", "0.1,0.9"], "quantiles must include 0.5"),
    ],
    ids=[
        "missing-target",
        "non-numeric",
        "bad-date",
        "duplicate-date",
        "nan-without-fill",
        "too-short",
        "no-target",
        "bad-quantiles",
    ],
)
def test_bad_input_gives_one_line_and_writes_nothing(
    tmp_path: Path, edit: str | None, args: list[str], message: str
) -> None:
    path = _csv(tmp_path / "p.csv", n=40 if edit == "short" else 160)
    frame = pd.read_csv(path)
    if edit == "text":
        frame["price"] = frame["price"].astype(str)
        frame.loc[3, "price"] = "abc"
    elif edit == "bad_date":
        frame.loc[5, "date"] = "soon"
    elif edit == "duplicate":
        frame.loc[2, "date"] = frame.loc[1, "date"]
    elif edit == "nan":
        frame.loc[7, "price"] = np.nan
    frame.to_csv(path, index=False)
    out = tmp_path / "run"
    line = _error_line(_run("forecast", str(path), *args, *TINY, "--out", str(out)))
    assert line.startswith("lstmkit: error: ") and message in line
    assert not out.exists()
    assert [p.name for p in tmp_path.iterdir()] == ["p.csv"]


def test_out_folder_is_never_half_written(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import lstmkit.utils.figures as plots

    def broken(*args: object, **kwargs: object) -> None:
        raise ValueError("plotting failed")

    monkeypatch.setattr(plots, "save_figure", broken)
    out = tmp_path / "run"
    result = _run("forecast", str(_csv(tmp_path / "p.csv")), "--target", "price", *TINY, "--out", str(out))
    assert result.exit_code == 2
    assert result.stderr.splitlines()[-1].endswith("lstmkit: error: plotting failed")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["p.csv"]  # no DIR, no staging folder


def test_existing_out_folder_needs_overwrite(tmp_path: Path) -> None:
    out = tmp_path / "run"
    out.mkdir()
    (out / "keep.txt").write_text("x")
    line = _error_line(
        _run("forecast", str(_csv(tmp_path / "p.csv")), "--target", "price", *TINY, "--out", str(out))
    )
    assert "exists and is not empty; choose another or pass --overwrite" in line
    assert (out / "keep.txt").read_text() == "x"


def test_usage_errors() -> None:
    assert "missing DATA" in _error_line(_run("forecast", "--target", "x"))
    result = _run("forecast", "x.csv", "--transform", "log")
    assert result.exit_code == 2 and "Invalid value for '--transform'" in result.output
    assert "no data file at 'missing.csv'" in _error_line(_run("forecast", "missing.csv", "--target", "x"))


@pytest.mark.parametrize(
    ("option", "value", "accepted"),
    [
        ("--lookback", "0", "x>=1"),
        ("--epochs", "0", "x>=1"),
        ("--batch-size", "0", "x>=1"),
        ("--horizon", "0", "x>=1"),
        ("--fold-size", "0", "x>=1"),
        ("--refit-every", "0", "x>=1"),
        ("--season", "0", "x>=1"),
        ("--folds", "-1", "x>=0"),
        ("--learning-rate", "0.0", "x>0"),
        ("--dropout", "1.0", "0<=x<1"),
    ],
    ids=lambda v: str(v).lstrip("-"),
)
def test_out_of_range_numbers_are_usage_errors(
    tmp_path: Path, option: str, value: str, accepted: str
) -> None:
    out = tmp_path / "run"
    data = _csv(tmp_path / "p.csv")
    result = _run("forecast", str(data), "--target", "price", *TINY, option, value, "--out", str(out))
    assert result.exit_code == 2, result.output
    assert f"Invalid value for '{option}': {value} is not in the range {accepted}" in result.output
    assert "Traceback" not in result.output and not out.exists()


@pytest.mark.parametrize("device", ["foo", "meta", "cuda:99"])
def test_unknown_device_is_a_usage_error(tmp_path: Path, device: str) -> None:
    result = _run("forecast", str(_csv(tmp_path / "p.csv")), "--target", "price", *TINY, "--device", device)
    assert result.exit_code == 2, result.output
    assert (
        f"Invalid value for '--device': {device!r} is not a device this machine can train on; "
        f"expected one of cpu" in result.output
    )
    assert "Traceback" not in result.output


def test_arima_without_statsmodels_fails_before_training(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from lstmkit.forecast import baselines

    monkeypatch.setattr(baselines, "arima_available", lambda: False)
    result = _run("forecast", str(_csv(tmp_path / "p.csv")), "--target", "price", *TINY, "--arima")
    assert _error_line(result) == "lstmkit: error: --arima needs statsmodels: pip install 'lstmkit[arima]'"
    assert result.stdout == ""  # no fit ran, no table


def test_out_folder_and_files_follow_the_umask(tmp_path: Path) -> None:
    out = tmp_path / "run"
    previous = os.umask(0o027)
    try:
        result = _run(
            "forecast",
            str(_csv(tmp_path / "p.csv")),
            "--target",
            "price",
            *TINY,
            "--out",
            str(out),
            "--quiet",
        )
    finally:
        os.umask(previous)
    assert result.exit_code == 0, result.output
    assert stat.S_IMODE(out.stat().st_mode) == 0o750  # as mkdir gives, not mkdtemp's 0o700
    assert {p.name: stat.S_IMODE(p.stat().st_mode) for p in out.iterdir()} == {
        name: 0o640
        for name in ("forecast.png", "forecasts.csv", "metrics.json", "model.lstmkit", "next_forecast.csv")
    }
    assert json.loads((out / "metrics.json").read_text())["settings"]["lookback"] == 8


def test_model_config_without_a_key_names_the_file_and_key(tmp_path: Path) -> None:
    model = tmp_path / "broken.lstmkit"
    save_bundle(model, {}, {"kind": "forecaster", "lookback": 8})
    line = _error_line(_run("predict", str(model), str(_csv(tmp_path / "p.csv"))))
    assert (
        line == f"lstmkit: error: '{model}' is a damaged forecaster file: its config lacks the key 'network'"
    )


@pytest.mark.parametrize("value", ["inf", "nan", "0", "-3", "1.5", "abc"])
def test_test_size_out_of_range_is_a_usage_error(tmp_path: Path, value: str) -> None:
    out = tmp_path / "run"
    data = _csv(tmp_path / "p.csv")
    result = _run("forecast", str(data), "--target", "price", *TINY, "--test-size", value, "--out", str(out))
    assert result.exit_code == 2, result.output
    assert (
        f"Invalid value for '--test-size': {value!r} is neither a row count (a whole number >= 1) nor a "
        "fraction in (0, 1)" in result.output
    )
    assert "Traceback" not in result.output and not out.exists()


def test_test_size_takes_rows_or_a_fraction() -> None:
    from lstmkit.cli.forecast import TEST_SIZE

    assert TEST_SIZE.convert("30", None, None) == 30 and isinstance(
        TEST_SIZE.convert("30.0", None, None), int
    )
    assert TEST_SIZE.convert("0.25", None, None) == 0.25


def test_out_folder_that_appears_during_the_run_keeps_the_results(tmp_path: Path) -> None:
    from lstmkit.cli.forecast import _staging

    out = tmp_path / "run"
    raced = pytest.raises(ValueError, match="appeared during the run; results left in")
    with raced as caught, _staging(out, overwrite=False) as staging:
        (staging / "metrics.json").write_text("{}")
        out.mkdir()  # another process creates --out meanwhile
        (out / "other.txt").write_text("x")
    left = Path(re.findall(r"results left in '([^']+)'", str(caught.value))[0])
    assert (left / "metrics.json").read_text() == "{}"  # the message is true: the results are there
    assert (out / "other.txt").read_text() == "x"


def test_report_compares_mae_when_the_test_mase_is_undefined() -> None:
    from torch import nn

    from lstmkit.cli.forecast import format_report
    from lstmkit.forecast import Forecaster, TrainConfig

    rng = np.random.default_rng(0)
    values = np.r_[
        50 + np.cumsum(rng.normal(size=30)), np.full(20, 50.0), 50 + np.cumsum(rng.normal(size=10))
    ]
    series = pd.Series(values, index=pd.date_range("2021-01-01", periods=60, freq="D"), name="y")
    fc = Forecaster(
        lookback=3,
        horizon=1,
        model=lambda i, o: nn.Sequential(nn.Flatten(), nn.LazyLinear(o)),
        train=TrainConfig(epochs=1),
    )
    # the test span trains on rows [35, 50): all 50.0, so no MASE scale
    result = fc.backtest(series, folds=0, test_size=10, window="sliding", train_size=15)
    assert result.test["mase"].isna().all()
    report = format_report(result, fc.fit(series), name="flat.csv")
    assert re.search(r"on test MAE \(MASE is undefined: the training series is constant\) \(\d", report)
    assert "nan" not in report


def test_damaged_model_file_gives_one_line(tmp_path: Path) -> None:
    from lstmkit.utils.serialization import load_bundle

    data = _csv(tmp_path / "p.csv")
    out = tmp_path / "run"
    assert (
        _run("forecast", str(data), "--target", "price", *TINY, "--out", str(out), "--quiet").exit_code == 0
    )
    tensors, config = load_bundle(out / "model.lstmkit")
    damaged = tmp_path / "damaged.lstmkit"
    save_bundle(damaged, tensors, {**config, "scaler_state": {**config["scaler_state"], "scale": [0.0]}})
    line = _error_line(_run("predict", str(damaged), str(data)))
    assert line == (
        f"lstmkit: error: '{damaged}' is a damaged forecaster file: 'scaler_state': a scaler state's scale "
        "must be finite and > 0, got [0.0]"
    )
