"""Embedding: token ids to dense vectors, optionally marking id 0 as padding for the layers that follow."""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn

from lstmkit.layers.base import Layer, Shape
from lstmkit.ops.dispatch import is_exporting
from lstmkit.utils.validation import check_positive_int


class Embedding(Layer):
    """Look up a learned vector for each token id: ``(B, T) -> (B, T, output_dim)``.

    Args:
        input_dim: vocabulary size; ids must lie in ``[0, input_dim)``.
        output_dim: vector size.
        mask_zero: treat id 0 as padding: the output mask ``(B, T)`` is ``ids != 0``, and recurrent
            layers downstream skip those steps (as Keras).
        input_shape: ``(T,)`` of one sample.
        input_length: Keras 2's spelling of ``input_shape=(input_length,)`` (Keras 3 dropped it).
        name: layer name.

    Example:
        >>> layer = Embedding(10, 4, mask_zero=True)
        >>> ids = torch.tensor([[3, 1, 0, 0]])
        >>> layer(ids).shape, layer.compute_mask(ids, None).tolist()
        (torch.Size([1, 4, 4]), [[True, True, False, False]])
    """

    input_dtype = torch.long
    last_axis_is_features = False  # ids (B, T): input_shape=(None,) is a sequence of any length

    def __init__(
        self,
        input_dim: int,
        output_dim: int,
        mask_zero: bool = False,
        *,
        input_shape: tuple[int, ...] | None = None,
        input_length: int | None = None,
        name: str | None = None,
    ) -> None:
        if input_length is not None:
            length = check_positive_int("Embedding input_length", input_length)
            if input_shape is not None and tuple(input_shape) != (length,):
                raise ValueError(
                    f"Embedding got input_length={length} and input_shape={tuple(input_shape)}; "
                    f"input_length=T means input_shape=(T,): pass one of them"
                )
            input_shape = (length,)
        super().__init__(input_shape=input_shape, name=name)
        self.input_dim = check_positive_int("Embedding input_dim", input_dim)
        self.output_dim = check_positive_int("Embedding output_dim", output_dim)
        self.mask_zero = bool(mask_zero)
        if self.mask_zero and self.input_dim < 2:
            raise ValueError(
                f"Embedding with mask_zero=True needs input_dim >= 2 (id 0 is padding), got {input_dim}"
            )
        self.embeddings = nn.Embedding(self.input_dim, self.output_dim)
        nn.init.uniform_(self.embeddings.weight, -0.05, 0.05)  # Keras's default initializer

    def build(self, input_shape: Shape) -> None:
        """Weights exist from construction; nothing to build."""

    def generic_input_shape(self, input_shape: Shape) -> Shape:
        return (None,) * len(input_shape)  # any number of steps

    def _ids(self, x: Tensor) -> Tensor:
        """``x`` as int32/int64 ids (Keras casts ids to int); ``ValueError`` for non-integer floats."""
        if x.is_floating_point() and not is_exporting():  # (torch.export: symbolic values, no test to make)
            fractional = x != x.round()  # NaN too
            if bool(fractional.any()):
                raise ValueError(
                    f"Embedding '{self.name}' expected integer token ids, got non-integer floats (e.g. "
                    f"{float(x[fractional][0])}); round or cast the ids to integers"
                )
        if x.dtype not in (torch.int32, torch.int64):  # floats, uint8, int16, bool
            x = x.long()
        if is_exporting():  # ONNX's Gather checks its ids
            return x
        if x.numel() and (int(x.min()) < 0 or int(x.max()) >= self.input_dim):
            raise ValueError(
                f"Embedding '{self.name}' expected ids in [0, {self.input_dim - 1}], got values in "
                f"[{int(x.min())}, {int(x.max())}]; raise input_dim to the vocabulary size"
            )
        return x

    def call(self, x: Tensor, mask: Tensor | None = None) -> Tensor:
        return self.embeddings(self._ids(x))

    def compute_mask(self, x: Tensor, mask: Tensor | None) -> Tensor | None:
        return x != 0 if self.mask_zero else None

    def keras_weights(self) -> dict[str, Tensor]:
        return {"embeddings": self.embeddings.weight}  # (input_dim, output_dim)

    def get_config(self) -> dict[str, Any]:
        return {
            **super().get_config(),
            "input_dim": self.input_dim,
            "output_dim": self.output_dim,
            "mask_zero": self.mask_zero,
        }
