"""The training and evaluation loops behind ``Model.fit``/``evaluate``/``train_on_batch``.

The loss of a batch is Keras 3's (``sum_over_batch_size``, ``keras/src/losses/loss.py``):

    L = sum_b w_b l_b / N                                 (one value per sample)
    L = sum_{b,t} w_b m_bt l_bt / sum_{b,t} m_bt          (a masked sequence output, (B, T) mask m)

with ``l_b`` the per-sample loss, ``l_bt`` the loss of step ``t`` of sample ``b``, ``w_b`` the sample weight
times the class weight (1 without them) and ``N`` the batch size. A masked output divides by the number of
valid steps in the whole batch, not per sample: every valid step weighs the same, a long sequence more than a
short one, and the weights do not enter the divisor; a batch without valid steps has loss 0. The epoch's loss
(``History``, ``evaluate``) is Keras's loss tracker: the mean of the batch losses weighted by their sample
counts, ``sum_k N_k L_k / sum_k N_k``.

In data-parallel training each rank computes its share of the global batch's sums, divides by the global
``N`` (or the global count of valid steps, summed across ranks each batch) and multiplies by the world size,
so DDP's gradient average equals the single-process gradient on the same global batch. A rank whose share is
empty contributes zero (the loss function is not called: a mean over no samples is NaN) but still takes part
in the count.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any, NamedTuple

import torch
from torch import Tensor, nn

from lstmkit.models.data import Batch, iterate

if TYPE_CHECKING:
    from lstmkit.models.model import Model


def class_weights_for(y: Tensor, class_weight: Mapping[int, float]) -> Tensor:
    """Per-sample weights ``class_weight[label]``; labels from one-hot rows, ids, or binary targets."""
    if y.dim() >= 2 and y.shape[-1] > 1:
        labels = y.argmax(dim=-1).reshape(-1)
    else:
        labels = (y.round() if y.is_floating_point() else y).long().reshape(-1)
    if labels.numel() != y.shape[0]:
        raise ValueError(f"class_weight needs one label per sample, got targets of shape {tuple(y.shape)}")
    table = torch.ones(int(labels.max()) + 1 if labels.numel() else 1, dtype=torch.float32)
    missing = sorted(set(labels.unique().tolist()) - set(class_weight))
    if missing:
        raise ValueError(f"class_weight has no weight for class {missing[0]}; give a weight for every class")
    for label, weight in class_weight.items():
        if 0 <= int(label) < table.numel():
            table[int(label)] = float(weight)
    return table[labels.cpu()]


def check_class_weight(class_weight: Any) -> Mapping[int, float] | None:
    if class_weight is None:
        return None

    def integer(k: Any) -> bool:  # NumPy's integers too (dict(zip(np.unique(y), weights)))
        return isinstance(k, numbers.Integral) and not isinstance(k, bool)

    def weight(v: Any) -> bool:
        return isinstance(v, numbers.Real) and not isinstance(v, bool) and math.isfinite(v) and float(v) >= 0

    pairs = class_weight.items() if isinstance(class_weight, Mapping) else None
    if pairs is None or not all(integer(k) and weight(v) for k, v in pairs):
        raise ValueError(
            f"class_weight must map int class ids to finite non-negative numbers, got {class_weight!r}"
        )
    return {int(k): float(v) for k, v in class_weight.items()}


ValidationFreq = int | tuple[int, ...]


def check_validation_freq(validation_freq: Any) -> ValidationFreq:
    """``fit``'s ``validation_freq``: an int ``N >= 1`` (every ``N`` epochs) or a list or tuple of epoch
    numbers counted from 1, as Keras 3 takes it.

    Raises:
        TypeError: neither an int nor a list or tuple of ints.
        ValueError: an int below 1, or an epoch number below 1.
    """

    def integer(value: Any) -> bool:
        return isinstance(value, numbers.Integral) and not isinstance(value, bool)

    if integer(validation_freq):
        if validation_freq < 1:
            raise ValueError(f"validation_freq must be >= 1 (validate every N epochs), got {validation_freq}")
        return int(validation_freq)
    if not isinstance(validation_freq, list | tuple) or not all(integer(e) for e in validation_freq):
        raise TypeError(
            f"validation_freq must be an int (validate every N epochs) or a list of epoch numbers counted "
            f"from 1, e.g. [1, 5, 10], got {validation_freq!r}"
        )
    below = [int(e) for e in validation_freq if e < 1]
    if below:
        raise ValueError(
            f"validation_freq lists epoch numbers, counted from 1, got {below[0]} in {list(validation_freq)}"
        )
    return tuple(int(e) for e in validation_freq)


def should_validate(epoch: int, validation_freq: ValidationFreq) -> bool:
    """Whether the 0-based ``epoch`` validates: Keras 3's ``_should_eval``, which counts epochs from 1."""
    if isinstance(validation_freq, int):
        return (epoch + 1) % validation_freq == 0
    return epoch + 1 in validation_freq


class Accumulator:
    """Sums an epoch's loss (each batch's ``N_k L_k``, or this rank's share of it) and sample count, plus
    the metrics' states."""

    def __init__(self, model: Model) -> None:
        self.model = model
        self.loss_sum = torch.zeros((), dtype=torch.float64)
        self.count = torch.zeros((), dtype=torch.float64)
        for metric in model.metrics:
            metric.reset()

    def add(
        self, loss_sum: Tensor, count: int, y_pred: Tensor, y: Tensor | None, mask: Tensor | None = None
    ) -> None:
        """One batch: ``loss_sum`` is ``N_k L_k`` (this rank's share of it), ``count`` this rank's samples;
        ``mask`` ``(B, T)`` (a sequence output's valid steps) keeps the metrics to the steps the loss counts,
        as Keras's metrics honour the mask."""
        self.loss_sum += loss_sum.detach().double().cpu()
        self.count += count
        if y is None or not self.model.metrics:
            return
        y_pred, y = y_pred.detach(), y.to(y_pred.device)
        if mask is not None and tuple(y.shape[:2]) == tuple(mask.shape):
            y_pred, y = y_pred[mask], y[mask]
        # a loss on logits: the metrics that score probabilities see them (the others the outputs, as Keras)
        transform = self.model.metric_inputs
        probabilities = transform(y_pred) if transform is not None else y_pred
        for metric in self.model.metrics:
            metric.update(probabilities if metric.on_probabilities else y_pred, y)

    def logs(self, prefix: str = "", reduce: bool = False) -> dict[str, float]:
        loss_sum, count = self.loss_sum, self.count
        states = [m.state for m in self.model.metrics]
        if reduce and self.model.world > 1:
            loss_sum, count, states = self.model.distributed.all_reduce_sums(loss_sum, count, states)
        logs = {f"{prefix}loss": float(loss_sum / count) if count > 0 else float("nan")}
        for metric, state in zip(self.model.metrics, states, strict=True):
            saved, metric.state = metric.state, state
            logs[f"{prefix}{metric.name}"] = metric.result()
            metric.state = saved
        return logs


def output_mask(module: nn.Module, y_pred: Tensor) -> Tensor | None:
    """The boolean mask ``(B, T)`` of a sequence output's valid steps, where the network has one."""
    inner = module.module if isinstance(module, nn.parallel.DistributedDataParallel) else module
    mask = getattr(inner, "output_mask", None)
    if mask is None or y_pred.dim() < 3 or tuple(mask.shape) != tuple(y_pred.shape[:2]):
        return None
    return mask.to(device=y_pred.device, dtype=torch.bool)


def masked_loss(model: Model, y_pred: Tensor, y: Tensor, mask: Tensor, weight: Tensor | None) -> Tensor:
    """``sum_{b,t} w_b m_bt l_bt``: the weighted sum of a masked sequence output's per-step losses over its
    valid steps. The loss sees the valid steps only, as one batch of that many samples: a padded step's
    output and target reach neither the value nor the gradient (a loss that is NaN there, or a hinge loss
    that reads every target to tell 0/1 labels from -1/1, is not affected by padding).

    Args:
        y_pred: the output ``(B, T, ...)``.
        y: targets ``(B, T, ...)``, or as many values as ``y_pred`` in another shape.
        mask: ``(B, T)``, True at valid steps.
        weight: ``(B,)`` per-sample weights, shared by a sample's steps, or ``None``.
    """
    assert model.loss_fn is not None
    batch, steps = mask.shape
    if y.shape[:2] != mask.shape:  # as many values as the output, in another shape
        if y.numel() != y_pred.numel():
            raise ValueError(
                f"a masked sequence output of shape {tuple(y_pred.shape)} needs targets of shape "
                f"({batch}, {steps}, ...), got {tuple(y.shape)}"
            )
        y = y.reshape(y_pred.shape)
    pred_valid = y_pred[mask]  # (the boolean index syncs once; its length is the count)
    valid = pred_valid.shape[0]
    if valid == 0:  # through the graph, so that DDP still sees every parameter used
        return y_pred.sum() * 0.0
    per_step = model.loss_fn(pred_valid, y[mask])
    if per_step.shape != (valid,):
        raise ValueError(
            f"a masked sequence output needs a loss that returns one value per sample: its {valid} valid "
            f"steps were passed as {valid} samples, and it returned shape {tuple(per_step.shape)}"
        )
    if weight is not None:
        per_step = per_step * weight.unsqueeze(1).expand(batch, steps)[mask]
    return per_step.sum()


def sample_weights(
    batch: Batch, class_weight: Mapping[int, float] | None, device: torch.device
) -> Tensor | None:
    """Each sample's ``w_b``: its ``sample_weight`` times ``class_weight[label]`` (``None`` without both)."""
    local = batch.x.shape[0]
    weight = None
    if batch.weight is not None:
        if batch.weight.numel() != local:
            raise ValueError(
                f"sample_weight must hold one weight per sample, shape ({local},), got a batch of shape "
                f"{tuple(batch.weight.shape)}"
            )
        weight = batch.weight.reshape(local).to(device)
    if class_weight is not None:
        assert batch.y is not None
        cw = class_weights_for(batch.y, class_weight).to(device)
        weight = cw if weight is None else weight * cw
    return weight


def model_inputs(model: Model, x: Tensor) -> Tensor:
    """``x`` on the weights' device, floats in their dtype, integer ids as they are (before the model is
    built: on the model's device).

    Data arrives as float32 (:func:`lstmkit.models.data.to_tensor`); a network in float64 takes it in
    float64, as Keras casts inputs to a layer's dtype (it was a dtype error in the first matmul).
    """
    weight = next((p for p in model.module.parameters() if p.is_floating_point()), None)
    if weight is None:  # not built yet: the lazy layers build on the compiled device
        return x.to(model.device, non_blocking=True)
    return x.to(weight.device, weight.dtype if x.is_floating_point() else x.dtype, non_blocking=True)


def mixed_precision(model: Model) -> torch.autocast:
    """``compile(amp=...)``'s autocast: float16 on CUDA (with the loss scaler), bfloat16 on CPU (the
    native LSTM's bfloat16 GEMMs where the CPU has AVX512-BF16); the dtype is set here, not taken from
    a default a user may have changed."""
    dtype = torch.float16 if model.device.type == "cuda" else torch.bfloat16
    return torch.autocast(model.device.type, dtype=dtype, enabled=model.amp)


class BatchLoss(NamedTuple):
    """One batch's loss as one rank computes it: Keras's ``total / divisor``.

    ``loss`` is what to backpropagate (``total / divisor``, times the world size under DDP); ``total`` the
    sum of ``w l`` over this rank's samples (a masked output: over their valid steps); the divisor is the
    global batch size or, for a masked output, ``valid_steps``: the count of valid steps (over every rank
    under DDP, this rank's own otherwise); ``mask`` the output's ``(B, T)`` mask. ``valid_steps`` and
    ``mask`` are ``None`` for an output without a mask.
    """

    loss: Tensor
    total: Tensor
    valid_steps: Tensor | None
    y_pred: Tensor
    mask: Tensor | None

    def epoch_share(self, size: int) -> Tensor:
        """This rank's share of ``N L``, the batch's term in the epoch's loss, for a batch of ``size``
        samples (``total`` itself when the divisor is the batch size)."""
        if self.valid_steps is None:
            return self.total
        return size * self.total / self.valid_steps.clamp(min=1.0)  # no valid step: total is 0 (no sync)


def batch_loss(
    model: Model, module: nn.Module, batch: Batch, class_weight: Mapping[int, float] | None
) -> BatchLoss:
    """Forward one batch and compute its loss.

    Under DDP (``module`` wrapped for data-parallel training) the count of valid steps of a masked output is
    summed across ranks: a collective that every rank joins for every batch, an empty share included.
    """
    assert model.loss_fn is not None
    if batch.y is None:
        raise ValueError("the loss needs targets: the Dataset/DataLoader yielded x alone; yield (x, y)")
    device = model.device
    x, y = model_inputs(model, batch.x), batch.y.to(device, non_blocking=True)
    with mixed_precision(model):
        y_pred = module(x)
    if not isinstance(y_pred, Tensor):
        raise TypeError(f"the model must return one tensor for compile()'s loss, got {type(y_pred).__name__}")
    y_pred = y_pred.float()
    mask = output_mask(module, y_pred)
    # DDP averages the ranks' gradients; a plain module (train_on_batch from a callback during a
    # distributed fit) averages nothing, so its loss is not scaled up
    shared = isinstance(module, nn.parallel.DistributedDataParallel)
    local = x.shape[0]
    if local == 0:  # an empty share in distributed training: a loss averaged over no samples is NaN
        total = y_pred.sum() * 0.0  # through the graph: DDP waits for every rank's gradients
    elif mask is None:
        per_sample = model.loss_fn(y_pred, y)
        weight = sample_weights(batch, class_weight, y_pred.device)
        if per_sample.dim() == 0:  # a custom loss that already averaged over the batch
            if weight is not None:
                raise ValueError("sample_weight/class_weight need a loss that returns one value per sample")
            total = per_sample * local
        else:
            if per_sample.shape != (local,):
                raise ValueError(
                    f"the loss must return shape ({local},) or a scalar, got {tuple(per_sample.shape)}"
                )
            total = (per_sample * weight).sum() if weight is not None else per_sample.sum()
    else:
        total = masked_loss(model, y_pred, y, mask, sample_weights(batch, class_weight, y_pred.device))
    scale = model.world if shared else 1
    if mask is None:
        return BatchLoss(total / batch.global_size * scale, total, None, y_pred, None)
    valid = mask.sum().to(y_pred.dtype)
    valid_steps = model.distributed.all_reduce_sum(valid) if shared else valid
    loss = total / valid_steps.clamp(min=1.0) * scale  # no valid step: total is 0, and so is the loss
    return BatchLoss(loss, total, valid_steps, y_pred, mask)


def train_batch(
    model: Model, module: nn.Module, batch: Batch, class_weight: Mapping[int, float] | None
) -> BatchLoss:
    """One optimizer step; returns the batch's loss (its epoch_share and mask feed the accumulator)."""
    optimizer = model.optimizer
    assert optimizer is not None
    optimizer.zero_grad(set_to_none=True)
    part = batch_loss(model, module, batch, class_weight)
    model.scaler.scale(part.loss).backward()
    if model.clipnorm is not None or model.clipvalue is not None:
        model.scaler.unscale_(optimizer)
        params = [p for group in optimizer.param_groups for p in group["params"]]
        if model.clipvalue is not None:
            nn.utils.clip_grad_value_(params, model.clipvalue)
        if model.clipnorm is not None:
            nn.utils.clip_grad_norm_(params, model.clipnorm)
    model.scaler.step(optimizer)
    model.scaler.update()
    return part


def run_epoch(
    model: Model,
    batches: Iterable[Batch],
    *,
    callbacks: Any,
    class_weight: Mapping[int, float] | None,
) -> dict[str, float]:
    """Train on every batch once; return the epoch's reduced logs."""
    module = model.train_module
    module.train()
    acc = Accumulator(model)
    for step, batch in enumerate(batches):
        callbacks.on_train_batch_begin(step)
        part = train_batch(model, module, batch, class_weight)
        acc.add(part.epoch_share(batch.global_size), batch.x.shape[0], part.y_pred, batch.y, part.mask)
        # reduced across ranks (a collective only in distributed training), so that every rank's callbacks
        # see the same logs and stop at the same batch (TerminateOnNaN); otherwise the ranks would deadlock
        callbacks.on_train_batch_end(step, acc.logs(reduce=True))
        if model.stop_training:
            break
    return acc.logs(reduce=True)


@torch.no_grad()
def evaluate_batches(model: Model, batches: Iterable[Batch], prefix: str = "") -> dict[str, float]:
    """Loss and metrics over batches, in eval mode, reduced across ranks.

    With several ranks a masked output's batch loss needs the valid steps of every rank's share; rather than
    a collective per batch, each rank keeps its shares' sums and the counts are gathered once at the end.
    """
    model.module.eval()
    acc = Accumulator(model)
    pending: list[tuple[Tensor, int]] = []  # masked batches: ((total, valid steps), samples) of a share
    for batch in batches:
        part = batch_loss(model, model.module, batch, None)
        samples = batch.x.shape[0]
        if part.valid_steps is not None and model.world > 1:  # read back once, at the end
            pending.append((torch.stack((part.total.detach(), part.valid_steps)), samples))
            share = torch.zeros(())
        else:
            share = part.epoch_share(batch.global_size)
        acc.add(share, samples, part.y_pred, batch.y, part.mask)
    if model.world > 1:  # every rank, even without masked batches: the gather is a collective
        acc.loss_sum += _masked_shares(model, pending)
    return acc.logs(prefix, reduce=True)


def _masked_shares(model: Model, pending: list[tuple[Tensor, int]]) -> float:
    """This rank's part of the epoch loss of masked batches split across ranks: batch ``k`` weighs
    ``N_k * total_k / V_k``, with ``N_k`` and ``V_k`` (samples, valid steps) summed over the ranks' shares."""
    sums = torch.stack([pair for pair, _ in pending]).tolist() if pending else []  # one host sync
    counts = model.distributed.all_gather(
        [(valid, samples) for (_, valid), (_, samples) in zip(sums, pending, strict=True)]
    )
    # every rank runs every global batch (its share possibly empty), so each has one entry per batch
    assert all(len(rank) == len(pending) for rank in counts), "ranks evaluated different numbers of batches"
    share = 0.0
    for k, (total, _) in enumerate(sums):
        valid = sum(rank[k][0] for rank in counts)
        samples = sum(rank[k][1] for rank in counts)
        share += samples * total / valid if valid > 0 else 0.0
    return share


@torch.no_grad()
def predict_batches(model: Model, source: Any, batch_size: int) -> Tensor:
    model.module.eval()
    outputs = []
    for batch in iterate(source, batch_size, shuffle=False):
        with mixed_precision(model):
            y_pred = model.module(model_inputs(model, batch.x))
        if not isinstance(y_pred, Tensor):
            raise TypeError(f"predict expects the model to return one tensor, got {type(y_pred).__name__}")
        outputs.append(y_pred.float().cpu())
    return torch.cat(outputs)
