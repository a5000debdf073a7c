"""Noise layers active in training only: SpatialDropout1D, GaussianNoise, GaussianDropout."""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import Tensor

from lstmkit.layers.base import Layer, Shape
from lstmkit.layers.core import Dropout
from lstmkit.utils.validation import check_probability, check_real, check_seed


class SpatialDropout1D(Dropout):
    """Drop whole channels: each sample's channel is zeroed at every step with probability ``rate``
    (Tompson et al. 2015, arXiv:1411.4280), the rest scaled by ``1 / (1 - rate)``; training only.

    ``Dropout(rate, noise_shape=(None, 1, None))``: one draw ``(B, 1, C)`` shared by all steps, as Keras's.

    Args:
        rate: fraction of the channels to drop, in ``[0, 1)``.
        input_shape: shape of one sample, ``(T, C)``.
        name: layer name.

    Shapes:
        ``(B, T, C) -> (B, T, C)``; the mask passes on.

    Example:
        >>> import torch
        >>> y = SpatialDropout1D(0.5)(torch.ones(2, 4, 3))
        >>> bool((y == y[:, :1]).all())  # a channel is kept or dropped at every step
        True
    """

    def __init__(
        self, rate: float, *, input_shape: tuple[int, ...] | None = None, name: str | None = None
    ) -> None:
        rate = check_probability("SpatialDropout1D rate", rate)
        super().__init__(rate, noise_shape=(None, 1, None), input_shape=input_shape, name=name)

    def build(self, input_shape: Shape) -> None:
        if len(input_shape) != 3:
            raise ValueError(
                f"SpatialDropout1D '{self.name}' expects input of shape (B, T, C), got {input_shape}"
            )

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        del config["noise_shape"]  # fixed by the class
        return config


class _GaussianNoiseLayer(Layer):
    """A layer that draws standard normal noise in training, from its own generator when seeded.

    A ``seed`` makes the layer's noise a sequence of its own, as Keras's ``SeedGenerator``: the same
    draws in every run, whatever else draws from torch's global generator; without one, the noise comes
    from torch's global generator (``lstmkit.utils.set_seed``).
    """

    fixes_features = False

    supports_masking = True

    def __init__(
        self,
        seed: int | None,
        *,
        input_shape: tuple[int | None, ...] | None = None,
        name: str | None = None,
    ) -> None:
        super().__init__(input_shape=input_shape, name=name)
        self.seed = None if seed is None else check_seed(f"{type(self).__name__} seed", seed)
        self._generator: torch.Generator | None = None

    def standard_normal(self, x: Tensor) -> Tensor:
        """Draws ``N(0, 1)`` of ``x``'s shape, dtype and device."""
        generator = None
        if self.seed is not None:
            if self._generator is None or self._generator.device != x.device:
                self._generator = torch.Generator(device=x.device).manual_seed(self.seed)
            generator = self._generator
        return torch.randn(x.shape, generator=generator, dtype=x.dtype, device=x.device)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "seed": self.seed}


class GaussianNoise(_GaussianNoiseLayer):
    """Add zero-centred Gaussian noise in training: ``y = x + stddev * n``, ``n ~ N(0, 1)`` per element.

    In inference (``predict``, ``evaluate``, a model in eval mode) the identity, as Keras's.

    Args:
        stddev: standard deviation of the noise, ``>= 0`` (Keras 3 also refuses values above 1; lstmkit,
            as Keras 2, does not).
        seed: an integer in ``[0, 2**63 - 1]`` gives the layer a noise sequence of its own, the same in
            every run (Keras's ``SeedGenerator``); ``None`` draws from torch's global generator.
        input_shape: shape of one sample.
        name: layer name.

    Shapes:
        ``(B, ...) -> (B, ...)``; the mask passes on.

    Example:
        >>> import torch
        >>> layer = GaussianNoise(0.1, seed=0)
        >>> bool(torch.equal(layer.eval()(torch.ones(2, 3)), torch.ones(2, 3)))
        True
        >>> y = layer.train()(torch.zeros(500, 3))  # training: noise of std 0.1
        >>> 0.08 < float(y.std()) < 0.12
        True
    """

    def __init__(
        self,
        stddev: float,
        seed: int | None = None,
        *,
        input_shape: tuple[int | None, ...] | None = None,
        name: str | None = None,
    ) -> None:
        super().__init__(seed, input_shape=input_shape, name=name)
        self.stddev = check_real("GaussianNoise stddev", stddev, minimum=0)

    def call(self, x: Tensor, mask: Tensor | None = None) -> Tensor:
        if not self.training or self.stddev == 0.0:
            return x
        return x + self.stddev * self.standard_normal(x)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "stddev": self.stddev}


class GaussianDropout(_GaussianNoiseLayer):
    """Multiply by one-centred Gaussian noise in training: ``y = x * (1 + sqrt(rate / (1 - rate)) * n)``,
    ``n ~ N(0, 1)`` per element (Srivastava et al. 2014, section 10), the noise of the same variance as
    ``Dropout(rate)``'s; the identity in inference, as Keras's.

    Args:
        rate: the ``Dropout`` rate whose variance the noise has, in ``[0, 1)`` (Keras accepts 1, whose noise
            is infinite).
        seed: an integer in ``[0, 2**63 - 1]`` gives the layer a noise sequence of its own, the same in
            every run; ``None`` draws from torch's global generator.
        input_shape: shape of one sample.
        name: layer name.

    Shapes:
        ``(B, ...) -> (B, ...)``; the mask passes on.

    Example:
        >>> import torch
        >>> y = GaussianDropout(0.5, seed=0)(torch.ones(1000))  # training: noise of mean 1, std 1
        >>> 0.9 < float(y.mean()) < 1.1 and 0.9 < float(y.std()) < 1.1
        True
    """

    def __init__(
        self,
        rate: float,
        seed: int | None = None,
        *,
        input_shape: tuple[int | None, ...] | None = None,
        name: str | None = None,
    ) -> None:
        super().__init__(seed, input_shape=input_shape, name=name)
        self.rate = check_probability("GaussianDropout rate", rate)
        self.stddev = math.sqrt(self.rate / (1.0 - self.rate))  # Dropout(rate)'s variance

    def call(self, x: Tensor, mask: Tensor | None = None) -> Tensor:
        if not self.training or self.rate == 0.0:
            return x
        return x * (1.0 + self.stddev * self.standard_normal(x))

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "rate": self.rate}
