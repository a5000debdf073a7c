"""Small public-domain time series bundled with lstmkit (see ``FORECASTING_DATA.md`` beside this file).

Example:
    >>> frame = load_dexuseu()
    >>> list(frame.columns), len(frame)
    (['DATE', 'DEXUSEU'], 5870)
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

DEXUSEU_FILE = "dexuseu_daily.csv"
AIRLINE_FILE = "airline_monthly.csv"


def bundled_path(name: str) -> Path:
    """Path of a bundled data file.

    Raises:
        FileNotFoundError: no such bundled file.
    """
    path = Path(__file__).resolve().parent / name
    if not path.is_file():
        raise FileNotFoundError(
            f"lstmkit ships no data file named {name!r}; expected {DEXUSEU_FILE!r} or {AIRLINE_FILE!r}"
        )
    return path


def dexuseu_path() -> Path:
    """Path of the bundled FRED DEXUSEU CSV (US dollars per euro, daily, 1999-2021)."""
    return bundled_path(DEXUSEU_FILE)


def load_dexuseu() -> pd.DataFrame:
    """US dollars per euro, daily (FRED DEXUSEU), as read from the CSV: holidays are NaN.

    Returns:
        A frame with columns ``DATE`` (strings, ISO dates) and ``DEXUSEU`` (float, NaN on holidays).
    """
    return pd.read_csv(dexuseu_path(), na_values=["."])


def load_airline() -> pd.DataFrame:
    """Box & Jenkins monthly airline passengers 1949-1960 (columns ``Date``, ``Passengers``)."""
    return pd.read_csv(bundled_path(AIRLINE_FILE))
