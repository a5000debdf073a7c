"""Pooling over time: MaxPooling1D, AveragePooling1D (windows), GlobalMaxPooling1D, GlobalAveragePooling1D.

Keras 3's semantics: ``"same"`` padding as TensorFlow computes it (``ceil(T / strides)`` output steps, the
odd padded step on the right), ``"same"`` averages over the real steps of each window only, and
``data_format="channels_first"`` takes ``(B, I, T)``. None has weights. Masks: only
``GlobalAveragePooling1D`` reads one (it averages over the valid steps); the others ignore it, and none
passes a mask on, as in Keras 3.
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import Tensor
from torch.nn import functional

from lstmkit.layers.base import Layer, Shape
from lstmkit.layers.windows import (
    DATA_FORMATS,
    TooFewStepsError,
    check_channels_first,
    keras_choice,
    one_int,
    pad_same,
)
from lstmkit.utils.validation import check_bool

PADDINGS = ("valid", "same")


class _Pooling1D(Layer):
    """Shared by the 1D pools: the data format, the ``(B, T, I)``/``(B, I, T)`` input check."""

    def __init__(
        self, data_format: str, *, input_shape: tuple[int | None, ...] | None, name: str | None
    ) -> None:
        self.data_format = keras_choice(f"{type(self).__name__} data_format", data_format, DATA_FORMATS)
        # read by Layer.__init__: (I, None) declares any number of steps with channels first
        self.last_axis_is_features = self.data_format == "channels_last"
        super().__init__(input_shape=input_shape, name=name)
        check_channels_first(type(self).__name__, self.data_format, input_shape)

    @property
    def steps_axis(self) -> int:
        return 1 if self.data_format == "channels_last" else 2

    def build(self, input_shape: Shape) -> None:
        if len(input_shape) != 3:
            layout = "(B, T, I)" if self.data_format == "channels_last" else "(B, I, T)"
            raise ValueError(
                f"{type(self).__name__} '{self.name}' expects input of shape {layout} with "
                f"data_format='{self.data_format}', got {input_shape}"
            )

    def generic_input_shape(self, input_shape: Shape) -> Shape:
        if self.data_format == "channels_first":
            return (None, input_shape[1], None)  # the channels are fixed, the steps are not
        return super().generic_input_shape(input_shape)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "data_format": self.data_format}


class _WindowPooling1D(_Pooling1D):
    """Pooling over windows of ``pool_size`` steps, moved by ``strides``; subclasses pool ``(B, I, T)``."""

    def __init__(
        self,
        pool_size: int = 2,
        strides: int | None = None,
        padding: str = "valid",
        data_format: str = "channels_last",
        *,
        input_shape: tuple[int | None, ...] | None = None,
        name: str | None = None,
    ) -> None:
        super().__init__(data_format, input_shape=input_shape, name=name)
        cls = type(self).__name__
        self.pool_size = one_int(f"{cls} pool_size", pool_size)
        self.strides = self.pool_size if strides is None else one_int(f"{cls} strides", strides)
        self.padding = keras_choice(f"{cls} padding", padding, PADDINGS)

    def pool(self, x: Tensor) -> Tensor:
        """Pool ``x`` of shape ``(B, I, T)`` over its last axis."""
        raise NotImplementedError

    def call(self, x: Tensor, mask: Tensor | None = None) -> Tensor:
        steps = x.shape[self.steps_axis]
        if self.padding == "same" and isinstance(steps, int) and steps == 0:
            return x  # ceil(0 / strides) = 0 windows, as Keras
        if self.padding == "valid" and isinstance(steps, int) and steps < self.pool_size:  # not under export
            raise TooFewStepsError(
                f"{type(self).__name__} '{self.name}' with padding='valid' needs at least "
                f"pool_size={self.pool_size} steps, got {steps} (input shape {tuple(x.shape)}); use "
                f"padding='same', a smaller pool_size or longer sequences"
            )
        if self.data_format == "channels_first":
            return self.pool(x)
        return self.pool(x.transpose(1, 2)).transpose(1, 2)  # torch pools (B, I, T)

    def get_config(self) -> dict[str, Any]:
        return {
            **super().get_config(),
            "pool_size": self.pool_size,
            "strides": self.strides,
            "padding": self.padding,
        }


class MaxPooling1D(_WindowPooling1D):
    """The largest value of each window of ``pool_size`` steps, per channel.

    Args:
        pool_size: steps per window.
        strides: steps between window starts; ``None`` (default) is ``pool_size``.
        padding: ``"valid"`` (default; windows inside the input only) or ``"same"`` (padded so that there
            are ``ceil(T / strides)`` windows, as TensorFlow pads; padding never wins the max).
        data_format: ``"channels_last"`` (default, ``(B, T, I)``) or ``"channels_first"`` (``(B, I, T)``).
        input_shape: shape of one sample, e.g. ``(100, 8)``.
        name: layer name.

    Shapes:
        ``(B, T, I) -> (B, T', I)`` with ``T' = floor((T - pool_size) / strides) + 1`` (``"valid"``) or
        ``ceil(T / strides)`` (``"same"``). An incoming mask is ignored and not passed on, as in Keras 3.

    Example:
        >>> x = torch.tensor([1.0, 2.0, 3.0, 4.0, 5.0]).reshape(1, 5, 1)
        >>> MaxPooling1D(2, strides=1)(x).flatten().tolist()
        [2.0, 3.0, 4.0, 5.0]
        >>> MaxPooling1D(2, strides=1, padding="same")(x).flatten().tolist()
        [2.0, 3.0, 4.0, 5.0, 5.0]
    """

    def pool(self, x: Tensor) -> Tensor:
        if self.padding == "same":
            x = pad_same(x, self.pool_size, self.strides, value=-math.inf)
        return functional.max_pool1d(x, self.pool_size, self.strides)


class AveragePooling1D(_WindowPooling1D):
    """The mean of each window of ``pool_size`` steps, per channel.

    Args:
        pool_size: steps per window (Keras 3 requires it; 2 by default here, as in Keras 2).
        strides: steps between window starts; ``None`` (default) is ``pool_size``.
        padding: ``"valid"`` (default; windows inside the input only) or ``"same"`` (padded so that there
            are ``ceil(T / strides)`` windows, as TensorFlow pads; a window at an edge averages over its
            real steps only, as Keras).
        data_format: ``"channels_last"`` (default, ``(B, T, I)``) or ``"channels_first"`` (``(B, I, T)``).
        input_shape: shape of one sample, e.g. ``(100, 8)``.
        name: layer name.

    Shapes:
        ``(B, T, I) -> (B, T', I)`` with ``T' = floor((T - pool_size) / strides) + 1`` (``"valid"``) or
        ``ceil(T / strides)`` (``"same"``). An incoming mask is ignored and not passed on, as in Keras 3.

    Example:
        >>> x = torch.tensor([1.0, 2.0, 3.0, 4.0, 5.0]).reshape(1, 5, 1)
        >>> AveragePooling1D(2, strides=1)(x).flatten().tolist()
        [1.5, 2.5, 3.5, 4.5]
        >>> AveragePooling1D(2, strides=1, padding="same")(x).flatten().tolist()
        [1.5, 2.5, 3.5, 4.5, 5.0]
    """

    def pool(self, x: Tensor) -> Tensor:
        if self.padding == "valid":
            return functional.avg_pool1d(x, self.pool_size, self.strides)
        # Keras's TensorFlow and JAX backends average over the real steps only (its torch backend pads an
        # asymmetric window by repeating the edge step, which counts that step twice): divide each window's
        # mean with padding counted as zero by the share of real steps in it
        window_mean = functional.avg_pool1d(
            pad_same(x, self.pool_size, self.strides), self.pool_size, self.strides
        )
        real = pad_same(torch.ones_like(x[:1, :1]), self.pool_size, self.strides)  # (1, 1, T + padding)
        real_share = functional.avg_pool1d(real, self.pool_size, self.strides)
        return window_mean / real_share


class _GlobalPooling1D(_Pooling1D):
    """Pooling over all steps at once."""

    def __init__(
        self,
        data_format: str = "channels_last",
        keepdims: bool = False,
        *,
        input_shape: tuple[int | None, ...] | None = None,
        name: str | None = None,
    ) -> None:
        super().__init__(data_format, input_shape=input_shape, name=name)
        self.keepdims = check_bool(f"{type(self).__name__} keepdims", keepdims)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "keepdims": self.keepdims}

    def _require_steps(self, x: Tensor) -> None:
        """A global pool of no steps has no value (a max or a mean of nothing)."""
        steps = x.shape[self.steps_axis]
        if isinstance(steps, int) and steps == 0:
            raise ValueError(
                f"{type(self).__name__} '{self.name}' needs at least one step, got input of shape "
                f"{tuple(x.shape)}"
            )


class GlobalAveragePooling1D(_GlobalPooling1D):
    """The mean over all steps, per channel; with a mask, the mean over each sample's valid steps.

    ``y[b, i] = sum_t m[b, t] x[b, t, i] / sum_t m[b, t]`` (``m = 1`` everywhere without a mask).

    Args:
        data_format: ``"channels_last"`` (default, ``(B, T, I)``) or ``"channels_first"`` (``(B, I, T)``).
        keepdims: keep the time axis with length 1.
        input_shape: shape of one sample, e.g. ``(100, 8)``.
        name: layer name.

    Shapes:
        ``(B, T, I) -> (B, I)``, or ``(B, 1, I)`` with ``keepdims`` (``(B, I, T) -> (B, I)`` or ``(B, I, 1)``
        with ``"channels_first"``); an incoming mask ``(B, T)`` is used and not passed on, as in Keras 3.

    Implementation notes:
        A sample with no valid step averages to 0; Keras divides 0 by 0 there and returns NaN.

    Example:
        >>> x = torch.tensor([[[1.0], [3.0], [8.0]]])
        >>> layer = GlobalAveragePooling1D()
        >>> layer(x).tolist(), layer(x, torch.tensor([[True, True, False]])).tolist()
        ([[4.0]], [[2.0]])
    """

    def call(self, x: Tensor, mask: Tensor | None = None) -> Tensor:
        axis = self.steps_axis
        self._require_steps(x)
        if mask is None:
            return x.mean(dim=axis, keepdim=self.keepdims)
        expected = (x.shape[0], x.shape[axis])
        if tuple(mask.shape) != expected:
            raise ValueError(
                f"GlobalAveragePooling1D '{self.name}' expected a mask of shape (B, T) = {expected} for its "
                f"input of shape {tuple(x.shape)}, got {tuple(mask.shape)}"
            )
        channels_axis = -1 if self.data_format == "channels_last" else 1
        valid = mask.bool().unsqueeze(channels_axis)  # (B, T, 1) or (B, 1, T)
        total = torch.where(valid, x, 0.0).sum(dim=axis, keepdim=self.keepdims)
        count = valid.sum(dim=axis, keepdim=self.keepdims).clamp(min=1).to(x.dtype)
        return total / count


class GlobalMaxPooling1D(_GlobalPooling1D):
    """The largest value over all steps, per channel.

    Args:
        data_format: ``"channels_last"`` (default, ``(B, T, I)``) or ``"channels_first"`` (``(B, I, T)``).
        keepdims: keep the time axis with length 1.
        input_shape: shape of one sample, e.g. ``(100, 8)``.
        name: layer name.

    Shapes:
        ``(B, T, I) -> (B, I)``, or ``(B, 1, I)`` with ``keepdims`` (``(B, I, T) -> (B, I)`` or ``(B, I, 1)``
        with ``"channels_first"``). An incoming mask is ignored (padded steps count toward the max) and not
        passed on, as in Keras 3.

    Example:
        >>> GlobalMaxPooling1D()(torch.tensor([[[1.0, -2.0], [3.0, -4.0]]])).tolist()
        [[3.0, -2.0]]
    """

    def call(self, x: Tensor, mask: Tensor | None = None) -> Tensor:
        # Keras 3's GlobalMaxPooling1D takes no mask (keras/src/layers/pooling/global_max_pooling1d.py):
        # padded steps count toward the max, and the mask stops here
        self._require_steps(x)
        return x.amax(dim=self.steps_axis, keepdim=self.keepdims)
