"""Generators: seeded, the right structure, and the baselines the literature quotes."""

from __future__ import annotations

import math

import numpy as np
import pytest

from lstmkit.tasks.generators import (
    ADDING_BASELINE_MSE,
    adding_problem,
    copy_memory,
    copy_memory_baseline,
    temporal_order,
)


def test_adding_problem_statistics() -> None:
    data = adding_problem(20_000, 50, seed=3)
    values, markers = data.x[..., 0], data.x[..., 1]
    assert data.x.dtype == np.float32 and data.y.shape == (20_000, 1)
    assert np.all(markers.sum(axis=1) == 2) and set(np.unique(markers)) == {0.0, 1.0}
    assert np.all(markers[:, :25].sum(axis=1) == 1)  # one marker in each half
    assert values.min() >= 0 and values.max() <= 1
    np.testing.assert_allclose(data.y[:, 0], (values * markers).sum(axis=1), rtol=1e-6)
    assert data.y.mean() == pytest.approx(1.0, abs=0.01)
    constant_one_mse = float(((data.y - 1.0) ** 2).mean())
    assert constant_one_mse == pytest.approx(ADDING_BASELINE_MSE, abs=0.005)
    assert abs(ADDING_BASELINE_MSE - 0.167) < 5e-4


def test_generators_are_seeded() -> None:
    for make in (adding_problem, copy_memory, temporal_order):
        a, b, c = make(8, 30, seed=1), make(8, 30, seed=1), make(8, 30, seed=2)
        assert np.array_equal(a.x, b.x) and np.array_equal(a.y, b.y)
        assert not np.array_equal(a.x, c.x)


def test_copy_memory_layout_and_baseline() -> None:
    data = copy_memory(500, 30, seed=0)
    assert data.x.shape == data.y.shape == (500, 50)
    assert np.all((data.x[:, :10] >= 1) & (data.x[:, :10] <= 8))
    assert np.all(data.x[:, 39] == 9) and np.all(data.x[:, 10:39] == 0) and np.all(data.x[:, 40:] == 0)
    assert np.all(data.y[:, :40] == 0) and np.array_equal(data.y[:, 40:], data.x[:, :10])
    assert copy_memory_baseline(30) == pytest.approx(10 * math.log(8) / 50)
    # the memoryless strategy's cross-entropy on the data equals the formula
    probs = np.zeros((50, 10))
    probs[:40, 0] = 1.0
    probs[40:, 1:9] = 1 / 8
    ce = -np.log(probs[np.arange(50), data.y].clip(1e-300)).mean()
    assert ce == pytest.approx(copy_memory_baseline(30))


@pytest.mark.parametrize("markers", [2, 3])
def test_temporal_order_classes_match_marker_order(markers: int) -> None:
    data = temporal_order(2000, 100, markers=markers, seed=0)
    tokens = data.x.argmax(axis=-1)
    assert np.all(tokens[:, 0] == 1) and np.all(tokens[:, -1] == 0)
    relevant = [row[(row == 6) | (row == 7)] - 6 for row in tokens]
    assert all(len(r) == markers for r in relevant)
    decoded = np.array([int("".join(map(str, r)), 2) for r in relevant])
    assert np.array_equal(decoded, data.y)
    assert set(np.unique(data.y)) == set(range(2**markers))
    first_positions = np.argmax((tokens == 6) | (tokens == 7), axis=1)
    assert first_positions.min() >= 10 and first_positions.max() <= 20


def test_generators_reject_bad_arguments() -> None:
    with pytest.raises(ValueError, match="length must be >= 2, got 1"):
        adding_problem(4, 1)
    with pytest.raises(ValueError, match="n must be >= 1, got 0"):
        copy_memory(0, 10)
    with pytest.raises(TypeError, match="length must be an integer, got float"):
        adding_problem(4, 10.0)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="markers must be 2 or 3, got 4"):
        temporal_order(4, 100, markers=4)
    with pytest.raises(ValueError, match="length must be >= 20, got 10"):
        temporal_order(4, 10)
    assert copy_memory(2, 1, seed=0).x.shape == (2, 21)  # copy's shortest lag is 1


@pytest.mark.parametrize("markers", [2.0, True, "2"], ids=["float", "bool", "str"])
def test_temporal_order_markers_must_be_an_integer(markers: object) -> None:
    with pytest.raises(TypeError, match=f"markers must be the integer 2 or 3, got {type(markers).__name__}"):
        temporal_order(4, 100, markers=markers)  # type: ignore[arg-type]


GENERATORS = {"adding": adding_problem, "copy": copy_memory, "temporal_order": temporal_order}


@pytest.mark.parametrize("task", list(GENERATORS))
@pytest.mark.parametrize(
    ("seed", "error", "received"),
    [
        pytest.param(1.5, TypeError, "float 1.5", id="float"),
        pytest.param(None, TypeError, "NoneType None", id="none"),
        pytest.param(True, TypeError, "bool True", id="bool"),
        pytest.param(-1, ValueError, "-1", id="negative"),
        pytest.param(2**63, ValueError, str(2**63), id="too-large"),
    ],
)
def test_generators_refuse_a_seed_outside_the_integers_0_to_2_63(
    task: str, seed: object, error: type[Exception], received: str
) -> None:
    with pytest.raises(error, match=rf"seed must be an integer in \[0, 2\*\*63 - 1\], got {received}$"):
        GENERATORS[task](2, 30, seed=seed)  # type: ignore[operator]


@pytest.mark.parametrize("task", list(GENERATORS))
def test_generators_take_the_largest_seed_and_numpy_integers(task: str) -> None:
    make = GENERATORS[task]
    assert make(2, 30, seed=2**63 - 1).x.shape[0] == 2  # type: ignore[operator]
    a, b = make(2, 30, seed=np.int64(5)), make(2, 30, seed=5)  # type: ignore[operator]
    assert np.array_equal(a.x, b.x)
