"""Reading a user's CSV file: every way it can be empty or unreadable is one clear ``ValueError``."""

from __future__ import annotations

import lzma
import os
import tarfile
import zipfile
import zlib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pandas as pd

# pandas's rule for compression="infer" (pandas.io.common.extension_to_compression), longest suffix first
COMPRESSION_BY_SUFFIX = {
    ".tar.gz": "tar",
    ".tar.bz2": "tar",
    ".tar.xz": "tar",
    ".tar": "tar",
    ".gz": "gzip",
    ".bz2": "bz2",
    ".zip": "zip",
    ".xz": "xz",
    ".zst": "zstd",
}
# what a corrupt or truncated archive raises: gzip.BadGzipFile and bz2's "Invalid data stream" are OSErrors
DECOMPRESSION_ERRORS = (zipfile.BadZipFile, tarfile.TarError, lzma.LZMAError, zlib.error, EOFError, OSError)


def compression_of(path: Path, compression: Any = "infer") -> str | None:
    """The compression pandas reads ``path`` with, for ``read_csv``'s ``compression`` option.

    The option is a method name, ``None``, ``"infer"`` (from the file name's suffix), or a mapping whose
    ``"method"`` is one of those. pandas resolves it with ``pandas.io.common.get_compression_method`` and
    ``infer_compression``, which are not public (not in pandas' API reference, not typed by pandas-stubs),
    so the rule is written out here and a test holds it to the installed pandas'.
    """
    method = compression.get("method") if isinstance(compression, Mapping) else compression
    if method == "infer":
        name = path.name.lower()
        return next((kind for suffix, kind in COMPRESSION_BY_SUFFIX.items() if name.endswith(suffix)), None)
    return method if isinstance(method, str) else None


def read_table(path: str | os.PathLike[str], expected: str, **options: Any) -> pd.DataFrame:
    """``pandas.read_csv(path, **options)`` for a file that must hold a header and at least one row.

    Args:
        path: the file.
        expected: what the file should hold, for the messages: ``"a header row and one text per row"``.
        options: passed to :func:`pandas.read_csv`.

    Raises:
        FileNotFoundError: no such file.
        ValueError: an empty file, one that does not parse as CSV, a corrupt or truncated compressed file
            (``.gz``, ``.bz2``, ``.xz``, ``.zip``, ...), or a header without rows; the message names the file
            and ``expected``.

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
    compression = compression_of(source, options.get("compression", "infer"))
    corrupt_archive = DECOMPRESSION_ERRORS if compression is not None else ()
    try:
        frame = pd.read_csv(source, **options)
    except pd.errors.EmptyDataError as err:
        raise ValueError(f"'{source}' is empty; expected a CSV with {expected}") from err
    except (pd.errors.ParserError, UnicodeDecodeError) as err:
        raise ValueError(f"could not read '{source}' as CSV ({err}); expected {expected}") from err
    except PermissionError:  # an OSError, but not a corrupt file
        raise
    except corrupt_archive as err:
        raise ValueError(
            f"could not decompress '{source}' as {compression} ({type(err).__name__}: {err}); expected a "
            f"CSV with {expected}, compressed with {compression} (rename the file if it is not compressed)"
        ) from err
    if frame.empty:
        raise ValueError(f"'{source}' has a header but no rows; expected {expected}")
    return frame
