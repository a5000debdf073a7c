"""Metric registry: Keras's metric names to accumulating metrics.

Each metric keeps its state in one float64 tensor of sums (``state``), so epochs accumulate batches and
data-parallel ranks combine by summing states (``all_reduce``), then ``result`` reads the value.
"""

from __future__ import annotations

import torch
from torch import Tensor

from lstmkit.models import losses


class Metric:
    """An accumulating metric: ``update`` per batch, ``result`` per epoch, ``reset`` between epochs."""

    name = "metric"
    state_size = 2
    #: scores probabilities: under a loss on logits (``from_logits=True``) it sees the sigmoid/softmax of the
    #: outputs, where Keras's would threshold the logits; the other metrics see the outputs, as Keras's
    on_probabilities = False

    def __init__(self) -> None:
        self.state = torch.zeros(self.state_size, dtype=torch.float64)

    def reset(self) -> None:
        self.state = torch.zeros(self.state_size, dtype=torch.float64)

    def update(self, y_pred: Tensor, y_true: Tensor) -> None:
        raise NotImplementedError

    def result(self) -> float:
        total, count = self.state.tolist()
        return total / count if count else float("nan")


def _flat_pair(y_pred: Tensor, y_true: Tensor) -> tuple[Tensor, Tensor]:
    pred = y_pred.detach().reshape(-1).double().cpu()
    true = y_true.detach().reshape(-1).double().cpu()
    if pred.shape != true.shape:
        raise ValueError(f"metric expected targets with {pred.numel()} values, got {true.numel()}")
    return pred, true


class Accuracy(Metric):
    """Keras's ``'accuracy'``: binary (threshold 0.5) for one output, categorical for several.

    For ``C > 1`` outputs, targets may be one-hot ``(B, C)`` or class ids ``(B,)``. As in Keras 3, the
    shapes choose, not the loss: several sigmoid outputs trained with ``binary_crossentropy`` (multi-label)
    are scored by argmax here; ask for ``'binary_accuracy'`` to score each output at 0.5.
    """

    name = "accuracy"
    on_probabilities = True

    def update(self, y_pred: Tensor, y_true: Tensor) -> None:
        y_pred = y_pred.detach().cpu()
        y_true = y_true.detach().cpu()
        if y_pred.dim() >= 2 and y_pred.shape[-1] > 1:
            predicted = y_pred.argmax(dim=-1)
            labels = (
                y_true.argmax(dim=-1) if y_true.shape == y_pred.shape else y_true.reshape(predicted.shape)
            )
            correct = predicted == labels.long()
        else:
            pred, true = _flat_pair(y_pred, y_true)
            correct = (pred > 0.5) == (true > 0.5)
        self.state += torch.tensor([float(correct.sum()), float(correct.numel())], dtype=torch.float64)


class BinaryAccuracy(Metric):
    """Keras's ``'binary_accuracy'``: the share of outputs on the same side of 0.5 as their targets."""

    name = "binary_accuracy"
    on_probabilities = True

    def update(self, y_pred: Tensor, y_true: Tensor) -> None:
        pred, true = _flat_pair(y_pred, y_true)
        correct = (pred > 0.5) == (true > 0.5)
        self.state += torch.tensor([float(correct.sum()), float(correct.numel())], dtype=torch.float64)


class MeanAbsoluteError(Metric):
    name = "mae"

    def update(self, y_pred: Tensor, y_true: Tensor) -> None:
        pred, true = _flat_pair(y_pred, y_true)
        self.state += torch.stack([(pred - true).abs().sum(), torch.tensor(float(pred.numel()))])


class MeanSquaredError(Metric):
    name = "mse"

    def update(self, y_pred: Tensor, y_true: Tensor) -> None:
        pred, true = _flat_pair(y_pred, y_true)
        self.state += torch.stack([((pred - true) ** 2).sum(), torch.tensor(float(pred.numel()))])


class LossMean(Metric):
    """The mean over samples of a per-sample loss of :mod:`lstmkit.models.losses` (Keras's
    ``MeanMetricWrapper``), times ``sign`` (+1, or -1 where Keras's metric is the loss's negative)."""

    loss: str  # the LOSSES name each subclass averages (its class's: a metric asked for by alias keeps it)
    sign = 1.0

    def update(self, y_pred: Tensor, y_true: Tensor) -> None:
        pred = y_pred.detach().double().cpu()
        true = y_true.detach().double().cpu()
        if true.numel() != pred.numel():
            raise ValueError(
                f"metric '{self.name}' expected targets of shape {tuple(pred.shape)} (the model's output), "
                f"got {tuple(true.shape)}"
            )
        values = self.sign * losses.LOSSES[self.loss](pred, true.reshape(pred.shape))
        self.state += torch.stack([values.sum(), torch.tensor(float(values.numel()), dtype=torch.float64)])


class MeanAbsolutePercentageError(LossMean):
    name = loss = "mean_absolute_percentage_error"


class MeanSquaredLogarithmicError(LossMean):
    name = loss = "mean_squared_logarithmic_error"


class LogCoshError(LossMean):
    name, loss = "logcosh", "log_cosh"  # Keras 3's default name for it


class CosineSimilarity(LossMean):
    """The mean cosine similarity, +1 when aligned: the negative of the loss, as Keras's metric."""

    name = loss = "cosine_similarity"
    sign = -1.0


class Poisson(LossMean):
    name = loss = "poisson"


class KLDivergence(LossMean):
    name = loss = "kl_divergence"


class Hinge(LossMean):
    name = loss = "hinge"


class SquaredHinge(LossMean):
    name = loss = "squared_hinge"


class Precision(Metric):
    """``TP / (TP + FP)`` of binary predictions at threshold 0.5."""

    name = "precision"
    on_probabilities = True

    def update(self, y_pred: Tensor, y_true: Tensor) -> None:
        pred, true = _flat_pair(y_pred, y_true)
        positive = pred > 0.5
        self.state += torch.stack([(positive & (true > 0.5)).sum(), positive.sum()]).double()

    def result(self) -> float:
        tp, predicted = self.state.tolist()
        return tp / predicted if predicted else 0.0


class Recall(Metric):
    """``TP / (TP + FN)`` of binary predictions at threshold 0.5."""

    name = "recall"
    on_probabilities = True

    def update(self, y_pred: Tensor, y_true: Tensor) -> None:
        pred, true = _flat_pair(y_pred, y_true)
        actual = true > 0.5
        self.state += torch.stack([((pred > 0.5) & actual).sum(), actual.sum()]).double()

    def result(self) -> float:
        tp, actual = self.state.tolist()
        return tp / actual if actual else 0.0


class AUC(Metric):
    """Area under the ROC curve, approximated as Keras does over 200 evenly spaced thresholds.

    The state holds true-positive and false-positive counts above each threshold; the area is the
    trapezoidal sum over the resulting (FPR, TPR) points.
    """

    name = "auc"
    on_probabilities = True
    thresholds = 200
    state_size = 2 * 200 + 2

    def update(self, y_pred: Tensor, y_true: Tensor) -> None:
        pred, true = _flat_pair(y_pred, y_true)
        cuts = torch.linspace(0.0, 1.0, self.thresholds, dtype=torch.float64)
        cuts[0], cuts[-1] = -1e-7, 1.0 + 1e-7
        above = pred.unsqueeze(0) > cuts.unsqueeze(1)  # (thresholds, N)
        positive = true > 0.5
        tp = (above & positive).sum(dim=1)
        fp = (above & ~positive).sum(dim=1)
        totals = torch.tensor([float(positive.sum()), float((~positive).sum())], dtype=torch.float64)
        self.state += torch.cat([tp.double(), fp.double(), totals])

    def result(self) -> float:
        n = self.thresholds
        tp, fp = self.state[:n], self.state[n : 2 * n]
        positives, negatives = self.state[2 * n].item(), self.state[2 * n + 1].item()
        if positives == 0 or negatives == 0:
            return float("nan")
        tpr, fpr = tp / positives, fp / negatives
        return float(torch.trapezoid(tpr.flip(0), fpr.flip(0)))


METRICS: dict[str, type[Metric]] = {
    "accuracy": Accuracy,
    "acc": Accuracy,
    "binary_accuracy": BinaryAccuracy,
    "mae": MeanAbsoluteError,
    "mean_absolute_error": MeanAbsoluteError,
    "mse": MeanSquaredError,
    "mean_squared_error": MeanSquaredError,
    "mape": MeanAbsolutePercentageError,
    "mean_absolute_percentage_error": MeanAbsolutePercentageError,
    "msle": MeanSquaredLogarithmicError,
    "mean_squared_logarithmic_error": MeanSquaredLogarithmicError,
    "log_cosh_error": LogCoshError,
    "logcosh": LogCoshError,  # Keras 2's name
    "cosine_similarity": CosineSimilarity,
    "poisson": Poisson,
    "kl_divergence": KLDivergence,
    "hinge": Hinge,
    "squared_hinge": SquaredHinge,
    "auc": AUC,
    "precision": Precision,
    "recall": Recall,
}


def get_metric(metric: str | Metric) -> Metric:
    """A fresh metric from a Keras name, or the given :class:`Metric` instance.

    Raises:
        ValueError: unknown name; lists the valid ones.
    """
    if isinstance(metric, Metric):
        return metric
    if isinstance(metric, str) and metric in METRICS:
        instance = METRICS[metric]()
        instance.name = metric  # logs use the name the user asked for, as Keras does
        return instance
    raise ValueError(f"unknown metric {metric!r}; expected one of {', '.join(sorted(METRICS))} or a Metric")
