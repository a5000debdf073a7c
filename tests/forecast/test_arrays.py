"""The input checks shared by the kit's array functions."""

from __future__ import annotations

import numpy as np
import pytest

from lstmkit.forecast.arrays import check_origins, check_series


def test_check_series_returns_a_1d_float_array() -> None:
    out = check_series("y", [1, 2, 3])
    assert out.dtype == np.float64 and out.tolist() == [1.0, 2.0, 3.0]
    with pytest.raises(ValueError, match=r"y must be a 1-D series of shape \(N,\), got shape \(\)"):
        check_series("y", 3.0)
    with pytest.raises(
        ValueError, match=r"y contains 2 NaN or infinite value\(s\), the first at index \(1,\): inf"
    ):
        check_series("y", [1.0, np.inf, np.nan])


def test_check_origins_refuses_floats_bools_and_out_of_range() -> None:
    assert check_origins(np.array([0, 4], dtype=np.int32), length=5).dtype == np.int64
    assert check_origins(np.array([], dtype=np.float64), length=5).size == 0  # empty: nothing to truncate
    with pytest.raises(TypeError, match=r"origins must be integer row indices, got an array of float64"):
        check_origins(np.array([1.0]), length=5)
    with pytest.raises(TypeError, match=r"origins must be integer row indices, got an array of bool"):
        check_origins(np.array([True]), length=5)
    with pytest.raises(ValueError, match=r"origins must lie in \[2, 4\], got \[1, 3\]"):
        check_origins(np.array([1, 3]), length=5, first=2)
    with pytest.raises(ValueError, match=r"origins must be a 1-D array of row indices, got shape \(1, 1\)"):
        check_origins(np.array([[1]]), length=5)


def test_check_series_refuses_complex_and_reads_none_as_missing() -> None:
    with pytest.raises(
        TypeError, match=r"^y must hold real numbers \(integers or floats\), got dtype complex128$"
    ):
        check_series("y", np.array([1.0, 2.0 + 1e-3j]))  # the imaginary part was dropped
    with pytest.raises(
        ValueError, match=r"y contains 1 NaN or infinite value\(s\), the first at index \(1,\): nan"
    ):
        check_series("y", [1.0, None, 3.0])
