"""Training and inference loops shared by the classification kits (series and text).

Every model here has the signature ``module(x, lengths) -> logits``: ``x`` is a padded batch (``(B, T, C)``
floats for series, ``(B, T)`` token ids for text) and ``lengths`` ``(B,)`` holds the true lengths. Batches
are cut to their own longest member, so short texts are not run over the whole corpus' padding.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor, nn

from lstmkit.utils.validation import check_positive_int

EpochCallback = Callable[[int, dict[str, float]], None]


@dataclass(frozen=True)
class FitConfig:
    """How to train a classifier.

    Attributes:
        epochs: passes over the training set.
        batch_size: examples per step.
        learning_rate: Adam step size.
        weight_decay: L2 penalty (Adam ``weight_decay``).
        patience: with validation data, stop after this many epochs without a better validation accuracy;
            ``None`` trains all epochs.
        reduce_lr_patience: halve the learning rate after this many epochs without a lower monitored loss
            (validation loss if given, else training loss); ``None`` keeps it constant.
        seed: seeds batch order and initialization-independent randomness (dropout).
    """

    epochs: int = 100
    batch_size: int = 16
    learning_rate: float = 1e-3
    weight_decay: float = 0.0
    patience: int | None = None
    reduce_lr_patience: int | None = None
    seed: int = 0


def _batch(x: Tensor, lengths: Tensor, index: Tensor) -> tuple[Tensor, Tensor]:
    lengths_b = lengths[index]
    longest = int(lengths_b.max())
    return x[index, :longest], lengths_b


def fit_classifier(
    module: nn.Module,
    x: Tensor,
    lengths: Tensor,
    y: Tensor,
    config: FitConfig,
    *,
    validation: tuple[Tensor, Tensor, Tensor] | None = None,
    callback: EpochCallback | None = None,
) -> list[dict[str, float]]:
    """Train ``module`` with cross-entropy and Adam; keep the best weights.

    Model selection: with ``validation`` the weights of the epoch with the best validation accuracy (ties:
    lower validation loss) are kept; without it, those of the lowest training loss (Fawaz et al. 2019).
    The test set is never used here.

    Args:
        module: ``module(x, lengths) -> (B, K)`` logits.
        x: ``(N, T, ...)`` padded inputs.
        lengths: ``(N,)`` int64 lengths.
        y: ``(N,)`` int64 class indices.
        config: the :class:`FitConfig`.
        validation: optional ``(x, lengths, y)`` held-out data.
        callback: called after each epoch with ``(epoch, logs)``; logs hold ``loss``, ``accuracy`` and,
            with validation, ``val_loss`` and ``val_accuracy``.

    Returns:
        The per-epoch logs.
    """
    epochs = check_positive_int("epochs", config.epochs)
    batch_size = check_positive_int("batch_size", config.batch_size)
    if len(x) != len(y) or len(x) != len(lengths):
        raise ValueError(
            f"x, lengths and y must have the same length, got {len(x)}, {len(lengths)}, {len(y)}"
        )
    if len(x) == 0:
        raise ValueError("no training examples; expected at least one")
    generator = torch.Generator().manual_seed(config.seed)
    optimizer = torch.optim.Adam(
        module.parameters(), lr=config.learning_rate, weight_decay=config.weight_decay
    )
    scheduler = (
        torch.optim.lr_scheduler.ReduceLROnPlateau(
            optimizer, factor=0.5, patience=config.reduce_lr_patience, min_lr=1e-5
        )
        if config.reduce_lr_patience is not None
        else None
    )
    loss_fn = nn.CrossEntropyLoss()
    history: list[dict[str, float]] = []
    best_key: tuple[float, float] = (-math.inf, -math.inf)
    best_state = copy.deepcopy(module.state_dict())
    since_best = 0
    for epoch in range(epochs):
        module.train()
        order = torch.randperm(len(x), generator=generator)
        total_loss, correct = 0.0, 0
        for start in range(0, len(x), batch_size):
            index = order[start : start + batch_size]
            if len(index) == 1 and len(x) > 1:
                continue  # a batch of one breaks batch norm; its example is seen in other epochs
            xb, lb = _batch(x, lengths, index)
            logits = module(xb, lb)
            loss = loss_fn(logits, y[index])
            optimizer.zero_grad()
            loss.backward()
            nn.utils.clip_grad_norm_(module.parameters(), 5.0)
            optimizer.step()
            total_loss += float(loss.detach()) * len(index)
            correct += int((logits.argmax(1) == y[index]).sum())
        logs = {"loss": total_loss / len(x), "accuracy": correct / len(x)}
        if validation is not None:
            val_logits = predict_logits(module, validation[0], validation[1], batch_size=256)
            logs["val_loss"] = float(loss_fn(torch.from_numpy(val_logits), validation[2]))
            logs["val_accuracy"] = float((val_logits.argmax(1) == validation[2].numpy()).mean())
            key = (logs["val_accuracy"], -logs["val_loss"])
        else:
            key = (-logs["loss"], logs["accuracy"])
        logs["lr"] = optimizer.param_groups[0]["lr"]
        history.append(logs)
        if key > best_key:
            best_key, since_best = key, 0
            best_state = copy.deepcopy(module.state_dict())
        else:
            since_best += 1
        if scheduler is not None:
            scheduler.step(logs.get("val_loss", logs["loss"]))
        if callback is not None:
            callback(epoch, logs)
        if validation is not None and config.patience is not None and since_best >= config.patience:
            break
    module.load_state_dict(best_state)
    module.eval()
    return history


@torch.no_grad()
def predict_logits(module: nn.Module, x: Tensor, lengths: Tensor, batch_size: int = 256) -> np.ndarray:
    """Logits ``(N, K)`` for padded ``x`` in evaluation mode, batch by batch."""
    module.eval()
    out = []
    for start in range(0, len(x), batch_size):
        index = torch.arange(start, min(start + batch_size, len(x)))
        xb, lb = _batch(x, lengths, index)
        out.append(module(xb, lb).float().cpu().numpy())
    return np.concatenate(out, axis=0)


def softmax(logits: np.ndarray) -> np.ndarray:
    """Row-wise softmax of ``(N, K)`` logits, numerically stable."""
    shifted = logits - logits.max(axis=1, keepdims=True)
    e = np.exp(shifted)
    return np.asarray(e / e.sum(axis=1, keepdims=True))
