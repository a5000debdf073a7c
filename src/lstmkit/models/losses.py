"""Loss registry: Keras 3's loss names to per-sample loss functions.

Every loss maps ``(y_pred (B, ..., F), y_true (B, ..., F)) -> (B,)``: Keras's per-entry value (a mean or a
sum over the last axis, as Keras's function computes it), then the mean over the remaining axes, one value
per sample, so sample and class weights can be applied before the batch reduction (see
:mod:`lstmkit.models.training`). The formulas are Keras 3's (``keras/src/losses/losses.py``), with
``eps = 1e-7`` (Keras's backend epsilon).

Cross-entropies take probabilities, as Keras's defaults (``from_logits=False``) do after a sigmoid/softmax
output layer; their ``*_from_logits`` forms (Keras's ``from_logits=True``, named by :func:`BinaryCrossentropy`
and its kin) take the raw outputs and compute in the stable log-sum-exp form. With those, the metrics see the
probabilities (:data:`PROBABILITIES`), where Keras's would threshold the logits at 0.5; ``predict`` returns
the logits.

A loss spec is a name: ``'mse'``, or, for a loss with a parameter away from its default, the name with the
parameter, ``'binary_crossentropy(label_smoothing=0.1)'`` (what :func:`BinaryCrossentropy` returns), so it is
saved with the model as text and compiled again from the file.
"""

from __future__ import annotations

import functools
import math
import re
from collections.abc import Callable
from typing import Any

import torch
from torch import Tensor, nn

from lstmkit.utils.validation import check_probability, check_real

LossFn = Callable[[Tensor, Tensor], Tensor]
_EPS = 1e-7  # Keras's backend epsilon, used to clip probabilities and denominators


def _per_sample(values: Tensor) -> Tensor:
    return values.flatten(1).mean(dim=1) if values.dim() > 1 else values


def _last_axis_sum(values: Tensor) -> Tensor:
    """Keras's ``sum(..., axis=-1)`` over the features; a 1-D output has one feature per sample."""
    return values.sum(dim=-1) if values.dim() > 1 else values


def _match(y_pred: Tensor, y_true: Tensor, loss: str) -> Tensor:
    y_true = y_true.to(y_pred.dtype)
    if y_true.shape != y_pred.shape:
        if y_true.numel() != y_pred.numel():
            raise ValueError(
                f"loss '{loss}' expected targets of shape {tuple(y_pred.shape)} (the model's output), got "
                f"{tuple(y_true.shape)}"
            )
        y_true = y_true.reshape(y_pred.shape)
    return y_true


# -- regression ------------------------------------------------------------------------------------------
def mean_squared_error(y_pred: Tensor, y_true: Tensor) -> Tensor:
    """``mean((y_pred - y_true)^2)`` per sample."""
    return _per_sample((y_pred - _match(y_pred, y_true, "mse")) ** 2)


def mean_absolute_error(y_pred: Tensor, y_true: Tensor) -> Tensor:
    """``mean(|y_pred - y_true|)`` per sample."""
    return _per_sample((y_pred - _match(y_pred, y_true, "mae")).abs())


def mean_absolute_percentage_error(y_pred: Tensor, y_true: Tensor) -> Tensor:
    """``100 * mean(|y_true - y_pred| / max(|y_true|, eps))`` per sample (Keras's ``'mape'``)."""
    target = _match(y_pred, y_true, "mean_absolute_percentage_error")
    return 100.0 * _per_sample(((target - y_pred) / target.abs().clamp(min=_EPS)).abs())


def mean_squared_logarithmic_error(y_pred: Tensor, y_true: Tensor) -> Tensor:
    """``mean((log(max(y_pred, eps) + 1) - log(max(y_true, eps) + 1))^2)`` per sample (``'msle'``)."""
    target = _match(y_pred, y_true, "mean_squared_logarithmic_error")
    return _per_sample((torch.log1p(y_pred.clamp(min=_EPS)) - torch.log1p(target.clamp(min=_EPS))) ** 2)


def huber(y_pred: Tensor, y_true: Tensor, delta: float = 1.0) -> Tensor:
    """``mean(0.5 e^2 if |e| <= delta else delta |e| - 0.5 delta^2)`` per sample, ``e = y_pred - y_true``."""
    target = _match(y_pred, y_true, "huber")
    return _per_sample(nn.functional.huber_loss(y_pred, target, reduction="none", delta=delta))


def log_cosh(y_pred: Tensor, y_true: Tensor) -> Tensor:
    """``mean(log(cosh(e)))`` per sample, computed as ``e + softplus(-2 e) - log 2`` (Keras's stable form)."""
    e = y_pred - _match(y_pred, y_true, "log_cosh")
    return _per_sample(e + nn.functional.softplus(-2.0 * e) - math.log(2.0))


def _l2_normalize(x: Tensor) -> Tensor:
    """``x / max(||x||, eps)`` along the last axis, as Keras's ``x * min(rsqrt(sum x^2), 1 / eps)``."""
    return x * torch.rsqrt((x * x).sum(dim=-1, keepdim=True).clamp(min=_EPS * _EPS))


def cosine_similarity(y_pred: Tensor, y_true: Tensor) -> Tensor:
    """``-sum(normalize(y_true) * normalize(y_pred))`` over the last axis: -1 when aligned, 0 for a zero
    vector; per sample."""
    target = _match(y_pred, y_true, "cosine_similarity")
    if y_pred.dim() == 1:  # one feature per sample
        y_pred, target = y_pred.unsqueeze(-1), target.unsqueeze(-1)
    return _per_sample(-(_l2_normalize(target) * _l2_normalize(y_pred)).sum(dim=-1))


# -- counts and distributions ----------------------------------------------------------------------------
def poisson(y_pred: Tensor, y_true: Tensor) -> Tensor:
    """``mean(y_pred - y_true log(y_pred + eps))`` per sample (``y_pred`` a rate, e.g. after ``exp``)."""
    target = _match(y_pred, y_true, "poisson")
    return _per_sample(y_pred - target * torch.log(y_pred + _EPS))


def kl_divergence(y_pred: Tensor, y_true: Tensor) -> Tensor:
    """``sum(y log(y / p))`` over the last axis, ``y`` and ``p`` clipped to ``[eps, 1]``; per sample."""
    y = _match(y_pred, y_true, "kl_divergence").clamp(_EPS, 1.0)
    p = y_pred.clamp(_EPS, 1.0)
    return _per_sample(_last_axis_sum(y * torch.log(y / p)))


# -- margins ---------------------------------------------------------------------------------------------
def _hinge_margin(y_pred: Tensor, y_true: Tensor, loss: str) -> Tensor:
    """``max(1 - y y_pred, 0)`` with labels ``y`` in {-1, 1}; 0/1 labels become -1/1 when every label of the
    batch is 0 or 1 (Keras decides for the whole tensor)."""
    y = _match(y_pred, y_true, loss)
    if bool(((y == 0) | (y == 1)).all()):
        y = 2.0 * y - 1.0
    return (1.0 - y * y_pred).clamp(min=0.0)


def hinge(y_pred: Tensor, y_true: Tensor) -> Tensor:
    """``mean(max(1 - y y_pred, 0))`` per sample, labels -1/1 (or 0/1, converted)."""
    return _per_sample(_hinge_margin(y_pred, y_true, "hinge"))


def squared_hinge(y_pred: Tensor, y_true: Tensor) -> Tensor:
    """``mean(max(1 - y y_pred, 0)^2)`` per sample, labels -1/1 (or 0/1, converted)."""
    return _per_sample(_hinge_margin(y_pred, y_true, "squared_hinge") ** 2)


# -- cross-entropies -------------------------------------------------------------------------------------
def _binary_target(y_pred: Tensor, y_true: Tensor, loss: str, label_smoothing: float) -> Tensor:
    """``y (1 - ls) + 0.5 ls``: the targets squeezed towards 0.5 (Keras's binary label smoothing)."""
    target = _match(y_pred, y_true, loss)
    return target * (1.0 - label_smoothing) + 0.5 * label_smoothing if label_smoothing else target


def _categorical_target(y_pred: Tensor, y_true: Tensor, loss: str, label_smoothing: float) -> Tensor:
    """``y (1 - ls) + ls / C`` over ``C`` classes (Keras's categorical label smoothing)."""
    target = _match(y_pred, y_true, loss)
    return (
        target * (1.0 - label_smoothing) + label_smoothing / target.shape[-1] if label_smoothing else target
    )


def binary_crossentropy(y_pred: Tensor, y_true: Tensor, label_smoothing: float = 0.0) -> Tensor:
    """``-(y log p + (1 - y) log(1 - p))`` per sample, ``p`` clipped to ``[eps, 1 - eps]``, ``y`` smoothed."""
    target = _binary_target(y_pred, y_true, "binary_crossentropy", label_smoothing)
    p = y_pred.clamp(_EPS, 1 - _EPS)
    return _per_sample(-(target * torch.log(p) + (1 - target) * torch.log(1 - p)))


def categorical_crossentropy(y_pred: Tensor, y_true: Tensor, label_smoothing: float = 0.0) -> Tensor:
    """``-sum_c y_c log p_c`` over the last axis, with one-hot ``y`` (smoothed); ``p`` renormalized and
    clipped."""
    target = _categorical_target(y_pred, y_true, "categorical_crossentropy", label_smoothing)
    p = (y_pred / y_pred.sum(dim=-1, keepdim=True)).clamp(_EPS, 1 - _EPS)
    return _per_sample(-(target * torch.log(p)).sum(dim=-1))


def _class_ids(y_pred: Tensor, y_true: Tensor, loss: str) -> Tensor:
    """``y_true`` as int64 class ids of shape ``y_pred.shape[:-1]`` (a trailing 1 dropped), checked."""
    labels = y_true.long()
    if labels.shape != y_pred.shape[:-1]:
        if labels.numel() != y_pred[..., 0].numel():
            raise ValueError(
                f"loss '{loss}' expected integer class ids of shape {tuple(y_pred.shape[:-1])}, got "
                f"{tuple(y_true.shape)}"
            )
        labels = labels.reshape(y_pred.shape[:-1])
    classes = y_pred.shape[-1]
    if labels.numel() and (int(labels.min()) < 0 or int(labels.max()) >= classes):
        raise ValueError(
            f"{loss} expected class ids in [0, {classes - 1}], got values in "
            f"[{int(labels.min())}, {int(labels.max())}]"
        )
    return labels


def sparse_categorical_crossentropy(y_pred: Tensor, y_true: Tensor) -> Tensor:
    """``-log p_y`` with integer class ids ``y`` of shape ``y_pred.shape[:-1]`` (or with a trailing 1)."""
    labels = _class_ids(y_pred, y_true, "sparse_categorical_crossentropy")
    p = (y_pred / y_pred.sum(dim=-1, keepdim=True)).clamp(_EPS, 1 - _EPS)
    return _per_sample(-torch.log(p.gather(-1, labels.unsqueeze(-1)).squeeze(-1)))


def binary_crossentropy_from_logits(y_pred: Tensor, y_true: Tensor, label_smoothing: float = 0.0) -> Tensor:
    """:func:`binary_crossentropy` of ``sigmoid(z)`` from the logits ``z``: ``softplus(z) - y z``, stable."""
    target = _binary_target(y_pred, y_true, "binary_crossentropy_from_logits", label_smoothing)
    return _per_sample(nn.functional.binary_cross_entropy_with_logits(y_pred, target, reduction="none"))


def categorical_crossentropy_from_logits(
    y_pred: Tensor, y_true: Tensor, label_smoothing: float = 0.0
) -> Tensor:
    """:func:`categorical_crossentropy` of ``softmax(z)`` from the logits ``z`` (``log_softmax``, stable)."""
    target = _categorical_target(y_pred, y_true, "categorical_crossentropy_from_logits", label_smoothing)
    return _per_sample(-(target * torch.log_softmax(y_pred, dim=-1)).sum(dim=-1))


def sparse_categorical_crossentropy_from_logits(y_pred: Tensor, y_true: Tensor) -> Tensor:
    """:func:`sparse_categorical_crossentropy` of ``softmax(z)`` from the logits ``z`` (stable)."""
    labels = _class_ids(y_pred, y_true, "sparse_categorical_crossentropy_from_logits")
    log_p = torch.log_softmax(y_pred, dim=-1)
    return _per_sample(-log_p.gather(-1, labels.unsqueeze(-1)).squeeze(-1))


LOSSES: dict[str, LossFn] = {
    "mean_squared_error": mean_squared_error,
    "mse": mean_squared_error,
    "mean_absolute_error": mean_absolute_error,
    "mae": mean_absolute_error,
    "mean_absolute_percentage_error": mean_absolute_percentage_error,
    "mape": mean_absolute_percentage_error,
    "mean_squared_logarithmic_error": mean_squared_logarithmic_error,
    "msle": mean_squared_logarithmic_error,
    "huber": huber,
    "huber_loss": huber,
    "log_cosh": log_cosh,
    "logcosh": log_cosh,  # Keras 2's name
    "cosine_similarity": cosine_similarity,
    "poisson": poisson,
    "kl_divergence": kl_divergence,
    "kld": kl_divergence,
    "hinge": hinge,
    "squared_hinge": squared_hinge,
    "binary_crossentropy": binary_crossentropy,
    "categorical_crossentropy": categorical_crossentropy,
    "sparse_categorical_crossentropy": sparse_categorical_crossentropy,
    "binary_crossentropy_from_logits": binary_crossentropy_from_logits,
    "categorical_crossentropy_from_logits": categorical_crossentropy_from_logits,
    "sparse_categorical_crossentropy_from_logits": sparse_categorical_crossentropy_from_logits,
}

PROBABILITIES: dict[str, Callable[[Tensor], Tensor]] = {
    "binary_crossentropy_from_logits": torch.sigmoid,
    "categorical_crossentropy_from_logits": lambda z: torch.softmax(z, dim=-1),
    "sparse_categorical_crossentropy_from_logits": lambda z: torch.softmax(z, dim=-1),
}
"""What the metrics see of a model trained on logits: the probabilities its loss scores."""

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
    if not isinstance(from_logits, bool):
        raise TypeError(f"from_logits must be True or False, got {from_logits!r}")
    return f"{base}_from_logits" if from_logits else base


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


def MeanSquaredError() -> str:
    """Keras's ``MeanSquaredError``: ``'mean_squared_error'``."""
    return "mean_squared_error"


def MeanAbsoluteError() -> str:
    """Keras's ``MeanAbsoluteError``: ``'mean_absolute_error'``."""
    return "mean_absolute_error"


def MeanAbsolutePercentageError() -> str:
    """Keras's ``MeanAbsolutePercentageError``: ``'mean_absolute_percentage_error'``."""
    return "mean_absolute_percentage_error"


def MeanSquaredLogarithmicError() -> str:
    """Keras's ``MeanSquaredLogarithmicError``: ``'mean_squared_logarithmic_error'``."""
    return "mean_squared_logarithmic_error"


def LogCosh() -> str:
    """Keras's ``LogCosh``: ``'log_cosh'``."""
    return "log_cosh"


def CosineSimilarity() -> str:
    """Keras's ``CosineSimilarity`` (along the last axis): ``'cosine_similarity'``."""
    return "cosine_similarity"


def Poisson() -> str:
    """Keras's ``Poisson``: ``'poisson'``."""
    return "poisson"


def KLDivergence() -> str:
    """Keras's ``KLDivergence``: ``'kl_divergence'``."""
    return "kl_divergence"


def Hinge() -> str:
    """Keras's ``Hinge``: ``'hinge'``."""
    return "hinge"


def SquaredHinge() -> str:
    """Keras's ``SquaredHinge``: ``'squared_hinge'``."""
    return "squared_hinge"


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
