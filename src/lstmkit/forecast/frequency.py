"""The frequency of a series' dates, the grid they lie on, and the season a frequency implies.

:func:`infer_freq` tolerates gaps and stray dates (a calendar rule found on short runs of dates, else the
most common fixed step); :func:`grid` finds the grid most dates follow, so that one stray date is
reported rather than all the others; :func:`season_from_freq` gives seasonal naive its season.
"""

from __future__ import annotations

import re
from collections import Counter

import numpy as np
import pandas as pd
from pandas.tseries.offsets import BaseOffset

_MAX_GRIDS = 100  # grids tried when looking for the one most dates lie on (each a date_range)

# frequency rule code (prefix) -> season length used by seasonal naive
_SEASONS = {
    "B": 5,
    "C": 5,
    "D": 7,
    "h": 24,
    "H": 24,
    "W": 52,
    "MS": 12,
    "ME": 12,
    "M": 12,
    "QS": 4,
    "QE": 4,
    "Q": 4,
}


def season_from_freq(freq: str | BaseOffset | None) -> int | None:
    """Season length implied by a frequency rule: 12 for monthly, 24 for hourly, 5 for business days.

    A multiple ``n`` of a rule divides the season: ``'2h'`` steps make a day of 12 steps and ``'2MS'`` a
    year of 6. Whole weeks of days are weeks (``'7D'`` is ``'W'``: 52; ``'14D'`` is ``'2W'``: 26). The result
    is ``None`` (no seasonal naive) for a rule without a season, where ``n`` does not divide the season
    (``'2D'``: a week is 3.5 steps), and where the season would be one step (``'24h'``, ``'5B'``): seasonal
    naive would then be persistence under another name.

    Example:
        >>> [season_from_freq(f) for f in ("MS", "h", "2h", "W-SAT", "7D", "2D", "24h", "YS-JAN")]
        [12, 24, 12, 52, 52, None, None, None]

    Raises:
        TypeError: ``freq`` is neither a frequency string, a pandas offset nor ``None``.
    """
    if freq is None:
        return None
    if isinstance(freq, BaseOffset):
        freq = freq.freqstr
    if not isinstance(freq, str):
        raise TypeError(
            "freq must be a frequency string such as 'D', 'h' or 'MS' (or a pandas offset), got "
            f"{type(freq).__name__} {freq!r}"
        )
    match = re.fullmatch(r"(\d*)([A-Za-z]+)", freq.split("-")[0])
    if match is None:
        return None
    multiple, code = int(match.group(1) or 1), match.group(2)
    if code == "D" and multiple % 7 == 0:
        multiple, code = multiple // 7, "W"
    season = _SEASONS.get(code)
    if season is None or multiple == 0 or season % multiple or season == multiple:
        return None
    return season // multiple


def infer_freq(index: pd.DatetimeIndex) -> str | None:
    """The frequency of the index, tolerating gaps and stray dates.

    The frequency of the whole index if pandas finds one; else the most common frequency of short runs
    of dates (calendar rules such as ``'B'`` or ``'MS'``); else the most common step between dates when
    it is a fixed step (under four weeks) taken by at least half of the steps.
    """
    if len(index) < 3:
        return _modal_step(index) if len(index) == 2 else None
    whole = _freq_of(index)
    if whole is not None:
        return whole
    run = max(3, min(12, len(index) // 3))
    starts = np.unique(
        np.linspace(0, max(len(index) - run, 0), num=min(60, max(len(index) - run, 1))).astype(int)
    )
    votes = Counter(f for s in starts if (f := _freq_of(index[s : s + run])) is not None)
    if votes:
        freq, count = votes.most_common(1)[0]
        if count >= len(starts) / 2:
            return freq
    return _modal_step(index)


def _modal_step(index: pd.DatetimeIndex) -> str | None:
    """The most common step between dates as a fixed frequency, if at least half the steps take it."""
    steps = pd.Series(index[1:] - index[:-1])
    counts = steps.value_counts()
    delta, count = pd.Timedelta(counts.index[0]), int(counts.iloc[0])
    if count < len(steps) / 2 or not pd.Timedelta(0) < delta < pd.Timedelta(days=28):
        return None
    if delta == pd.Timedelta(days=1) and not (index.day_of_week >= 5).any():
        return "B"  # daily steps that never touch a weekend: business days with holidays
    if delta == pd.Timedelta(days=7):
        anchors = Counter(d.strftime("%a").upper() for d in index)
        return f"W-{anchors.most_common(1)[0][0]}"
    if delta % pd.Timedelta(days=1) == pd.Timedelta(0):
        return f"{delta.days}D" if delta.days > 1 else "D"
    return str(pd.tseries.frequencies.to_offset(delta).freqstr)


def _freq_of(index: pd.DatetimeIndex) -> str | None:
    try:
        with pd.option_context("future.infer_freq_returns_offset", True):
            offset = pd.infer_freq(index)
    except (ValueError, TypeError, KeyError):
        return None
    if offset is None:
        return None
    return offset if isinstance(offset, str) else str(offset.freqstr)


def grid(index: pd.DatetimeIndex, freq: str) -> tuple[pd.DatetimeIndex, pd.DatetimeIndex]:
    """The ``freq`` grid most dates of a sorted ``index`` lie on (first to last of them) and the dates off it.

    Anchored on the earliest date not yet placed, each grid takes the dates on it; a date that ``freq``
    would roll forward (the 15th of a month for ``'MS'``) is alone on its own. The largest group wins, so
    one stray first date is reported, not all the others.
    """
    remaining, best = index, index[:1]
    for _ in range(_MAX_GRIDS):
        if len(remaining) == 0 or len(best) >= len(remaining):
            break
        grid = pd.date_range(remaining[0], index[-1], freq=freq)
        on = remaining[remaining.isin(grid)] if len(grid) and grid[0] == remaining[0] else remaining[:1]
        best = on if len(on) > len(best) else best
        remaining = remaining.difference(on)
    return pd.date_range(best[0], best[-1], freq=freq), index.difference(best)
