"""Per-sample loss functions: Keras 3's formulas, and the registry of their names (:data:`LOSSES`).

Every loss maps ``(y_pred (B, ..., F), y_true (B, ..., F)) -> (B,)``: Keras's per-entry value (a mean or a
sum over the last axis, as Keras's function computes it), then the mean over the remaining axes, one value
per sample, so sample and class weights can be applied before the batch reduction (see
:mod:`lstmkit.models.training`). The formulas are Keras 3's (``keras/src/losses/losses.py``), with
``eps = 1e-7`` (Keras's backend epsilon).

Cross-entropies take probabilities, as Keras's defaults (``from_logits=False``) do after a sigmoid/softmax
output layer; their ``*_from_logits`` forms (Keras's ``from_logits=True``, named by
:func:`lstmkit.models.losses.BinaryCrossentropy` and its kin) take the raw outputs and compute in the stable
log-sum-exp form. With those, the metrics see the probabilities (:data:`PROBABILITIES`), where Keras's would
threshold the logits at 0.5; ``predict`` returns the logits.

Compiled models name these by spec (:mod:`lstmkit.models.losses`).
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
from torch import Tensor, nn

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
