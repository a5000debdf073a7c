"""BatchNormalization with Keras 3's rules (its momentum, its variance, its frozen mode)."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from lstmkit.layers.base import Layer, Shape
from lstmkit.utils.validation import check_bool, check_probability, check_real


class BatchNormalization(Layer):
    """Normalize each feature with the batch's statistics in training and moving averages of them after
    (Ioffe and Szegedy 2015, arXiv:1502.03167v3), as Keras 3's ``BatchNormalization``::

        training:   mean = E[x],  var = E[(x - mean)^2]          over every axis but ``axis``
                    moving_mean     = moving_mean * momentum     + mean * (1 - momentum)
                    moving_variance = moving_variance * momentum + var  * (1 - momentum)
        inference:  mean = moving_mean,  var = moving_variance
        y = gamma * (x - mean) / sqrt(var + epsilon) + beta

    Training means ``layer.training`` (as in ``fit``) with ``trainable`` on: a layer set
    ``trainable = False`` runs in inference mode, leaving its moving statistics alone, as Keras 3's does
    (freezing any other layer only stops its weights). Under a mask ``(B, T)`` the training statistics
    are taken over the valid steps only, as Keras 3's.

    Implementation notes (Keras 3's ``keras/src/layers/normalization/batch_normalization.py`` and its
    backends' ``moments``): ``var`` is the biased variance, in both the normalization and the moving
    average, where ``torch.nn.BatchNorm1d`` keeps the unbiased one in ``running_var``; ``momentum`` weighs
    the old value (torch's weighs the new: torch's 0.1 is Keras's 0.9); float16 and bfloat16 inputs are
    normalized in float32. Where a whole batch is masked the statistics are 0, as Keras's (it divides by
    the count plus 1e-7; here by the count, at least 1).

    Args:
        axis: the features axis, normalized per entry (default the last); not 0, the batch.
        momentum: weight of the old moving average in each update, in ``[0, 1]``.
        epsilon: added to the variance, ``> 0``.
        center: learn the offset ``beta`` (else none).
        scale: learn the gain ``gamma`` (else none).
        input_shape: shape of one sample, e.g. ``(T, C)``.
        name: layer name.

    Shapes:
        ``(B, C) -> (B, C)``, ``(B, T, C) -> (B, T, C)`` (any rank from 2). Keras's weights:
        ``gamma (C,)``, ``beta (C,)`` (each only with ``scale`` / ``center``), ``moving_mean (C,)``,
        ``moving_variance (C,)``. ``gamma`` and ``beta`` are torch parameters, the moving statistics
        buffers: saved with the model, never trained, and counted by ``count_params`` and ``summary`` as
        non-trainable weights, as Keras counts them.

    Example:
        >>> layer = BatchNormalization(momentum=0.5)
        >>> x = torch.tensor([[0.0], [2.0]])
        >>> [round(v, 4) for v in layer(x).flatten().tolist()]  # training: the batch's mean 1, variance 1
        [-0.9995, 0.9995]
        >>> layer.moving_mean.tolist(), layer.moving_variance.tolist()
        ([0.5], [1.0])
        >>> [round(v, 4) for v in layer.eval()(x).flatten().tolist()]  # inference: the moving statistics
        [-0.4998, 1.4993]
    """

    supports_masking = True
    gamma: nn.Parameter | None
    beta: nn.Parameter | None
    moving_mean: Tensor | None
    moving_variance: Tensor | None

    def __init__(
        self,
        axis: int = -1,
        momentum: float = 0.99,
        epsilon: float = 1e-3,
        center: bool = True,
        scale: bool = True,
        *,
        input_shape: tuple[int | None, ...] | None = None,
        name: str | None = None,
    ) -> None:
        super().__init__(input_shape=input_shape, name=name)
        if isinstance(axis, bool) or not isinstance(axis, int | np.integer):
            raise TypeError(
                f"BatchNormalization axis must be an integer (the features axis, e.g. -1), got "
                f"{type(axis).__name__} {axis!r}"
            )
        if axis == 0:
            raise ValueError(
                "BatchNormalization axis must be a features axis, got 0 (the batch axis); use -1, the last "
                "axis (Keras's default)"
            )
        self.axis = int(axis)
        self.momentum = check_probability("BatchNormalization momentum", momentum, upper_inclusive=True)
        self.epsilon = check_real("BatchNormalization epsilon", epsilon, positive=True)
        self.center = check_bool("BatchNormalization center", center)
        self.scale = check_bool("BatchNormalization scale", scale)
        self.features_axis = -1  # ``axis`` counted from the front, once the input's rank is known
        self.register_parameter("gamma", None)
        self.register_parameter("beta", None)
        self.register_buffer("moving_mean", None)
        self.register_buffer("moving_variance", None)

    def build(self, input_shape: Shape) -> None:
        rank = len(input_shape)
        if rank < 2 or not -rank <= self.axis < rank or self.axis % rank == 0:
            raise ValueError(
                f"BatchNormalization '{self.name}' expects input of shape (B, C) or (B, T, C) with its "
                f"features on axis={self.axis}, got {input_shape}"
            )
        self.features_axis = self.axis % rank
        features = input_shape[self.features_axis]
        assert features is not None  # built from a real tensor's shape
        if self.scale:
            self.gamma = nn.Parameter(torch.ones(features))
        if self.center:
            self.beta = nn.Parameter(torch.zeros(features))
        self.moving_mean = torch.zeros(features)  # (registered buffers: assignment keeps them buffers)
        self.moving_variance = torch.ones(features)

    def generic_input_shape(self, input_shape: Shape) -> Shape:
        """Any size on every axis but the features axis."""
        return tuple(d if i == self.features_axis else None for i, d in enumerate(input_shape))

    def call(self, x: Tensor, mask: Tensor | None = None) -> Tensor:
        assert self.moving_mean is not None and self.moving_variance is not None
        dtype = x.dtype
        if dtype in (torch.float16, torch.bfloat16):
            x = x.float()
        if self.training and self.trainable and x.shape[0] > 0:  # (an empty share of a data-parallel batch)
            mean, var = self.moments(x, mask)
            with torch.no_grad():
                self.moving_mean.copy_(self.moving_mean * self.momentum + mean * (1.0 - self.momentum))
                self.moving_variance.copy_(self.moving_variance * self.momentum + var * (1.0 - self.momentum))
        else:
            mean, var = self.moving_mean.to(x.dtype), self.moving_variance.to(x.dtype)
        view = self._feature_view(x)
        inv = torch.rsqrt(var + self.epsilon)
        if self.gamma is not None:
            inv = inv * self.gamma
        y = (x - mean.view(view)) * inv.view(view)
        if self.beta is not None:
            y = y + self.beta.view(view)
        return y.to(dtype)

    def moments(self, x: Tensor, mask: Tensor | None) -> tuple[Tensor, Tensor]:
        """The batch's mean and biased variance per feature ``(C,)``, over the valid steps under ``mask``.

        Raises:
            ValueError: a mask that is not the input's shape without its features axis (``(B, T)``).
        """
        reduce = [d for d in range(x.dim()) if d != self.features_axis]
        if mask is None:
            var, mean = torch.var_mean(x, dim=reduce, correction=0)
            return mean, var
        expected = tuple(n for d, n in enumerate(x.shape) if d != self.features_axis)
        if tuple(mask.shape) != expected:
            raise ValueError(
                f"BatchNormalization '{self.name}' expected a mask of shape {expected} (its input's without "
                f"the features axis), got {tuple(mask.shape)}"
            )
        view = self._feature_view(x)
        weight = mask.to(x.dtype).unsqueeze(self.features_axis).expand_as(x)  # 1 at valid steps, 0 at padding
        count = weight.sum(reduce).clamp_min(1.0)
        mean = (weight * x).sum(reduce) / count
        var = (weight * (x - mean.view(view)) ** 2).sum(reduce) / count
        return mean, var

    def _feature_view(self, x: Tensor) -> list[int]:
        """The shape a ``(C,)`` vector broadcasts over ``x`` with: ``(1, ..., C, ..., 1)``."""
        return [-1 if d == self.features_axis else 1 for d in range(x.dim())]

    def keras_non_trainable_buffers(self) -> list[str]:
        return ["moving_mean", "moving_variance"]

    def keras_weights(self) -> dict[str, Tensor]:
        assert self.moving_mean is not None and self.moving_variance is not None
        weights: dict[str, Tensor] = {}
        if self.gamma is not None:
            weights["gamma"] = self.gamma
        if self.beta is not None:
            weights["beta"] = self.beta
        weights["moving_mean"] = self.moving_mean
        weights["moving_variance"] = self.moving_variance
        return weights

    def get_config(self) -> dict[str, Any]:
        return {
            **super().get_config(),
            "axis": self.axis,
            "momentum": self.momentum,
            "epsilon": self.epsilon,
            "center": self.center,
            "scale": self.scale,
        }
