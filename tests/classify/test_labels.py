"""Typing text labels as a CSV reader does, never merging or renaming a class; aligning label kinds."""

from __future__ import annotations

import pandas as pd
import pytest

from lstmkit.classify.labels import Label, align_labels, check_label_types, labels_from_text


@pytest.mark.parametrize(
    ("written", "typed"),
    [
        pytest.param(["1", "2", "1"], [1, 2, 1], id="ints"),
        pytest.param(["-3", "18446744073709551617"], [-3, 18446744073709551617], id="big-and-negative"),
        pytest.param(["1", "2.5"], [1.0, 2.5], id="int-beside-float"),
        pytest.param(["1.0", "2.0"], [1.0, 2.0], id="floats"),
        pytest.param(["TRUE", "False"], [True, False], id="booleans"),
        pytest.param([], [], id="empty"),
    ],
)
def test_labels_spelled_as_python_writes_them_are_typed(written: list[str], typed: list[Label]) -> None:
    result = labels_from_text(written)
    assert result == typed
    assert [type(v) for v in result] == [type(v) for v in typed]


@pytest.mark.parametrize(
    "written",
    [
        pytest.param(["01", "1"], id="leading-zero"),
        pytest.param(["007", "7"], id="zeros"),
        pytest.param(["+1", "1"], id="plus-sign"),
        pytest.param(["1.0", "1"], id="float-and-int"),
        pytest.param(["0.0", "-0.0"], id="signed-zero"),
        pytest.param(["True", "true"], id="boolean-words"),
        pytest.param(["1e3", "2"], id="exponent"),
        pytest.param(["1_0", "2"], id="underscore"),
        pytest.param(["nan", "1"], id="nan"),
        pytest.param(["inf", "1"], id="inf"),
        pytest.param(["a", "1"], id="words"),
    ],
)
def test_labels_that_typing_would_merge_or_rename_stay_text(written: list[str]) -> None:
    assert labels_from_text(written) == written


@pytest.mark.parametrize(
    ("labels", "classes", "aligned"),
    [
        pytest.param([2, 1, 3], ["1", "2"], ["2", "1", "3"], id="typed-labels-text-classes"),
        pytest.param([1.0, 2.5], ["1", "2.5"], ["1", "2.5"], id="float-labels"),
        pytest.param(["2", "1"], [1, 2], [2, 1], id="text-labels-typed-classes"),
        pytest.param([True], ["False", "True"], ["True"], id="booleans"),
        pytest.param([1, 7], ["01", "07"], [1, 7], id="classes-that-do-not-type"),
        pytest.param(["1", "0"], [False, True], ["1", "0"], id="one-is-not-true"),
        pytest.param([1, 2], [1.0, 2.0], [1, 2], id="same-kind"),
    ],
)
def test_align_labels_spells_labels_as_the_classes(
    labels: list[Label], classes: list[Label], aligned: list[Label]
) -> None:
    result = align_labels(labels, classes)
    assert result == aligned
    assert [type(v) for v in result] == [type(v) for v in aligned]


def test_one_string_is_not_read_as_labels_one_per_character() -> None:
    with pytest.raises(TypeError, match="labels must be a sequence of class labels, got a single str 'abab'"):
        check_label_types("abab")


def test_a_pandas_na_label_is_missing() -> None:
    column = pd.Series([0, 1, None], dtype="Int64")
    with pytest.raises(ValueError, match="labels\\[2\\] is missing \\(<NA>\\)"):
        check_label_types(column)
