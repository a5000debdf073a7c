"""``Sequential``: a plain stack of layers, with masks flowing from layer to layer."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import torch
from torch import Tensor, nn

from lstmkit.layers.base import Layer, Shape
from lstmkit.models.model import PROBE_STEPS, Model, probe_dims, probe_until_fits


class LayerStack(nn.Module):
    """Runs layers in order; each Keras-face layer receives the mask the previous ones produced.

    ``output_shapes`` records each layer's output shape (batch dimension ``None``) for ``summary``;
    ``output_mask`` keeps the mask of the last output ``(B, T)`` (or ``None``), so the loss can skip padding.
    """

    def __init__(self) -> None:
        super().__init__()
        self.layers = nn.ModuleList()
        self.output_shapes: list[Shape] = []
        self.output_mask: Tensor | None = None

    def forward(self, x: Tensor) -> Any:
        mask: Tensor | None = None
        record = len(self.output_shapes) != len(self.layers)
        shapes: list[Shape] = []
        for layer in self.layers:
            if isinstance(layer, Layer):
                x_in = x
                x = layer(x_in, mask)
                mask = layer.compute_mask(x_in, mask)
            else:
                x = layer(x)
                mask = None
            if record:
                shapes.append(_shape_of(x))
        if record:
            self.output_shapes = shapes
        self.output_mask = mask
        return x


def _shape_of(x: Any) -> Shape:
    if isinstance(x, Tensor):
        return (None, *x.shape[1:])
    return tuple(_shape_of(t) for t in x)  # type: ignore[misc]


def _merge_shapes(*shapes: Any) -> Any:
    """One shape from the shapes of the same output in several runs: ``None`` where they differ."""
    first = shapes[0]
    if all(isinstance(s, tuple) for s in shapes) and len({len(s) for s in shapes}) == 1:
        return tuple(_merge_shapes(*parts) for parts in zip(*shapes, strict=True))
    return first if all(s == first for s in shapes) else None


class Sequential(Model):
    """A linear stack of layers (Keras's ``Sequential``); ``model.module`` is the underlying ``nn.Module``.

    The model is built (its weights created) as soon as the input shape is known: from the first layer's
    ``input_shape`` (or an :class:`~lstmkit.layers.Input`), from ``build``, or from the first data seen.

    Args:
        layers: initial layers (Keras-face layers or any ``nn.Module``).
        name: model name.

    Example:
        >>> from lstmkit.layers import Dense, LSTM
        >>> model = Sequential()
        >>> model.add(LSTM(50, input_shape=(100, 1)))
        >>> model.add(Dense(1))
        >>> model.count_params()
        10451
    """

    def __init__(self, layers: Iterable[nn.Module] | None = None, *, name: str = "sequential") -> None:
        super().__init__(LayerStack(), name=name)
        for layer in layers or []:
            self.add(layer)

    @property
    def stack(self) -> LayerStack:
        assert isinstance(self.module, LayerStack)
        return self.module

    @property
    def layers(self) -> list[nn.Module]:
        return list(self.stack.layers)

    def add(self, layer: nn.Module) -> None:
        """Append a layer; if the input shape is already known, build it now (as Keras does).

        Raises:
            TypeError: not an ``nn.Module``.
            ValueError: a layer with ``return_state=True`` (its output is a tuple; use ``Model`` instead).
        """
        if not isinstance(layer, nn.Module):
            raise TypeError(f"Sequential.add expects a layer (torch.nn.Module), got {type(layer).__name__}")
        if getattr(layer, "return_state", False):
            raise ValueError(
                f"layer '{getattr(layer, 'name', layer)}' has return_state=True, which returns several "
                f"tensors; Sequential passes one tensor between layers. Wrap a custom nn.Module in Model "
                f"instead"
            )
        if self.optimizer is not None:
            raise RuntimeError("cannot add layers after training started; build a new Sequential")
        self.stack.layers.append(layer)
        self.stack.output_shapes = []
        shape = self.declared_input_shape
        if shape is not None:
            self.build(shape)

    @property
    def declared_input_shape(self) -> Shape | None:
        """``(None, *input_shape)`` from the first layer, if it declares one."""
        if not self.layers:
            return None
        first = self.layers[0]
        declared = getattr(first, "input_shape_arg", None)
        return None if declared is None else (None, *declared)

    def build(self, input_shape: Any) -> None:
        if not self.layers:
            raise ValueError("Sequential has no layers; add() some before building")
        if self.built and self.stack.output_shapes:
            return
        free = any(d is None for d in list(input_shape)[1:])
        was_training = self.module.training
        self.module.eval()
        try:
            # both lengths of a pair where the length is free (which axes follow it), one run otherwise
            recorded = probe_until_fits(
                input_shape,
                PROBE_STEPS,
                lambda pair: [self._probe(input_shape, steps) for steps in (pair if free else pair[:1])],
            )
            self.stack.output_shapes = [_merge_shapes(*shapes) for shapes in zip(*recorded, strict=True)]
        finally:
            self.module.train(was_training)
        self.build_shape = tuple(None if d is None else int(d) for d in input_shape)
        self.module.to(self.device)
        self.reset_states()

    def _probe(self, input_shape: Any, steps: int) -> list[Shape]:
        """Run zeros of ``input_shape`` (``steps`` for its free axes) through the stack: its output shapes."""
        sample = torch.zeros(probe_dims(input_shape, steps), dtype=self._input_dtype())
        self.stack.output_shapes = []  # recorded afresh by this run
        with torch.no_grad():
            self.module(sample.to(self.device))
        return self.stack.output_shapes

    def _build_from(self, sample: Tensor) -> None:
        if not self.layers:
            raise ValueError("Sequential has no layers; add() some before fit/predict")
        if not self.built:
            self.build((None, *sample.shape[1:]))

    def get_config(self) -> dict[str, Any]:
        """Rebuildable description of the layers (every layer must be a Keras-face layer)."""
        configs = []
        for layer in self.layers:
            if not isinstance(layer, Layer):
                raise TypeError(
                    f"cannot describe a plain {type(layer).__name__} in a saved Sequential; "
                    "use lstmkit.layers"
                )
            configs.append({"class_name": type(layer).__name__, "config": layer.get_config()})
        return {"name": self.name, "layers": configs}
