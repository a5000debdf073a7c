"""Loss registry: Keras's loss names to per-sample loss functions.

Every loss maps ``(y_pred (B, ...), y_true (B, ...)) -> (B,)``: one value per sample (the mean over the
remaining axes), so sample and class weights can be applied before the batch mean. Cross-entropies take
probabilities, as Keras's defaults (``from_logits=False``) do after a sigmoid/softmax output layer.
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


def sparse_categorical_crossentropy(y_pred: Tensor, y_true: Tensor) -> Tensor:
    """``-log p_y`` with integer class ids ``y`` of shape ``y_pred.shape[:-1]`` (or with a trailing 1)."""
    labels = y_true.long()
    if labels.shape != y_pred.shape[:-1]:
        if labels.numel() != y_pred[..., 0].numel():
            raise ValueError(
                f"loss 'sparse_categorical_crossentropy' expected integer class ids of shape "
                f"{tuple(y_pred.shape[:-1])}, got {tuple(y_true.shape)}"
            )
        labels = labels.reshape(y_pred.shape[:-1])
    classes = y_pred.shape[-1]
    if labels.numel() and (int(labels.min()) < 0 or int(labels.max()) >= classes):
        raise ValueError(
            f"sparse_categorical_crossentropy expected class ids in [0, {classes - 1}], got values in "
            f"[{int(labels.min())}, {int(labels.max())}]"
        )
    p = (y_pred / y_pred.sum(dim=-1, keepdim=True)).clamp(_EPS, 1 - _EPS)
    return _per_sample(-torch.log(p.gather(-1, labels.unsqueeze(-1)).squeeze(-1)))


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
}


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
