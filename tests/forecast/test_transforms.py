"""Transforms: causal forward transforms and exact inversion back to levels."""

from __future__ import annotations

import numpy as np
import pytest

from lstmkit.forecast import transforms
from lstmkit.forecast.windowing import target_windows

LEVELS = np.array([100.0, 101.5, 99.0, 102.0, 104.5, 103.0, 105.0])


@pytest.mark.parametrize("kind", transforms.TRANSFORMS)
def test_changes_invert_exactly(kind: str) -> None:
    origins = np.array([0, 1, 2, 3])
    c = transforms.changes(kind, LEVELS, origins, horizon=3)
    back = transforms.invert(kind, c, anchor=LEVELS[origins])
    np.testing.assert_allclose(back, target_windows(LEVELS, origins, 3), rtol=1e-13)


@pytest.mark.parametrize("kind", transforms.TRANSFORMS)
def test_inverse_is_monotone_so_quantiles_map_to_quantiles(kind: str) -> None:
    c = np.array([[[-0.02, 0.0, 0.03]]])  # (S=1, H=1, Q=3), sorted
    back = transforms.invert(kind, c, anchor=np.array([100.0]))
    assert np.all(np.diff(back, axis=-1) > 0)


def test_forward_values() -> None:
    np.testing.assert_allclose(transforms.forward("diff", LEVELS)[1:3], [1.5, -2.5])
    np.testing.assert_allclose(transforms.forward("log_return", LEVELS)[1], np.log(101.5 / 100.0))
    np.testing.assert_allclose(transforms.forward("pct_change", LEVELS)[1], 0.015)
    assert np.isnan(transforms.forward("diff", LEVELS)[0])
    np.testing.assert_array_equal(transforms.forward("none", LEVELS), LEVELS)


def test_forward_is_causal() -> None:
    later_changed = LEVELS.copy()
    later_changed[5:] *= 2.0
    for kind in transforms.TRANSFORMS:
        np.testing.assert_array_equal(
            transforms.forward(kind, LEVELS)[:5], transforms.forward(kind, later_changed)[:5]
        )


def test_domain_errors() -> None:
    with pytest.raises(ValueError, match=r"needs positive values, got minimum -1\.0; use 'diff'"):
        transforms.forward("log_return", np.array([1.0, -1.0]))
    with pytest.raises(ValueError, match=r"'pct_change' needs positive values, got minimum 0\.0"):
        transforms.changes("pct_change", np.array([0.0, 1.0]), np.array([0]), 1)
    # from a negative base the inverse y_t (1 + c) falls as c rises: quantiles would come back reversed
    with pytest.raises(ValueError, match=r"'pct_change' needs positive values, got minimum -10\.5"):
        transforms.forward("pct_change", np.array([-10.0, -10.5, -9.0]))
    with pytest.raises(ValueError, match="unknown transform 'log'"):
        transforms.forward("log", LEVELS)


def test_a_domain_error_on_several_columns_names_the_column() -> None:
    levels = np.array([[1.0, 2.0, 3.0], [2.0, -1.0, 0.0], [3.0, 1.0, 1.0]])
    with pytest.raises(
        ValueError,
        match=r"^transform 'log_return' needs positive values, got minimum -1\.0 in column 'x'; use 'diff'",
    ):
        transforms.check_domain("log_return", levels, ["y", "x", "z"])
    with pytest.raises(
        ValueError, match=r"'pct_change' needs positive values, got minimum -1\.0 in column 1;"
    ):
        transforms.forward("pct_change", levels)  # no names: the column's position
    transforms.check_domain("diff", levels, ["y", "x", "z"])  # defined on any value
