"""Shared data preparation for the two Keras-style USD/EUR examples (FRED DEXUSEU, public domain).

Source: Board of Governors of the Federal Reserve System (US), U.S. Dollars to Euro Spot Exchange Rate
[DEXUSEU], retrieved from FRED. Holidays (``.``) are dropped.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

DEFAULT_DATA = (
    Path(__file__).resolve().parents[1].parent / "shared" / "data" / "finance" / "dexuseu_daily.csv"
)


def load_rates(path: Path = DEFAULT_DATA) -> pd.Series:
    """Daily USD per EUR, indexed by date, holidays removed."""
    if not path.is_file():
        raise SystemExit(f"data file not found: {path}; pass --data PATH to dexuseu_daily.csv")
    frame = pd.read_csv(path, na_values=".", parse_dates=["DATE"])
    return frame.dropna().set_index("DATE")["DEXUSEU"].astype("float64")


def windows(values: np.ndarray, length: int) -> tuple[np.ndarray, np.ndarray]:
    """Sliding windows ``(N, length, 1)`` and the value right after each window ``(N,)``."""
    x = np.lib.stride_tricks.sliding_window_view(values[:-1], length)
    return x[..., None].astype("float32"), values[length:].astype("float32")


def chronological_split(n: int, test_fraction: float) -> int:
    """Index of the first test sample: the last ``test_fraction`` of the samples, in time order."""
    return round(n * (1 - test_fraction))
