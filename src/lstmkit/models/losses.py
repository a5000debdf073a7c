"""Loss specs for ``compile(loss=...)``: names of :data:`LOSSES`, their parameters, Keras's loss classes.

A loss spec is a name: ``'mse'``, or, for a loss with a parameter away from its default, the name with the
parameter, ``'binary_crossentropy(label_smoothing=0.1)'`` (what :func:`BinaryCrossentropy` returns), so it is
saved with the model as text and compiled again from the file. :func:`get_loss` resolves a spec to its
per-sample function (:mod:`lstmkit.models.loss_functions`, whose names this module re-exports).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from typing import Any

from torch import Tensor

from lstmkit.models.loss_functions import (
    LOSSES,
    PROBABILITIES,
    LossFn,
    binary_crossentropy,
    binary_crossentropy_from_logits,
    categorical_crossentropy,
    categorical_crossentropy_from_logits,
    cosine_similarity,
    hinge,
    huber,
    kl_divergence,
    log_cosh,
    mean_absolute_error,
    mean_absolute_percentage_error,
    mean_squared_error,
    mean_squared_logarithmic_error,
    poisson,
    sparse_categorical_crossentropy,
    sparse_categorical_crossentropy_from_logits,
    squared_hinge,
)
from lstmkit.utils.validation import check_bool, check_probability, check_real

__all__ = [
    "KERAS_CLASSES",
    "LOSSES",
    "PARAMETERS",
    "PROBABILITIES",
    "BinaryCrossentropy",
    "CategoricalCrossentropy",
    "CosineSimilarity",
    "Hinge",
    "Huber",
    "KLDivergence",
    "LogCosh",
    "LossFn",
    "MeanAbsoluteError",
    "MeanAbsolutePercentageError",
    "MeanSquaredError",
    "MeanSquaredLogarithmicError",
    "Poisson",
    "SparseCategoricalCrossentropy",
    "SquaredHinge",
    "binary_crossentropy",
    "binary_crossentropy_from_logits",
    "categorical_crossentropy",
    "categorical_crossentropy_from_logits",
    "cosine_similarity",
    "get_loss",
    "hinge",
    "huber",
    "is_builtin",
    "is_named",
    "kl_divergence",
    "log_cosh",
    "mean_absolute_error",
    "mean_absolute_percentage_error",
    "mean_squared_error",
    "mean_squared_logarithmic_error",
    "poisson",
    "probabilities_for",
    "sparse_categorical_crossentropy",
    "sparse_categorical_crossentropy_from_logits",
    "squared_hinge",
]

PARAMETERS: dict[str, tuple[str, float]] = {
    "huber": ("delta", 1.0),
    "huber_loss": ("delta", 1.0),
    "binary_crossentropy": ("label_smoothing", 0.0),
    "binary_crossentropy_from_logits": ("label_smoothing", 0.0),
    "categorical_crossentropy": ("label_smoothing", 0.0),
    "categorical_crossentropy_from_logits": ("label_smoothing", 0.0),
}
"""The losses that take a parameter: its name and Keras's default."""

_CHECKS: dict[str, Callable[[Any], float]] = {
    "delta": lambda value: check_real("delta", value, positive=True),
    "label_smoothing": lambda value: check_probability("label_smoothing", value, upper_inclusive=True),
}
_SPEC = re.compile(r"(?P<base>\w+)\((?P<key>\w+)=(?P<value>[^()]*)\)")


def _spec(base: str, value: Any) -> str:
    """The loss spec of ``base`` with its parameter at ``value`` (checked): the bare name at the default."""
    key, default = PARAMETERS[base]
    number = _CHECKS[key](value)
    return base if number == default else f"{base}({key}={number!r})"


def _split(loss: str) -> tuple[str, re.Match[str] | None]:
    """``'huber(delta=2.0)'`` -> ``('huber', its match)``; a bare name -> ``(name, None)``."""
    match = _SPEC.fullmatch(loss)
    return (match["base"] if match else loss), match


def _parse(loss: str) -> tuple[str, float | None]:
    """``'huber(delta=2.0)'`` -> ``('huber', 2.0)``; a bare name -> ``(name, None)``. The value is checked
    by :func:`_spec`, the one place that knows each parameter's range."""
    base, match = _split(loss)
    if base not in LOSSES:
        raise ValueError(f"unknown loss {loss!r}; expected one of {', '.join(sorted(LOSSES))} or a callable")
    if match is None:
        return base, None
    if base not in PARAMETERS or match["key"] != PARAMETERS[base][0]:
        takes = f"takes only {PARAMETERS[base][0]}" if base in PARAMETERS else "takes no parameter"
        raise ValueError(f"loss {loss!r}: {base} {takes}, got {match['key']}")
    try:
        return base, float(match["value"])
    except ValueError as err:
        raise ValueError(f"loss {loss!r}: {match['key']} must be a number, got {match['value']!r}") from err


def is_named(loss: str) -> bool:
    """True when ``loss`` names a loss of :data:`LOSSES` (with or without a parameter, not yet checked)."""
    return _split(loss)[0] in LOSSES


def is_builtin(loss: str | LossFn) -> bool:
    """True for a spec of :data:`LOSSES` or one of its functions itself: what a saved file can name. A
    callable of the user's that shares a name (a ``def poisson(...)`` of its own) is not."""
    if isinstance(loss, str):
        return is_named(loss)
    return LOSSES.get(getattr(loss, "__name__", "")) is loss


def get_loss(loss: str | LossFn) -> tuple[str, LossFn]:
    """Resolve a loss spec or callable to ``(name, per-sample function)``.

    A spec is a name of :data:`LOSSES` or one with its parameter, ``'huber(delta=2.0)'``; the name returned
    is the canonical spec (``'huber'`` for ``'huber(delta=1.0)'``). A callable is called as
    ``loss(y_pred, y_true)``; if it returns a scalar, the scalar is used as the batch's loss (sample weights
    then need a per-sample loss).

    Raises:
        ValueError: unknown loss name (lists the valid ones); a parameter the loss does not take, or out of
            range.
        TypeError: neither a string nor a callable.
    """
    if isinstance(loss, str):
        base, value = _parse(loss)
        if value is None:
            return base, LOSSES[base]
        name = _spec(base, value)
        key = PARAMETERS[base][0]
        return name, LOSSES[base] if name == base else functools.partial(LOSSES[base], **{key: value})
    if any(loss is factory for factory in KERAS_CLASSES):  # Keras's class, not called: call it for its spec
        raise TypeError(f"loss={loss.__name__} is a factory of a loss spec; call it: loss={loss.__name__}()")
    if callable(loss):
        return getattr(loss, "__name__", type(loss).__name__), loss
    raise TypeError(f"loss must be a string or a callable, got {type(loss).__name__}")


def probabilities_for(loss: str | LossFn) -> Callable[[Tensor], Tensor] | None:
    """What the metrics of a model compiled with ``loss`` see of its outputs: the probabilities for
    lstmkit's own logit losses (by spec, or the registry's own function), the outputs themselves (``None``)
    for any other loss, a callable of the user's that shares a name included."""
    if isinstance(loss, str):
        return PROBABILITIES.get(_parse(loss)[0])
    return PROBABILITIES.get(getattr(loss, "__name__", "")) if is_builtin(loss) else None


# -- Keras's loss classes, as specs for compile(loss=...) ------------------------------------------------
def _named(base: str, from_logits: bool) -> str:
    return f"{base}_from_logits" if check_bool("from_logits", from_logits) else base


def BinaryCrossentropy(from_logits: bool = False, label_smoothing: float = 0.0) -> str:
    """Keras's ``BinaryCrossentropy`` for ``compile(loss=...)``: the loss's spec.

    ``label_smoothing`` in ``[0, 1]`` squeezes the targets towards 0.5: ``y (1 - ls) + 0.5 ls``.

    Raises:
        TypeError: ``from_logits`` not a bool, ``label_smoothing`` not a number.
        ValueError: ``label_smoothing`` outside ``[0, 1]``.

    Example:
        >>> BinaryCrossentropy(from_logits=True)
        'binary_crossentropy_from_logits'
        >>> BinaryCrossentropy(label_smoothing=0.1)
        'binary_crossentropy(label_smoothing=0.1)'
    """
    return _spec(_named("binary_crossentropy", from_logits), label_smoothing)


def CategoricalCrossentropy(from_logits: bool = False, label_smoothing: float = 0.0) -> str:
    """Keras's ``CategoricalCrossentropy``: the loss's spec. ``label_smoothing`` in ``[0, 1]`` spreads it
    over the ``C`` classes: ``y (1 - ls) + ls / C``."""
    return _spec(_named("categorical_crossentropy", from_logits), label_smoothing)


def SparseCategoricalCrossentropy(from_logits: bool = False) -> str:
    """Keras's ``SparseCategoricalCrossentropy`` for ``compile(loss=...)``: its name in :data:`LOSSES`."""
    return _named("sparse_categorical_crossentropy", from_logits)


def Huber(delta: float = 1.0) -> str:
    """Keras's ``Huber``: quadratic within ``delta`` (> 0) of the target, linear beyond. Example:

    >>> Huber(), Huber(delta=2)
    ('huber', 'huber(delta=2.0)')
    """
    return _spec("huber", delta)


def _no_parameters(keras_name: str, loss: str, where: str = "") -> Callable[[], str]:
    """Keras's loss class ``keras_name``, which takes no parameter here: a factory of the spec ``loss``."""

    def factory() -> str:
        return loss

    factory.__name__ = factory.__qualname__ = keras_name
    factory.__doc__ = f"Keras's ``{keras_name}``{where}: ``{loss!r}``."
    return factory


MeanSquaredError = _no_parameters("MeanSquaredError", "mean_squared_error")
MeanAbsoluteError = _no_parameters("MeanAbsoluteError", "mean_absolute_error")
MeanAbsolutePercentageError = _no_parameters("MeanAbsolutePercentageError", "mean_absolute_percentage_error")
MeanSquaredLogarithmicError = _no_parameters("MeanSquaredLogarithmicError", "mean_squared_logarithmic_error")
LogCosh = _no_parameters("LogCosh", "log_cosh")
CosineSimilarity = _no_parameters("CosineSimilarity", "cosine_similarity", " (along the last axis)")
Poisson = _no_parameters("Poisson", "poisson")
KLDivergence = _no_parameters("KLDivergence", "kl_divergence")
Hinge = _no_parameters("Hinge", "hinge")
SquaredHinge = _no_parameters("SquaredHinge", "squared_hinge")


KERAS_CLASSES: frozenset[Callable[..., str]] = frozenset(
    {
        BinaryCrossentropy,
        CategoricalCrossentropy,
        SparseCategoricalCrossentropy,
        Huber,
        MeanSquaredError,
        MeanAbsoluteError,
        MeanAbsolutePercentageError,
        MeanSquaredLogarithmicError,
        LogCosh,
        CosineSimilarity,
        Poisson,
        KLDivergence,
        Hinge,
        SquaredHinge,
    }
)
"""Keras's loss classes above: each returns a spec, so ``compile(loss=Huber)`` (not called) is a mistake."""
