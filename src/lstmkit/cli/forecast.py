"""``lstmkit forecast``: train, backtest against every baseline, and save; ``predict`` for saved forecasters.

Everything goes to ``--out DIR`` at once: the files are written into a temporary folder beside ``DIR``
that is renamed into place at the end, so an interrupted run never leaves a half-written ``DIR``.
"""

from __future__ import annotations

import json
import math
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click
from tqdm import tqdm

from lstmkit.cli.options import DEVICE, SEED, OutFolder
from lstmkit.cli.predict import load_model_file

if TYPE_CHECKING:
    import pandas as pd

    from lstmkit.forecast import Forecaster
    from lstmkit.forecast.backtest import BacktestResult

# choices of lstmkit.forecast.data, .transforms and .scalers, copied so that --help imports neither torch
# nor pandas (a test keeps them equal)
FILL_POLICIES = ("none", "ffill", "interpolate", "drop")
TRANSFORMS = ("none", "diff", "log_return", "pct_change")
SCALERS = ("standard", "minmax", "robust", "none")

TABLE_COLUMNS = {"mae": "MAE", "rmse": "RMSE", "mase": "MASE", "directional_accuracy": "DirAcc"}
# --demo: the bundled FRED series with settings that run in about a minute on a laptop
DEMO = {
    "target": "DEXUSEU",
    "fill": "drop",
    "transform": "log_return",
    "lookback": 60,
    "epochs": 10,
    "folds": 3,
}
# options whose default is given here rather than to click, so that --demo can tell them unset
DEFAULTS = {"lookback": 100, "epochs": 20, "folds": 5, "transform": "none", "fill": "none"}


def _floats(text: str | None, name: str) -> list[float] | None:
    if text is None or text == "":
        return None
    try:
        return [float(part) for part in text.split(",")]
    except ValueError as err:
        raise ValueError(f"{name} expects comma-separated numbers like 0.1,0.5,0.9, got {text!r}") from err


def _ints(text: str, name: str) -> list[int]:
    try:
        return [int(part) for part in text.split(",")]
    except ValueError as err:
        raise ValueError(f"{name} expects comma-separated integers like 64,32, got {text!r}") from err


class RowsOrFraction(click.ParamType):
    """``--test-size``: a whole row count >= 1, or a fraction in (0, 1); anything else is a usage error."""

    name = "rows|fraction"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> int | float:
        if isinstance(value, int | float) and not isinstance(value, bool):
            number = float(value)
        else:
            try:
                number = float(str(value))
            except ValueError:
                number = math.nan
        if 0.0 < number < 1.0:
            return number
        if math.isfinite(number) and number >= 1.0 and number == int(number):
            return int(number)
        self.fail(
            f"{value!r} is neither a row count (a whole number >= 1) nor a fraction in (0, 1)", param, ctx
        )


TEST_SIZE = RowsOrFraction()


@click.command()
@click.argument("data", required=False, type=click.Path(dir_okay=False, path_type=Path))
@click.option("--target", help="Column to forecast (default with --demo: DEXUSEU).")
@click.option("--date-column", help="Column holding the dates (default: found by name, e.g. date/DATE).")
@click.option("--features", default="", help="Comma-separated covariate columns fed to the model.")
@click.option(
    "--lookback", type=click.IntRange(min=1), help="Input window length in rows.  [default: 100; demo 60]"
)
@click.option(
    "--horizon", type=click.IntRange(min=1), default=5, show_default=True, help="Steps forecast at once."
)
@click.option(
    "--epochs", type=click.IntRange(min=1), help="Maximum training epochs per fit.  [default: 20; demo 10]"
)
@click.option("--batch-size", type=click.IntRange(min=1), default=64, show_default=True)
@click.option("--learning-rate", type=click.FloatRange(min=0, min_open=True), default=1e-3, show_default=True)
@click.option("--units", default="64,32", show_default=True, help="Hidden units of each stacked LSTM layer.")
@click.option("--dropout", type=click.FloatRange(0, 1, max_open=True), default=0.0, show_default=True)
@click.option(
    "--transform", type=click.Choice(TRANSFORMS), help="Target transform.  [default: none; demo log_return]"
)
@click.option("--transform-features", is_flag=True, help="Apply --transform to the --features columns too.")
@click.option("--scaler", type=click.Choice(SCALERS), default="standard", show_default=True)
@click.option(
    "--quantiles", default="0.1,0.5,0.9", show_default=True, help="Interval quantiles ('' for none)."
)
@click.option(
    "--folds",
    type=click.IntRange(min=0),
    help="Walk-forward folds before the test span.  [default: 5; demo 3]",
)
@click.option(
    "--test-size",
    type=TEST_SIZE,
    default="0.2",
    show_default=True,
    help="Final test span: rows, or a fraction in (0, 1).",
)
@click.option(
    "--fold-size",
    type=click.IntRange(min=1),
    help="Rows per fold (default: as many as the test span, shrunk to fit).",
)
@click.option("--window", type=click.Choice(["expanding", "sliding"]), default="expanding", show_default=True)
@click.option(
    "--refit-every",
    type=click.IntRange(min=1),
    default=1,
    show_default=True,
    help="Refit the model every k folds.",
)
@click.option(
    "--season",
    type=click.IntRange(min=1),
    help="Season length for seasonal naive (default: from the date frequency).",
)
@click.option("--fill", type=click.Choice(FILL_POLICIES), help="Gap/NaN policy.  [default: none; demo drop]")
@click.option("--arima", is_flag=True, help="Add an ARIMA(1,1,1) baseline (needs statsmodels).")
@click.option("--seed", type=SEED, default=0, show_default=True)
@click.option(
    "--device", type=DEVICE, default="cpu", show_default=True, help="Where to train: cpu, cuda[:N], mps."
)
@click.option("--out", type=OutFolder(beside=True), help="Write results and the model here.")
@click.option("--overwrite", is_flag=True, help="Replace an existing --out folder.")
@click.option(
    "--demo", is_flag=True, help="Use the bundled FRED DEXUSEU series (US dollars per euro, daily)."
)
@click.option("--quiet", is_flag=True, help="No progress bar or notes; only the table.")
def forecast(data: Path | None, **opts: Any) -> None:
    """Train an LSTM forecaster on DATA (a CSV), backtest it against the baselines, and save it.

    Prints the model beside persistence, seasonal naive, drift and moving average on the same points
    (MAE, RMSE, MASE, directional accuracy) and writes forecasts.csv, metrics.json, forecast.png,
    next_forecast.csv and model.lstmkit to --out.
    """
    from lstmkit.forecast import Forecaster, TrainConfig, read_csv
    from lstmkit.forecast.baselines import arima_available

    demo = opts["demo"]
    if demo and data is not None:
        raise ValueError("give either DATA or --demo, not both")
    if data is None and not demo:
        raise ValueError("missing DATA (a CSV file); or run 'lstmkit forecast --demo'")
    if demo:
        from lstmkit.datasets.finance import dexuseu_path

        data = dexuseu_path()
        for key, value in DEMO.items():
            opts[key] = value if opts[key] is None else opts[key]
    for key, value in DEFAULTS.items():
        opts[key] = value if opts[key] is None else opts[key]
    if opts["arima"] and not arima_available():
        raise ValueError("--arima needs statsmodels: pip install 'lstmkit[arima]'")
    assert data is not None
    out: Path | None = opts["out"]
    if out is not None and out.exists() and any(out.iterdir()) and not opts["overwrite"]:
        raise ValueError(f"--out folder '{out}' exists and is not empty; choose another or pass --overwrite")
    frame = read_csv(data)
    if opts["target"] is None:
        raise ValueError(f"missing --target; the columns of '{data}' are {[str(c) for c in frame.columns]}")
    progress = _Progress(quiet=opts["quiet"])
    forecaster = Forecaster(
        lookback=opts["lookback"],
        horizon=opts["horizon"],
        target=opts["target"],
        features=[f for f in opts["features"].split(",") if f] or None,
        transform=opts["transform"],
        transform_features=opts["transform_features"],
        scaler=opts["scaler"],
        quantiles=_floats(opts["quantiles"], "--quantiles"),
        units=_ints(opts["units"], "--units"),
        dropout=opts["dropout"],
        train=TrainConfig(
            epochs=opts["epochs"],
            batch_size=opts["batch_size"],
            learning_rate=opts["learning_rate"],
            seed=opts["seed"],
            device=opts["device"],
        ),
        season=opts["season"],
        date_column=opts["date_column"],
        fill=opts["fill"],
        on_epoch=progress.epoch,
    )
    progress.total = opts["folds"] + 2
    result = forecaster.backtest(
        frame,
        folds=opts["folds"],
        test_size=opts["test_size"],
        fold_size=opts["fold_size"],
        window=opts["window"],
        refit_every=opts["refit_every"],
        with_arima=opts["arima"],
        on_fold=progress.fold,
    )
    progress.describe("final fit on all data")
    forecaster.fit(frame)
    progress.close()
    if not opts["quiet"]:
        for note in result.notes:
            click.echo(f"lstmkit: note: {note}", err=True)
    click.echo(format_report(result, forecaster, name=Path(data).name))
    if out is not None:
        _write_outputs(out, result, forecaster, frame, opts)
        click.echo(
            f"wrote forecasts.csv, metrics.json, forecast.png, next_forecast.csv, model.lstmkit to {out}"
        )


class _Progress:
    """A tqdm bar over the fits, created on first use so that input errors print nothing else."""

    def __init__(self, quiet: bool) -> None:
        self.quiet = quiet
        self.total = 0
        self._bar: tqdm[Any] | None = None

    @property
    def bar(self) -> tqdm[Any]:
        if self._bar is None:
            self._bar = tqdm(total=self.total, desc="backtest", unit="fit", disable=self.quiet, leave=False)
        return self._bar

    def epoch(self, epoch: int, epochs: int, loss: float, val: float | None) -> None:
        tail = f" val {val:.4g}" if val is not None else ""
        self.bar.set_postfix_str(f"epoch {epoch}/{epochs} loss {loss:.4g}{tail}")

    def fold(self, done: int, total: int, name: str) -> None:
        self.bar.update(1)

    def describe(self, text: str) -> None:
        self.bar.set_description(text)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.update(1)
            self._bar.close()


def format_report(result: BacktestResult, forecaster: Forecaster, *, name: str) -> str:
    """The text table printed by ``lstmkit forecast``."""
    from lstmkit.forecast.backtest import MODEL

    target = forecaster.columns_[0] if forecaster.columns_ else "?"
    lines = [
        f"{name}: target {target}, lookback {forecaster.lookback}, horizon {forecaster.horizon}, "
        f"transform {forecaster.transform}, season {result.season}",
    ]
    if len(result.summary):
        lines += [
            "",
            f"walk-forward folds ({result.summary['points'].iloc[0]} points, pooled)",
            *_table(result.summary),
        ]
    test = result.test
    lines += [
        "",
        f"final test span {test['eval_start'].iloc[0]:%Y-%m-%d} .. {test['eval_end'].iloc[0]:%Y-%m-%d} "
        f"({test['points'].iloc[0]} points, never used for fitting or tuning)",
        *_table(test),
    ]
    by_method = test.set_index("method")
    # MASE is NaN for every method when the test span's training series is constant: compare MAE then
    metric = "mase" if math.isfinite(by_method["mase"].astype(float)[MODEL]) else "mae"
    score = by_method[metric].astype(float)
    scored = score.drop(MODEL).dropna()
    if len(scored):
        best = str(scored.idxmin())
        verdict = "beats" if score[MODEL] < score[best] else "does NOT beat"
        why = "" if metric == "mase" else " (MASE is undefined: the training series is constant)"
        lines.append(
            f"\n{MODEL} {verdict} the best baseline ({best}) on test {metric.upper()}{why} "
            f"({score[MODEL]:.4f} vs {score[best]:.4f})"
        )
    coverage = [str(c) for c in test.columns if str(c).startswith("coverage_")]
    if coverage:
        covered = float(test.set_index("method")[coverage[0]].astype(float)[MODEL])
        lines.append(
            f"{MODEL} interval {coverage[0].removeprefix('coverage_').replace('_', '-')} covers "
            f"{covered:.1%} of test points"
        )
    return "\n".join(lines)


def _table(frame: pd.DataFrame) -> list[str]:
    """The metrics table's lines, then one line per method left unscored (n/a) with the reason."""
    shown = frame[["method", *TABLE_COLUMNS]].rename(columns=TABLE_COLUMNS)
    lines = [shown.to_string(index=False, float_format=lambda v: f"{v:.4g}", na_rep="n/a")]
    lines += [f"n/a: {reason}" for reason in dict.fromkeys(frame["unavailable"].dropna())]  # each once
    return lines


def _jsonable(frame: pd.DataFrame) -> list[dict[str, Any]]:
    records = json.loads(frame.to_json(orient="records", date_format="iso"))
    return [
        {k: (None if isinstance(v, float) and math.isnan(v) else v) for k, v in r.items()} for r in records
    ]


@contextmanager
def _staging(out: Path, overwrite: bool) -> Iterator[Path]:
    """Yield a temporary folder beside ``out``; on success it replaces ``out`` (nothing half-written).

    A failure inside the block removes the staging folder. If a non-empty ``out`` appeared during the run
    (and ``overwrite`` is off), the finished results are kept in the staging folder, which the error names.
    """
    from lstmkit.utils.serialization import current_umask

    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    staging.chmod(0o777 & ~current_umask())  # a plain mkdir's permissions, not mkdtemp's 0o700
    try:
        yield staging
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    if out.exists() and any(out.iterdir()) and not overwrite:
        raise ValueError(f"--out folder '{out}' appeared during the run; results left in '{staging}'")
    try:
        if out.exists():
            old = out.with_name(f".{out.name}.old")
            shutil.rmtree(old, ignore_errors=True)
            out.rename(old)
            staging.rename(out)
            shutil.rmtree(old, ignore_errors=True)
        else:
            staging.rename(out)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise


def _write_outputs(
    out: Path, result: BacktestResult, forecaster: Forecaster, frame: pd.DataFrame, opts: Any
) -> None:
    from lstmkit.forecast.backtest import MODEL
    from lstmkit.forecast.plots import plot_backtest
    from lstmkit.utils.figures import save_figure
    from lstmkit.utils.serialization import atomic_write_text

    prepared = forecaster.prepare(frame)
    with _staging(out, opts["overwrite"]) as staging:
        atomic_write_text(staging / "forecasts.csv", result.forecasts.to_csv(index=False))
        settings = {k: (str(v) if isinstance(v, Path) else v) for k, v in opts.items()}
        metrics = {
            "settings": settings,
            "data": {
                "rows": len(prepared.frame),
                "start": str(prepared.frame.index[0]),
                "end": str(prepared.frame.index[-1]),
                "freq": prepared.freq,
                "season": result.season,
                "columns": prepared.columns,
                "notes": result.notes,
            },
            "test": _jsonable(result.test),
            "folds_pooled": _jsonable(result.summary),
            "folds": _jsonable(result.folds),
            "mae_by_step": _jsonable(result.by_step.reset_index()),
        }
        atomic_write_text(staging / "metrics.json", json.dumps(metrics, indent=2))
        figure = plot_backtest(
            result, prepared.frame[prepared.target], title=f"{prepared.target}: {MODEL} vs baselines"
        )
        save_figure(figure, staging / "forecast.png")
        atomic_write_text(staging / "next_forecast.csv", forecaster.predict(frame).to_csv())
        forecaster.save(staging / "model.lstmkit")


def predict_forecaster(model_path: Path, data_path: Path, out: Path | None) -> None:
    """``lstmkit predict`` for a saved forecaster: forecast the ``horizon`` steps after DATA's last row."""
    from lstmkit.forecast import Forecaster, read_csv
    from lstmkit.utils.serialization import atomic_write_text

    forecaster = load_model_file(Forecaster.load, model_path)
    frame = read_csv(data_path)
    names = [str(c) for c in frame.columns]
    missing = [c for c in forecaster.columns_ or [] if c not in names]
    if missing:
        raise ValueError(
            f"model '{model_path}' was trained on columns {forecaster.columns_}; '{data_path}' lacks "
            f"{missing} (its columns are {names})"
        )
    table = forecaster.predict(frame).to_csv()
    if out is None:
        click.echo(table, nl=False)
    else:
        atomic_write_text(out, table)
        click.echo(f"wrote {forecaster.horizon} forecast step(s) to {out}")
