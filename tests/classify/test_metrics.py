from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from lstmkit.classify.labels import LabelEncoder, check_label_types
from lstmkit.classify.metrics import accuracy, confusion_matrix, format_confusion, macro_f1, majority_class
from lstmkit.classify.preprocess import fill_missing, normalize_series, pad_series


def test_macro_f1_by_hand() -> None:
    # class a: TP 1, FN 1, FP 0 -> F1 2/3; class b: TP 2, FP 1, FN 0 -> F1 4/5
    assert macro_f1(["a", "a", "b", "b"], ["a", "b", "b", "b"]) == pytest.approx((2 / 3 + 4 / 5) / 2)
    assert macro_f1([1, 2, 3], [1, 2, 3]) == 1.0


def test_confusion_matrix_and_text() -> None:
    matrix, labels = confusion_matrix(["x", "y", "y"], ["y", "y", "y"], labels=["x", "y"])
    assert matrix.tolist() == [[0, 1], [0, 2]]
    text = format_confusion(matrix, labels)
    assert text.splitlines()[0].split() == ["true\\pred", "x", "y"]


def test_accuracy_and_majority() -> None:
    assert accuracy([1, 2], [1, 1]) == 0.5
    assert majority_class(["b", "a", "b"]) == "b"
    with pytest.raises(ValueError, match="same length"):
        accuracy([1], [1, 2])
    with pytest.raises(ValueError, match="y_true is empty"):
        macro_f1([], [])


def test_label_encoder_round_trip_and_unknown() -> None:
    encoder = LabelEncoder.fit([3, 1, 2, 3])
    assert encoder.classes == [1, 2, 3]
    assert encoder.decode(encoder.encode([2, 3])) == [2, 3]
    assert encoder.unseen([1, 4, 4, 5]) == [4, 5]
    with pytest.raises(ValueError, match="label 4 was not seen in training"):
        encoder.encode([4])


def test_mixed_label_types_are_refused() -> None:
    with pytest.raises(ValueError, match="labels mix types"):
        LabelEncoder.fit([1, "1"])
    with pytest.raises(TypeError, match="must be str, int, float or bool"):
        check_label_types([(1, 2)])
    assert check_label_types(np.array([1, 2])) == [1, 2]


def test_numbers_sort_by_value_ints_and_floats_together() -> None:
    assert LabelEncoder.fit([1, 2.5, 2]).classes == [1, 2, 2.5]
    assert LabelEncoder.fit(np.array([3.0, -1.5])).classes == [-1.5, 3.0]
    assert LabelEncoder.fit([True, False]).classes == [False, True]
    assert LabelEncoder.fit(["b", "B", "a"]).classes == ["B", "a", "b"]
    assert confusion_matrix([1, 2.5], [2, 1])[1] == [1, 2, 2.5]


@pytest.mark.parametrize(
    ("labels", "shown"),
    [
        pytest.param([0.0, float("nan"), 1.0], "nan", id="float-nan"),
        pytest.param(np.array([0.0, np.nan, 1.0]), "nan", id="numpy-nan"),
        pytest.param(pd.Series([0, None, 1]).tolist(), "nan", id="pandas-number-gap"),
        pytest.param(["a", None, "b"], "None", id="none"),
    ],
)
def test_a_missing_label_is_named_by_index(labels: list, shown: str) -> None:
    with pytest.raises(ValueError, match=rf"labels\[1\] is missing \({shown}\); expected a class label"):
        LabelEncoder.fit(labels)


def test_fill_missing_interpolates_and_holds_edges() -> None:
    series = [np.array([[np.nan, 1.0], [2.0, np.nan], [4.0, 3.0]])]
    filled, count = fill_missing(series)
    np.testing.assert_array_equal(filled[0], [[2.0, 1.0], [2.0, 2.0], [4.0, 3.0]])
    assert count == 2
    with pytest.raises(ValueError, match="series 0, channel 0 has no observed value"):
        fill_missing([np.full((3, 1), np.nan)])


def test_zscore_per_series_and_constant_series() -> None:
    out = normalize_series([np.array([[1.0, 5.0], [3.0, 5.0], [5.0, 5.0]])])
    np.testing.assert_allclose(out[0][:, 0].mean(), 0.0, atol=1e-12)
    np.testing.assert_allclose(out[0][:, 0].std(), 1.0)
    np.testing.assert_array_equal(out[0][:, 1], 0.0)
    with pytest.raises(ValueError, match="unknown normalization 'minmax'"):
        normalize_series(out, "minmax")


def test_pad_never_truncates() -> None:
    batch, lengths = pad_series([np.ones((2, 1)), np.ones((4, 1))])
    assert batch.shape == (2, 4, 1) and lengths.tolist() == [2, 4]
    assert batch[0, 2:].sum() == 0
    with pytest.raises(ValueError, match="never truncated"):
        pad_series([np.ones((4, 1))], length=3)
