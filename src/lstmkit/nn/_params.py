"""The parameters of one LSTM cell (one layer and direction), named and shaped as in ``torch.nn.LSTM``.

Standard parameters keep torch's names and shapes, so ``load_state_dict`` from torch works; variants only
add parameters:

===================  ===========  ===========================================================
name                 shape        meaning
===================  ===========  ===========================================================
``weight_ih``        ``(4H, I)``  input weights, gate rows i, f, g, o
``weight_hh``        ``(4H, R)``  recurrent weights
``bias_ih``          ``(4H,)``    input bias (with ``bias=True``)
``bias_hh``          ``(4H,)``    recurrent bias (with ``bias=True``)
``weight_hr``        ``(P, H)``   projection (with ``proj_size > 0``)
``weight_peephole``  ``(3, H)``   diagonal peepholes into i, f, o (with ``peephole=True``)
``ln_affine``        ``(2, 9H)``  layer-norm gains (row 0) and biases (row 1) of ``W_ih x``
                                  (columns ``0:4H``), ``W_hh h`` (``4H:8H``) and ``c`` before the
                                  output tanh (``8H:9H``) (with ``layer_norm=True``)
===================  ===========  ===========================================================

The six layer-norm vectors are one parameter because an optimizer step costs per tensor: torch's Adam on
CPU spends ~35-60 us on each, so six small tensors cost more than all of their arithmetic (see
``lstmkit.ops.types.layer_norm_parts`` for views of each). Files written with the six separate
``ln_weight_*`` / ``ln_bias_*`` parameters of lstmkit 0.1 load as before (:func:`pack_layer_norm_keys`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import torch
from torch import Tensor, nn

from lstmkit.ops.types import layer_norm_parts

OLD_LAYER_NORM = tuple(f"ln_{kind}_{part}" for part in ("ih", "hh", "c") for kind in ("weight", "bias"))
"""lstmkit 0.1's six layer-norm parameters of a cell, in their registration order (a gain, then its
bias, per norm): the order of their keys in a state dict and of their entries in an optimizer."""


def cell_parameters(
    input_size: int,
    hidden_size: int,
    *,
    proj_size: int = 0,
    bias: bool = True,
    peephole: bool = False,
    layer_norm: bool = False,
    factory: dict[str, Any] | None = None,
) -> dict[str, nn.Parameter]:
    """Create (uninitialized) parameters of one cell, in torch's registration order, then the variants'."""
    kw = factory or {}
    rec = proj_size if proj_size > 0 else hidden_size
    gates = 4 * hidden_size
    shapes: dict[str, tuple[int, ...]] = {"weight_ih": (gates, input_size), "weight_hh": (gates, rec)}
    if bias:
        shapes |= {"bias_ih": (gates,), "bias_hh": (gates,)}
    if proj_size > 0:
        shapes["weight_hr"] = (proj_size, hidden_size)
    if peephole:
        shapes["weight_peephole"] = (3, hidden_size)
    if layer_norm:
        shapes["ln_affine"] = (2, 9 * hidden_size)
    return {name: nn.Parameter(torch.empty(shape, **kw)) for name, shape in shapes.items()}


@torch.no_grad()
def init_cell_parameters(params: dict[str, nn.Parameter], hidden_size: int, forget_bias: float = 0.0) -> None:
    """Initialize as torch does: every weight and bias ``U(-1/√H, 1/√H)``; layer-norm gains 1, biases 0.

    ``forget_bias`` is then added to the forget gate's slice of ``bias_ih`` (Jozefowicz et al. 2015
    advise 1.0), or of the ``LN_ih`` bias (``ln_affine[1, :4H]``) when the layer has no biases but has
    layer norm.
    """
    bound = 1.0 / math.sqrt(hidden_size) if hidden_size > 0 else 0.0
    for name, param in params.items():
        if name == "ln_affine":
            param[0].fill_(1.0)
            param[1].zero_()
        else:
            param.uniform_(-bound, bound)
    if forget_bias:
        ln_affine = params.get("ln_affine")
        target = params.get("bias_ih", None if ln_affine is None else layer_norm_parts(ln_affine).ih_bias)
        if target is None:
            raise ValueError(
                f"forget_bias={forget_bias} needs a bias to add to; got bias=False without layer_norm. "
                "Set bias=True or forget_bias=0.0"
            )
        target[hidden_size : 2 * hidden_size] += forget_bias


def pack_old_layer_norm(parts: Sequence[Tensor]) -> Tensor:
    """lstmkit 0.1's six layer-norm tensors of a cell, in :data:`OLD_LAYER_NORM`'s order, as one
    ``(2, 9H)`` ``ln_affine``: the gains in row 0, the biases in row 1 (weights, or an optimizer's
    per-parameter state such as Adam's moments, which are laid out alike)."""
    flat = [part.reshape(-1) for part in parts]
    gains, biases = torch.cat(flat[0::2]), torch.cat(flat[1::2])
    if len(flat) != len(OLD_LAYER_NORM) or gains.shape != biases.shape:
        sizes = [part.numel() for part in flat]
        raise ValueError(
            f"expected lstmkit 0.1's six layer-norm vectors (4H, 4H, 4H, 4H, H, H), got sizes {sizes}"
        )
    return torch.stack([gains, biases])


def pack_layer_norm_keys(state_dict: dict[str, Tensor], prefix: str, suffixes: list[str]) -> None:
    """Rewrite, in place, a state dict of lstmkit 0.1 (six layer-norm vectors per cell, named
    ``{prefix}ln_weight_ih{suffix}`` ...) into one ``{prefix}ln_affine{suffix}`` per cell.

    Cells with none of the old names are left alone; a cell with only some of them keeps them, so that
    ``load_state_dict`` reports them as unexpected and the packed one as missing.
    """
    for suffix in suffixes:
        keys = [f"{prefix}{name}{suffix}" for name in OLD_LAYER_NORM]
        if all(key in state_dict for key in keys):
            state_dict[f"{prefix}ln_affine{suffix}"] = pack_old_layer_norm([state_dict.pop(k) for k in keys])
