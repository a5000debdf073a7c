from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from lstmkit.classify.csv_format import read_series_csv


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "series.csv"
    path.write_text(text)
    return path


def test_wide_layout_with_unequal_lengths_and_a_gap(tmp_path: Path) -> None:
    data = read_series_csv(write(tmp_path, "t0,t1,t2,t3,label\n1,,3,4,1\n5,6,,,2\n"))
    assert data.lengths.tolist() == [4, 2]
    assert np.isnan(data.series[0][1, 0])  # an interior gap is a missing value, not the end
    assert list(data.labels) == [1, 2]


def test_long_layout_sorted_by_time(tmp_path: Path) -> None:
    text = "id,t,x,y,label\nb,1,3,30,dog\na,0,1,10,cat\na,1,2,20,cat\nb,0,4,40,dog\n"
    data = read_series_csv(write(tmp_path, text), id_column="id", time_column="t")
    assert data.n_channels == 2
    np.testing.assert_array_equal(data.series[0], [[4, 40], [3, 30]])  # id "b" first, as in the file
    assert list(data.labels) == ["dog", "cat"]


def test_unlabelled_wide_file(tmp_path: Path) -> None:
    data = read_series_csv(write(tmp_path, "a,b\n1,2\n"), label_column=None)
    assert data.labels is None


@pytest.mark.parametrize(
    ("text", "kwargs", "message"),
    [
        pytest.param("t0,label\n1,1\n2,cat\n", {}, "mixes numbers and text", id="mixed-labels"),
        pytest.param("t0,label\n1,a\n2,\n", {}, "row 2 has no value in label column", id="missing-label"),
        pytest.param("t0,t1\n1,2\n", {}, "label_column='label' is not a column", id="no-label-column"),
        pytest.param("t0,label\nx,a\n", {}, "non-numeric series value", id="text-value"),
        pytest.param("t0,t1,label\n,,a\n", {}, "row 1 has no values", id="empty-row"),
        pytest.param("t0,label\n", {}, "has a header but no rows", id="no-rows"),
        pytest.param(
            "id,x,label\n1,0,a\n1,1,b\n", {"id_column": "id"}, "has labels \\['a', 'b'\\]", id="label-changes"
        ),
        pytest.param(
            "id,x,label\n1,0,a\n,1,a\n2,5,b\n",
            {"id_column": "id"},
            "row 2 has no value in id column 'id'",
            id="missing-id",
        ),
    ],
)
def test_bad_csv_is_an_error(tmp_path: Path, text: str, kwargs: dict[str, str], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        read_series_csv(write(tmp_path, text), **kwargs)


def test_empty_csv(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="is empty; expected a CSV"):
        read_series_csv(write(tmp_path, ""))
