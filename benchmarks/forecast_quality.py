"""Forecast quality on real series: the LSTM beside persistence and seasonal naive, on the same points.

Runs the walk-forward backtest that ``lstmkit forecast`` runs on each series in ``../shared/data`` and
prints, per series, MASE and directional accuracy on the final test span (never used for fitting or
tuning) for the model, persistence and seasonal naive, plus the model's rank among all baselines.

    PYTHONPATH=src python benchmarks/forecast_quality.py               # every series
    PYTHONPATH=src python benchmarks/forecast_quality.py --quick       # fewer epochs, for a smoke run
    PYTHONPATH=src python benchmarks/forecast_quality.py --series airline co2

MASE is the test MAE (over all horizon steps) divided by the one-step naive MAE on the training span,
so persistence at horizon 1 on a random walk sits near 1. Directional accuracy counts a predicted
"no change" as half right, so persistence scores 0.5.
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from lstmkit.forecast import Forecaster, TrainConfig, prepare_frame, read_csv
from lstmkit.forecast.backtest import MODEL

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
FX = [
    "DEXBZUS",
    "DEXCAUS",
    "DEXJPUS",
    "DEXKOUS",
    "DEXMXUS",
    "DEXSDUS",
    "DEXUSAL",
    "DEXUSEU",
    "DEXUSNZ",
    "DEXUSUK",
]


@dataclass(frozen=True)
class Case:
    """One benchmark series and its settings."""

    name: str
    file: str
    target: str
    lookback: int
    horizon: int
    transform: str
    transform_features: bool = False
    fill: str = "none"
    folds: int = 2
    test_size: int | float = 0.2
    fold_size: int | None = None
    season: int | None = None
    epochs: int = 30
    units: tuple[int, ...] = (32,)
    batch_size: int = 64
    learning_rate: float = 3e-3
    features: list[str] = field(default_factory=list)
    rows: slice | None = None  # a standard split's rows
    note: str = ""


CASES = [
    Case(
        "DEXUSEU (daily FX)",
        "finance/dexuseu_daily.csv",
        "DEXUSEU",
        30,
        1,
        "log_return",
        fill="drop",
        test_size=500,
        folds=1,
        fold_size=500,
        epochs=6,
        batch_size=128,
    ),
    Case(
        "FX panel -> DEXUSEU",
        "finance/fx10_daily.csv",
        "DEXUSEU",
        30,
        1,
        "log_return",
        fill="drop",
        test_size=500,
        folds=1,
        fold_size=500,
        epochs=6,
        batch_size=128,
        features=[f"r_{c}" for c in FX if c != "DEXUSEU"],
        note="9 other rates' log returns as covariates",
    ),
    Case(
        "DGS10 (daily yield)",
        "finance/treasury_yields_daily.csv",
        "DGS10",
        30,
        1,
        "diff",
        fill="drop",
        test_size=500,
        folds=1,
        fold_size=500,
        epochs=6,
        batch_size=128,
        rows=slice(-6000, None),
        note="last 6000 days",
    ),
    Case(
        "airline (monthly)",
        "series/airline_monthly.csv",
        "Passengers",
        24,
        12,
        "log_return",
        test_size=24,
        fold_size=12,
        epochs=150,
        units=(32,),
    ),
    Case(
        "sunspots (yearly)",
        "series/sunspots_yearly.csv",
        "SUNACTIVITY",
        33,
        1,
        "none",
        test_size=40,
        fold_size=20,
        season=11,
        epochs=100,
        note="season = 11-year solar cycle",
    ),
    Case(
        "CO2 (weekly)",
        "series/co2_weekly.csv",
        "co2",
        60,
        4,
        "diff",
        fill="interpolate",
        test_size=260,
        fold_size=260,
        epochs=20,
        batch_size=64,
    ),
    Case(
        "ETTh1 OT (hourly, S)",
        "series/ETTh1.csv",
        "OT",
        96,
        24,
        "diff",
        folds=0,
        test_size=2880,
        epochs=15,
        batch_size=128,
        rows=slice(0, 14400),
        note="12/4/4-month split (first 14,400 rows), trained on train+val, tested on the 4 test months; "
        "OT alone; 'diff' because OT's level shifts (train mean 17.1, test mean 4.8)",
    ),
    Case(
        "ETTh1 OT + loads (MS)",
        "series/ETTh1.csv",
        "OT",
        96,
        24,
        "diff",
        transform_features=True,
        folds=0,
        test_size=2880,
        epochs=15,
        batch_size=128,
        features=["HUFL", "HULL", "MUFL", "MULL", "LUFL", "LULL"],
        rows=slice(0, 14400),
        note="as above, with the 6 load columns (differenced) as covariates",
    ),
]


def load(case: Case) -> pd.DataFrame | pd.Series:
    frame = read_csv(DATA / case.file)
    if case.rows is not None:
        frame = frame.iloc[case.rows].reset_index(drop=True)
    if not case.features or not case.features[0].startswith("r_"):
        return frame
    raw = [c.removeprefix("r_") for c in case.features]
    prepared = prepare_frame(frame, target=case.target, features=raw, fill=case.fill).frame
    returns = np.log(prepared[raw]).diff().add_prefix("r_")
    return pd.concat([prepared[[case.target]], returns], axis=1).iloc[1:]


def run(case: Case, quick: bool, seed: int) -> dict[str, Any]:
    forecaster = Forecaster(
        lookback=case.lookback,
        horizon=case.horizon,
        target=case.target,
        features=case.features or None,
        transform=case.transform,
        transform_features=case.transform_features,
        units=case.units,
        season=case.season,
        train=TrainConfig(
            epochs=max(2, case.epochs // 4) if quick else case.epochs,
            batch_size=case.batch_size,
            learning_rate=case.learning_rate,
            seed=seed,
        ),
        fill=case.fill,
    )
    start = time.perf_counter()
    result = forecaster.backtest(
        load(case), folds=case.folds, test_size=case.test_size, fold_size=case.fold_size
    )
    test = result.test.set_index("method")
    seasonal = [m for m in test.index if str(m).startswith("seasonal_naive")]
    ranked = test["mase"].astype(float).sort_values()
    pooled = result.summary.set_index("method") if len(result.summary) else None
    return {
        "series": case.name,
        "H": case.horizon,
        "points": int(test.loc[MODEL, "points"]),
        "lstm MASE": float(test.loc[MODEL, "mase"]),
        "persist MASE": float(test.loc["persistence", "mase"]),
        "snaive MASE": float(test.loc[seasonal[0], "mase"]) if seasonal else float("nan"),
        "lstm DA": float(test.loc[MODEL, "directional_accuracy"]),
        "snaive DA": float(test.loc[seasonal[0], "directional_accuracy"]) if seasonal else float("nan"),
        "lstm rank": f"{list(ranked.index).index(MODEL) + 1}/{len(ranked)}",
        "best baseline": str(ranked.drop(MODEL).index[0]),
        "folds lstm/persist MASE": (
            f"{pooled.loc[MODEL, 'mase']:.3f}/{pooled.loc['persistence', 'mase']:.3f}"
            if pooled is not None
            else "-"
        ),
        "seconds": round(time.perf_counter() - start),
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a quarter of the epochs")
    parser.add_argument("--series", nargs="*", help="substrings of series names to run (default: all)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    if not DATA.is_dir():
        sys.exit(f"shared data not found at {DATA}")
    chosen = [c for c in CASES if not args.series or any(s.lower() in c.name.lower() for s in args.series)]
    rows = []
    for case in chosen:
        rows.append(run(case, args.quick, args.seed))
        table = pd.DataFrame(rows).to_string(index=False, float_format=lambda v: f"{v:.3f}")
        print(table.splitlines()[-1] if len(rows) > 1 else table, flush=True)  # one row at a time
    if len(rows) > 1:
        print("\n" + pd.DataFrame(rows).to_string(index=False, float_format=lambda v: f"{v:.3f}"))
    for case in chosen:
        if case.note:
            print(f"  {case.name}: {case.note}")


if __name__ == "__main__":
    main()
