"""Stateless and feed-forward layers: Input, Dense, Activation, Dropout, Masking, LayerNormalization."""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import Tensor, nn

from lstmkit.layers.base import ActivationFn, Layer, Shape, activation_config, get_activation
from lstmkit.ops.masks import bernoulli_mask
from lstmkit.utils.validation import check_positive_int, check_probability


class Input(Layer):
    """Declares the shape of one sample (without the batch dimension); the identity otherwise.

    Args:
        shape: e.g. ``(100, 1)`` for 100 time steps of 1 feature.
        dtype: ``"float32"`` (default) or ``"int64"`` for token ids.

    Example:
        >>> Input((3, 2))(torch.zeros(4, 3, 2)).shape
        torch.Size([4, 3, 2])
    """

    supports_masking = True
    casts_input = False  # the identity: token ids reach an Embedding as they are

    def __init__(self, shape: tuple[int, ...], dtype: str = "float32", *, name: str | None = None) -> None:
        super().__init__(input_shape=tuple(shape), name=name)
        if dtype not in ("float32", "int64"):
            raise ValueError(f"Input dtype must be 'float32' or 'int64', got {dtype!r}")
        self.dtype_name = dtype
        self.input_dtype = torch.float32 if dtype == "float32" else torch.long

    def call(self, x: Tensor, mask: Tensor | None = None) -> Tensor:
        return x

    def get_config(self) -> dict[str, Any]:
        return {"shape": list(self.input_shape_arg or ()), "dtype": self.dtype_name, "name": self.name}


class Dense(Layer):
    """A fully connected layer on the last axis: ``y = activation(x W^T + b)``.

    Args:
        units: output features.
        activation: a Keras activation name (``None``/``"linear"``, ``"relu"``, ``"sigmoid"``, ...) or a
            callable on tensors, e.g. ``torch.relu``; a callable that is not one of the named activations
            cannot be saved to a model file (``get_config`` raises ``TypeError``).
        use_bias: add ``b``.
        input_shape: shape of one sample, e.g. ``(8,)``.
        input_dim: Keras 2's shorthand for ``input_shape=(input_dim,)``.
        name: layer name.

    Shapes:
        ``(B, ..., I) -> (B, ..., units)``; Keras's weights: ``kernel (I, units)``, ``bias (units,)``.

    Example:
        >>> Dense(3, activation="relu")(torch.zeros(2, 5)).shape
        torch.Size([2, 3])
        >>> Dense(4, input_dim=3).input_shape_arg
        (3,)
    """

    supports_masking = True

    def __init__(
        self,
        units: int,
        activation: str | ActivationFn | None = None,
        use_bias: bool = True,
        *,
        input_shape: tuple[int, ...] | None = None,
        input_dim: int | None = None,
        name: str | None = None,
    ) -> None:
        if input_dim is not None:
            if input_shape is not None:
                raise ValueError(
                    f"Dense takes input_shape or input_dim, not both; got input_shape={input_shape!r} "
                    f"and input_dim={input_dim!r}"
                )
            input_shape = (check_positive_int("Dense input_dim", input_dim),)
        super().__init__(input_shape=input_shape, name=name)
        self.units = check_positive_int("Dense units", units)
        self.activation_arg = activation
        self.activation = get_activation(activation)
        self.use_bias = bool(use_bias)
        self.linear: nn.Linear | None = None

    def build(self, input_shape: Shape) -> None:
        if len(input_shape) < 2:  # Keras's InputSpec(min_ndim=2): a 1-D input has no batch axis
            raise ValueError(
                f"Dense '{self.name}' expects input of shape (B, ..., I) with at least 2 dimensions, got "
                f"{input_shape}; add the batch axis, e.g. x.reshape(1, -1) for one sample"
            )
        features = input_shape[-1]
        if features is None:
            raise ValueError(
                f"Dense '{self.name}' needs a known last dimension, got input shape {input_shape}"
            )
        self.linear = nn.Linear(features, self.units, bias=self.use_bias)
        nn.init.xavier_uniform_(self.linear.weight)  # Keras's glorot_uniform
        if self.linear.bias is not None:
            nn.init.zeros_(self.linear.bias)

    def _check_shape(self, expected: Shape, received: tuple[int, ...]) -> None:
        # once built, Keras's Dense fixes only the features (InputSpec(min_ndim=2, axes={-1: I})): a Dense
        # built on (B, I) also takes (B, T, I); a declared input_shape stays exact
        if self.input_shape_arg is None and len(received) >= 2 and received[-1] == expected[-1]:
            return
        super()._check_shape(expected, received)

    def call(self, x: Tensor, mask: Tensor | None = None) -> Tensor:
        assert self.linear is not None
        return self.activation(self.linear(x))

    def keras_weights(self) -> dict[str, Tensor]:
        assert self.linear is not None
        weights = {"kernel": self.linear.weight.T}  # (I, units)
        if self.linear.bias is not None:
            weights["bias"] = self.linear.bias
        return weights

    def get_config(self) -> dict[str, Any]:
        """Constructor arguments; ``TypeError`` for a callable activation that has no name."""
        return {
            **super().get_config(),
            "units": self.units,
            "activation": activation_config(self.activation_arg, f"Dense '{self.name}'"),
            "use_bias": self.use_bias,
        }


class Activation(Layer):
    """Apply an activation function to the input, elementwise (``softmax`` over the last axis).

    Args:
        activation: a Keras activation name (``None``/``"linear"``, ``"relu"``, ``"softmax"``, ...) or a
            callable on tensors, e.g. ``torch.relu``; a callable that is not one of the named activations
            cannot be saved to a model file (``get_config`` raises ``TypeError``).
        input_shape: shape of one sample, e.g. ``(8,)``.
        name: layer name.

    Shapes:
        ``(B, ...) -> (B, ...)``; an incoming mask passes on unchanged, as in Keras.

    Example:
        >>> Activation("relu")(torch.tensor([[-1.0, 2.0]])).tolist()
        [[0.0, 2.0]]
    """

    fixes_features = False

    supports_masking = True

    def __init__(
        self,
        activation: str | ActivationFn | None,
        *,
        input_shape: tuple[int, ...] | None = None,
        name: str | None = None,
    ) -> None:
        super().__init__(input_shape=input_shape, name=name)
        self.activation_arg = activation
        self.activation = get_activation(activation)

    def call(self, x: Tensor, mask: Tensor | None = None) -> Tensor:
        return self.activation(x)

    def get_config(self) -> dict[str, Any]:
        """Constructor arguments; ``TypeError`` for a callable activation that has no name."""
        return {
            **super().get_config(),
            "activation": activation_config(self.activation_arg, f"Activation '{self.name}'"),
        }


class Dropout(Layer):
    """Zero each input element with probability ``rate`` during training, scaling the rest by ``1/(1-rate)``.

    ``noise_shape`` (Keras's) is the shape of the drawn mask, broadcast over the input: one entry per input
    dimension, batch included, each ``None`` (the input's size), ``1`` (one draw shared along it) or the
    input's size; ``(None, 1, None)`` drops the same features at every step of a sequence.

    Example:
        >>> layer = Dropout(0.5).eval()
        >>> bool(torch.equal(layer(torch.ones(3)), torch.ones(3)))
        True
        >>> y = Dropout(0.5, noise_shape=(None, 1, None))(torch.ones(2, 4, 3))
        >>> bool((y == y[:, :1]).all())  # the same units dropped at every step
        True
    """

    fixes_features = False

    supports_masking = True

    def __init__(
        self,
        rate: float,
        noise_shape: tuple[int | None, ...] | list[int | None] | None = None,
        *,
        input_shape: tuple[int, ...] | None = None,
        name: str | None = None,
    ) -> None:
        super().__init__(input_shape=input_shape, name=name)
        self.rate = check_probability("Dropout rate", rate)
        if noise_shape is not None:
            if not isinstance(noise_shape, tuple | list):
                raise TypeError(
                    f"Dropout noise_shape must be a tuple of positive ints or None, got {noise_shape!r}"
                )
            noise_shape = tuple(
                None if d is None else check_positive_int(f"Dropout noise_shape[{i}]", d)
                for i, d in enumerate(noise_shape)
            )
        self.noise_shape = noise_shape

    def call(self, x: Tensor, mask: Tensor | None = None) -> Tensor:
        if self.noise_shape is None:
            return nn.functional.dropout(x, self.rate, self.training)
        if len(self.noise_shape) != x.dim():  # in eval too: a wrong rank is a wrong model, not a no-op
            raise ValueError(
                f"Dropout '{self.name}' noise_shape {self.noise_shape} expects input with "
                f"{len(self.noise_shape)} dimensions (one per entry, batch included), got shape "
                f"{tuple(x.shape)}"
            )
        if not self.training or self.rate == 0.0:
            return x
        if any(d is not None and d not in (1, n) for d, n in zip(self.noise_shape, x.shape, strict=True)):
            raise ValueError(
                f"Dropout '{self.name}' noise_shape {self.noise_shape} does not broadcast to its input of "
                f"shape {tuple(x.shape)}: one entry per dimension, each None, 1 or the input's size"
            )
        shape = tuple(n if d is None else d for d, n in zip(self.noise_shape, x.shape, strict=True))
        keep = 1.0 - self.rate
        return x * bernoulli_mask(shape, keep, x).div_(keep)

    def get_config(self) -> dict[str, Any]:
        config = {**super().get_config(), "rate": self.rate}
        if self.noise_shape is not None:
            config["noise_shape"] = list(self.noise_shape)
        return config


class Masking(Layer):
    """Mark time steps whose features all equal ``mask_value`` as padding for the layers that follow.

    Shapes:
        ``(B, T, I) -> (B, T, I)``, output mask ``(B, T)``.

    Example:
        >>> x = torch.tensor([[[1.0], [0.0]]])
        >>> Masking(0.0).compute_mask(x, None).tolist()
        [[True, False]]
    """

    fixes_features = False

    def __init__(
        self, mask_value: float = 0.0, *, input_shape: tuple[int, ...] | None = None, name: str | None = None
    ) -> None:
        super().__init__(input_shape=input_shape, name=name)
        if isinstance(mask_value, bool) or not isinstance(mask_value, int | float) or math.isnan(mask_value):
            raise ValueError(f"Masking mask_value must be a finite number, got {mask_value!r}")
        self.mask_value = float(mask_value)

    def build(self, input_shape: Shape) -> None:
        if len(input_shape) != 3:
            raise ValueError(f"Masking expects input of shape (B, T, I), got {input_shape}")

    def call(self, x: Tensor, mask: Tensor | None = None) -> Tensor:
        keep = self.compute_mask(x, mask)
        assert keep is not None
        return x * keep.unsqueeze(-1).to(x.dtype)

    def compute_mask(self, x: Tensor, mask: Tensor | None) -> Tensor | None:
        return (x != self.mask_value).any(dim=-1)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "mask_value": self.mask_value}


class LayerNormalization(Layer):
    """Normalize the last axis to zero mean and unit variance, then scale by ``gamma`` and shift by ``beta``.

    ``y = gamma * (x - mean) / sqrt(var + epsilon) + beta`` (Ba et al. 2016, arXiv:1607.06450v1).

    Example:
        >>> y = LayerNormalization()(torch.tensor([[1.0, 3.0]]))
        >>> [round(v, 3) for v in y[0].tolist()]
        [-1.0, 1.0]
    """

    supports_masking = True

    def __init__(
        self,
        epsilon: float = 1e-3,
        *,
        input_shape: tuple[int, ...] | None = None,
        name: str | None = None,
    ) -> None:
        super().__init__(input_shape=input_shape, name=name)
        if not isinstance(epsilon, int | float) or not epsilon > 0:
            raise ValueError(f"LayerNormalization epsilon must be > 0, got {epsilon!r}")
        self.epsilon = float(epsilon)
        self.norm: nn.LayerNorm | None = None

    def build(self, input_shape: Shape) -> None:
        features = input_shape[-1]
        assert features is not None
        self.norm = nn.LayerNorm(features, eps=self.epsilon)

    def call(self, x: Tensor, mask: Tensor | None = None) -> Tensor:
        assert self.norm is not None
        return self.norm(x)

    def keras_weights(self) -> dict[str, Tensor]:
        assert self.norm is not None
        return {"gamma": self.norm.weight, "beta": self.norm.bias}

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "epsilon": self.epsilon}
