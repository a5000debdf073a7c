from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from lstmkit.classify.baselines import dtw_1nn, majority_accuracy
from lstmkit.classify.dtw import dtw_distance_matrix, nearest_neighbor_predict
from lstmkit.classify.metrics import accuracy
from lstmkit.classify.ts_format import read_ts


def naive_dtw(x: np.ndarray, y: np.ndarray, window: int | None = None) -> float:
    """The textbook O(nm) double loop, the oracle for the vectorized version."""
    n, m = len(x), len(y)
    d = np.full((n + 1, m + 1), np.inf)
    d[0, 0] = 0.0
    for i in range(1, n + 1):
        for j in range(1, m + 1):
            if window is not None and abs(i - j) > window:
                continue
            cost = float(((x[i - 1] - y[j - 1]) ** 2).sum())
            d[i, j] = cost + min(d[i - 1, j - 1], d[i - 1, j], d[i, j - 1])
    return float(d[n, m])


@pytest.mark.parametrize("window", [None, 0, 2], ids=["full", "window0", "window2"])
@pytest.mark.parametrize("channels", [1, 3], ids=["univariate", "multivariate"])
def test_matches_naive_dtw_on_unequal_lengths(window: int | None, channels: int) -> None:
    rng = np.random.default_rng(0)
    queries = [rng.normal(size=(int(rng.integers(2, 9)), channels)) for _ in range(4)]
    references = [rng.normal(size=(int(rng.integers(2, 9)), channels)) for _ in range(5)]
    got = dtw_distance_matrix(queries, references, window)
    expected = np.array([[naive_dtw(q, r, window) for r in references] for q in queries])
    np.testing.assert_allclose(got, expected, rtol=1e-12)


def test_warping_absorbs_a_time_shift() -> None:
    x = np.sin(np.linspace(0, 6, 40))[:, None]
    shifted = np.sin(np.linspace(0.3, 6.3, 40))[:, None]
    euclidean = float(((x - shifted) ** 2).sum())
    assert dtw_distance_matrix([x], [shifted])[0, 0] < 0.2 * euclidean


def test_nearest_neighbor_uses_labels_of_any_type() -> None:
    train = [np.zeros((5, 1)), np.ones((5, 1))]
    assert nearest_neighbor_predict(train, [False, True], [np.full((3, 1), 0.9)]) == [True]


def test_one_dimensional_series_are_one_channel() -> None:
    a, b = np.array([0.0, 1.0, 2.0]), np.array([0.0, 0.0, 1.0, 2.5])
    np.testing.assert_array_equal(
        dtw_distance_matrix([a], [b]), dtw_distance_matrix([a[:, None]], [b[:, None]])
    )
    assert nearest_neighbor_predict([np.zeros(5), np.ones(5)], ["zero", "one"], [np.full(3, 0.9)]) == ["one"]
    up, down = np.arange(5.0), np.arange(5.0)[::-1]
    assert dtw_1nn([up, down], ["up", "down"], [np.arange(6.0)]) == ["up"]


def test_a_window_narrower_than_every_length_difference_is_an_error() -> None:
    train = [np.zeros((10, 1)), np.ones((10, 1)), np.ones((9, 1))]
    with pytest.raises(
        ValueError,
        match=r"window=1 is smaller than the length difference 6 between test\[0\] \(length 3\) and the "
        r"closest training series \(length 9\)",
    ):
        nearest_neighbor_predict(train, ["zero", "one", "one"], [np.ones((3, 1))], window=1)
    assert nearest_neighbor_predict(train, ["zero", "one", "one"], [np.ones((3, 1))], window=6) == ["one"]


def test_reproduces_published_1nn_dtw_on_italy_power_demand(shared_data: Path) -> None:
    train = read_ts(shared_data / "tsc" / "ItalyPowerDemand_TRAIN.ts")
    test = read_ts(shared_data / "tsc" / "ItalyPowerDemand_TEST.ts")
    assert train.labels is not None and test.labels is not None
    predictions = dtw_1nn(train.series, list(train.labels), test.series)
    # UCR 2018 data summary: DTW full-window error 0.050 on ItalyPowerDemand
    assert accuracy(list(test.labels), predictions) == pytest.approx(0.950, abs=0.0015)


def test_majority_accuracy() -> None:
    assert majority_accuracy([1, 1, 2], [1, 2, 2, 2]) == 0.25


@pytest.mark.parametrize(
    ("queries", "references", "window", "message"),
    [
        pytest.param([], [np.zeros((2, 1))], None, "at least one query", id="empty"),
        pytest.param([np.zeros((2, 1))], [np.zeros((2, 2))], None, "same number of channels", id="channels"),
        pytest.param([np.full((2, 1), np.nan)], [np.zeros((2, 1))], None, "NaN or infinite", id="nan"),
        pytest.param([np.zeros((2, 1))], [np.zeros((2, 1))], -1, "window must be None or >= 0", id="window"),
        pytest.param(
            [np.zeros((2, 1, 1))], [np.zeros((2, 1))], None, "queries\\[0\\] must have shape", id="3d"
        ),
        pytest.param([np.zeros(2)], [np.zeros(0)], None, "references\\[0\\] must have shape", id="no-steps"),
    ],
)
def test_bad_input(queries: list, references: list, window: int | None, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        dtw_distance_matrix(queries, references, window)


@pytest.mark.parametrize(
    ("series", "message"),
    [
        pytest.param(
            [np.array(["a", "b"])],
            "queries\\[0\\] must be a \\(T,\\) or \\(T, C\\) array of numbers",
            id="text",
        ),
        pytest.param(
            [[[1.0, 2.0], [3.0]]], "queries\\[0\\] must be a \\(T,\\) or \\(T, C\\) array", id="ragged"
        ),
        pytest.param([None], "queries\\[0\\] must be an array of numbers, got NoneType", id="none"),
    ],
)
def test_series_that_are_not_numbers_are_named(series: list, message: str) -> None:
    with pytest.raises(TypeError, match=message):
        dtw_distance_matrix(series, [np.zeros(2)])
