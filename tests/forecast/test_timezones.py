"""Dates with mixed UTC offsets: local dates for daily data, UTC for hourly data, with a note either way."""

from __future__ import annotations

import pandas as pd

from lstmkit.forecast.timezones import parse_mixed_offsets


def _as_text(dates: pd.DatetimeIndex) -> pd.Series:
    """Dates as pandas writes a tz-aware column to CSV: each with its own UTC offset."""
    return pd.Series([str(date) for date in dates])


def test_daily_dates_keep_their_local_wall_clock_time() -> None:
    local = pd.date_range("2021-03-26", periods=5, freq="D", tz="Europe/Berlin")  # DST starts 03-28
    notes: list[str] = []
    parsed = parse_mixed_offsets(_as_text(local), "date", notes)
    assert list(parsed) == list(pd.date_range("2021-03-26", periods=5, freq="D"))  # midnights, tz-naive
    assert notes == [
        "dates in column 'date' carry mixed UTC offsets (e.g. a daylight-saving change); the data is daily "
        "or coarser (or at one time of day), so kept the local dates and dropped the offsets"
    ]


def test_hourly_dates_are_converted_to_utc() -> None:
    local = pd.date_range("2021-10-31 00:00", periods=5, freq="h", tz="Europe/Berlin")  # 02:00 repeats
    notes: list[str] = []
    parsed = parse_mixed_offsets(_as_text(local), "when", notes)
    assert list(parsed) == list(local.tz_convert("UTC"))  # unique, one hour apart
    assert notes == [
        "dates in column 'when' carry mixed UTC offsets (e.g. a daylight-saving change); "
        "converted them to UTC"
    ]


def test_a_value_that_does_not_parse_is_left_as_nat_for_the_caller() -> None:
    values = pd.Series(["2021-03-27 00:00:00+01:00", "not a date", "2021-03-29 00:00:00+02:00"])
    parsed = parse_mixed_offsets(values, "date", [])
    assert parsed.isna().tolist() == [False, True, False]
