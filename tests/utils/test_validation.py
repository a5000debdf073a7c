"""``check_real``, ``check_probability``, ``check_bool``, ``check_finite``: the accepted values in, one clear
``TypeError``/``ValueError`` for anything else."""

from __future__ import annotations

import math
import re
from fractions import Fraction

import numpy as np
import pytest
import torch

from lstmkit.utils.validation import check_bool, check_finite, check_probability, check_real, real_array


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        pytest.param(2, 2.0, id="int"),
        pytest.param(0.5, 0.5, id="float"),
        pytest.param(np.float32(0.5), 0.5, id="numpy-float"),
        pytest.param(np.int64(3), 3.0, id="numpy-int"),
        pytest.param(Fraction(1, 4), 0.25, id="fraction"),
    ],
)
def test_real_numbers_come_back_as_floats(value: object, expected: float) -> None:
    result = check_real("rate", value, positive=True)
    assert result == expected and type(result) is float


@pytest.mark.parametrize(
    ("value", "options", "error", "message"),
    [
        pytest.param("0.1", {}, TypeError, "rate must be a number, got str '0.1'", id="str"),
        pytest.param(True, {}, TypeError, "rate must be a number, got bool True", id="bool"),
        pytest.param(np.bool_(True), {}, TypeError, "rate must be a number, got bool", id="numpy-bool"),
        pytest.param(1j, {}, TypeError, "rate must be a number, got complex 1j", id="complex"),
        pytest.param(None, {}, TypeError, "rate must be a number, got NoneType None", id="none"),
        pytest.param(math.nan, {}, ValueError, "rate must be a finite number, got nan", id="nan"),
        pytest.param(
            -math.inf, {"minimum": 0}, ValueError, "rate must be a finite number >= 0, got -inf", id="inf"
        ),
        pytest.param(0, {"positive": True}, ValueError, "rate must be a finite number > 0, got 0", id="zero"),
        pytest.param(
            -1e-9, {"minimum": 0}, ValueError, "rate must be a finite number >= 0, got -1e-09", id="below"
        ),
        pytest.param(
            1.5,
            {"minimum": 2, "positive": True},
            ValueError,
            "rate must be a finite number >= 2, got 1.5",
            id="both",
        ),
        pytest.param(
            10**400,
            {"positive": True},
            ValueError,
            "rate must be a finite number > 0, got a number of about 10**400, too large for a float",
            id="overflow",
        ),
    ],
)
def test_anything_else_is_refused_naming_expected_and_received(
    value: object, options: dict[str, object], error: type[Exception], message: str
) -> None:
    with pytest.raises(error, match=re.escape(message)):
        check_real("rate", value, **options)  # type: ignore[arg-type]


def test_bounds_are_inclusive_for_minimum_and_strict_for_positive() -> None:
    assert check_real("decay", 0, minimum=0) == 0.0
    assert check_real("shift", -5) == -5.0
    with pytest.raises(ValueError, match="> 0"):
        check_real("rate", 0.0, minimum=0, positive=True)


def test_a_probability_too_large_for_a_float_is_a_value_error() -> None:
    with pytest.raises(ValueError, match=r"^validation_split must be in \[0, 1\), got an integer too large"):
        check_probability("validation_split", 10**400)
    with pytest.raises(ValueError, match=r"^zoneout must be in \[0, 1\], got 1\.5$"):
        check_probability("zoneout", 1.5, upper_inclusive=True)


@pytest.mark.parametrize(
    "value",
    [True, False, np.bool_(True), np.bool_(False)],
    ids=["true", "false", "numpy-true", "numpy-false"],
)
def test_a_flag_comes_back_as_a_python_bool(value: object) -> None:
    result = check_bool("use_bias", value)
    assert result == bool(value) and type(result) is bool


@pytest.mark.parametrize(
    ("value", "received"),
    [
        pytest.param(1, "int 1", id="int"),
        pytest.param(0.0, "float 0.0", id="float"),
        pytest.param("yes", "str 'yes'", id="str"),
        pytest.param(None, "NoneType None", id="none"),
    ],
)
def test_a_flag_refuses_truthy_stand_ins(value: object, received: str) -> None:
    with pytest.raises(TypeError, match=f"^{re.escape(f'use_bias must be True or False, got {received}')}$"):
        check_bool("use_bias", value)


@pytest.mark.parametrize(
    "value",
    [
        pytest.param(np.array([1, 2, 3]), id="int"),
        pytest.param(np.array([True, False]), id="bool"),
        pytest.param(np.array([1.5, -2.0], dtype=np.float32), id="float32"),
        pytest.param(np.array([1, 2.5, np.int64(3)], dtype=object), id="object-numbers"),
        pytest.param(torch.tensor([1, 2]), id="int-tensor"),
        pytest.param(torch.tensor([0.5]), id="float-tensor"),
    ],
)
def test_check_finite_passes_finite_real_numbers(value: np.ndarray | torch.Tensor) -> None:
    check_finite("x", value)


@pytest.mark.parametrize(
    ("value", "message"),
    [
        pytest.param(np.array([1.0, 2 + 1j]), "got dtype complex128", id="complex"),
        pytest.param(torch.tensor([1 + 1j]), "got dtype torch.complex64", id="complex-tensor"),
        pytest.param(np.array(["1.5", "2"]), "got dtype <U3", id="text"),
        pytest.param(np.array(["2020-01-01"], dtype="datetime64[D]"), "got dtype datetime64[D]", id="dates"),
        pytest.param(
            np.array([1.0, "a"], dtype=object), "got dtype object with str 'a' at index (1,)", id="object"
        ),
        pytest.param(
            np.array([[1], [2j]], dtype=object),
            "got dtype object with complex 2j at index (1, 0)",
            id="object-complex",
        ),
    ],
)
def test_check_finite_refuses_what_is_not_real_numbers(
    value: np.ndarray | torch.Tensor, message: str
) -> None:
    with pytest.raises(
        TypeError, match=f"^{re.escape(f'x must hold real numbers (integers or floats), {message}')}$"
    ):
        check_finite("x", value)


def test_check_finite_reads_an_object_array_as_float64_with_none_missing() -> None:
    values = np.array([[1], [2], [None]] * 2, dtype=object)
    with pytest.raises(
        ValueError, match=re.escape("x contains 2 NaN or infinite value(s), the first at index (2, 0): nan")
    ):
        check_finite("x", values)
    assert real_array("x", values).dtype == np.float64
    assert real_array("x", np.array([1, 2])).dtype == np.int64  # kept as it is
