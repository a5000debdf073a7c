from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from lstmkit.classify.csv_format import read_series_csv
from lstmkit.classify.ts_format import read_ts

HEADER = (
    "@problemName Toy\n@timeStamps false\n@missing {missing}\n@univariate {uni}\n"
    "{extra}@classLabel true a b\n@data\n"
)


def write(tmp_path: Path, body: str, *, missing: str = "false", uni: str = "true", extra: str = "") -> Path:
    path = tmp_path / "toy.ts"
    path.write_text(HEADER.format(missing=missing, uni=uni, extra=extra) + body)
    return path


def test_reads_univariate_archive_file(shared_data: Path) -> None:
    data = read_ts(shared_data / "tsc" / "GunPoint_TRAIN.ts")
    assert data.name == "GunPoint"
    assert len(data) == 50
    assert data.n_channels == 1
    assert set(data.lengths.tolist()) == {150}
    assert set(data.labels) == {1, 2}  # typed as a CSV reader types them
    assert data.class_names == (1, 2)  # typed as the labels are


def test_reads_multivariate_unequal_length_file(shared_data: Path) -> None:
    data = read_ts(shared_data / "tsc" / "JapaneseVowels_TRAIN.ts")
    assert len(data) == 270
    assert data.n_channels == 12
    assert data.lengths.min() == 7 and data.lengths.max() == 26
    assert data.series[0].shape == (data.lengths[0], 12)
    assert data.n_missing == 0


def test_values_and_channels_are_placed_time_major(tmp_path: Path) -> None:
    path = write(tmp_path, "1,2,3:4,5,6:a\n7,8,9:1,2,3:b\n", uni="false", extra="@dimensions 2\n")
    data = read_ts(path)
    np.testing.assert_array_equal(data.series[0], [[1, 4], [2, 5], [3, 6]])
    assert list(data.labels) == ["a", "b"]


def test_missing_values_become_nan(tmp_path: Path) -> None:
    data = read_ts(write(tmp_path, "1,?,3:a\n4,5,NaN:b\n", missing="true"))
    assert data.n_missing == 2
    assert np.isnan(data.series[0][1, 0])


@pytest.mark.parametrize(
    ("body", "kwargs", "message"),
    [
        pytest.param(
            "1,2:3,4:a\n", {}, "@univariate true, but the cases have 2 channels", id="univariate-lie"
        ),
        pytest.param(
            "1,2:3,4:a\n", {"uni": "false", "extra": "@dimensions 3\n"}, "@dimensions 3", id="dimensions-lie"
        ),
        pytest.param(
            "1,2,3:a\n1,2:b\n",
            {"extra": "@equalLength true\n"},
            "@equalLength true, but line 9 has length 2 and line 8",
            id="equal-lie",
        ),
        pytest.param(
            "1,2,3:a\n", {"extra": "@seriesLength 4\n"}, "@seriesLength 4, but line 8", id="length-lie"
        ),
        pytest.param("1,2,3:c\n", {}, "class label 'c' is not among", id="label-lie"),
        pytest.param("1,?,3:a\n", {}, "@missing false, but line 7 has missing", id="missing-lie"),
        pytest.param(
            "1,2:a\n1,2:3,4:b\n", {"uni": "false"}, "line 8: case has 2 channel", id="channels-differ"
        ),
        pytest.param(
            "1,x,3:a\n", {}, r"line 7, channel 0: expected a number or '\?', got 'x'", id="not-a-number"
        ),
        pytest.param("1,2,3\n", {}, "got one field without a label", id="no-label"),
        pytest.param("", {}, "has an @data section but no cases", id="no-cases"),
    ],
)
def test_header_that_lies_is_an_error(
    tmp_path: Path, body: str, kwargs: dict[str, str], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        read_ts(write(tmp_path, body, **kwargs))


def test_empty_file_and_missing_data_section(tmp_path: Path) -> None:
    empty = tmp_path / "empty.ts"
    empty.write_text("\n\n")
    with pytest.raises(ValueError, match=r"is empty; expected a \.ts file"):
        read_ts(empty)
    no_data = tmp_path / "nodata.ts"
    no_data.write_text("@problemName X\n")
    with pytest.raises(ValueError, match="has no @data line"):
        read_ts(no_data)
    with pytest.raises(FileNotFoundError, match=r"no \.ts file"):
        read_ts(tmp_path / "absent.ts")


def test_a_bare_class_label_tag_names_its_line(tmp_path: Path) -> None:
    path = tmp_path / "bare.ts"
    path.write_text("@problemName X\n@classLabel\n@data\n1,2,3:a\n")
    with pytest.raises(ValueError, match="line 2: @classlabel expects true or false, got ''"):
        read_ts(path)


def test_a_byte_order_mark_and_tab_separated_tags_are_read(tmp_path: Path) -> None:
    path = tmp_path / "bom.ts"
    path.write_text(
        "\ufeff@problemName\tX\n@classLabel\ttrue\ta\tb\n@data\n1,2,3:a\n4,5,6:b\n", encoding="utf-8"
    )
    data = read_ts(path)
    assert data.name == "X" and list(data.labels) == ["a", "b"] and data.class_names == ("a", "b")


def test_time_stamps_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "stamped.ts"
    path.write_text("@timeStamps true\n@classLabel true a\n@data\n(0,1),(1,2):a\n")
    with pytest.raises(ValueError, match="@timeStamps true is not supported"):
        read_ts(path)


@pytest.mark.parametrize(
    ("written", "typed"),
    [
        pytest.param(["1", "2"], [1, 2], id="ints"),
        pytest.param(["0.5", "2"], [0.5, 2.0], id="floats"),
        pytest.param(["True", "False"], [True, False], id="booleans"),
        pytest.param(["up", "down"], ["up", "down"], id="words"),
    ],
)
def test_labels_are_typed_as_the_csv_reader_types_them(
    tmp_path: Path, written: list[str], typed: list[object]
) -> None:
    ts = tmp_path / "toy.ts"
    ts.write_text(f"@classLabel true {' '.join(written)}\n@data\n1,2:{written[0]}\n3,4:{written[1]}\n")
    csv = tmp_path / "toy.csv"
    csv.write_text(f"t0,t1,label\n1,2,{written[0]}\n3,4,{written[1]}\n")
    from_ts, from_csv = read_ts(ts).labels, read_series_csv(csv).labels
    assert from_ts is not None and from_csv is not None
    assert list(from_ts) == list(from_csv) == typed
    assert [type(v) for v in from_ts] == [type(v) for v in from_csv]
    assert read_ts(ts).class_names == tuple(typed)  # the header's classes, typed as the labels


@pytest.mark.parametrize(
    "written",
    [
        pytest.param(["01", "1"], id="leading-zero"),
        pytest.param(["007", "7"], id="zeros"),
        pytest.param(["+1", "1"], id="plus-sign"),
        pytest.param(["1.0", "1"], id="float-and-int"),
        pytest.param(["True", "true"], id="booleans"),
    ],
)
def test_labels_that_typing_would_merge_stay_text(tmp_path: Path, written: list[str]) -> None:
    ts = tmp_path / "toy.ts"
    ts.write_text(f"@classLabel true {' '.join(written)}\n@data\n1,2:{written[0]}\n3,4:{written[1]}\n")
    data = read_ts(ts)
    assert data.labels is not None and list(data.labels) == written  # two classes, as written
    assert data.class_names == tuple(written)


def test_header_and_data_labels_are_typed_together(tmp_path: Path) -> None:
    # the header's "01" would merge with "1": the data's labels stay text too, as in a file that has all three
    ts = tmp_path / "toy.ts"
    ts.write_text("@classLabel true 01 1 2\n@data\n1,2:1\n3,4:2\n")
    data = read_ts(ts)
    assert data.labels is not None and list(data.labels) == ["1", "2"]
    assert data.class_names == ("01", "1", "2")


def test_labels_that_mix_numbers_and_words_stay_text(tmp_path: Path) -> None:
    ts = write(tmp_path, "1,2:a\n3,4:1\n")
    ts.write_text(ts.read_text().replace("@classLabel true a b", "@classLabel true a 1"))
    assert list(read_ts(ts).labels) == ["a", "1"]
