"""Keras-style model summaries: one row per layer with output shape and parameter count."""

from __future__ import annotations

from typing import TYPE_CHECKING

from torch import nn

from lstmkit.layers.base import Layer
from lstmkit.layers.core import Input

if TYPE_CHECKING:
    from lstmkit.models.model import Model


def _params(module: nn.Module) -> int:
    if isinstance(module, Layer):
        return module.count_params()
    return sum(p.numel() for p in module.parameters())


def _trainable(module: nn.Module, excluded: set[str]) -> int:
    return sum(p.numel() for n, p in module.named_parameters() if p.requires_grad and n not in excluded)


def summarize(model: Model) -> str:
    """The summary text; layers that are not built yet show ``?`` shapes and 0 parameters."""
    from lstmkit.models.sequential import Sequential

    rows: list[tuple[str, str, int]] = []
    if isinstance(model, Sequential):
        shapes = model.stack.output_shapes
        for index, layer in enumerate(model.layers):
            if isinstance(layer, Input):
                continue  # Keras lists no row for the input declaration
            name = getattr(layer, "name", str(index))
            shape = str(shapes[index]) if index < len(shapes) else "?"
            rows.append((f"{name} ({type(layer).__name__})", shape, _params(layer)))
    else:
        for name, child in model.module.named_children():
            rows.append((f"{name} ({type(child).__name__})", "?", _params(child)))
        if not rows:
            rows.append((f"module ({type(model.module).__name__})", "?", _params(model.module)))
    total = model.count_params()
    trainable = _trainable(model.module, model.keras_excluded_names())
    width = (max(32, *(len(r[0]) + 2 for r in rows)), max(26, *(len(r[1]) + 2 for r in rows)), 12)
    rule = "=" * sum(width)
    lines = [f'Model: "{model.name}"', "_" * sum(width)]
    lines.append(f"{'Layer (type)':<{width[0]}}{'Output Shape':<{width[1]}}{'Param #':>{width[2]}}")
    lines.append(rule)
    for label, shape, count in rows:
        lines.append(f"{label:<{width[0]}}{shape:<{width[1]}}{count:>{width[2]},}")
    lines.append(rule)
    lines.append(f"Total params: {total:,}")
    lines.append(f"Trainable params: {trainable:,}")
    lines.append(f"Non-trainable params: {total - trainable:,}")
    lines.append("_" * sum(width))
    return "\n".join(lines)
