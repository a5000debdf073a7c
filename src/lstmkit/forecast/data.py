"""Turning a CSV, DataFrame or Series into a clean, regularly indexed frame, or a clear error.

Everything the forecasting kit does starts from :func:`prepare_frame`: dates are parsed (from the index or
a date column), duplicates are refused, unsorted dates are sorted *and reported*, the target and feature
columns must be numeric, and gaps or NaNs are handled only by an explicit ``fill`` policy, never silently:

- ``'none'`` (default): any NaN or missing timestamp is an error that says where and how to fix it.
- ``'ffill'``: missing timestamps are inserted and every NaN takes the last observed value.
- ``'interpolate'``: missing timestamps are inserted and NaNs are interpolated linearly in time.

  Under both, the rows whose target was filled in are recorded (:attr:`PreparedData.imputed`): a backtest
  scores no method against an imputed value.
- ``'drop'``: rows with a NaN are dropped; the series becomes a sequence of observations (trading days).

Example:
    >>> frame = pd.DataFrame({"date": ["2020-01-03", "2020-01-01", "2020-01-02"], "y": [3.0, 1.0, 2.0]})
    >>> prepared = prepare_frame(frame, target="y")
    >>> prepared.frame["y"].tolist(), prepared.freq, prepared.notes
    ([1.0, 2.0, 3.0], 'D', ['dates were not sorted; sorted 3 rows by date'])
"""

from __future__ import annotations

import logging
import os
from collections import Counter
from collections.abc import Hashable, Iterable
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from lstmkit.forecast.frequency import grid, infer_freq
from lstmkit.forecast.timezones import parse_mixed_offsets
from lstmkit.utils.tables import read_table
from lstmkit.utils.validation import check_choice, check_positive_int

logger = logging.getLogger(__name__)

FILL_POLICIES = ("none", "ffill", "interpolate", "drop")
_DATE_NAMES = ("date", "datetime", "time", "timestamp", "ds", "year", "month", "week", "unnamed: 0", "")


@dataclass(frozen=True)
class PreparedData:
    """A cleaned frame plus what was learnt and done while cleaning it.

    Attributes:
        frame: float64 columns ``[target, *features]`` with a sorted, unique ``DatetimeIndex``.
        target: the target column.
        features: the covariate columns (target excluded).
        freq: the inferred frequency rule (``'B'``, ``'D'``, ``'h'``, ``'MS'``, ...) or ``None`` if irregular.
        notes: human-readable notes on what was changed (sorting, filling); the CLI prints them.
        dropped: the dates of the rows dropped for a NaN under ``fill='drop'``.
        imputed: the dates of the rows whose target was filled in under ``fill='ffill'`` or
            ``'interpolate'`` (an inserted missing date, or a NaN target); they are not observations.
    """

    frame: pd.DataFrame
    target: str
    features: list[str]
    freq: str | None
    notes: list[str] = field(default_factory=list)
    dropped: tuple[pd.Timestamp, ...] = ()
    imputed: tuple[pd.Timestamp, ...] = ()

    @property
    def columns(self) -> list[str]:
        """All model input columns, the target first."""
        return [self.target, *self.features]


def read_csv(path: str | os.PathLike[str]) -> pd.DataFrame:
    """Read a CSV with ``.`` and empty cells as missing values (FRED writes holidays as ``.``).

    Raises:
        FileNotFoundError: no such file.
        ValueError: the file is empty or not parseable as CSV.
    """
    return read_table(path, "a header row and one row per time step", na_values=["."], keep_default_na=True)


def prepare_frame(
    data: pd.DataFrame | pd.Series,
    *,
    target: Hashable | None = None,
    features: Hashable | Iterable[Hashable] | None = None,
    date_column: Hashable | None = None,
    fill: str = "none",
    min_rows: int = 3,
) -> PreparedData:
    """Validate and clean time-series data for forecasting.

    Args:
        data: a DataFrame or Series with a ``DatetimeIndex``, or a DataFrame with a date column.
        target: the column to forecast; may be omitted for a Series or a frame with one numeric column.
            Columns are named as strings: ``target=0`` and ``target="0"`` both name a column labelled ``0``.
        features: covariate columns fed to the model beside the target: a list of names, or one name;
            ``None`` means none.
        date_column: the column holding the dates; ``None`` looks for one named like a date
            (``date``, ``DATE``, ``year``, ``timestamp``, an unnamed first column).
        fill: the gap/NaN policy, one of ``'none'``, ``'ffill'``, ``'interpolate'``, ``'drop'``.
        min_rows: fewest rows the cleaned data must keep (a forecaster passes what it needs).

    Returns:
        A :class:`PreparedData`.

    Raises:
        TypeError: ``data`` is neither a DataFrame nor a Series; ``min_rows`` is not an integer; a target or
            feature column holds dates, durations or complex numbers.
        ValueError: missing, duplicate or non-numeric columns, unparseable or duplicate dates, NaNs or gaps
            under ``fill='none'``, dates off the inferred frequency's grid, or fewer than ``min_rows`` rows.
    """
    check_choice("fill policy", fill, FILL_POLICIES)
    min_rows = check_positive_int("min_rows", min_rows)
    if isinstance(data, pd.Series):
        data = data.to_frame(name=str(data.name) if data.name is not None else "value")
    if not isinstance(data, pd.DataFrame):
        raise TypeError(f"expected a pandas DataFrame or Series, got {type(data).__name__}")
    if len(data) == 0:
        raise ValueError("the data holds no rows")
    repeated = sorted(name for name, count in Counter(str(c) for c in data.columns).items() if count > 1)
    if repeated:
        raise ValueError(
            f"the column name(s) {repeated} appear more than once; expected one column per name: rename them"
        )
    notes: list[str] = []
    frame = _with_datetime_index(data, date_column, notes)
    frame = frame.set_axis([str(c) for c in frame.columns], axis=1)  # a new frame: the caller's is kept
    target, features = _pick_columns(frame, target, features)
    frame = frame[[target, *features]].copy()
    for column in frame.columns:
        frame[column] = _numeric_column(frame[column], column)
    frame = frame.astype("float64")
    if not frame.index.is_monotonic_increasing:
        frame = frame.sort_index(kind="stable")
        notes.append(f"dates were not sorted; sorted {len(frame)} rows by date")
    duplicated = frame.index.duplicated()
    if duplicated.any():
        first = frame.index[duplicated][0]
        raise ValueError(
            f"found {int(duplicated.sum())} duplicate date(s), the first {first}; each date must appear once"
        )
    infinite = np.isinf(frame.to_numpy())
    if infinite.any():
        row = int(np.argwhere(infinite)[0][0])
        raise ValueError(f"infinite value at {frame.index[row]}; clean the data first")
    freq = infer_freq(pd.DatetimeIndex(frame.index))
    if freq is None:
        notes.append(
            "dates are irregular (no frequency could be inferred); rows are treated as consecutive steps"
        )
    kept, fill_notes, imputed = _apply_fill(frame, freq, fill)
    notes.extend(fill_notes)
    dropped = tuple(frame.index.difference(kept.index)) if fill == "drop" else ()
    if len(kept) < min_rows:
        raise ValueError(f"expected at least {min_rows} rows of data, got {len(kept)}")
    for note in notes:
        logger.info(note)
    return PreparedData(
        frame=kept,
        target=target,
        features=features,
        freq=freq,
        notes=notes,
        dropped=dropped,
        imputed=tuple(imputed),
    )


def _with_datetime_index(data: pd.DataFrame, date_column: Hashable | None, notes: list[str]) -> pd.DataFrame:
    """``data`` indexed by parsed dates; possibly ``data`` itself, which callers must not modify."""
    if date_column is not None:
        labels = {str(c): c for c in data.columns}  # column names are unique as strings
        if str(date_column) not in labels:
            raise ValueError(f"date column {str(date_column)!r} not found; the columns are {list(labels)}")
        label = labels[str(date_column)]
        dates = _parse_dates(data[label], str(date_column), notes)
        return data.drop(columns=[label]).set_index(pd.DatetimeIndex(dates, name=str(date_column)))
    if isinstance(data.index, pd.PeriodIndex):
        return data.set_index(data.index.to_timestamp())
    if isinstance(data.index, pd.DatetimeIndex):
        missing = np.asarray(data.index.isna())
        if missing.any():
            raise ValueError(
                f"the DatetimeIndex holds {int(missing.sum())} missing date(s) (NaT), the first at row "
                f"{int(np.argmax(missing))}; expected a date on every row, drop or fix those rows"
            )
        return data
    for column in data.columns:
        if str(column).strip().lower() in _DATE_NAMES:
            return _with_datetime_index(data, column, notes)
    if isinstance(data.index, pd.RangeIndex):
        raise ValueError(
            "no dates found: expected a DatetimeIndex or a date column (named like 'date' or passed as "
            f"date_column / --date-column); the columns are {[str(c) for c in data.columns]}"
        )
    dates = _parse_dates(data.index.to_series(), "index", notes)
    return data.set_index(pd.DatetimeIndex(dates, name="date"))


def _parse_dates(values: pd.Series, name: str, notes: list[str]) -> pd.Series:
    """Parse dates, accepting whole-number years (``1700`` or ``1700.0``); say which value fails.

    pandas reads every date in the format it infers from the first one; dates that then fail are read again
    as ISO 8601 of any precision (``2020-01-16 12:00`` among plain dates), then one by one.

    Dates with mixed UTC offsets (local time across a daylight-saving change, as pandas writes it) are
    read by :func:`~lstmkit.forecast.timezones.parse_mixed_offsets`: local dates for daily or coarser data,
    UTC for finer data, with a note.
    """
    if pd.api.types.is_numeric_dtype(values):
        numbers = values.to_numpy(dtype="float64")
        if np.all(np.isfinite(numbers)) and np.all(numbers == np.round(numbers)):
            years = numbers.astype(np.int64)
            if np.all((years >= 1000) & (years <= 2999)):
                return pd.to_datetime(pd.Series(years.astype(str)), format="%Y")
        raise ValueError(f"date column {name!r} is numeric but does not hold whole years; cannot parse dates")
    try:
        parsed = pd.to_datetime(values, errors="coerce")
        for form in ("ISO8601", "mixed"):  # pandas 3 parses every date in the format of the first one
            if not (parsed.isna() & values.notna()).any():
                break
            parsed = pd.to_datetime(values, errors="coerce", format=form)
    except ValueError as err:
        if "Mixed timezones" not in str(err):
            raise ValueError(f"could not parse the dates in column {name!r}: {err}") from err
        parsed = parse_mixed_offsets(values, name, notes)
    bad = parsed.isna()
    if bad.any():
        first = values[bad].iloc[0]
        raise ValueError(
            f"could not parse {int(bad.sum())} date(s) in column {name!r}, the first {first!r} "
            f"(row {int(np.argmax(bad.to_numpy()))}); use ISO dates like 2020-01-31"
        )
    return parsed


def _pick_columns(
    frame: pd.DataFrame, target: Hashable | None, features: Hashable | Iterable[Hashable] | None
) -> tuple[str, list[str]]:
    """The target and feature columns of ``frame``, whose column names are already strings."""
    names = [str(c) for c in frame.columns]
    if target is None:
        numeric = [c for c in names if pd.api.types.is_numeric_dtype(frame[c])]
        if len(names) == 1:
            target = names[0]
        elif len(numeric) == 1:
            target = numeric[0]
        else:
            raise ValueError(f"the data has several columns {names}; name the one to forecast with target=")
    target = str(target)
    if target not in names:
        raise ValueError(f"target column {target!r} not found; the columns are {names}")
    if isinstance(features, str) or not isinstance(features, Iterable | None):
        features = [features]  # one column name, as pandas takes it
    chosen = [] if features is None else [str(f) for f in features]
    missing = [f for f in chosen if f not in names]
    if missing:
        raise ValueError(f"feature column(s) {missing} not found; the columns are {names}")
    return target, [f for f in chosen if f != target]


def _numeric_column(values: pd.Series, name: str) -> pd.Series:
    """``values`` as numbers (bools and numeric text converted), or an error naming the column."""
    types = pd.api.types
    refused = {  # what a column holds -> how to make numbers of it
        "dates": (types.is_datetime64_any_dtype(values), "dates belong in the index or the date column"),
        "durations": (types.is_timedelta64_dtype(values), "convert them to seconds with .dt.total_seconds()"),
        "complex numbers": (types.is_complex_dtype(values), "take the real part or the magnitude (np.abs)"),
    }
    for kind, (found, fix) in refused.items():
        if found:
            raise TypeError(
                f"column {name!r} must hold real numbers to forecast, got {kind} (dtype {values.dtype}); "
                + fix
            )
    if types.is_numeric_dtype(values) and not types.is_bool_dtype(values):
        return values
    converted = pd.to_numeric(values, errors="coerce")
    if types.is_complex_dtype(converted):
        return _numeric_column(converted, name)
    bad = converted.isna() & values.notna()
    if bad.any():
        raise ValueError(
            f"column {name!r} must be numeric, got non-numeric value {values[bad].iloc[0]!r} "
            f"at {values.index[bad][0]} ({int(bad.sum())} such value(s))"
        )
    return converted


def _apply_fill(
    frame: pd.DataFrame, freq: str | None, fill: str
) -> tuple[pd.DataFrame, list[str], pd.DatetimeIndex]:
    """The frame after the fill policy, its notes, and the dates whose target (column 0) was filled in."""
    notes: list[str] = []
    imputed = pd.DatetimeIndex([])
    missing_dates = pd.DatetimeIndex([])
    if freq is not None:
        full, off_grid = grid(pd.DatetimeIndex(frame.index), freq)
        if len(off_grid):
            raise ValueError(
                f"{len(off_grid)} date(s) lie off the frequency {freq!r} that the other dates follow, "
                f"the first {off_grid[0]}; expected every date on that grid: fix or remove those rows "
                "(or resample the data to one frequency)"
            )
        missing_dates = full.difference(pd.DatetimeIndex(frame.index))
    nan_rows = frame.isna().any(axis=1)
    n_nan, n_gap = int(nan_rows.sum()), len(missing_dates)
    if n_nan == 0 and n_gap == 0:
        return frame, notes, imputed
    if fill == "none":
        where = []
        if n_nan:
            where.append(f"{n_nan} row(s) with NaN, the first at {frame.index[nan_rows.to_numpy()][0]}")
        if n_gap:
            where.append(f"{n_gap} missing date(s) at frequency {freq}, the first {missing_dates[0]}")
        raise ValueError(
            f"the data has gaps: {'; '.join(where)}; choose a fill policy (fill= / --fill): "
            "'ffill', 'interpolate' or 'drop'"
        )
    if fill == "drop":
        notes.append(f"dropped {n_nan} row(s) with NaN (fill='drop'); {n_gap} missing date(s) left as gaps")
        return frame.loc[~nan_rows], notes, imputed
    if n_gap:
        frame = frame.reindex(frame.index.union(missing_dates))
    unobserved = frame.iloc[:, 0].isna()  # the target: column 0
    frame = frame.ffill() if fill == "ffill" else frame.interpolate(method="time", limit_direction="forward")
    leading = frame.isna().any(axis=1)
    if leading.any():
        frame = frame.loc[~leading]
        notes.append(f"dropped {int(leading.sum())} leading row(s) with nothing to fill from")
    imputed = pd.DatetimeIndex(frame.index[unobserved.loc[frame.index].to_numpy()])
    notes.append(f"filled {n_nan} row(s) with NaN and {n_gap} missing date(s) by fill={fill!r}")
    return frame, notes, imputed
