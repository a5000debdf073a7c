from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from lstmkit.classify.csv_format import read_series_csv, read_series_csv_like


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
        pytest.param(
            "t0,t1,label\n1,2,a\n3,x,b\n",
            {},
            "row 2 has a non-numeric series value in column 't1': 'x'; expected a number",
            id="text-value",
        ),
        pytest.param("t0,t1,label\n,,a\n", {}, "row 1 has no values", id="empty-row"),
        pytest.param("t0,label\n", {}, "has a header but no rows", id="no-rows"),
        pytest.param(
            "id,x,label\n1,0,a\n1,1,b\n", {"id_column": "id"}, "has labels ['a', 'b']", id="label-changes"
        ),
        pytest.param(
            "id,x,label\n1,0,a\n,1,a\n2,5,b\n",
            {"id_column": "id"},
            "row 2 has no value in id column 'id'",
            id="missing-id",
        ),
        pytest.param(
            "id,t,x,label\n1,0,0,a\n1,,1,a\n2,0,5,b\n",
            {"id_column": "id", "time_column": "t"},
            "row 2 has no value in time column 't'",
            id="missing-time",
        ),
        pytest.param(
            "id,t,x,label\n1,0,0,a\n2,0,5,b\n1,1,1,a\n1,0,2,a\n",
            {"id_column": "id", "time_column": "t"},
            "series id=1 has t=0 in rows 1, 4; expected one row per time step of a series",
            id="repeated-time",
        ),
        pytest.param(
            "id,t,x,y,label\n1,0,0,0,a\n2,0,5,5,b\n2,1,6,?,b\n",
            {"id_column": "id", "time_column": "t"},
            "row 3 has a non-numeric series value in column 'y': '?'; expected a number",
            id="long-text-value",
        ),
    ],
)
def test_bad_csv_is_an_error(tmp_path: Path, text: str, kwargs: dict[str, str], message: str) -> None:
    with pytest.raises(ValueError, match=re.escape(message)):
        read_series_csv(write(tmp_path, text), **kwargs)


def test_empty_csv(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="is empty; expected a CSV"):
        read_series_csv(write(tmp_path, ""))


def test_the_value_columns_are_kept(tmp_path: Path) -> None:
    wide = read_series_csv(write(tmp_path, "t0,t1,label,t2\n1,2,a,3\n"))
    assert wide.value_columns == ("t0", "t1", "t2")
    long = read_series_csv(write(tmp_path, "id,t,x,y,label\na,0,1,2,cat\n"), id_column="id", time_column="t")
    assert long.value_columns == ("x", "y")


TRAINING_STEPS = ("t0", "t1", "t2", "t3")


def test_the_label_column_is_found_as_pandas_reads_the_header(tmp_path: Path) -> None:
    path = tmp_path / "bom.csv"
    path.write_bytes('\ufeff"t0","t1",label\n1,2,x\n'.encode())  # byte order mark, quoted names
    data = read_series_csv_like(path, {}, ("t0", "t1"))
    assert data.labels is not None and list(data.labels) == ["x"]


def test_a_file_to_predict_is_read_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    reads: list[object] = []
    read_csv = pd.read_csv

    def counted(*args: Any, **kwargs: Any) -> pd.DataFrame:
        reads.append(args[0])
        return read_csv(*args, **kwargs)

    monkeypatch.setattr(pd, "read_csv", counted)
    path = write(tmp_path, "t0,t1,t2,t3,target\n1,2,3,4,1\n")
    read_series_csv_like(path, {"label_column": "target"}, TRAINING_STEPS)
    assert reads == [path]


@pytest.mark.parametrize(
    ("text", "csv_columns", "message"),
    [
        pytest.param("", {}, "is empty; expected a CSV with a header row and one row per series", id="empty"),
        pytest.param("t0,t1\n", {}, "has a header but no rows; expected a header row", id="no-rows"),
        pytest.param(
            "t0,t1\n1,x\n", {}, "row 1 has a non-numeric series value in column 't1'", id="text-value"
        ),
        pytest.param("t0,t1,label\n,,a\n", {}, "row 1 has no values; expected at least one", id="empty-row"),
        pytest.param("t0,label\n1,a\n2,\n", {}, "row 2 has no value in label column 'label'", id="no-label"),
        pytest.param(
            "x,label\n1,a\n",
            {"id_column": "id"},
            "id_column='id' is not a column of",
            id="missing-id-column",
        ),
        pytest.param(
            "id,x\n1,0\n,1\n",
            {"id_column": "id"},
            "row 2 has no value in id column 'id'",
            id="missing-id",
        ),
    ],
)
def test_a_bad_file_to_predict_is_refused_as_read_series_csv_refuses_it(
    tmp_path: Path, text: str, csv_columns: dict[str, str], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        read_series_csv_like(write(tmp_path, text), csv_columns, ())


@pytest.mark.parametrize(
    ("text", "lengths", "labelled"),
    [
        pytest.param("t0,t1,t2,t3,target\n1,2,3,4,1\n", [4], True, id="as-trained"),
        pytest.param("t0,t1\n1,2\n", [2], False, id="shorter-unlabelled"),
        pytest.param("t0,t1,t2,t3,t4,t5\n1,2,3,4,5,6\n", [6], False, id="longer-numbered"),
        pytest.param("target,t0,t1,t2\n1,1,2,3\n", [3], True, id="label-first"),
    ],
)
def test_a_file_laid_out_as_the_training_file_is_read(
    tmp_path: Path, text: str, lengths: list[int], labelled: bool
) -> None:
    data = read_series_csv_like(write(tmp_path, text), {"label_column": "target"}, TRAINING_STEPS)
    assert data.lengths.tolist() == lengths and (data.labels is not None) == labelled


@pytest.mark.parametrize(
    ("text", "steps", "message"),
    [
        pytest.param(
            "t0,t1,t2,t3,label\n1,2,3,4,1\n",
            TRAINING_STEPS,
            "column 'label' would be read as time step 4, beyond the 4 steps of the training file's series; "
            "give the columns of the training file in its order: the time steps 't0', 't1', 't2', 't3' "
            "(fewer for shorter series; more only where they are numbered) and, optionally, the label "
            "column 'target'",
            id="label-under-another-name",
        ),
        pytest.param(
            "t0,t1,label\n1,2,1\n",
            TRAINING_STEPS,
            "column 'label' would be read as time step 2, which the training file names 't2'",
            id="label-within-the-steps",
        ),
        pytest.param(
            "t1,t0\n1,2\n", TRAINING_STEPS, "column 't1' would be read as time step 0, which", id="reordered"
        ),
        pytest.param(
            "a,b,c\n1,2,3\n",
            ("a", "b"),
            "column 'c' would be read as time step 2, beyond the 2 steps",
            id="unnumbered",
        ),
    ],
)
def test_a_column_in_another_role_is_refused(
    tmp_path: Path, text: str, steps: tuple[str, ...], message: str
) -> None:
    with pytest.raises(ValueError, match=re.escape(message)):
        read_series_csv_like(write(tmp_path, text), {"label_column": "target"}, steps)


def test_a_model_saved_without_columns_reads_the_wide_layout_with_an_optional_label(tmp_path: Path) -> None:
    data = read_series_csv_like(write(tmp_path, "a,b,label\n1,2,x\n"), {}, ())
    assert data.lengths.tolist() == [2] and data.labels is not None and list(data.labels) == ["x"]
