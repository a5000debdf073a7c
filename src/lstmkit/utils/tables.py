"""Reading a user's CSV file: every way it can be empty or unreadable is one clear ``ValueError``."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pandas as pd


def read_table(path: str | os.PathLike[str], expected: str, **options: Any) -> pd.DataFrame:
    """``pandas.read_csv(path, **options)`` for a file that must hold a header and at least one row.

    Args:
        path: the file.
        expected: what the file should hold, for the messages: ``"a header row and one text per row"``.
        options: passed to :func:`pandas.read_csv`.

    Raises:
        FileNotFoundError: no such file.
        ValueError: an empty file, one that does not parse as CSV, or a header without rows; the message
            names the file and ``expected``.

    Example:
        >>> import tempfile
        >>> with tempfile.NamedTemporaryFile("w", suffix=".csv", delete=False) as f:
        ...     _ = f.write("a,b\\n")
        >>> read_table(f.name, "a header row and numeric columns")
        Traceback (most recent call last):
        ...
        ValueError: '...' has a header but no rows; expected a header row and numeric columns
    """
    source = Path(path)
    if not source.is_file():
        raise FileNotFoundError(f"no data file at '{source}'")
    try:
        frame = pd.read_csv(source, **options)
    except pd.errors.EmptyDataError as err:
        raise ValueError(f"'{source}' is empty; expected a CSV with {expected}") from err
    except (pd.errors.ParserError, UnicodeDecodeError) as err:
        raise ValueError(f"could not read '{source}' as CSV ({err}); expected {expected}") from err
    if frame.empty:
        raise ValueError(f"'{source}' has a header but no rows; expected {expected}")
    return frame
