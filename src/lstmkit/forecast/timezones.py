"""Dates with mixed UTC offsets: local times written across a daylight-saving change.

pandas writes a time-zone-aware series as text with each row's UTC offset (``2021-03-27 00:00:00+01:00``,
then ``2021-03-28 00:00:00+02:00``), and refuses to parse the mixture back into one time zone. Two readings
are possible, and the right one depends on how fine the data is:

- daily or coarser data, or data at one time of day: the local wall-clock time is the date meant. Local
  midnights are 23 or 25 hours apart across the change; in UTC they would fall off a daily grid.
- finer (hourly) data: the local clock repeats or skips an hour at the change, so only UTC keeps the steps
  regular and unique.

Example:
    >>> notes = []
    >>> dates = pd.Series(["2021-03-27 00:00:00+01:00", "2021-03-28 00:00:00+01:00",
    ...                    "2021-03-29 00:00:00+02:00"])
    >>> [str(d.date()) for d in parse_mixed_offsets(dates, "date", notes)]
    ['2021-03-27', '2021-03-28', '2021-03-29']
"""

from __future__ import annotations

import pandas as pd


def parse_mixed_offsets(values: pd.Series, name: str, notes: list[str]) -> pd.Series:
    """Parse dates with mixed UTC offsets: local wall-clock time for daily or coarser data, else UTC.

    Args:
        values: the dates as text, each with its UTC offset.
        name: the column they come from, for the note.
        notes: the list the note on the reading chosen is appended to.

    Returns:
        The parsed dates, tz-naive local times or UTC times; ``NaT`` where a value does not parse (the
        caller reports those).
    """
    local = pd.to_datetime(values.map(_wall_clock), errors="coerce")  # tz-naive local time
    known = pd.DatetimeIndex(local.dropna()).sort_values()
    steps = known[1:] - known[:-1]
    daily = len(steps) > 0 and steps.min() >= pd.Timedelta(days=1)
    if daily or (known - known.normalize()).nunique() == 1:
        notes.append(
            f"dates in column {name!r} carry mixed UTC offsets (e.g. a daylight-saving change); the data "
            "is daily or coarser (or at one time of day), so kept the local dates and dropped the offsets"
        )
        return local
    notes.append(
        f"dates in column {name!r} carry mixed UTC offsets (e.g. a daylight-saving change); "
        "converted them to UTC"
    )
    return pd.to_datetime(values, errors="coerce", utc=True)


def _wall_clock(value: object) -> pd.Timestamp | None:
    """The local wall-clock time of one date, its UTC offset dropped; ``None`` if it does not parse."""
    try:
        stamp = pd.Timestamp(value)  # type: ignore[arg-type]
    except (ValueError, TypeError):
        return None
    return stamp.tz_localize(None) if stamp.tzinfo is not None else stamp
