"""Convolution over time: Conv1D, the layer CNN-LSTM models put in front of their recurrent layers."""

from __future__ import annotations

from typing import Any

from torch import Tensor, nn

from lstmkit.layers.base import ActivationFn, Layer, Shape, activation_config, get_activation
from lstmkit.layers.windows import (
    DATA_FORMATS,
    TooFewStepsError,
    check_channels_first,
    keras_choice,
    one_int,
    pad_same,
)
from lstmkit.utils.validation import check_bool, check_positive_int

PADDINGS = ("valid", "same", "causal")


class Conv1D(Layer):
    """A 1-D convolution (cross-correlation) over the steps: ``y = activation(conv1d(x, kernel) + bias)``.

    ``y[b, t, f] = sum_{j, c} x[b, t * strides + j * dilation_rate - left, c] * kernel[j, c, f] + bias[f]``
    with ``c`` over the input channels of filter ``f``'s group and ``left`` the zeros padded before the
    first step:

    - ``"valid"``: no padding, ``T' = floor((T - (k - 1) * d - 1) / s) + 1``;
    - ``"same"``: ``T' = ceil(T / s)``, padded as TensorFlow and Keras 3 do: ``total = max((T' - 1) * s +
      (k - 1) * d + 1 - T, 0)``, ``left = total // 2`` and the rest after the last step;
    - ``"causal"``: ``left = (k - 1) * d`` and nothing after, so ``y[t]`` sees no step after ``t``
      (WaveNet, van den Oord et al. 2016, arXiv:1609.03499v2).

    Args:
        filters: output channels ``F``.
        kernel_size: window length ``k`` (an int, or Keras's one-int tuple).
        strides: step ``s`` between windows (an int or a one-int tuple); ``> 1`` is refused together
            with ``dilation_rate > 1``, as Keras does.
        padding: ``"valid"`` (default), ``"same"`` or ``"causal"`` (case-insensitive, as Keras).
        data_format: ``"channels_last"`` (default: ``(B, T, C)``) or ``"channels_first"`` (``(B, C, T)``).
        dilation_rate: gap ``d`` between the taps of the window (an int or a one-int tuple).
        groups: split the input channels and the filters into this many groups, each convolved apart;
            ``C`` and ``filters`` must both be multiples of it.
        activation: a Keras activation name or a callable, as :class:`~lstmkit.layers.Dense`'s.
        use_bias: add ``bias``.
        input_shape: shape of one sample, e.g. ``(100, 1)``.
        name: layer name.

    Shapes:
        ``(B, T, C) -> (B, T', F)`` (``(B, C, T) -> (B, F, T')`` with ``"channels_first"``). Keras's weights:
        ``kernel (k, C // groups, F)``, ``bias (F,)``; the torch module ``conv`` holds ``weight (F, C //
        groups, k)``. Masks are not passed on (Keras 3 drops them too, with a warning).

    Raises:
        ValueError: a bad argument; input that is not 3-D, or whose channels are not a multiple of
            ``groups``; with ``"valid"``, fewer steps than the window spans.

    Example:
        >>> import torch
        >>> layer = Conv1D(4, 3, padding="causal")
        >>> layer(torch.zeros(2, 10, 1)).shape, layer.count_params()
        (torch.Size([2, 10, 4]), 16)
        >>> Conv1D(4, 3, strides=2, padding="same")(torch.zeros(2, 7, 1)).shape  # ceil(7 / 2) steps
        torch.Size([2, 4, 4])
    """

    def __init__(
        self,
        filters: int,
        kernel_size: int | tuple[int] | list[int],
        strides: int | tuple[int] | list[int] = 1,
        padding: str = "valid",
        data_format: str = "channels_last",
        dilation_rate: int | tuple[int] | list[int] = 1,
        groups: int = 1,
        activation: str | ActivationFn | None = None,
        use_bias: bool = True,
        *,
        input_shape: tuple[int | None, ...] | None = None,
        name: str | None = None,
    ) -> None:
        data_format = keras_choice("Conv1D data_format", data_format, DATA_FORMATS)
        # (B, C, T) takes any number of steps: its last axis is time, not features
        self.last_axis_is_features = data_format == "channels_last"
        super().__init__(input_shape=input_shape, name=name)
        check_channels_first("Conv1D", data_format, input_shape)
        self.data_format = data_format
        self.filters = check_positive_int("Conv1D filters", filters)
        self.kernel_size = one_int("Conv1D kernel_size", kernel_size)
        self.strides = one_int("Conv1D strides", strides)
        self.dilation_rate = one_int("Conv1D dilation_rate", dilation_rate)
        self.span = (self.kernel_size - 1) * self.dilation_rate + 1  # the steps one window covers
        self.padding = keras_choice("Conv1D padding", padding, PADDINGS)
        self.groups = check_positive_int("Conv1D groups", groups)
        if self.filters % self.groups:
            raise ValueError(
                f"Conv1D filters must be a multiple of groups, got filters={self.filters} and "
                f"groups={self.groups}"
            )
        if self.strides > 1 and self.dilation_rate > 1:
            raise ValueError(
                f"Conv1D takes strides > 1 or dilation_rate > 1, not both (as Keras), got "
                f"strides={self.strides} and dilation_rate={self.dilation_rate}"
            )
        self.use_bias = check_bool("Conv1D use_bias", use_bias)
        self.activation_arg = activation
        self.activation = get_activation(activation)
        self.conv: nn.Conv1d | None = None

    @property
    def channel_axis(self) -> int:
        return 2 if self.data_format == "channels_last" else 1

    def build(self, input_shape: Shape) -> None:
        layout = "(B, T, C)" if self.data_format == "channels_last" else "(B, C, T)"
        if len(input_shape) != 3:
            raise ValueError(
                f"Conv1D '{self.name}' expects input of shape {layout} with data_format="
                f"'{self.data_format}', got {input_shape}; for a univariate series use shape (B, T, 1)"
            )
        channels = input_shape[self.channel_axis]
        assert channels is not None  # built from a real tensor's shape
        if channels % self.groups:
            raise ValueError(
                f"Conv1D '{self.name}' input channels must be a multiple of groups={self.groups}, got "
                f"{channels} channels (input shape {input_shape})"
            )
        self.conv = nn.Conv1d(
            channels,
            self.filters,
            self.kernel_size,
            stride=self.strides,
            dilation=self.dilation_rate,
            groups=self.groups,
            bias=self.use_bias,
        )
        nn.init.xavier_uniform_(self.conv.weight)  # Keras's glorot_uniform: the same fans for this layout
        if self.conv.bias is not None:
            nn.init.zeros_(self.conv.bias)

    def generic_input_shape(self, input_shape: Shape) -> Shape:
        """Any number of steps; the channels are fixed once built."""
        shape: list[int | None] = [None, None, None]
        shape[self.channel_axis] = input_shape[self.channel_axis]
        return tuple(shape)

    def call(self, x: Tensor, mask: Tensor | None = None) -> Tensor:
        assert self.conv is not None
        if self.data_format == "channels_last":
            x = x.transpose(1, 2)  # (B, C, T)
        span = self.span
        steps = x.shape[-1]
        if self.padding != "valid" and isinstance(steps, int) and steps == 0:
            y = x.new_zeros(x.shape[0], self.filters, 0)  # no step, no window: an empty output, as Keras
        else:
            if self.padding == "same":
                x = pad_same(x, span, self.strides)  # the amounts follow T under torch.export
            else:  # "causal" pads span - 1 before: only "valid" can leave too few steps
                before = span - 1 if self.padding == "causal" else 0
                if isinstance(steps, int) and steps + before < span:  # not under torch.export
                    raise TooFewStepsError(
                        f"Conv1D '{self.name}' with padding='valid' needs at least {span} steps (kernel_size="
                        f"{self.kernel_size}, dilation_rate={self.dilation_rate}), got {steps}; use longer "
                        f"sequences, a smaller kernel, or padding='same' or 'causal'"
                    )
                x = nn.functional.pad(x, (before, 0))
            y = self.conv(x)  # (B, F, T')
        if self.data_format == "channels_last":
            y = y.transpose(1, 2)  # (B, T', F)
        return self.activation(y)

    def keras_weights(self) -> dict[str, Tensor]:
        assert self.conv is not None
        weights = {"kernel": self.conv.weight.permute(2, 1, 0)}  # (k, C // groups, F)
        if self.conv.bias is not None:
            weights["bias"] = self.conv.bias
        return weights

    def get_config(self) -> dict[str, Any]:
        """Constructor arguments; ``TypeError`` for a callable activation that has no name."""
        return {
            **super().get_config(),
            "filters": self.filters,
            "kernel_size": self.kernel_size,
            "strides": self.strides,
            "padding": self.padding,
            "data_format": self.data_format,
            "dilation_rate": self.dilation_rate,
            "groups": self.groups,
            "activation": activation_config(self.activation_arg, f"Conv1D '{self.name}'"),
            "use_bias": self.use_bias,
        }
