"""Shape layers around the recurrent ones: RepeatVector, Flatten, Reshape, Permute.

None of them has weights, and none passes a mask on: as in Keras 3, whose reshaping layers do not support
masking, an incoming mask stops at them (Keras also warns that it does).
"""

from __future__ import annotations

import math
from typing import Any

from torch import Tensor

from lstmkit.layers.base import Layer, Shape
from lstmkit.layers.windows import DATA_FORMATS, keras_choice
from lstmkit.utils.validation import check_positive_int


def _check_ints(name: str, value: Any, expected: str) -> None:
    """``TypeError`` unless ``value`` is a tuple or list of ints (``bool`` is not one)."""
    if not isinstance(value, tuple | list) or not all(
        isinstance(d, int) and not isinstance(d, bool) for d in value
    ):
        raise TypeError(f"{name} must be {expected}, got {value!r}")


class RepeatVector(Layer):
    """Repeat each sample's vector ``n`` times along a new time axis.

    The bridge of an encoder-decoder: the encoder's last output becomes the decoder's input at each of the
    ``n`` output steps, ``LSTM(100) -> RepeatVector(n) -> LSTM(100, return_sequences=True)``.

    Args:
        n: the number of repetitions, i.e. the output's number of steps.
        input_shape: ``(I,)`` of one sample.
        name: layer name.

    Shapes:
        ``(B, I) -> (B, n, I)``.

    Raises:
        TypeError: ``n`` is not an integer.
        ValueError: ``n < 1``; an input that is not ``(B, I)``.

    Example:
        >>> import torch
        >>> RepeatVector(3)(torch.tensor([[1.0, 2.0]])).tolist()
        [[[1.0, 2.0], [1.0, 2.0], [1.0, 2.0]]]
    """

    fixes_features = False

    def __init__(
        self, n: int, *, input_shape: tuple[int, ...] | None = None, name: str | None = None
    ) -> None:
        super().__init__(input_shape=input_shape, name=name)
        self.n = check_positive_int("RepeatVector n", n)

    def build(self, input_shape: Shape) -> None:
        if len(input_shape) != 2:
            raise ValueError(
                f"RepeatVector '{self.name}' expects input of shape (B, I), got {input_shape}; put it after "
                f"a layer that returns one vector per sample, such as an LSTM with return_sequences=False"
            )

    def call(self, x: Tensor, mask: Tensor | None = None) -> Tensor:
        return x.unsqueeze(1).repeat(1, self.n, 1)  # (B, n, I)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "n": self.n}


class Flatten(Layer):
    """Flatten every axis but the batch into one.

    Args:
        data_format: ``"channels_last"`` (default) or ``"channels_first"``: with ``"channels_first"`` the
            channel axis (axis 1) is moved last before flattening, so that both layouts flatten to the
            same order, as Keras does.
        input_shape: shape of one sample, e.g. ``(10, 64)``.
        name: layer name.

    Shapes:
        ``(B, d1, d2, ...) -> (B, d1 * d2 * ...)``; ``(B,) -> (B, 1)``.

    Example:
        >>> import torch
        >>> Flatten()(torch.zeros(2, 10, 64)).shape
        torch.Size([2, 640])
    """

    fixes_features = False

    def __init__(
        self,
        data_format: str = "channels_last",
        *,
        input_shape: tuple[int, ...] | None = None,
        name: str | None = None,
    ) -> None:
        super().__init__(input_shape=input_shape, name=name)
        self.data_format = keras_choice("Flatten data_format", data_format, DATA_FORMATS)

    def call(self, x: Tensor, mask: Tensor | None = None) -> Tensor:
        if x.dim() < 2:
            return x.unsqueeze(1)  # (B, 1)
        if self.data_format == "channels_first":
            x = x.movedim(1, -1)  # (B, ..., C)
        return x.flatten(1)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "data_format": self.data_format}


class Reshape(Layer):
    """Reshape each sample to ``target_shape`` (the batch axis is kept).

    Args:
        target_shape: the shape of one output sample, without the batch axis; one entry may be ``-1``,
            inferred from the input's size, as in Keras.
        input_shape: shape of one sample, e.g. ``(12,)``.
        name: layer name.

    Shapes:
        ``(B, d1, d2, ...) -> (B, *target_shape)``; the input must hold as many values per sample as
        ``target_shape``.

    Raises:
        TypeError: ``target_shape`` is not a tuple or list of ints.
        ValueError: an entry below 1 other than one ``-1``; an input whose size per sample does not fit.

    Example:
        >>> import torch
        >>> Reshape((3, 4))(torch.zeros(2, 12)).shape
        torch.Size([2, 3, 4])
        >>> Reshape((-1, 2, 2))(torch.zeros(2, 12)).shape
        torch.Size([2, 3, 2, 2])
    """

    fixes_features = False

    def __init__(
        self,
        target_shape: tuple[int, ...] | list[int],
        *,
        input_shape: tuple[int, ...] | None = None,
        name: str | None = None,
    ) -> None:
        super().__init__(input_shape=input_shape, name=name)
        expected = "a tuple of positive ints with at most one -1 (without the batch axis)"
        _check_ints("Reshape target_shape", target_shape, expected)
        if any(d < 1 and d != -1 for d in target_shape) or list(target_shape).count(-1) > 1:
            raise ValueError(f"Reshape target_shape must be {expected}, got {tuple(target_shape)}")
        self.target_shape = tuple(target_shape)

    def output_sample_shape(self, input_shape: tuple[int, ...]) -> tuple[int, ...]:
        """``target_shape`` with its ``-1`` resolved for inputs of ``input_shape`` (batch axis included).

        Raises:
            ValueError: the input's size per sample does not fit ``target_shape``.
        """
        size = math.prod(input_shape[1:])
        known = math.prod(d for d in self.target_shape if d != -1)
        if -1 not in self.target_shape:
            if size == known:
                return self.target_shape
        elif size % known == 0:
            return tuple(size // known if d == -1 else d for d in self.target_shape)
        fit = f"{known} values" if -1 not in self.target_shape else f"a multiple of {known} values"
        raise ValueError(
            f"Reshape '{self.name}' cannot reshape input of shape {input_shape} ({size} values per sample) "
            f"to target_shape {self.target_shape}, which needs {fit} per sample"
        )

    def call(self, x: Tensor, mask: Tensor | None = None) -> Tensor:
        return x.reshape(x.shape[0], *self.output_sample_shape(tuple(x.shape)))

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "target_shape": list(self.target_shape)}


class Permute(Layer):
    """Reorder the axes of each sample (the batch axis stays first).

    Args:
        dims: the new order of the input's axes, numbered from 1 without the batch axis, as Keras: ``(2, 1)``
            swaps the time and feature axes of ``(B, T, I)``.
        input_shape: shape of one sample, e.g. ``(10, 64)``.
        name: layer name.

    Shapes:
        ``(B, d1, ..., dn) -> (B, d[dims[0]], ..., d[dims[n-1]])``.

    Raises:
        TypeError: ``dims`` is not a tuple or list of ints.
        ValueError: ``dims`` is not a permutation of ``1..n``; an input whose rank is not ``len(dims) + 1``.

    Example:
        >>> import torch
        >>> Permute((2, 1))(torch.zeros(2, 10, 64)).shape
        torch.Size([2, 64, 10])
    """

    fixes_features = False

    def __init__(
        self,
        dims: tuple[int, ...] | list[int],
        *,
        input_shape: tuple[int, ...] | None = None,
        name: str | None = None,
    ) -> None:
        super().__init__(input_shape=input_shape, name=name)
        expected = "a permutation of 1..n (the input's axes numbered from 1, without the batch axis)"
        _check_ints("Permute dims", dims, expected)
        if sorted(dims) != list(range(1, len(dims) + 1)):
            raise ValueError(f"Permute dims must be {expected}, got {tuple(dims)}")
        self.dims = tuple(dims)

    def build(self, input_shape: Shape) -> None:
        if len(input_shape) != len(self.dims) + 1:
            raise ValueError(
                f"Permute '{self.name}' with dims={self.dims} expects input with {len(self.dims)} axes after "
                f"the batch axis, got shape {input_shape}"
            )

    def call(self, x: Tensor, mask: Tensor | None = None) -> Tensor:
        return x.permute(0, *self.dims)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "dims": list(self.dims)}
