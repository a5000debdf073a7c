"""Windows: shapes, alignment of inputs and direct multi-step targets, and short-series errors."""

from __future__ import annotations

import numpy as np
import pytest

from lstmkit.forecast.windowing import input_windows, make_windows, target_windows, valid_origins


def test_shapes_and_alignment() -> None:
    values = np.stack([np.arange(10.0), 100 + np.arange(10.0)], axis=1)  # (10, 2)
    x, y = make_windows(values, values[:, 0], lookback=4, horizon=3)
    assert x.shape == (4, 4, 2) and y.shape == (4, 3)
    for s in range(4):
        np.testing.assert_array_equal(x[s, :, 0], np.arange(s, s + 4))
        np.testing.assert_array_equal(x[s, :, 1], 100 + np.arange(s, s + 4))
        np.testing.assert_array_equal(y[s], np.arange(s + 4, s + 7))  # the steps right after the window


def test_univariate_input_gets_a_feature_axis() -> None:
    x, _ = make_windows(np.arange(6.0), np.arange(6.0), lookback=2, horizon=1)
    assert x.shape == (4, 2, 1)


def test_too_short_series() -> None:
    with pytest.raises(
        ValueError, match=r"5 rows is too short for lookback=4 \+ horizon=2; need at least 6 rows"
    ):
        make_windows(np.arange(5.0), np.arange(5.0), lookback=4, horizon=2)


def test_bad_lookback_and_lengths() -> None:
    with pytest.raises(ValueError, match="lookback must be >= 1, got 0"):
        make_windows(np.arange(5.0), np.arange(5.0), lookback=0, horizon=1)
    with pytest.raises(ValueError, match="same length"):
        make_windows(np.arange(5.0), np.arange(4.0), lookback=2, horizon=1)
    with pytest.raises(ValueError, match=r"shape \(N, F\) or \(N,\)"):
        make_windows(np.zeros((5, 2, 2)), np.arange(5.0), lookback=2, horizon=1)


def test_valid_origins_respect_start_and_stop() -> None:
    origins = valid_origins(20, lookback=3, horizon=2, start=1, stop=10)
    assert origins[0] == 3 and origins[-1] == 7
    assert valid_origins(4, lookback=3, horizon=2).size == 0


def test_windows_at_explicit_origins() -> None:
    values = np.arange(10.0)[:, None]
    np.testing.assert_array_equal(input_windows(values, np.array([5]), 3)[0, :, 0], [3.0, 4.0, 5.0])
    np.testing.assert_array_equal(target_windows(values[:, 0], np.array([5]), 2)[0], [6.0, 7.0])
    with pytest.raises(ValueError, match="origins must lie in"):
        input_windows(values, np.array([1]), 3)
    with pytest.raises(ValueError, match="runs past the end"):
        target_windows(values[:, 0], np.array([9]), 1)


def test_non_finite_and_non_1d_targets_are_refused() -> None:
    values = np.array([1.0, np.nan, 3.0, 4.0, 5.0])
    with pytest.raises(
        ValueError, match=r"values contains 1 NaN or infinite value\(s\), the first at index \(1, 0\)"
    ):
        make_windows(values, np.arange(5.0), lookback=2, horizon=1)
    with pytest.raises(
        ValueError, match=r"target contains 1 NaN or infinite value\(s\), the first at index \(1,\)"
    ):
        make_windows(np.arange(5.0), values, lookback=2, horizon=1)
    with pytest.raises(ValueError, match=r"target must be a 1-D series of shape \(N,\), got shape \(\)"):
        make_windows(np.arange(5.0), 3.0, lookback=2, horizon=1)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"target must be a 1-D series of shape \(N,\), got shape \(5, 1\)"):
        make_windows(np.arange(5.0), np.arange(5.0)[:, None], lookback=2, horizon=1)


def test_origins_must_be_integers() -> None:
    values = np.arange(10.0)[:, None]
    with pytest.raises(TypeError, match="origins must be integer row indices"):
        input_windows(values, np.array([5.5]), 3)
    with pytest.raises(TypeError, match="origins must be integer row indices"):
        target_windows(values[:, 0], np.array([5.5]), 2)
    with pytest.raises(ValueError, match="horizon must be >= 1, got 0"):
        target_windows(values[:, 0], np.array([5]), 0)


def test_missing_values_in_an_object_array_are_nan_not_windows() -> None:
    with pytest.raises(
        ValueError, match=r"values contains 4 NaN or infinite value\(s\), the first at index \(2, 0\): nan"
    ):
        make_windows([[1], [2], [None]] * 4, np.arange(12.0), lookback=3, horizon=2)  # type: ignore[arg-type]
    x, _ = make_windows(np.array([[1], [2.5]] * 3, dtype=object), np.arange(6.0), lookback=2, horizon=1)
    assert x.dtype == np.float32 and x[0, :, 0].tolist() == [1.0, 2.5]


@pytest.mark.parametrize(
    ("values", "target", "message"),
    [
        pytest.param(np.arange(6.0) + 1j, np.arange(6.0), "values", id="complex-values"),
        pytest.param(np.arange(6.0), np.arange(6.0) + 1j, "target", id="complex-target"),
        pytest.param(np.array(["a"] * 6), np.arange(6.0), "values", id="text-values"),
    ],
)
def test_complex_or_text_input_is_refused_not_cast(
    values: np.ndarray, target: np.ndarray, message: str
) -> None:
    with pytest.raises(
        TypeError, match=rf"^{message} must hold real numbers \(integers or floats\), got dtype"
    ):
        make_windows(values, target, lookback=2, horizon=1)


def test_windows_at_origins_refuse_complex_input() -> None:
    with pytest.raises(TypeError, match=r"^values must hold real numbers .*, got dtype complex128$"):
        input_windows(np.arange(6.0) + 1j, np.array([3]), 2)
    with pytest.raises(TypeError, match=r"^target must hold real numbers .*, got dtype complex128$"):
        target_windows(np.arange(6.0) + 1j, np.array([3]), 2)
