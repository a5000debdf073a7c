"""Layer wrappers: Bidirectional (a recurrent layer both ways) and TimeDistributed (a layer per step)."""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from lstmkit.layers.base import Layer, Shape
from lstmkit.layers.recurrent import Recurrent
from lstmkit.utils.validation import check_choice

MERGE_MODES = ("concat", "sum", "mul", "ave")


class Bidirectional(Layer):
    """Run a recurrent layer forwards and a copy of it backwards, and merge the two outputs.

    ``y = merge(forward(x), reverse_time(backward(reverse_time(x))))`` with masks respected: each
    sequence's backward pass starts at its own last valid step.

    Args:
        layer: an ``LSTM``, ``GRU`` or ``SimpleRNN``; the backward copy has the same config with
            ``go_backwards`` flipped and its own weights.
        merge_mode: ``'concat'`` (default, ``2H`` features), ``'sum'``, ``'mul'`` or ``'ave'``.
        input_shape: ``(T, I)`` of one sample.
        name: layer name.

    Example:
        >>> from lstmkit.layers import LSTM
        >>> layer = Bidirectional(LSTM(3, return_sequences=True))
        >>> layer(torch.zeros(2, 5, 4)).shape, layer.count_params()
        (torch.Size([2, 5, 6]), 192)
    """

    supports_masking = True

    def __init__(
        self,
        layer: Recurrent,
        merge_mode: str = "concat",
        *,
        input_shape: tuple[int, ...] | None = None,
        name: str | None = None,
    ) -> None:
        if not isinstance(layer, Recurrent):
            raise TypeError(
                f"Bidirectional wraps an LSTM, GRU or SimpleRNN layer, got {type(layer).__name__}"
            )
        if layer.built:
            raise ValueError(
                "Bidirectional needs an unbuilt layer (it creates the backward copy from its config)"
            )
        super().__init__(input_shape=input_shape or layer.input_shape_arg, name=name)
        self.merge_mode = check_choice("merge_mode", merge_mode, MERGE_MODES)
        config = layer.get_config()
        config.update(name=f"backward_{layer.name}", go_backwards=not layer.go_backwards)
        config.pop("input_shape", None)
        self.forward_layer = layer
        backward = type(layer).from_config(config)
        assert isinstance(backward, Recurrent)  # from_config rebuilds the class it is called on
        self.backward_layer = backward
        self.return_sequences, self.return_state = layer.return_sequences, layer.return_state

    def build(self, input_shape: Shape) -> None:
        self.forward_layer.build_from_shape(input_shape)
        self.backward_layer.build_from_shape(input_shape)

    def reset_states(self) -> None:
        """Forget the state both directions carry between batches (``stateful=True``), as Keras's."""
        self.forward_layer.reset_states()
        self.backward_layer.reset_states()

    def _merge(self, a: Tensor, b: Tensor) -> Tensor:
        if self.merge_mode == "concat":
            return torch.cat([a, b], dim=-1)
        if self.merge_mode == "sum":
            return a + b
        if self.merge_mode == "mul":
            return a * b
        return (a + b) / 2

    def call(self, x: Tensor, mask: Tensor | None = None) -> Any:
        forward, backward = self.forward_layer(x, mask), self.backward_layer(x, mask)
        states: tuple[Tensor, ...] = ()
        if self.return_state:
            (forward, *fw_states), (backward, *bw_states) = forward, backward
            states = (*fw_states, *bw_states)
        if self.return_sequences:
            backward = backward.flip(1)  # back to the input's time order
        merged = self._merge(forward, backward)
        return (merged, *states) if self.return_state else merged

    def compute_mask(self, x: Tensor, mask: Tensor | None) -> Tensor | None:
        return mask if self.return_sequences else None

    def count_params(self) -> int:
        return self.forward_layer.count_params() + self.backward_layer.count_params()

    def keras_excluded_parameters(self) -> list[str]:
        return [f"forward_layer.{n}" for n in self.forward_layer.keras_excluded_parameters()] + [
            f"backward_layer.{n}" for n in self.backward_layer.keras_excluded_parameters()
        ]

    def keras_weights(self) -> dict[str, Tensor]:
        """The forward layer's weights, then the backward layer's (as Keras), named ``<layer>/<weight>``."""
        layers = (self.forward_layer, self.backward_layer)
        return {f"{layer.name}/{key}": w for layer in layers for key, w in layer.keras_weights().items()}

    def load_keras_weights(self, weights: list[Tensor]) -> None:
        count = len(self.forward_layer.keras_weights())
        self.forward_layer.load_keras_weights(weights[:count])
        self.backward_layer.load_keras_weights(weights[count:])

    def get_config(self) -> dict[str, Any]:
        inner = {"class_name": type(self.forward_layer).__name__, "config": self.forward_layer.get_config()}
        return {**super().get_config(), "layer": inner, "merge_mode": self.merge_mode}

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> Bidirectional:
        from lstmkit.layers import LAYERS

        config = dict(config)
        inner = config.pop("layer")
        trainable = bool(config.pop("trainable", True))
        layer = LAYERS[inner["class_name"]].from_config(inner["config"])
        if not isinstance(layer, Recurrent):
            raise ValueError(f"Bidirectional config wraps {inner['class_name']}, not a recurrent layer")
        wrapper = cls(layer, **_shapes_as_tuples(config))
        if not trainable:  # (True would unfreeze an inner layer the file froze)
            wrapper.trainable = False
        return wrapper


class TimeDistributed(Layer):
    """Apply a layer to every time step: ``(B, T, ...) -> (B, T, ...)`` with the step folded into the batch.

    Example:
        >>> from lstmkit.layers import Dense
        >>> TimeDistributed(Dense(2))(torch.zeros(3, 4, 5)).shape
        torch.Size([3, 4, 2])
    """

    supports_masking = True

    def __init__(
        self, layer: Layer, *, input_shape: tuple[int, ...] | None = None, name: str | None = None
    ) -> None:
        if not isinstance(layer, Layer):
            raise TypeError(f"TimeDistributed wraps an lstmkit layer, got {type(layer).__name__}")
        if getattr(layer, "return_state", False):
            raise ValueError(
                f"TimeDistributed wraps layers that return one tensor, and {type(layer).__name__} "
                f"'{layer.name}' returns a tuple (output, *states) because return_state=True; set "
                f"return_state=False"
            )
        super().__init__(input_shape=input_shape, name=name)
        self.layer = layer

    def build(self, input_shape: Shape) -> None:
        if len(input_shape) < 3:
            raise ValueError(f"TimeDistributed expects input of shape (B, T, ...), got {input_shape}")
        self.layer.build_from_shape((None, *input_shape[2:]))

    def call(self, x: Tensor, mask: Tensor | None = None) -> Tensor:
        batch, steps = x.shape[:2]
        y = self.layer(x.reshape(batch * steps, *x.shape[2:]))  # (B*T, ...)
        return y.reshape(batch, steps, *y.shape[1:])

    def count_params(self) -> int:
        return self.layer.count_params()

    def keras_weights(self) -> dict[str, Tensor]:
        return self.layer.keras_weights()

    def load_keras_weights(self, weights: list[Tensor]) -> None:
        self.layer.load_keras_weights(weights)

    def get_config(self) -> dict[str, Any]:
        inner = {"class_name": type(self.layer).__name__, "config": self.layer.get_config()}
        return {**super().get_config(), "layer": inner}

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> TimeDistributed:
        from lstmkit.layers import LAYERS

        config = dict(config)
        inner = config.pop("layer")
        trainable = bool(config.pop("trainable", True))
        wrapper = cls(LAYERS[inner["class_name"]].from_config(inner["config"]), **_shapes_as_tuples(config))
        if not trainable:  # (True would unfreeze an inner layer the file froze)
            wrapper.trainable = False
        return wrapper


def _shapes_as_tuples(config: dict[str, Any]) -> dict[str, Any]:
    return {k: tuple(v) if k in ("input_shape", "shape") else v for k, v in config.items()}
