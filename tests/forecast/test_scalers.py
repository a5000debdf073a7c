"""Scalers: exact inverses, training-only statistics, state round trip, bad input."""

from __future__ import annotations

import re

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
    with pytest.raises(ValueError, match=r"fit on 1 column\(s\), got values of shape \(3, 2\)"):
        make_scaler("standard").fit(np.zeros((3, 1))).transform(np.zeros((3, 2)))


@pytest.mark.parametrize("kind", ["standard", "minmax", "robust"])
def test_a_small_scale_signal_is_scaled_not_erased(kind: str) -> None:
    values = np.array([[1e-13], [2e-13], [3e-13]])  # a range of a third of the magnitude
    scaled = make_scaler(kind).fit(values).transform(values)[:, 0]
    assert scaled[2] - scaled[0] == pytest.approx(
        {"standard": 2 / np.std([1, 2, 3]), "minmax": 1, "robust": 2}[kind]
    )


def test_standard_scaler_on_a_tiny_column_reads_it_in_its_own_units() -> None:
    scaler = make_scaler("standard").fit(np.array([[1e-13], [3e-13]]))
    np.testing.assert_allclose(scaler.scale, [1e-13])
    np.testing.assert_allclose(scaler.transform(np.array([[2e-13], [3e-13]]))[:, 0], [0.0, 1.0])


@pytest.mark.parametrize("kind", ["standard", "minmax", "robust"])
@pytest.mark.parametrize("level", [0.0, 0.1, 1e-13, 123.456, -7e300], ids=str)
def test_a_constant_column_gets_scale_1(kind: str, level: float) -> None:
    values = np.full((1001, 3), level)  # the mean of 1001 rows is off by a few ulps: no spread for all that
    scaler = make_scaler(kind).fit(values)
    np.testing.assert_array_equal(scaler.scale, [1.0, 1.0, 1.0])
    np.testing.assert_allclose(scaler.transform(values), 0.0, atol=1e-12 * abs(level))


def test_a_robust_scaler_with_a_zero_iqr_uses_the_range() -> None:
    values = np.array([[0.0]] * 8 + [[1e-13]])  # q25 == q75: not constant, so scaled by its range
    scaler = make_scaler("robust").fit(values)
    np.testing.assert_allclose(scaler.scale, [1e-13])
    np.testing.assert_allclose(scaler.transform(values[-1:]), [[1.0]])


@pytest.mark.parametrize("kind", ["standard", "minmax", "robust"])
def test_a_statistic_that_overflows_is_refused(kind: str) -> None:
    values = np.array([[1e308, 1.0], [-1e308, 2.0]])
    with pytest.raises(
        ValueError,
        match=rf"the '{kind}' scaler's center or scale overflowed float64 in column\(s\) \[0\]: the values "
        r"reach 1e\+308, too near float64's limit of 1.8e308; divide the data by a power of ten first",
    ):
        make_scaler(kind).fit(values)


def test_a_large_sine_whose_variance_overflows_is_refused() -> None:
    values = (np.sin(np.arange(60.0)) * 1e307)[:, None]  # std ~ 7e306, but the squares overflow
    with pytest.raises(ValueError, match="overflowed float64"):
        make_scaler("standard").fit(values)
    np.testing.assert_array_equal(make_scaler("none").fit(values).scale, [1.0])  # nothing computed


@pytest.mark.parametrize(
    ("call", "error", "message"),
    [
        pytest.param(
            lambda s: s.transform(5.0),
            ValueError,
            r"scaler was fit on 1 column(s), got values of shape (); expected shape (..., 1)",
            id="transform-scalar",
        ),
        pytest.param(
            lambda s: s.inverse_transform(np.array([[1 + 2j]])),
            TypeError,
            "values must hold real numbers (integers or floats), got dtype complex128",
            id="inverse-complex",
        ),
        pytest.param(
            lambda s: s.transform([["a"]]),
            TypeError,
            "values must hold real numbers (integers or floats), got dtype <U1",
            id="transform-text",
        ),
        pytest.param(
            lambda s: s.inverse_column([1.0], 3),
            ValueError,
            "column must be in [0, 0] (scaler fit on 1 column(s)), got 3",
            id="column-past-the-end",
        ),
        pytest.param(
            lambda s: s.transform_column([1.0], -1),
            ValueError,
            "column must be in [0, 0] (scaler fit on 1 column(s)), got -1",
            id="column-negative",
        ),
        pytest.param(
            lambda s: s.inverse_column([1.0], 0.0),
            TypeError,
            "column must be an integer index, got float 0.0",
            id="column-float",
        ),
    ],
)
def test_bad_values_and_columns_after_fit(call: object, error: type[Exception], message: str) -> None:
    scaler = make_scaler("standard").fit(np.array([[1.0], [3.0]]))
    with pytest.raises(error, match=f"^{re.escape(message)}$"):
        call(scaler)  # type: ignore[operator]


def test_fit_refuses_complex_and_text() -> None:
    with pytest.raises(
        TypeError, match=r"scaler.fit values must hold real numbers \(integers or floats\), got dtype complex"
    ):
        make_scaler("standard").fit(np.array([[1 + 2j], [3 + 0j]]))
    with pytest.raises(TypeError, match=r"got dtype object with str 'a' at index \(1, 0\)"):
        make_scaler("standard").fit(np.array([[1.0], ["a"]], dtype=object))
    np.testing.assert_array_equal(  # an object array of numbers is numbers
        make_scaler("standard").fit(np.array([[1], [3.0]], dtype=object)).center, [2.0]
    )


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
