"""Reader for the UCR/UEA archive's ``.ts`` format (Bagnall et al. 2018; Dau et al. 2019).

A ``.ts`` file is a header of ``@tag value`` lines (``#`` lines are comments), then ``@data`` and one case per
line. A case holds one comma-separated list of values per channel, channels separated by ``:``, and, when
``@classLabel true``, the class label as the last ``:`` field. ``?`` (or ``NaN``) marks a missing value.

The reader checks every claim the header makes (dimensions, univariate, equal length, series length, the
class label list, missing values) against the data, and raises naming the line where they disagree: a header
that lies is a corrupt file, never something to guess around.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from lstmkit.classify.labels import Label, labels_from_text

_MISSING = {"?", "nan", "NaN", "NAN"}
_BOOL_TAGS = {"timestamps", "missing", "univariate", "equallength"}
_KNOWN_TAGS = _BOOL_TAGS | {"problemname", "dimension", "dimensions", "serieslength", "classlabel", "data"}


@dataclass(frozen=True)
class SeriesDataset:
    """A set of (possibly multivariate, possibly unequal-length) series with optional class labels.

    Attributes:
        series: one float64 array of shape ``(T_i, C)`` per case; ``NaN`` marks a missing value.
        labels: ``(N,)`` object array of class labels, or ``None`` for unlabelled data.
        name: the problem name (``@problemName``) or the file stem.
        class_names: the labels the header declares (``@classLabel true ...``), in file order, if any; typed
            as ``labels`` are (``1``, not ``"1"``).
        csv_columns: the columns a CSV was read with (``label_column``, ``id_column``, ``time_column``);
            empty for other sources.
        value_columns: a CSV's value columns: the time steps of the wide layout, the channels of the long
            one; empty for other sources. A classifier trained on the data saves them with
            ``csv_columns``, so that new files are read the same way.
    """

    series: list[np.ndarray]
    labels: np.ndarray | None
    name: str = ""
    class_names: tuple[Label, ...] = field(default_factory=tuple)
    csv_columns: dict[str, str | None] = field(default_factory=dict)
    value_columns: tuple[str, ...] = ()

    def __len__(self) -> int:
        return len(self.series)

    @property
    def n_channels(self) -> int:
        """Number of channels ``C`` (all cases share it)."""
        return int(self.series[0].shape[1])

    @property
    def lengths(self) -> np.ndarray:
        """``(N,)`` int array of series lengths."""
        return np.array([s.shape[0] for s in self.series], dtype=np.int64)

    @property
    def n_missing(self) -> int:
        """Number of missing (``NaN``) values over all cases."""
        return int(sum(np.isnan(s).sum() for s in self.series))


def read_ts(path: str | Path) -> SeriesDataset:
    """Read a UCR/UEA ``.ts`` file and check its header against its data.

    Args:
        path: the ``.ts`` file.

    Returns:
        A :class:`SeriesDataset`. Labels, and the ``class_names`` of the header, are typed together as a CSV
        reader types them where that keeps every class apart (see
        :func:`~lstmkit.classify.labels.labels_from_text`): ``1`` and ``2`` become ints, so a ``.ts`` training
        file and a ``.csv`` test file agree on their classes, while ``01`` and ``1`` stay text.

    Raises:
        FileNotFoundError: no such file.
        ValueError: an empty file, no ``@data`` section or no cases, a value that is not a number,
            time-stamped data (not supported), or any header claim the data contradicts.

    Example:
        >>> import tempfile, os
        >>> text = "@problemName Toy\\n@univariate true\\n@classLabel true a b\\n@data\\n1,2,3:a\\n4,5,6:b\\n"
        >>> with tempfile.NamedTemporaryFile("w", suffix=".ts", delete=False) as f:
        ...     _ = f.write(text)
        >>> data = read_ts(f.name); os.unlink(f.name)
        >>> len(data), data.n_channels, list(data.labels)
        (2, 1, ['a', 'b'])
    """
    source = Path(path)
    if not source.is_file():
        raise FileNotFoundError(f"no .ts file at '{source}'")
    lines = source.read_text(encoding="utf-8-sig", errors="replace").splitlines()  # -sig: drop a BOM
    if not any(line.strip() for line in lines):
        raise ValueError(f"'{source}' is empty; expected a .ts file with a header and an @data section")
    header, data_start = _parse_header(lines, source)
    class_label = header.get("classlabel", (False,))
    assert isinstance(class_label, tuple)  # set by _parse_header
    has_labels = bool(class_label[0])
    declared_labels: tuple[str, ...] = tuple(str(v) for v in class_label[1:])

    series: list[np.ndarray] = []
    labels: list[str] = []
    line_numbers: list[int] = []
    for number, raw in enumerate(lines[data_start:], start=data_start + 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        values, label = _parse_case(line, number, source, has_labels)
        series.append(values)
        line_numbers.append(number)
        if label is not None:
            labels.append(label)
    if not series:
        raise ValueError(
            f"'{source}' has an @data section but no cases; expected one case per line after @data"
        )

    _check_against_header(header, series, labels, declared_labels, line_numbers, source)
    name = str(header.get("problemname", source.stem))
    typed = labels_from_text([*declared_labels, *labels])  # together: one typing for the header and data
    return SeriesDataset(
        series=series,
        labels=np.array(typed[len(declared_labels) :], dtype=object) if has_labels else None,
        name=name,
        class_names=tuple(typed[: len(declared_labels)]),
    )


def _parse_header(lines: list[str], source: Path) -> tuple[dict[str, object], int]:
    """Return the header tags (lower-cased names) and the index of the first line after ``@data``."""
    header: dict[str, object] = {}
    for index, raw in enumerate(lines):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if not line.startswith("@"):
            raise ValueError(
                f"'{source}' line {index + 1}: expected a header line starting with '@' before @data, "
                f"got {line[:40]!r}"
            )
        tag, *after = line[1:].split(None, 1) or [""]  # the tag ends at a space or a tab
        tag = tag.lower()
        rest = after[0].strip() if after else ""
        if tag == "data":
            return header, index + 1
        if tag not in _KNOWN_TAGS:
            continue  # e.g. @targetLabel of regression files; not ours to judge
        if tag in _BOOL_TAGS:
            header[tag] = _parse_bool(tag, rest, index + 1, source)
        elif tag in ("dimension", "dimensions", "serieslength"):
            try:
                header["dimensions" if tag.startswith("dimension") else tag] = int(rest)
            except ValueError as err:
                raise ValueError(
                    f"'{source}' line {index + 1}: @{tag} expects an integer, got {rest!r}"
                ) from err
        elif tag == "classlabel":
            flag, *names = rest.split() or [""]  # a bare @classLabel: _parse_bool names the line
            header["classlabel"] = (_parse_bool(tag, flag, index + 1, source), *names)
        else:
            header[tag] = rest
    raise ValueError(f"'{source}' has no @data line; expected a .ts header ending in @data, then the cases")


def _parse_bool(tag: str, text: str, line: int, source: Path) -> bool:
    word = text.split()[0].lower() if text.split() else ""
    if word not in ("true", "false"):
        raise ValueError(f"'{source}' line {line}: @{tag} expects true or false, got {text!r}")
    if tag == "timestamps" and word == "true":
        raise ValueError(
            f"'{source}' line {line}: @timeStamps true is not supported; lstmkit reads series without "
            f"time stamps (convert the file to plain values)"
        )
    return word == "true"


def _parse_case(line: str, number: int, source: Path, has_labels: bool) -> tuple[np.ndarray, str | None]:
    """Parse one data line into a ``(T, C)`` array and its label."""
    fields = line.split(":")
    label: str | None = None
    if has_labels:
        if len(fields) < 2:
            raise ValueError(
                f"'{source}' line {number}: expected channel values then ':' and a class label "
                f"(@classLabel true), got one field without a label"
            )
        label = fields.pop().strip()
        if not label:
            raise ValueError(f"'{source}' line {number}: the class label after the last ':' is empty")
    channels: list[list[float]] = []
    for channel, text in enumerate(fields):
        values: list[float] = []
        for token in text.split(","):
            token = token.strip()
            if token in _MISSING:
                values.append(math.nan)
                continue
            try:
                values.append(float(token))
            except ValueError as err:
                raise ValueError(
                    f"'{source}' line {number}, channel {channel}: expected a number or '?', got {token!r}"
                ) from err
        channels.append(values)
    lengths = {len(c) for c in channels}
    if len(lengths) != 1:
        raise ValueError(
            f"'{source}' line {number}: the channels of one case have lengths "
            f"{[len(c) for c in channels]}; expected one length per case (pad with '?')"
        )
    return np.array(channels, dtype=np.float64).T.copy(), label  # (T, C)


def _check_against_header(
    header: dict[str, object],
    series: list[np.ndarray],
    labels: list[str],
    declared_labels: tuple[str, ...],
    line_numbers: list[int],
    source: Path,
) -> None:
    """Raise if the data contradicts a header claim, naming the first offending line."""
    channels = series[0].shape[1]
    for values, number in zip(series, line_numbers, strict=True):
        if values.shape[1] != channels:
            raise ValueError(
                f"'{source}' line {number}: case has {values.shape[1]} channel(s), the first case has "
                f"{channels}; every case needs the same number of channels"
            )
    if "dimensions" in header and header["dimensions"] != channels:
        raise ValueError(
            f"'{source}': header says @dimensions {header['dimensions']}, but the cases have {channels} "
            f"channel(s)"
        )
    if header.get("univariate") is True and channels != 1:
        raise ValueError(
            f"'{source}': header says @univariate true, but the cases have {channels} channels "
            f"(line {line_numbers[0]})"
        )
    lengths = [s.shape[0] for s in series]
    if header.get("equallength") is True and len(set(lengths)) > 1:
        odd = next(i for i, n in enumerate(lengths) if n != lengths[0])
        raise ValueError(
            f"'{source}': header says @equalLength true, but line {line_numbers[odd]} has length "
            f"{lengths[odd]} and line {line_numbers[0]} has length {lengths[0]}"
        )
    expected_length = header.get("serieslength")
    if expected_length is not None and header.get("equallength") is not False:
        for n, number in zip(lengths, line_numbers, strict=True):
            if n != expected_length:
                raise ValueError(
                    f"'{source}': header says @seriesLength {expected_length}, but line {number} has "
                    f"length {n}"
                )
    if header.get("missing") is False:
        for values, number in zip(series, line_numbers, strict=True):
            if np.isnan(values).any():
                raise ValueError(
                    f"'{source}': header says @missing false, but line {number} has missing values ('?')"
                )
    if declared_labels:
        allowed = set(declared_labels)
        for label, number in zip(labels, line_numbers, strict=True):
            if label not in allowed:
                raise ValueError(
                    f"'{source}' line {number}: class label {label!r} is not among the labels the header "
                    f"declares (@classLabel true {' '.join(declared_labels)})"
                )
