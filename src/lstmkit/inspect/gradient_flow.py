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
    ``‖∂L/∂x_t‖`` is ``mean_b ‖∂L/∂x_{b,t}‖_2``. The LSTM of a Keras-face ``go_backwards=True`` layer (the
    backward half of ``Bidirectional``) runs over its input flipped in time; its norms are flipped back to
    time order and keyed ``"reverse"``, as in :func:`lstmkit.inspect.record`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from lstmkit.inspect.record import (
    OPPOSITE,
    as_input_tensor,
    check_input_sizes,
    find_lstms,
    reads_time_backwards,
    rerun_lstm,
    unwrap,
)
from lstmkit.utils.validation import check_bool


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


@dataclass(frozen=True)
class _Probe:
    """The zero perturbation ``δ`` ``(B, T, R)`` added to one LSTM layer and direction's ``h_t``."""

    module: str
    batch_first: bool  # the LSTM module's layout
    flip: bool  # the LSTM read its input flipped in time: δ[:, τ] is at time T-1-τ
    delta: Tensor


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
        TypeError: ``x`` is not a float tensor or array, ``loss`` is not callable or does not return a
            tensor, or ``batch_first`` is not a bool.
        ValueError: ``x`` is not 3-D, an LSTM inside did not run over the ``T`` steps of ``x`` (a
            ``batch_first`` that differs from the model's layout), or the loss is not a differentiable
            scalar.

    Example:
        >>> net = nn.LSTM(2, 4, batch_first=True)
        >>> flow = gradient_flow(net, torch.randn(3, 6, 2), lambda out: out[0][:, -1].sum())
        >>> flow.input_norm.shape, sorted(flow.hidden_norm)
        ((6,), ['/l0/forward'])
    """
    module = unwrap(model)
    batch_first = check_bool("batch_first", batch_first)
    if not callable(loss):
        raise TypeError(
            f"loss must be a callable that maps the model's output to a scalar tensor, got "
            f"{type(loss).__name__} {loss!r}; gradient_flow has no targets, so close over them, e.g. "
            "loss=lambda out: torch.nn.functional.mse_loss(out, y)"
        )
    xt = as_input_tensor(x, module, name="x").detach().clone().requires_grad_(True)
    if xt.dim() != 3:
        raise ValueError(
            f"gradient_flow expected x of 3 dimensions (B, T, I) or (T, B, I), got {tuple(xt.shape)}"
        )
    time_axis = 1 if batch_first else 0
    probes: dict[str, _Probe] = {}
    lstms = find_lstms(module)
    handles = check_input_sizes(lstms)
    if hidden:
        for name, lstm in lstms:
            hook = _perturbing_hook(name, probes, flip=reads_time_backwards(module, name))
            handles.append(lstm.register_forward_hook(hook, with_kwargs=True))
    was_training = module.training
    module.eval()
    try:
        with torch.enable_grad():
            output = module(xt)
            _check_steps(probes, tuple(xt.shape), batch_first)
            value = loss(output)
        if not isinstance(value, Tensor):
            raise TypeError(f"loss must return a torch.Tensor, got {type(value).__name__}")
        if value.numel() != 1:
            raise ValueError(f"loss must return a scalar, got a tensor of shape {tuple(value.shape)}")
        if not value.requires_grad:
            raise ValueError(
                "loss must be differentiable with respect to the model's output, got a tensor with no "
                "gradient path back to x (argmax, a comparison, a constant or .detach() cuts it, or the "
                "output does not depend on x); return a differentiable scalar such as a mean squared error"
            )
        leaves = [xt, *(probe.delta for probe in probes.values())]
        grads = torch.autograd.grad(value, leaves, allow_unused=True)
    finally:
        for handle in handles:
            handle.remove()
        module.train(was_training)
    grad_x = grads[0] if grads[0] is not None else torch.zeros_like(xt)
    input_norm = grad_x.norm(dim=-1).mean(dim=1 - time_axis)  # (T,)
    hidden_norm: dict[str, np.ndarray] = {}
    for (key, probe), grad in zip(probes.items(), grads[1:], strict=True):
        g = grad if grad is not None else torch.zeros_like(probe.delta)  # (B, T, R)
        norm = g.norm(dim=-1).mean(dim=0)  # (T,) in the order the LSTM ran
        hidden_norm[key] = (norm.flip(0) if probe.flip else norm).numpy()  # (T,) in time order
    return GradientFlow(input_norm.detach().numpy(), hidden_norm)


def _check_steps(probes: dict[str, _Probe], shape: tuple[int, ...], batch_first: bool) -> None:
    """Raise unless every LSTM ran over the ``T`` steps that ``batch_first`` reads in ``x``."""
    steps = shape[1 if batch_first else 0]
    for probe in probes.values():
        ran = probe.delta.shape[1]
        if ran == steps:
            continue
        layout = "(B, T, I)" if batch_first else "(T, B, I)"
        lstm = f"LSTM '{probe.module}'" if probe.module else "the LSTM"
        fix = (
            f"pass batch_first={probe.batch_first}, the layout the model reads"
            if probe.batch_first != batch_first
            else "gradient_flow measures LSTMs that run over the T steps of x"
        )
        raise ValueError(
            f"gradient_flow(batch_first={batch_first}) reads x of shape {shape} as {layout} with T = "
            f"{steps}, but {lstm} (batch_first={probe.batch_first}) ran over {ran} steps; {fix}"
        )


def _perturbing_hook(name: str, probes: dict[str, _Probe], *, flip: bool) -> Callable[..., Any]:
    """A forward hook: the module's output becomes a reference re-run with ``δ_t`` added to ``h_t``.

    ``flip``: the module reads its input flipped in time (a Keras-face ``go_backwards=True`` layer's LSTM).
    """
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
            direction = OPPOSITE[run.direction] if flip else run.direction
            probe = _Probe(name, bool(mod.batch_first), flip, run.delta)
            probes[f"{name}/l{run.layer}/{direction}{suffix}"] = probe
        return rerun.output, rerun.state

    return hook
