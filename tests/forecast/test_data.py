"""Loading and validating forecasting data: dates, columns, gaps and the fill policy."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from lstmkit.forecast.data import prepare_frame, read_csv
from lstmkit.forecast.frequency import season_from_freq


def _daily(values: list[float], start: str = "2021-01-01") -> pd.DataFrame:
    return pd.DataFrame(
        {"date": pd.date_range(start, periods=len(values), freq="D").astype(str), "y": values}
    )


def test_date_column_is_found_and_parsed() -> None:
    prepared = prepare_frame(_daily([1.0, 2.0, 3.0, 4.0]), target="y")
    assert isinstance(prepared.frame.index, pd.DatetimeIndex)
    assert prepared.freq == "D"
    assert prepared.frame["y"].dtype == np.float64
    assert prepared.notes == []


def test_series_with_datetime_index() -> None:
    series = pd.Series([1.0, 2.0, 3.0], index=pd.date_range("2020-01", periods=3, freq="MS"), name="sales")
    prepared = prepare_frame(series)
    assert prepared.target == "sales" and prepared.freq == "MS"


def test_unsorted_dates_are_sorted_and_reported() -> None:
    frame = _daily([1.0, 2.0, 3.0]).iloc[[2, 0, 1]]
    prepared = prepare_frame(frame, target="y")
    assert prepared.frame["y"].tolist() == [1.0, 2.0, 3.0]
    assert prepared.notes == ["dates were not sorted; sorted 3 rows by date"]


def test_duplicate_dates_are_refused() -> None:
    frame = pd.DataFrame({"date": ["2021-01-01", "2021-01-02", "2021-01-02"], "y": [1.0, 2.0, 3.0]})
    with pytest.raises(ValueError, match=r"1 duplicate date\(s\), the first 2021-01-02"):
        prepare_frame(frame, target="y")


def test_unparseable_dates_are_named() -> None:
    frame = pd.DataFrame({"date": ["2021-01-01", "yesterday", "2021-01-03"], "y": [1.0, 2.0, 3.0]})
    with pytest.raises(
        ValueError, match=r"could not parse 1 date\(s\) in column 'date', the first 'yesterday'"
    ):
        prepare_frame(frame, target="y")


def test_missing_target_column() -> None:
    with pytest.raises(ValueError, match=r"target column 'price' not found; the columns are \['y'\]"):
        prepare_frame(_daily([1.0, 2.0, 3.0]), target="price")


def test_non_numeric_target() -> None:
    frame = _daily([1.0, 2.0, 3.0])
    frame["y"] = ["1.0", "abc", "3"]
    with pytest.raises(ValueError, match=r"column 'y' must be numeric, got non-numeric value 'abc'"):
        prepare_frame(frame, target="y")


def test_missing_feature_column() -> None:
    with pytest.raises(ValueError, match=r"feature column\(s\) \['x'\] not found"):
        prepare_frame(_daily([1.0, 2.0, 3.0]), target="y", features=["x"])


def test_no_dates_at_all() -> None:
    with pytest.raises(ValueError, match="no dates found"):
        prepare_frame(pd.DataFrame({"y": [1.0, 2.0, 3.0]}), target="y")


def test_wrong_type() -> None:
    with pytest.raises(TypeError, match="expected a pandas DataFrame or Series, got ndarray"):
        prepare_frame(np.zeros(3))  # type: ignore[arg-type]


def test_unknown_fill_policy() -> None:
    with pytest.raises(ValueError, match="unknown fill policy 'zero'"):
        prepare_frame(_daily([1.0, 2.0, 3.0]), target="y", fill="zero")


def test_nan_without_fill_policy_is_an_error_that_suggests_one() -> None:
    with pytest.raises(ValueError, match=r"1 row\(s\) with NaN, the first at 2021-01-02.*--fill"):
        prepare_frame(_daily([1.0, np.nan, 3.0, 4.0]), target="y")


def test_missing_dates_without_fill_policy() -> None:
    frame = _daily([1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0]).drop(index=[3])
    with pytest.raises(ValueError, match=r"1 missing date\(s\) at frequency D, the first 2021-01-04"):
        prepare_frame(frame, target="y")


@pytest.mark.parametrize(
    ("fill", "expected"),
    [("ffill", [1.0, 1.0, 3.0, 4.0]), ("interpolate", [1.0, 2.0, 3.0, 4.0]), ("drop", [1.0, 3.0, 4.0])],
    ids=["ffill", "interpolate", "drop"],
)
def test_fill_policies(fill: str, expected: list[float]) -> None:
    prepared = prepare_frame(_daily([1.0, np.nan, 3.0, 4.0]), target="y", fill=fill)
    assert prepared.frame["y"].tolist() == expected
    assert any(fill in note for note in prepared.notes)


def test_gap_is_inserted_and_filled() -> None:
    frame = _daily([1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0]).drop(index=[3])
    prepared = prepare_frame(frame, target="y", fill="interpolate")
    assert len(prepared.frame) == 8
    assert prepared.frame["y"].iloc[3] == pytest.approx(4.0)


def test_whole_years_as_numbers(shared_data: Path) -> None:
    prepared = prepare_frame(read_csv(shared_data / "series" / "sunspots_yearly.csv"), target="SUNACTIVITY")
    assert prepared.frame.index[0] == pd.Timestamp("1700-01-01")
    assert len(prepared.frame) == 309


def test_fred_holidays_are_missing_values(shared_data: Path) -> None:
    frame = read_csv(shared_data / "finance" / "dexuseu_daily.csv")
    with pytest.raises(ValueError, match=r"223 row\(s\) with NaN"):
        prepare_frame(frame, target="DEXUSEU")
    prepared = prepare_frame(frame, target="DEXUSEU", fill="drop")
    assert len(prepared.frame) == 5647 and prepared.freq == "B"


def test_co2_weekly_gaps(shared_data: Path) -> None:
    prepared = prepare_frame(
        read_csv(shared_data / "series" / "co2_weekly.csv"), target="co2", fill="interpolate"
    )
    assert prepared.freq == "W-SAT"
    assert not prepared.frame.isna().any().any()


def test_read_csv_missing_file(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="no data file at"):
        read_csv(tmp_path / "nope.csv")


def test_read_csv_empty_file(tmp_path: Path) -> None:
    path = tmp_path / "empty.csv"
    path.write_text("")
    with pytest.raises(
        ValueError, match="is empty; expected a CSV with a header row and one row per time step"
    ):
        read_csv(path)
    path.write_text("date,value\n")
    with pytest.raises(ValueError, match="has a header but no rows; expected a header row and one row per"):
        read_csv(path)


@pytest.mark.parametrize(
    ("freq", "season"),
    [
        ("B", 5),
        ("D", 7),
        ("h", 24),
        ("W-SAT", 52),
        ("MS", 12),
        ("QS-JAN", 4),
        ("YS-JAN", None),
        (None, None),
        ("2h", 12),
        ("4h", 6),
        ("5h", None),  # 24 hours are not a whole number of 5-hour steps
        ("2D", None),  # nor is a week of 2-day steps
        ("7D", 52),  # whole weeks of days are weeks, as W-SUN is
        ("14D", 26),
        ("21D", None),
        ("28D", 13),
        ("24h", None),  # a season of one step would be persistence under another name
        ("5B", None),
        ("12MS", None),
        ("12h", 2),
        ("2MS", 6),
        ("3ME", 4),
        ("2W-SUN", 26),
    ],
    ids=str,
)
def test_season_from_freq(freq: str | None, season: int | None) -> None:
    assert season_from_freq(freq) == season


def test_a_date_off_the_frequency_grid_is_an_error_under_every_policy() -> None:
    dates = list(pd.date_range("2020-01-01", periods=40, freq="D"))
    dates[20] = dates[20] + pd.Timedelta(hours=12)
    series = pd.Series(np.arange(40.0), index=pd.DatetimeIndex(dates), name="y")
    for fill in ("none", "ffill", "drop"):
        with pytest.raises(ValueError, match=r"1 date\(s\) lie off the frequency 'D'.*2020-01-21 12:00:00"):
            prepare_frame(series, fill=fill)


def test_frequency_is_inferred_across_many_random_gaps() -> None:
    rng = np.random.default_rng(1)
    full = pd.date_range("2020-01-01", periods=365, freq="D")
    kept = full[rng.random(365) > 0.15]
    series = pd.Series(np.arange(len(kept), dtype=float), index=kept, name="y")
    missing = len(full) - len(kept)
    with pytest.raises(ValueError, match=rf"{missing} missing date\(s\) at frequency D"):
        prepare_frame(series)
    prepared = prepare_frame(series, fill="ffill")
    assert prepared.freq == "D" and len(prepared.frame) == 365


def test_business_days_with_holidays_keep_their_frequency() -> None:
    days = pd.bdate_range("2020-01-01", periods=60).delete([10, 20, 30])
    series = pd.Series(np.arange(57.0), index=days, name="y")
    prepared = prepare_frame(series, fill="ffill")
    assert prepared.freq == "B" and len(prepared.frame) == 60


def test_local_times_across_a_dst_change_are_parsed_as_utc_with_a_note(tmp_path: Path) -> None:
    local = pd.date_range("2021-03-27", periods=48, freq="h", tz="Europe/Berlin")  # DST starts 03-28
    path = tmp_path / "dst.csv"
    pd.DataFrame({"date": local, "y": np.arange(48.0)}).to_csv(path, index=False)
    prepared = prepare_frame(read_csv(path), target="y")
    assert prepared.freq == "h" and str(prepared.frame.index.tz) == "UTC"
    assert prepared.frame.index[0] == local[0]
    assert any("mixed UTC offsets" in note and "converted them to UTC" in note for note in prepared.notes)


def test_nat_in_a_datetime_index_is_an_error_and_a_period_index_is_converted() -> None:
    dates = pd.DatetimeIndex(["2020-01-01", None, "2020-01-03", "2020-01-04"])
    with pytest.raises(ValueError, match=r"holds 1 missing date\(s\) \(NaT\), the first at row 1"):
        prepare_frame(pd.Series([1.0, 2.0, 3.0, 4.0], index=dates, name="y"))
    periods = pd.period_range("2020-01", periods=4, freq="M")
    prepared = prepare_frame(pd.Series([1.0, 2.0, 3.0, 4.0], index=periods, name="y"))
    assert prepared.freq == "MS" and prepared.frame.index[0] == pd.Timestamp("2020-01-01")


def test_prepare_frame_leaves_the_callers_frame_alone() -> None:
    frame = pd.DataFrame(
        {0: [1.0, 2.0, 3.0, 4.0], 1: [5.0, 6.0, 7.0, 8.0]}, index=pd.date_range("2020-01-01", periods=4)
    )
    before = frame.copy()
    prepared = prepare_frame(frame, target="0", features=["1"])
    assert prepared.columns == ["0", "1"]
    assert list(frame.columns) == [0, 1]  # not renamed to strings in place
    pd.testing.assert_frame_equal(frame, before)


def test_daily_local_dates_across_a_dst_change_keep_their_wall_clock_time(tmp_path: Path) -> None:
    local = pd.date_range("2021-03-20", periods=20, freq="D", tz="Europe/Berlin")  # DST starts 03-28
    path = tmp_path / "dst_daily.csv"
    pd.DataFrame({"date": local, "y": np.arange(20.0)}).to_csv(path, index=False)
    prepared = prepare_frame(read_csv(path), target="y")
    assert prepared.freq == "D" and prepared.frame.index.tz is None
    assert list(prepared.frame.index) == list(pd.date_range("2021-03-20", periods=20, freq="D"))
    assert any("mixed UTC offsets" in note and "kept the local dates" in note for note in prepared.notes)


def test_fill_records_the_rows_whose_target_was_imputed() -> None:
    dates = pd.date_range("2020-01-01", periods=8, freq="D")
    frame = pd.DataFrame(
        {"y": [1.0, 2.0, np.nan, 4.0, 5.0, 6.0, 7.0, 8.0], "x": [1.0, 1.0, 1.0, np.nan, 1.0, 1.0, 1.0, 1.0]},
        index=dates,
    ).drop(index=dates[5])  # a missing date
    for fill in ("ffill", "interpolate"):
        prepared = prepare_frame(frame, target="y", features=["x"], fill=fill)
        # the NaN target and the inserted date; the row with only a NaN covariate has an observed target
        assert prepared.imputed == (dates[2], dates[5])
    assert prepare_frame(frame, target="y", features=["x"], fill="drop").imputed == ()
    gaps_only = frame.dropna()  # rows 2 and 3 become missing dates too: their target is imputed
    assert prepare_frame(gaps_only, target="y", features=["x"], fill="ffill").imputed == (
        dates[2],
        dates[3],
        dates[5],
    )


def test_iso_dates_of_mixed_precision_are_parsed() -> None:
    frame = _daily([float(v) for v in range(30)], start="2020-01-01")
    frame.loc[15, "date"] = "2020-01-16 12:00"  # pandas 3 reads every date in the first one's format
    with pytest.raises(
        ValueError, match=r"^1 date\(s\) lie off the frequency 'D' .*, the first 2020-01-16 12:00:00;"
    ):
        prepare_frame(frame, target="y")  # parsed, and then off the daily grid
    frame.loc[15, "date"] = "2020-01-16 00:00"
    frame.loc[0, "date"] = "2020-01-01T00:00:00"
    prepared = prepare_frame(frame, target="y")
    assert prepared.freq == "D" and len(prepared.frame) == 30


@pytest.mark.parametrize(
    ("dates", "stray"),
    [
        pytest.param(
            pd.date_range("2020-01-01", periods=30, freq="D").insert(0, pd.Timestamp("2019-12-31 12:00")),
            "2019-12-31 12:00:00",
            id="first-daily",
        ),
        pytest.param(
            pd.date_range("2020-02-01", periods=24, freq="MS").insert(0, pd.Timestamp("2020-01-15")),
            "2020-01-15 00:00:00",
            id="first-monthly",
        ),
        pytest.param(
            pd.date_range("2020-01-01", periods=30, freq="h").insert(0, pd.Timestamp("2019-12-31 23:30")),
            "2019-12-31 23:30:00",
            id="first-hourly",
        ),
    ],
)
def test_the_grid_follows_most_dates_and_blames_the_stray_one(dates: pd.DatetimeIndex, stray: str) -> None:
    series = pd.Series(np.arange(len(dates), dtype=float), index=dates, name="y")
    with pytest.raises(ValueError, match=rf"^1 date\(s\) lie off the frequency '\w+' .*, the first {stray};"):
        prepare_frame(series)


def test_duplicate_column_names_are_refused_by_name() -> None:
    frame = pd.DataFrame(
        np.ones((3, 4)), index=pd.date_range("2020-01-01", periods=3), columns=["y", "x", "y", 0]
    ).assign(**{"0": 2.0})
    with pytest.raises(
        ValueError,
        match=re.escape("the column name(s) ['0', 'y'] appear more than once; expected one column"),
    ):
        prepare_frame(frame, target="x")


def test_labels_are_matched_as_strings_whatever_their_type() -> None:
    dates = pd.date_range("2020-01-01", periods=4).astype(str)
    frame = pd.DataFrame({0: [1.0, 2.0, 3.0, 4.0], 1: [5.0, 6.0, 7.0, 8.0], 2: dates})
    prepared = prepare_frame(frame, target=0, features=[1], date_column=2)
    assert prepared.columns == ["0", "1"] and prepared.freq == "D"
    assert prepare_frame(frame, target="0", features=["1"], date_column="2").columns == ["0", "1"]
    with pytest.raises(
        ValueError, match=re.escape("target column '3' not found; the columns are ['0', '1']")
    ):
        prepare_frame(frame, target=3, date_column=2)


def test_one_feature_name_is_one_column_not_its_letters() -> None:
    frame = _daily([1.0, 2.0, 3.0]).assign(xy=[4.0, 5.0, 6.0])
    assert prepare_frame(frame, target="y", features="xy").features == ["xy"]


@pytest.mark.parametrize(
    ("column", "kind", "fix"),
    [
        pytest.param(
            pd.to_timedelta([1, 2, 3], unit="D"), "durations", ".dt.total_seconds()", id="timedelta"
        ),
        pytest.param(pd.date_range("2020-01-01", periods=3), "dates", "the date column", id="datetime"),
        pytest.param(
            pd.date_range("2020-01-01", periods=3, tz="UTC"), "dates", "the date column", id="datetime-tz"
        ),
        pytest.param(np.array([1 + 1j, 2, 3]), "complex numbers", "np.abs", id="complex"),
        pytest.param(
            np.array([1 + 1j, 2, 3], dtype=object), "complex numbers", "np.abs", id="complex-objects"
        ),
    ],
)
def test_dates_durations_and_complex_numbers_are_not_forecast_as_numbers(
    column: object, kind: str, fix: str
) -> None:
    frame = pd.DataFrame({"y": [1.0, 2.0, 3.0], "x": column}, index=pd.date_range("2020-01-01", periods=3))
    with pytest.raises(
        TypeError,
        match=rf"^column 'x' must hold real numbers to forecast, got {kind} \(dtype .*{re.escape(fix)}",
    ):
        prepare_frame(frame, target="y", features=["x"])
    with pytest.raises(TypeError, match=rf"^column 'x' must hold real numbers to forecast, got {kind}"):
        prepare_frame(frame, target="x")


def test_min_rows_must_be_an_integer() -> None:
    with pytest.raises(TypeError, match=r"^min_rows must be an integer, got str '3'$"):
        prepare_frame(_daily([1.0, 2.0, 3.0]), target="y", min_rows="3")  # type: ignore[arg-type]


def test_season_from_freq_takes_a_rule_or_an_offset() -> None:
    with pytest.raises(
        TypeError,
        match=r"^freq must be a frequency string such as 'D', 'h' or 'MS' \(or a pandas offset\), got int 7$",
    ):
        season_from_freq(7)  # type: ignore[arg-type]
    assert season_from_freq(pd.offsets.MonthBegin()) == 12 and season_from_freq(pd.offsets.Hour(2)) == 12
