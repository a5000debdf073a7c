"""Input checks shared by the public entry points; each raises with what was expected and received."""

from __future__ import annotations

import math
import numbers
from collections.abc import Collection
from typing import Any

import numpy as np
import torch


def check_choice(name: str, value: Any, choices: Collection[str]) -> str:
    """Return ``value`` if it is one of ``choices``, else raise ``ValueError`` listing them."""
    if not isinstance(value, str) or value not in choices:
        valid = ", ".join(repr(c) for c in sorted(choices))
        raise ValueError(f"unknown {name} {value!r}; expected one of {valid}")
    return value


def check_bool(name: str, value: Any) -> bool:
    """Return ``value`` as a bool if it is ``True`` or ``False`` (NumPy's ``bool_`` too), else raise.

    Truthy stand-ins (``1``, ``"yes"``, ``None``) are refused, as Keras's flags refuse them.

    Example:
        >>> check_bool("use_bias", np.bool_(True))
        True
        >>> check_bool("use_bias", 1)
        Traceback (most recent call last):
        ...
        TypeError: use_bias must be True or False, got int 1
    """
    if not isinstance(value, bool | np.bool_):
        raise TypeError(f"{name} must be True or False, got {type(value).__name__} {value!r}")
    return bool(value)


def is_integer_dtype(dtype: torch.dtype) -> bool:
    """True for torch's integer dtypes (not floating, complex or bool): what lengths and token ids take."""
    return not (dtype.is_floating_point or dtype.is_complex or dtype == torch.bool)


def check_finite(name: str, value: torch.Tensor | np.ndarray) -> None:
    """Raise if an array holds NaN or infinity, or holds something other than real numbers.

    Integer and bool arrays pass as they are. An object array of real numbers (``None`` standing for a missing
    value) is checked as float64, so a ``None`` is reported as the NaN it becomes.

    Raises:
        TypeError: a complex array, text, dates, or an object array holding anything but real numbers.
        ValueError: a NaN or an infinity, saying how many and where the first one is.

    Example:
        >>> check_finite("values", np.array([1.0, 2.0 + 0.5j]))
        Traceback (most recent call last):
        ...
        TypeError: values must hold real numbers (integers or floats), got dtype complex128
    """
    if isinstance(value, torch.Tensor):
        if value.is_complex():
            raise TypeError(f"{name} must hold real numbers (integers or floats), got dtype {value.dtype}")
        if not value.is_floating_point():
            return
        bad = ~torch.isfinite(value)
        if bool(bad.any()):
            index = tuple(int(i) for i in bad.nonzero()[0].tolist())
            count = int(bad.sum())
            raise ValueError(
                f"{name} contains {count} NaN or infinite value(s), the first at index {index}: "
                f"{value[index].item()}; clean or impute the data first"
            )
        return
    array = real_array(name, value)
    if array.dtype.kind != "f":
        return
    bad_np = ~np.isfinite(array)
    if bad_np.any():
        index = tuple(int(i) for i in np.argwhere(bad_np)[0])
        raise ValueError(
            f"{name} contains {int(bad_np.sum())} NaN or infinite value(s), the first at index {index}: "
            f"{array[index]}; clean or impute the data first"
        )


def real_array(name: str, value: Any) -> np.ndarray:
    """``value`` as a NumPy array of real numbers: bool, integer or float as given, objects as float64.

    An object array's ``None`` becomes NaN (a missing value, for :func:`check_finite` to report).

    Raises:
        TypeError: complex numbers (their imaginary part would be dropped), text, dates, or an object array
            holding anything but real numbers and ``None``.

    Example:
        >>> real_array("values", [[1], [2.5]]).dtype, real_array("values", np.array([1, None], dtype=object))
        (dtype('float64'), array([ 1., nan]))
    """
    array = np.asarray(value)
    expected = f"{name} must hold real numbers (integers or floats)"
    if array.dtype.kind == "O":
        for index, item in np.ndenumerate(array):
            if item is not None and not isinstance(item, numbers.Real):
                raise TypeError(
                    f"{expected}, got dtype object with {type(item).__name__} {item!r} at index {index}"
                )
        return array.astype(np.float64)
    if array.dtype.kind not in "biuf":
        raise TypeError(f"{expected}, got dtype {array.dtype}")
    return array


def check_positive_int(name: str, value: Any, *, minimum: int = 1) -> int:
    """Return ``value`` as an int if it is an integer ``>= minimum``, else raise."""
    if isinstance(value, bool) or not isinstance(value, int | np.integer):
        raise TypeError(f"{name} must be an integer, got {type(value).__name__} {value!r}")
    if value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value}")
    return int(value)


def check_real(name: str, value: Any, *, minimum: float | None = None, positive: bool = False) -> float:
    """Return ``value`` as a finite float, else raise naming ``name``, what was expected and what came.

    Args:
        name: the argument's name, as the caller knows it (``"learning_rate"``).
        value: a real number: a Python or NumPy int or float (``bool`` is refused).
        minimum: the smallest value accepted, if any.
        positive: accept only values above 0.

    Raises:
        TypeError: ``value`` is not a real number (a string, a bool, a complex number, ``None``).
        ValueError: ``value`` is NaN, infinite, too large for a float (``10**400``), below ``minimum``, or not
            above 0 with ``positive``.

    Example:
        >>> check_real("learning_rate", np.float32(0.5), positive=True)
        0.5
        >>> check_real("weight_decay", -1, minimum=0)
        Traceback (most recent call last):
        ...
        ValueError: weight_decay must be a finite number >= 0, got -1
    """
    lowest, strict = (0.0, True) if positive and (minimum is None or minimum <= 0) else (minimum, False)
    bound = "" if lowest is None else f" {'>' if strict else '>='} {lowest:g}"
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a number, got {type(value).__name__} {value!r}")
    try:
        number = float(value)
    except OverflowError as err:  # an int beyond float's range, e.g. 10**400
        exponent = int(int(abs(math.trunc(value))).bit_length() * math.log10(2))  # str() stops at 4300 digits
        raise ValueError(
            f"{name} must be a finite number{bound}, got a number of about 10**{exponent}, too large for a "
            f"float"
        ) from err
    too_low = lowest is not None and (number <= lowest if strict else number < lowest)
    if not math.isfinite(number) or too_low:
        raise ValueError(f"{name} must be a finite number{bound}, got {value}")
    return number


def check_probability(name: str, value: Any, *, upper_inclusive: bool = False) -> float:
    """Return ``value`` as a float in ``[0, 1)`` (or ``[0, 1]``), else raise."""
    bound = "[0, 1]" if upper_inclusive else "[0, 1)"
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a number in {bound}, got {type(value).__name__} {value!r}")
    try:
        number = float(value)
    except OverflowError as err:  # an int beyond float's range, e.g. 10**400
        raise ValueError(f"{name} must be in {bound}, got an integer too large for a float") from err
    ok = 0.0 <= number <= 1.0 if upper_inclusive else 0.0 <= number < 1.0
    if not ok or math.isnan(number):
        raise ValueError(f"{name} must be in {bound}, got {value}")
    return number


MAX_SEED = 2**63 - 1
"""The largest seed lstmkit accepts: the largest signed 64-bit integer, which torch and NumPy both take."""


def check_seed(name: str, value: Any) -> int:
    """Return ``value`` as an int if it is an integer in ``[0, 2**63 - 1]``, else raise.

    ``None`` is refused: a seeded function must repeat itself, and ``None`` would draw fresh entropy.

    Example:
        >>> check_seed("seed", np.int64(7))
        7
        >>> check_seed("seed", None)
        Traceback (most recent call last):
        ...
        TypeError: seed must be an integer in [0, 2**63 - 1], got NoneType None
    """
    if isinstance(value, bool) or not isinstance(value, int | np.integer):
        raise TypeError(f"{name} must be an integer in [0, 2**63 - 1], got {type(value).__name__} {value!r}")
    if not 0 <= value <= MAX_SEED:
        raise ValueError(f"{name} must be an integer in [0, 2**63 - 1], got {value}")
    return int(value)
