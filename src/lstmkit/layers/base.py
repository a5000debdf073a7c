"""The Keras-style layer base: a ``torch.nn.Module`` built lazily from the first input's shape.

A layer knows its constructor arguments (``get_config``), creates its weights in ``build`` once the input
shape is known, and may consume and produce a boolean mask of valid time steps ``(B, T)``. Shapes are
written with ``None`` for the batch dimension, as Keras does: ``(None, T, I)``.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable
from typing import Any

import torch
from torch import Tensor, nn

Shape = tuple[int | None, ...]

_name_counters: dict[str, itertools.count[int]] = {}


def _auto_name(cls_name: str) -> str:
    base = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", cls_name).lower()
    counter = _name_counters.setdefault(base, itertools.count())
    index = next(counter)
    return base if index == 0 else f"{base}_{index}"


class Layer(nn.Module):
    """Base class of the Keras-face layers.

    Subclasses implement ``build(input_shape)`` (create weights), ``call(x, mask)`` (the computation) and,
    where the layer changes the shape or the mask, ``compute_mask``. ``forward(x, mask=None)`` builds the
    layer on first use, checks the input's trailing shape against the built one, and calls ``call``.

    Args:
        input_shape: the shape of one sample without the batch dimension, e.g. ``(100, 1)``; lets a
            ``Sequential`` build at ``add`` time, as in Keras.
        name: a readable name; one is generated from the class name when omitted.
    """

    #: the dtype of the zeros fed through the layer to build it (``torch.long`` for token ids)
    input_dtype: torch.dtype = torch.float32
    #: whether the layer passes an incoming mask on unchanged (Keras's ``supports_masking``)
    supports_masking: bool = False
    #: whether integer or boolean input is cast to the layer's floating dtype first, as Keras casts inputs to
    #: a layer's compute dtype (off for layers that pass ids on, such as ``Input``)
    casts_input: bool = True

    def __init__(self, *, input_shape: tuple[int | None, ...] | None = None, name: str | None = None) -> None:
        super().__init__()
        if input_shape is not None:
            # None stands for any size (e.g. (None, 8): any number of steps), but not on the feature axis
            if (
                not isinstance(input_shape, tuple | list)
                or not input_shape
                or not all(
                    d is None or (isinstance(d, int) and not isinstance(d, bool) and d > 0)
                    for d in input_shape
                )
                or input_shape[-1] is None
            ):
                raise ValueError(
                    f"{type(self).__name__} input_shape must be a tuple of positive ints (without the batch "
                    f"dimension; None for any number of steps, not for the features), got {input_shape!r}"
                )
            input_shape = tuple(input_shape)
        self.input_shape_arg: tuple[int | None, ...] | None = input_shape
        self.name = name or _auto_name(type(self).__name__)
        self.built = False
        self.built_input_shape: Shape | None = None

    # -- subclass interface -------------------------------------------------------------------------------
    def build(self, input_shape: Shape) -> None:
        """Create the weights for inputs of ``input_shape`` (batch dimension ``None``)."""

    def call(self, x: Tensor, mask: Tensor | None = None) -> Tensor:
        """The layer's computation."""
        raise NotImplementedError

    def compute_mask(self, x: Tensor, mask: Tensor | None) -> Tensor | None:
        """The mask of this layer's output, given its input ``x`` and incoming ``mask``."""
        return mask if self.supports_masking else None

    def get_config(self) -> dict[str, Any]:
        """Constructor arguments that rebuild this layer (JSON-serializable)."""
        config: dict[str, Any] = {"name": self.name}
        if self.input_shape_arg is not None:
            config["input_shape"] = list(self.input_shape_arg)
        return config

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> Layer:
        """Rebuild a layer from :meth:`get_config`'s output (JSON lists become tuples where needed)."""
        kwargs = {k: tuple(v) if k in ("input_shape", "shape") else v for k, v in config.items()}
        factory: Any = cls  # subclasses take their own keyword arguments
        return factory(**kwargs)

    # -- machinery ----------------------------------------------------------------------------------------
    def build_from_shape(self, input_shape: Shape) -> None:
        """Build once; later calls with another trailing shape are rejected by ``forward``."""
        if not self.built:
            self.build(input_shape)
            self.built = True
            self.built_input_shape = self._declared_shape() or self.generic_input_shape(input_shape)

    def generic_input_shape(self, input_shape: Shape) -> Shape:
        """The shapes this layer accepts once built: only the feature (last) axis is fixed by default."""
        if len(input_shape) < 2:
            return (None,)
        return (None, *(None,) * (len(input_shape) - 2), input_shape[-1])

    def forward(self, x: Tensor, mask: Tensor | None = None) -> Tensor:
        if not isinstance(x, Tensor):
            raise TypeError(f"{self.name} expected a torch.Tensor input, got {type(x).__name__}")
        expected = self.built_input_shape if self.built else self._declared_shape()
        if expected is not None:
            self._check_shape(expected, tuple(x.shape))
        if not self.built:
            self.build_from_shape(tuple(x.shape))
        if self.casts_input and self.input_dtype.is_floating_point and not x.is_floating_point():
            floating = (p.dtype for p in self.parameters() if p.is_floating_point())
            x = x.to(next(floating, self.input_dtype))
        return self.call(x, mask)

    def _declared_shape(self) -> Shape | None:
        return None if self.input_shape_arg is None else (None, *self.input_shape_arg)

    def _check_shape(self, expected: Shape, received: tuple[int, ...]) -> None:
        ok = len(expected) == len(received) and all(
            e is None or e == r for e, r in zip(expected[1:], received[1:], strict=True)
        )
        if not ok:
            want = "(B, " + ", ".join("?" if d is None else str(d) for d in expected[1:]) + ")"
            raise ValueError(
                f"layer '{self.name}' ({type(self).__name__}) expected input of shape {want}, got "
                f"{received}; reshape the data or change the layer's input_shape"
            )

    def count_params(self) -> int:
        """Number of weights as Keras counts them (see ``keras_excluded_parameters``)."""
        excluded = set(self.keras_excluded_parameters())
        return sum(p.numel() for n, p in self.named_parameters() if n not in excluded)

    def keras_excluded_parameters(self) -> list[str]:
        """Names of torch parameters that have no Keras counterpart (held at zero, never trained)."""
        return []

    def extra_repr(self) -> str:
        return f"name={self.name!r}"


ActivationFn = Callable[[Tensor], Tensor]

ACTIVATIONS: dict[str, ActivationFn] = {
    "linear": lambda x: x,
    "relu": torch.relu,
    "sigmoid": torch.sigmoid,
    "tanh": torch.tanh,
    "softmax": lambda x: torch.softmax(x, dim=-1),
    "elu": nn.functional.elu,
    "selu": nn.functional.selu,
    "gelu": nn.functional.gelu,
    "softplus": nn.functional.softplus,
    "swish": nn.functional.silu,
    "silu": nn.functional.silu,
    "leaky_relu": nn.functional.leaky_relu,
}


def get_activation(name: str | None) -> ActivationFn:
    """Look up a Keras activation by name (``None`` means linear).

    Raises:
        ValueError: unknown name; the message lists the valid ones.
    """
    if name is None:
        return ACTIVATIONS["linear"]
    if not isinstance(name, str) or name not in ACTIVATIONS:
        valid = ", ".join(sorted(ACTIVATIONS))
        raise ValueError(f"unknown activation {name!r}; expected None or one of {valid}")
    return ACTIVATIONS[name]
