"""Scalers: exact inverses, training-only statistics, state round trip, bad input."""

from __future__ import annotations

import numpy as np
import pytest

from lstmkit.forecast.scalers import SCALERS, make_scaler, scaler_from_state


@pytest.mark.parametrize("kind", SCALERS)
def test_inverse_is_exact(kind: str) -> None:
    rng = np.random.default_rng(0)
    values = rng.normal(5.0, 3.0, size=(50, 3))
    scaler = make_scaler(kind).fit(values)
    np.testing.assert_allclose(scaler.inverse_transform(scaler.transform(values)), values, rtol=1e-12)
    restored = scaler_from_state(scaler.state())
    np.testing.assert_array_equal(restored.transform(values), scaler.transform(values))


def test_standard_statistics() -> None:
    values = np.array([[1.0, 10.0], [3.0, 10.0]])
    scaled = make_scaler("standard").fit(values).transform(values)
    np.testing.assert_allclose(scaled[:, 0], [-1.0, 1.0])
    np.testing.assert_allclose(
        scaled[:, 1], [0.0, 0.0]
    )  # a constant column gets scale 1, not a division by 0


def test_minmax_maps_training_span_to_unit_interval() -> None:
    values = np.array([[2.0], [4.0], [6.0]])
    np.testing.assert_allclose(make_scaler("minmax").fit(values).transform(values)[:, 0], [0.0, 0.5, 1.0])


def test_column_helpers() -> None:
    scaler = make_scaler("standard").fit(np.array([[0.0, 0.0], [2.0, 4.0]]))
    np.testing.assert_allclose(scaler.transform_column(np.array([3.0]), 1), [0.5])
    np.testing.assert_allclose(scaler.inverse_column(np.array([0.5]), 1), [3.0])


def test_errors() -> None:
    with pytest.raises(ValueError, match="unknown scaler 'zscore'"):
        make_scaler("zscore")
    with pytest.raises(ValueError, match="NaN or infinite"):
        make_scaler("standard").fit(np.array([[1.0], [np.nan]]))
    with pytest.raises(RuntimeError, match="before fit"):
        make_scaler("standard").transform(np.zeros((2, 1)))
    with pytest.raises(ValueError, match=r"fit on 1 column\(s\), got values with 2"):
        make_scaler("standard").fit(np.zeros((3, 1))).transform(np.zeros((3, 2)))


@pytest.mark.parametrize(
    ("state", "columns", "error", "message"),
    [
        ([1, 2], None, TypeError, "a scaler state must be a mapping with kind, center and scale, got list"),
        ({"kind": "standard", "center": [0.0]}, None, ValueError, "a scaler state needs 'scale'"),
        ({"kind": "zscore", "center": [0.0], "scale": [1.0]}, None, ValueError, "unknown scaler 'zscore'"),
        (
            {"kind": "standard", "center": 0.0, "scale": [1.0]},
            None,
            TypeError,
            "center must be a 1-D array of real numbers, got 0.0",
        ),
        (
            {"kind": "standard", "center": [True], "scale": [1.0]},
            None,
            TypeError,
            r"center must be a 1-D array of real numbers, got \[True\]",
        ),
        (
            {"kind": "standard", "center": [0.0], "scale": [1.0, [2.0]]},
            None,
            TypeError,
            "scale must be a 1-D array of real numbers",
        ),
        (
            {"kind": "standard", "center": [0.0], "scale": [1.0, 2.0]},
            None,
            ValueError,
            "one center and one scale",
        ),
        ({"kind": "standard", "center": [0.0], "scale": [1.0]}, 2, ValueError, r"per column \(2\), got 1"),
        (
            {"kind": "standard", "center": [0.0], "scale": [0.0]},
            1,
            ValueError,
            r"finite and > 0, got \[0.0\]",
        ),
        ({"kind": "standard", "center": [0.0], "scale": [-1.0]}, 1, ValueError, "finite and > 0"),
        (
            {"kind": "standard", "center": [float("nan")], "scale": [1.0]},
            1,
            ValueError,
            "center must be finite",
        ),
    ],
    ids=[
        "list",
        "no-scale",
        "kind",
        "center-number",
        "center-bool",
        "scale-ragged",
        "lengths",
        "width",
        "zero",
        "negative",
        "nan-center",
    ],
)
def test_scaler_from_state_refuses_a_damaged_state(
    state: object, columns: int | None, error: type, message: str
) -> None:
    with pytest.raises(error, match=message):
        scaler_from_state(state, columns=columns)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "vector",
    [lambda v: v, np.asarray, tuple, lambda v: np.asarray(v, dtype=np.float32)],
    ids=["list", "numpy", "tuple", "float32"],
)
def test_scaler_from_state_takes_any_1d_real_array(vector: object) -> None:
    fitted = make_scaler("standard").fit(np.array([[1.0, 10.0], [3.0, 30.0]]))
    state = fitted.state()
    rebuilt = scaler_from_state(
        {"kind": state["kind"], "center": vector(state["center"]), "scale": vector(state["scale"])},  # type: ignore[operator]
        columns=2,
    )
    values = np.array([[2.0, 20.0]])
    np.testing.assert_allclose(rebuilt.transform(values), fitted.transform(values), rtol=1e-6)
