"""Gradient flow over time: how strongly the loss at the end reaches back to each earlier step.

For a loss ``L`` computed from a model's output on ``x`` ``(B, T, I)``, :func:`gradient_flow` returns, at
every step ``t``, the norm of ``∂L/∂x_t`` and, for each LSTM layer and direction it finds, of the total
derivative ``∂L/∂h_t`` (through every later step). If gradients vanish (Hochreiter 1991; Bengio et al.
1994), these norms decay exponentially with the lag ``T - 1 - t``; the LSTM's constant error carousel
keeps them from doing so (Hochreiter & Schmidhuber 1997).

Implementation notes:
    ``∂L/∂h_t`` is measured by re-running each LSTM module with the reference recurrence
    (:func:`lstmkit.ops.reference.lstm_step`) and the module's own parameters, adding a zero tensor
    ``δ_t`` to ``h_t`` at every step; ``∂L/∂δ_t = ∂L/∂h_t``. The re-run is swapped in by a forward hook
    that exists only during the call, so the model itself is unchanged. Norms are averaged over the batch:
    ``‖∂L/∂x_t‖`` is ``mean_b ‖∂L/∂x_{b,t}‖_2``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from lstmkit.inspect.record import as_input_tensor, find_lstms, rerun_lstm, unwrap


@dataclass(frozen=True)
class GradientFlow:
    """Per-step gradient norms.

    Attributes:
        input_norm: ``(T,)`` batch mean of ``‖∂L/∂x_t‖_2``.
        hidden_norm: for each LSTM found, keyed ``"<module name>/l<layer>/<direction>"`` (module name
            ``""`` for the model itself), ``(T,)`` batch mean of ``‖∂L/∂h_t‖_2``, indexed by time ``t``
            (also for the reverse direction).
    """

    input_norm: np.ndarray
    hidden_norm: dict[str, np.ndarray] = field(default_factory=dict)

    @property
    def lag(self) -> np.ndarray:
        """``(T,)`` the lag ``T - 1 - t`` of each step from the last one."""
        steps = len(self.input_norm)
        return np.arange(steps - 1, -1, -1)


def gradient_flow(
    model: nn.Module,
    x: Tensor | np.ndarray,
    loss: Callable[[Any], Tensor],
    *,
    batch_first: bool = True,
    hidden: bool = True,
) -> GradientFlow:
    """Norms of the gradient of ``loss(model(x))`` w.r.t. the input and the hidden states at every step.

    Args:
        model: any ``nn.Module`` (or an lstmkit Keras-face model; its ``.module`` is used) that takes
            ``x`` as its first argument. Gradients are taken in eval mode; the mode is restored.
        x: float input, ``(B, T, I)`` if ``batch_first`` else ``(T, B, I)``; token ids are not supported.
        loss: maps the model's output to a scalar tensor.
        batch_first: layout of ``x`` (where its time axis is).
        hidden: also measure ``∂L/∂h_t`` for every LSTM (``lstmkit.nn.LSTM`` or ``torch.nn.LSTM``) inside.

    Returns:
        The per-step norms.

    Raises:
        TypeError: ``x`` is not a float tensor or array, or ``loss`` does not return a tensor.
        ValueError: ``x`` is not 3-D, or the loss is not a scalar.

    Example:
        >>> net = nn.LSTM(2, 4, batch_first=True)
        >>> flow = gradient_flow(net, torch.randn(3, 6, 2), lambda out: out[0][:, -1].sum())
        >>> flow.input_norm.shape, sorted(flow.hidden_norm)
        ((6,), ['/l0/forward'])
    """
    module = unwrap(model)
    xt = as_input_tensor(x, module, name="x").detach().clone().requires_grad_(True)
    if xt.dim() != 3:
        raise ValueError(
            f"gradient_flow expected x of 3 dimensions (B, T, I) or (T, B, I), got {tuple(xt.shape)}"
        )
    time_axis = 1 if batch_first else 0
    deltas: dict[str, Tensor] = {}
    handles = []
    if hidden:
        for name, lstm in find_lstms(module):
            handles.append(lstm.register_forward_hook(_perturbing_hook(name, deltas), with_kwargs=True))
    was_training = module.training
    module.eval()
    try:
        output = module(xt)
        value = loss(output)
        if not isinstance(value, Tensor):
            raise TypeError(f"loss must return a torch.Tensor, got {type(value).__name__}")
        if value.numel() != 1:
            raise ValueError(f"loss must return a scalar, got a tensor of shape {tuple(value.shape)}")
        leaves = [xt, *deltas.values()]
        grads = torch.autograd.grad(value, leaves, allow_unused=True)
    finally:
        for handle in handles:
            handle.remove()
        module.train(was_training)
    grad_x = grads[0] if grads[0] is not None else torch.zeros_like(xt)
    input_norm = grad_x.norm(dim=-1).mean(dim=1 - time_axis)  # (T,)
    hidden_norm: dict[str, np.ndarray] = {}
    for (key, delta), grad in zip(deltas.items(), grads[1:], strict=True):
        g = grad if grad is not None else torch.zeros_like(delta)  # (B, T, R)
        hidden_norm[key] = g.norm(dim=-1).mean(dim=0).numpy()  # (T,)
    return GradientFlow(input_norm.detach().numpy(), hidden_norm)


def _perturbing_hook(name: str, deltas: dict[str, Tensor]) -> Callable[..., Any]:
    """A forward hook: the module's output becomes a reference re-run with ``δ_t`` added to ``h_t``."""
    calls = [0]

    def hook(mod: nn.Module, args: tuple[Any, ...], kwargs: dict[str, Any], output: Any) -> Any:
        x = args[0] if args else kwargs["input"]
        hx = args[1] if len(args) > 1 else kwargs.get("hx")
        if kwargs.get("lengths") is not None:
            raise ValueError("gradient_flow does not support lengths=; use equal-length sequences")
        rerun = rerun_lstm(mod, x, hx, perturb=True, record=False)
        suffix = f"#{calls[0]}" if calls[0] else ""
        calls[0] += 1
        for run in rerun.runs:
            assert run.delta is not None
            deltas[f"{name}/l{run.layer}/{run.direction}{suffix}"] = run.delta
        return rerun.output, rerun.state

    return hook
