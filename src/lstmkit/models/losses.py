"""Loss registry: Keras's loss names to per-sample loss functions.

Every loss maps ``(y_pred (B, ...), y_true (B, ...)) -> (B,)``: one value per sample (the mean over the
remaining axes), so sample and class weights can be applied before the batch mean. Cross-entropies take
probabilities, as Keras's defaults (``from_logits=False``) do after a sigmoid/softmax output layer; their
``*_from_logits`` forms (Keras's ``from_logits=True``, named by :func:`BinaryCrossentropy` and its kin) take
the raw outputs and compute in the stable log-sum-exp form. With those, the metrics see the probabilities
(:data:`PROBABILITIES`), where Keras's would threshold the logits at 0.5; ``predict`` returns the logits.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor, nn

LossFn = Callable[[Tensor, Tensor], Tensor]
_EPS = 1e-7  # Keras's backend epsilon, used to clip probabilities


def _per_sample(values: Tensor) -> Tensor:
    return values.flatten(1).mean(dim=1) if values.dim() > 1 else values


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


def mean_squared_error(y_pred: Tensor, y_true: Tensor) -> Tensor:
    """``mean((y_pred - y_true)^2)`` per sample."""
    return _per_sample((y_pred - _match(y_pred, y_true, "mse")) ** 2)


def mean_absolute_error(y_pred: Tensor, y_true: Tensor) -> Tensor:
    """``mean(|y_pred - y_true|)`` per sample."""
    return _per_sample((y_pred - _match(y_pred, y_true, "mae")).abs())


def huber(y_pred: Tensor, y_true: Tensor) -> Tensor:
    """Huber loss with ``delta = 1`` (Keras's default), per sample."""
    target = _match(y_pred, y_true, "huber")
    return _per_sample(nn.functional.huber_loss(y_pred, target, reduction="none", delta=1.0))


def binary_crossentropy(y_pred: Tensor, y_true: Tensor) -> Tensor:
    """``-(y log p + (1 - y) log(1 - p))`` per sample, ``p`` clipped to ``[eps, 1 - eps]``."""
    target = _match(y_pred, y_true, "binary_crossentropy")
    p = y_pred.clamp(_EPS, 1 - _EPS)
    return _per_sample(-(target * torch.log(p) + (1 - target) * torch.log(1 - p)))


def categorical_crossentropy(y_pred: Tensor, y_true: Tensor) -> Tensor:
    """``-sum_c y_c log p_c`` over the last axis, with one-hot ``y``; ``p`` renormalized and clipped."""
    target = _match(y_pred, y_true, "categorical_crossentropy")
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


def binary_crossentropy_from_logits(y_pred: Tensor, y_true: Tensor) -> Tensor:
    """:func:`binary_crossentropy` of ``sigmoid(z)`` from the logits ``z``: ``softplus(z) - y z``, stable."""
    target = _match(y_pred, y_true, "binary_crossentropy_from_logits")
    return _per_sample(nn.functional.binary_cross_entropy_with_logits(y_pred, target, reduction="none"))


def categorical_crossentropy_from_logits(y_pred: Tensor, y_true: Tensor) -> Tensor:
    """:func:`categorical_crossentropy` of ``softmax(z)`` from the logits ``z`` (``log_softmax``, stable)."""
    target = _match(y_pred, y_true, "categorical_crossentropy_from_logits")
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
    "huber": huber,
    "huber_loss": huber,
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


def _named(base: str, from_logits: bool) -> str:
    if not isinstance(from_logits, bool):
        raise TypeError(f"from_logits must be True or False, got {from_logits!r}")
    return f"{base}_from_logits" if from_logits else base


def BinaryCrossentropy(from_logits: bool = False) -> str:
    """Keras's ``BinaryCrossentropy`` for ``compile(loss=...)``: the loss's name in :data:`LOSSES`.

    Example:
        >>> BinaryCrossentropy(from_logits=True)
        'binary_crossentropy_from_logits'
    """
    return _named("binary_crossentropy", from_logits)


def CategoricalCrossentropy(from_logits: bool = False) -> str:
    """Keras's ``CategoricalCrossentropy`` for ``compile(loss=...)``: the loss's name in :data:`LOSSES`."""
    return _named("categorical_crossentropy", from_logits)


def SparseCategoricalCrossentropy(from_logits: bool = False) -> str:
    """Keras's ``SparseCategoricalCrossentropy`` for ``compile(loss=...)``: its name in :data:`LOSSES`."""
    return _named("sparse_categorical_crossentropy", from_logits)


def get_loss(loss: str | LossFn) -> tuple[str, LossFn]:
    """Resolve a loss name or callable to ``(name, per-sample function)``.

    A callable is called as ``loss(y_pred, y_true)``; if it returns a scalar, the scalar is used as the
    batch's loss (sample weights then need a per-sample loss).

    Raises:
        ValueError: unknown loss name; lists the valid ones.
        TypeError: neither a string nor a callable.
    """
    if isinstance(loss, str):
        if loss not in LOSSES:
            raise ValueError(
                f"unknown loss {loss!r}; expected one of {', '.join(sorted(LOSSES))} or a callable"
            )
        return loss, LOSSES[loss]
    if callable(loss):
        return getattr(loss, "__name__", type(loss).__name__), loss
    raise TypeError(f"loss must be a string or a callable, got {type(loss).__name__}")
