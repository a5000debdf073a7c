"""Metrics against hand-computed values."""

from __future__ import annotations

import numpy as np
import pytest

from lstmkit.forecast import metrics

Y = np.array([2.0, 4.0, 5.0, 3.0])
P = np.array([3.0, 4.0, 2.0, 3.0])


def test_point_metrics_by_hand() -> None:
    assert metrics.mae(Y, P) == pytest.approx(1.0)  # (1 + 0 + 3 + 0) / 4
    assert metrics.rmse(Y, P) == pytest.approx(np.sqrt(10.0 / 4))
    assert metrics.mape(Y, P) == pytest.approx(100 * (0.5 + 0.6) / 4)
    assert metrics.smape(Y, P) == pytest.approx(100 * (2 / 5 + 6 / 7) / 4)
    assert metrics.mape(np.array([0.0, 1.0]), np.array([1.0, 1.0])) != metrics.mape(Y, P)  # NaN, not a crash


def test_mase_is_scaled_by_in_sample_naive_error() -> None:
    train = np.array([1.0, 3.0, 2.0, 4.0])  # naive errors 2, 1, 2 -> 5/3
    assert metrics.naive_scale(train) == pytest.approx(5 / 3)
    assert metrics.mase(Y, P, train) == pytest.approx(1.0 / (5 / 3))
    assert metrics.naive_scale(np.array([1.0, 2.0, 3.0, 1.0, 2.0, 4.0]), season=3) == pytest.approx(1 / 3)
    with pytest.raises(ValueError, match="training series is constant"):
        metrics.naive_scale(np.ones(5))
    with pytest.raises(ValueError, match="more than season=4 training points"):
        metrics.naive_scale(np.ones(3), season=4)


def test_directional_accuracy_conventions() -> None:
    last = np.array([3.0, 3.0, 3.0, 3.0])
    # actual changes +, +, +, 0 (ignored); predicted 0 (half), + (right), - (wrong)
    assert metrics.directional_accuracy(Y, P, last) == pytest.approx((0.5 + 1 + 0) / 3)
    assert metrics.directional_accuracy(Y, last, last) == pytest.approx(0.5)  # persistence is a coin flip
    assert np.isnan(metrics.directional_accuracy(last, P, last))


def test_interval_metrics() -> None:
    assert metrics.coverage(Y, Y - 1, Y + np.array([1, -2, 1, 1])) == pytest.approx(0.75)
    # q = 0.9, errors y - q_hat = (-1, 0, 3, 0): losses 0.1, 0, 2.7, 0
    assert metrics.pinball(Y, P, 0.9) == pytest.approx(2.8 / 4)
    with pytest.raises(ValueError, match=r"quantile must be in \(0, 1\), got 1.5"):
        metrics.pinball(Y, P, 1.5)


def test_shape_errors() -> None:
    with pytest.raises(ValueError, match=r"same shape, got \(4,\) and \(3,\)"):
        metrics.mae(Y, P[:3])
    with pytest.raises(ValueError, match="zero points"):
        metrics.rmse(np.zeros(0), np.zeros(0))
