"""A model's weights and files: Keras's weight access, summary, saving and ONNX export, for ``Model``."""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from torch import Tensor, nn

from lstmkit.layers.base import Layer, module_weights, set_module_weights, to_numpy
from lstmkit.models.data import to_tensor

if TYPE_CHECKING:
    from lstmkit.export import ExportReport

#: the batch and, where the model leaves it free, the number of steps of the example an export makes up
EXAMPLE_BATCH, EXAMPLE_STEPS = 2, 5


class ModelIO:
    """Weights in Keras's layout, summary, files and ONNX export, for :class:`lstmkit.models.Model`.

    Reads ``module`` (the network), ``name``, ``input_signature``, ``build_shape``, ``built`` and
    ``_require_built`` from the model.
    """

    module: nn.Module
    name: str
    input_signature: tuple[tuple[int, ...], torch.dtype] | None
    #: the shape ``build`` was given, batch axis included (a ``Sequential``'s; ``None`` until built)
    build_shape: tuple[int | None, ...] | None = None

    @property
    def built(self) -> bool:
        raise NotImplementedError  # Model's

    def _require_built(self, what: str) -> None:
        raise NotImplementedError  # Model's

    def keras_excluded_names(self) -> set[str]:
        """Names in ``module`` of the torch parameters Keras has none of (torch-only zero biases)."""
        return {
            f"{prefix}.{name}" if prefix else name
            for prefix, layer in self.module.named_modules()
            if isinstance(layer, Layer)
            for name in layer.keras_excluded_parameters()
        }

    def count_params(self) -> int:
        """Weights as Keras counts them: torch-only zero biases of recurrent layers excluded, a batch norm's
        moving statistics included (non-trainable)."""
        excluded = self.keras_excluded_names()
        state = sum(
            b.numel()
            for layer in self.module.modules()
            if isinstance(layer, Layer)
            for b in layer.keras_state()
        )
        return sum(p.numel() for n, p in self.module.named_parameters() if n not in excluded) + state

    def get_weights(self) -> list[np.ndarray]:
        """Every weight as a NumPy array: the layers' in order, each layer's in Keras's order and layout
        (see :meth:`lstmkit.layers.Layer.get_weights`); plain torch modules' parameters in torch's layout."""
        self._require_built("get_weights")
        return [to_numpy(w) for _, w in module_weights(self.module)]

    def set_weights(self, weights: Sequence[Any]) -> None:
        """Set every weight from arrays ordered and laid out as :meth:`get_weights` returns them.

        Raises:
            ValueError: the model is not built; a wrong number of arrays or a wrong shape (the message names
                the index, the layer and weight, the expected and the received shape). Nothing is written
                unless every array fits.
            TypeError: ``weights`` is not a list, or an entry is not an array of real numbers.
        """
        self._require_built("set_weights")
        set_module_weights(self.module, weights, f"model '{self.name}'")

    def summary(self, print_fn: Callable[[str], Any] | None = print) -> str | None:
        """Layers, output shapes and parameter counts, as Keras's ``summary``: handed to ``print_fn`` and
        ``None`` returned (as Keras, so a notebook does not show it twice), or returned with
        ``print_fn=None``."""
        from lstmkit.models.summary import summarize

        text = summarize(self)  # type: ignore[arg-type]  # (self is a Model)
        if print_fn is None:
            return text
        print_fn(text)
        return None

    def save(self, path: str | os.PathLike[str]) -> None:
        """Write config, weights and optimizer state to one safetensors file, atomically."""
        from lstmkit.models.saving import save_model

        save_model(self, path)  # type: ignore[arg-type]  # (self is a Model)

    def save_weights(self, path: str | os.PathLike[str]) -> None:
        """Write only the weights (one safetensors file)."""
        from lstmkit.models.saving import save_weights

        save_weights(self, path)  # type: ignore[arg-type]

    def load_weights(self, path: str | os.PathLike[str]) -> None:
        """Load weights saved by ``save_weights`` or ``save`` into this (built) model."""
        from lstmkit.models.saving import load_weights

        self._require_built("load weights")
        load_weights(self, path)  # type: ignore[arg-type]

    def export(
        self,
        path: str | os.PathLike[str],
        format: str = "onnx",
        *,
        example_input: Any = None,
        dynamic_batch: bool = True,
        dynamic_steps: bool | None = None,
        opset: int | None = None,
        check: bool = True,
        atol: float = 1e-4,
    ) -> ExportReport:
        """Write the network's inference graph to an ONNX file, as Keras 3's ``model.export(path,
        format="onnx")``, after checking it in onnxruntime against PyTorch (:func:`lstmkit.export.to_onnx`).

        The graph takes ``input`` ``(B, *input_shape)`` and returns ``output``, with a free batch axis and,
        unless the first layer's ``input_shape`` fixes it, a free time axis.

        Args:
            path: the ``.onnx`` file to write (its folder must exist).
            format: ``"onnx"``, the one format supported.
            example_input: one batch of inputs (tensor or array); made up from the model's input shape
                when omitted, which needs a built model (for a ``Model`` around a custom module: one that
                has been called, by ``fit`` or ``model(x)``, whose first input gives the shape).
            dynamic_batch: leave the batch axis free.
            dynamic_steps: leave the time axis free; ``None``: free unless ``input_shape`` fixes it.
            opset: ONNX operator set version; ``None`` for the exporter's default.
            check: compare onnxruntime's outputs with PyTorch's before writing.
            atol: the largest absolute difference the check accepts.

        Returns:
            The :class:`~lstmkit.export.ExportReport`.

        Raises:
            ValueError: another format; an unbuilt (or, around a custom module, never called) model without
                ``example_input``; a layer with masks or
                ``stateful=True``; and what :func:`~lstmkit.export.to_onnx` raises.
        """
        from lstmkit.export import to_onnx

        if format != "onnx":
            raise ValueError(
                f"model.export supports format='onnx', got {format!r} (Keras's 'tf_saved_model' and "
                f"'openvino' formats need TensorFlow or OpenVINO)"
            )
        if example_input is None:
            if not self.built:
                raise ValueError(
                    f"model '{self.name}' is not built yet, so its input shape is unknown; pass "
                    f"example_input=..., call build(input_shape), or give the first layer input_shape=..."
                )
            example_input = self.example_input_array
            if example_input is None:  # a custom module (no lstmkit layer to read a shape from), not yet run
                raise ValueError(
                    f"model '{self.name}' wraps a {type(self.module).__name__} that has not been called yet, "
                    f"so its input shape is unknown; pass example_input=..., or call the model on a batch "
                    f"(model(x)) or fit it first"
                )
        elif not isinstance(example_input, Tensor | tuple):
            example_input = to_tensor("example_input", example_input)
        steps = self._free_steps() if dynamic_steps is None else dynamic_steps
        return to_onnx(
            self.module,
            path,
            example_input,
            dynamic_batch=dynamic_batch,
            dynamic_steps=steps,
            opset=opset,
            check=check,
            atol=atol,
        )

    @property
    def example_input_array(self) -> Tensor | None:
        """A made-up batch of inputs for export: batch 2, the first layer's input shape (5 steps where the
        number is free), standard normal floats or zero ids; for a custom module without lstmkit layers,
        the shape and dtype of the first input the model was called on. ``None`` until the shape is known."""
        first = self._first_layer()
        # what the model was built for (a Sequential's build), or what its first layer fixes: a layer that
        # fixes no axis (Dropout, Activation, ...) leaves the features to the next
        built = self.build_shape
        if built is None and first is not None and first.built_input_shape is not None:
            built = first.built_input_shape if first.fixes_features or self.input_signature is None else None
        if built is not None and first is not None:
            sample, input_dtype = (
                tuple(EXAMPLE_STEPS if d is None else d for d in built[1:]),
                first.input_dtype,
            )
        elif self.input_signature is not None:
            sample, input_dtype = self.input_signature
        else:
            return None
        from lstmkit.export.signature import random_like_module

        dims = [EXAMPLE_BATCH, *sample]
        values = random_like_module(self.module, dims)  # the weights' dtype and device
        return values if input_dtype.is_floating_point else torch.zeros_like(values, dtype=input_dtype)

    def _first_layer(self) -> Layer | None:
        return next((m for m in self.module.modules() if isinstance(m, Layer)), None)

    def _free_steps(self) -> bool:
        """Whether the model takes any number of steps: the first layer's input shape does not fix axis 1."""
        first = self._first_layer()
        shape = None if first is None else first.built_input_shape or first._declared_shape()
        return shape is None or len(shape) < 2 or shape[1] is None
