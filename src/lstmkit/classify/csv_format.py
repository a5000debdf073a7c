"""Series classification data from CSV: wide (one row per series) or long (one row per time step).

Wide: every column except the label column is one time step of a univariate series; empty cells at the
end of a row shorten that series (unequal lengths), empty cells inside it are missing values.

Long: rows share an ``id``; each series is the rows of one id in file order (or sorted by a time column,
whose values must differ within a series), every other column except id/time/label is a channel, and the
label must be constant within an id.

A model keeps the columns its training file was read with; :func:`read_series_csv_like` reads a new file
the same way and refuses one whose columns would be read in another role (a label read as a time step).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd

from lstmkit.classify.labels import check_label_types
from lstmkit.classify.ts_format import SeriesDataset
from lstmkit.utils.tables import read_table

EXPECTED_LAYOUT = "a header row and one row per series"  # for read_table's messages


def read_series_csv(
    path: str | Path,
    *,
    label_column: str | None = "label",
    id_column: str | None = None,
    time_column: str | None = None,
) -> SeriesDataset:
    """Read labelled (or unlabelled) series from a CSV file.

    Args:
        path: the CSV file.
        label_column: column holding the class label; ``None`` for unlabelled data.
        id_column: ``None`` for the wide layout; the series id column for the long layout.
        time_column: long layout only: sort each series by this column.

    Returns:
        A :class:`SeriesDataset` that remembers the three column arguments (``csv_columns``) and the
        value columns (``value_columns``: the time steps of the wide layout, the channels of the long one).

    Raises:
        FileNotFoundError: no such file.
        ValueError: an empty file, a missing column, a non-numeric value (the message names its row and
            column), a row without a label, labels of mixed types, or (long layout) a row without an id (or
            without a time, given ``time_column``), two rows of one series with the same time, or a label
            that changes within one series.

    Example:
        >>> import tempfile, os
        >>> with tempfile.NamedTemporaryFile("w", suffix=".csv", delete=False) as f:
        ...     _ = f.write("t0,t1,t2,label\\n1,2,3,up\\n3,2,,down\\n")
        >>> data = read_series_csv(f.name); os.unlink(f.name)
        >>> data.lengths.tolist(), list(data.labels)
        ([3, 2], ['up', 'down'])
    """
    source = Path(path)
    return _from_frame(read_table(source, EXPECTED_LAYOUT), source, label_column, id_column, time_column)


def _from_frame(
    frame: pd.DataFrame,
    source: Path,
    label_column: str | None,
    id_column: str | None,
    time_column: str | None,
) -> SeriesDataset:
    """The series of a CSV file read into ``frame``, as :func:`read_series_csv` documents."""
    for name, column in (
        ("label_column", label_column),
        ("id_column", id_column),
        ("time_column", time_column),
    ):
        if column is not None and column not in frame.columns:
            raise ValueError(
                f"{name}={column!r} is not a column of '{source}'; columns: {list(frame.columns)}"
            )
    if time_column is not None and id_column is None:
        raise ValueError("time_column needs id_column (the long layout); the wide layout has no time column")
    labels = None
    if label_column is not None:
        if frame[label_column].isna().any():
            row = int(np.flatnonzero(frame[label_column].isna().to_numpy())[0])
            raise ValueError(f"'{source}' row {row + 1} has no value in label column {label_column!r}")
        labels = labels_from_column(frame[label_column], source)
    if id_column is None:
        values = [c for c in frame.columns if c != label_column]
        data = _wide(frame[values], labels, source)
    else:
        values = [c for c in frame.columns if c not in {label_column, id_column, time_column}]
        data = _long(frame, labels, values, id_column, time_column, source)
    columns = {"label_column": label_column, "id_column": id_column, "time_column": time_column}
    return replace(data, csv_columns=columns, value_columns=tuple(str(c) for c in values))


def read_series_csv_like(
    path: str | Path, csv_columns: Mapping[str, str | None], value_columns: Sequence[str]
) -> SeriesDataset:
    """Read ``path`` as a model's training CSV was read, for prediction.

    The label column is optional here (a file without it is unlabelled data); the long layout's id and
    time columns are required. Every other column must be a value column of the training file: in the
    long layout the same channels in the same order; in the wide layout the training time steps in order,
    fewer of them (shorter series), or more where the training columns number the steps (``t0``, ``t1``,
    ... continue as ``t9``, ``t10``). Any other column would be read as one more step or channel, so it is an
    error that names it. The file is read once; its header says whether the label column is there.

    Args:
        path: the CSV file.
        csv_columns: the training file's ``label_column``, ``id_column`` and ``time_column``
            (:attr:`SeriesDataset.csv_columns`); an empty mapping reads the wide layout with an optional
            ``label`` column.
        value_columns: the training file's value columns (:attr:`SeriesDataset.value_columns`); empty
            skips their check (a model saved before they were kept).

    Raises:
        FileNotFoundError: no such file.
        ValueError: anything :func:`read_series_csv` refuses (a missing id or time column among them), or a
            column that is not a value column of the training file, or value columns in another order.
    """
    source = Path(path)
    label_column = csv_columns.get("label_column", "label")
    id_column, time_column = csv_columns.get("id_column"), csv_columns.get("time_column")
    frame = read_table(source, EXPECTED_LAYOUT)
    label = label_column if label_column in frame.columns else None
    data = _from_frame(frame, source, label, id_column, time_column)
    if not value_columns:
        return data
    if id_column is not None:
        if list(data.value_columns) != list(value_columns):
            raise ValueError(
                f"'{source}' has the channel columns {list(data.value_columns)}, but the model was trained "
                f"on {list(value_columns)}; give the same channel columns in the same order (besides the "
                f"id, time and label columns {[c for c in (id_column, time_column, label_column) if c]})"
            )
        return data
    steps = _step_names(value_columns, len(data.value_columns))
    for index, name in enumerate(data.value_columns):
        if index < len(steps) and name == steps[index]:
            continue
        if index < len(value_columns):
            where = f"which the training file names {value_columns[index]!r}"
        else:
            where = f"beyond the {len(value_columns)} steps of the training file's series"
        raise ValueError(
            f"'{source}' column {name!r} would be read as time step {index}, {where}; give the columns of "
            f"the training file in its order: the time steps {_summary(value_columns)} (fewer for shorter "
            f"series; more only where they are numbered) and, optionally, the label column {label_column!r}"
        )
    return data


def _step_names(names: Sequence[str], count: int) -> list[str]:
    """The names of ``count`` time steps: ``names`` cut short, or continued where they number the steps."""
    if count <= len(names):
        return list(names[:count])
    first = re.fullmatch(r"(.*?)(\d+)", names[0])
    if first is None:
        return list(names)
    prefix, start = first.group(1), int(first.group(2))
    if any(name != f"{prefix}{start + k}" for k, name in enumerate(names)):
        return list(names)
    return [f"{prefix}{start + k}" for k in range(count)]


def _summary(names: Sequence[str]) -> str:
    """Column names for a message, shortened to the first three and the last when there are many."""
    shown = [repr(n) for n in names]
    return ", ".join(shown if len(shown) <= 6 else [*shown[:3], "...", shown[-1]])


def labels_from_column(column: pd.Series, source: Path) -> np.ndarray:
    """Labels as Python scalars; a text column mixing numbers and words is rejected."""
    values = column.tolist()
    if not pd.api.types.is_numeric_dtype(column) and not pd.api.types.is_bool_dtype(column):
        kinds = {_looks_numeric(v) for v in values}
        if len(kinds) > 1:
            number = next(v for v in values if _looks_numeric(v))
            word = next(v for v in values if not _looks_numeric(v))
            raise ValueError(
                f"'{source}' label column {column.name!r} mixes numbers and text (e.g. {number!r} and "
                f"{word!r}); use one type for all class labels"
            )
    return np.array(check_label_types(values, f"'{source}' labels"), dtype=object)


def _looks_numeric(value: object) -> bool:
    try:
        float(str(value))
    except ValueError:
        return False
    return True


def _numeric(frame: pd.DataFrame, source: Path) -> np.ndarray:
    """The values of ``frame`` (one row per data row of the file) as float64; empty cells become NaN."""
    numbers = frame.apply(pd.to_numeric, errors="coerce")
    not_numbers = numbers.isna().to_numpy() & frame.notna().to_numpy()
    if not_numbers.any():
        row, column = np.argwhere(not_numbers)[0]  # the first in file order
        raise ValueError(
            f"'{source}' row {row + 1} has a non-numeric series value in column {frame.columns[column]!r}: "
            f"{_plain(frame.iat[row, column])!r}; expected a number (or an empty cell for a missing value)"
        )
    return numbers.to_numpy(dtype=np.float64)


def _plain(value: object) -> object:
    """A numpy scalar as the Python scalar it holds, for messages (``3``, not ``np.int64(3)``)."""
    return value.item() if isinstance(value, np.generic) else value


def _wide(frame: pd.DataFrame, labels: np.ndarray | None, source: Path) -> SeriesDataset:
    if frame.shape[1] == 0:
        raise ValueError(
            f"'{source}' has no value columns besides the label; expected one column per time step"
        )
    values = _numeric(frame, source)
    series = []
    for row, data in enumerate(values):
        observed = np.flatnonzero(~np.isnan(data))
        if observed.size == 0:
            raise ValueError(f"'{source}' row {row + 1} has no values; expected at least one time step")
        series.append(data[: observed[-1] + 1, None].copy())  # (T, 1), trailing empties are not data
    return SeriesDataset(series=series, labels=labels, name=source.stem)


def _long(
    frame: pd.DataFrame,
    labels: np.ndarray | None,
    value_columns: list[str],
    id_column: str,
    time_column: str | None,
    source: Path,
) -> SeriesDataset:
    if not value_columns:
        raise ValueError(
            f"'{source}' has no value columns besides id/time/label; expected at least one channel"
        )
    if frame[id_column].isna().any():  # groupby would drop these rows silently
        row = int(np.flatnonzero(frame[id_column].isna().to_numpy())[0])
        raise ValueError(
            f"'{source}' row {row + 1} has no value in id column {id_column!r}; expected the id of the "
            f"series the row belongs to"
        )
    if time_column is not None and frame[time_column].isna().any():  # sorting would put it last silently
        row = int(np.flatnonzero(frame[time_column].isna().to_numpy())[0])
        raise ValueError(
            f"'{source}' row {row + 1} has no value in time column {time_column!r}; expected the time of "
            f"the row within its series"
        )
    frame = frame.reset_index(drop=True)  # the index is the 0-based data row, for the messages
    values = _numeric(frame[value_columns], source)  # (rows, C)
    frame = frame.assign(_label=labels) if labels is not None else frame
    series, series_labels = [], []
    for key, group in frame.groupby(id_column, sort=False):
        if time_column is not None:
            group = group.sort_values(time_column, kind="stable")
            _check_unique_times(group[time_column], f"{id_column}={key!r}", source)
        series.append(values[group.index.to_numpy()])  # (T, C)
        if labels is not None:
            distinct = pd.unique(group["_label"])
            if len(distinct) != 1:
                raise ValueError(
                    f"'{source}' series {id_column}={key!r} has labels {list(distinct)}; expected one label "
                    f"per series"
                )
            series_labels.append(distinct[0])
    return SeriesDataset(
        series=series,
        labels=np.array(series_labels, dtype=object) if labels is not None else None,
        name=source.stem,
    )


def _check_unique_times(times: pd.Series, series: str, source: Path) -> None:
    """Refuse a time that two rows of one series share (sorting would order them by file row silently)."""
    repeated = times[times.duplicated(keep=False)]
    if repeated.empty:
        return
    first = repeated.iloc[0]
    rows = ", ".join(str(row + 1) for row in repeated.index[repeated == first])
    raise ValueError(
        f"'{source}' series {series} has {times.name}={_plain(first)!r} in rows {rows}; expected one row "
        f"per time step of a series"
    )
