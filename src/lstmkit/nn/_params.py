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
``ln_weight_ih``     ``(4H,)``    layer-norm gain and bias of ``W_ih x`` (with ``layer_norm=True``)
``ln_bias_ih``       ``(4H,)``
``ln_weight_hh``     ``(4H,)``    layer-norm gain and bias of ``W_hh h``
``ln_bias_hh``       ``(4H,)``
``ln_weight_c``      ``(H,)``     layer-norm gain and bias of ``c`` before the output tanh
``ln_bias_c``        ``(H,)``
===================  ===========  ===========================================================
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import nn


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
        for part, size in (("ih", gates), ("hh", gates), ("c", hidden_size)):
            shapes |= {f"ln_weight_{part}": (size,), f"ln_bias_{part}": (size,)}
    return {name: nn.Parameter(torch.empty(shape, **kw)) for name, shape in shapes.items()}


@torch.no_grad()
def init_cell_parameters(params: dict[str, nn.Parameter], hidden_size: int, forget_bias: float = 0.0) -> None:
    """Initialize as torch does: every weight and bias ``U(-1/√H, 1/√H)``; layer-norm gains 1, biases 0.

    ``forget_bias`` is then added to the forget gate's slice of ``bias_ih`` (Jozefowicz et al. 2015
    advise 1.0), or of ``ln_bias_ih`` when the layer has no biases but has layer norm.
    """
    bound = 1.0 / math.sqrt(hidden_size) if hidden_size > 0 else 0.0
    for name, param in params.items():
        if name.startswith("ln_weight"):
            param.fill_(1.0)
        elif name.startswith("ln_bias"):
            param.zero_()
        else:
            param.uniform_(-bound, bound)
    if forget_bias:
        target = params.get("bias_ih", params.get("ln_bias_ih"))
        if target is None:
            raise ValueError(
                f"forget_bias={forget_bias} needs a bias to add to; got bias=False without layer_norm. "
                "Set bias=True or forget_bias=0.0"
            )
        target[hidden_size : 2 * hidden_size] += forget_bias
