"""The native streaming steps cached per module: ``LSTMCell(backend="native")`` and ``LSTM.step`` pack their
weights once, outside the module, and pack again only when a parameter changes or is replaced.

Example:
    >>> import torch
    >>> from lstmkit.ops.native import native_available
    >>> from lstmkit.ops.native_cache import native_cell_step
    >>> cell = torch.nn.LSTMCell(8, 16)
    >>> h, c = native_cell_step(cell, torch.randn(2, 8)) if native_available() else cell(torch.randn(2, 8))
    >>> tuple(h.shape), tuple(c.shape)
    ((2, 16), (2, 16))
"""

from __future__ import annotations

import weakref
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor

from lstmkit.ops.native_stream import NativeCellStep
from lstmkit.ops.types import LSTMState


@dataclass
class ModuleSteps:
    """The native steps cached for one module: one for an ``LSTMCell``, one per layer for ``LSTM.step``."""

    key: tuple[int, ...]  # parameter_key of the module the steps were built from
    steps: list[NativeCellStep]
    zeros: Tensor | None = None  # LSTM.step's zero state for hx=None, kept for the next call of the same size


# Packed weights per module, outside the module (its deepcopy, pickling and state_dict never see them),
# keyed by the identities of its parameters so that a replaced parameter rebuilds the steps.
STEPS: weakref.WeakKeyDictionary[Any, ModuleSteps] = weakref.WeakKeyDictionary()


def native_cell_step(cell: Any, x: Tensor, state: LSTMState | None = None) -> LSTMState:
    """One step of an ``LSTMCell`` module through the native kernel, its packed weights cached per module.

    For ``lstmkit.nn.LSTMCell(backend="native")`` at inference; the weights are repacked only when a
    parameter changes. Does not record autograd.

    Args:
        cell: an ``LSTMCell`` (torch's or lstmkit's).
        x: input ``(B, I)``.
        state: ``(h (B, R), c (B, H))`` or ``None`` for zeros.

    Returns:
        The new ``(h, c)``.
    """
    return cell_step_for(cell)(x, state)


def parameter_key(module: torch.nn.Module) -> tuple[int, ...]:
    """The identities of a module's own parameters: replacing one (``cell.weight_hh = ...``) changes it."""
    if not isinstance(module, torch.nn.Module):
        raise TypeError(f"expected an LSTMCell or LSTM module, got {type(module).__name__}")
    return tuple(map(id, module._parameters.values()))


def module_steps(module: torch.nn.Module, build: Callable[[Any], list[NativeCellStep]]) -> ModuleSteps:
    """The cached :class:`ModuleSteps` of ``module``, from ``build(module)`` on first use and again
    whenever one of its parameters was replaced (at every call for a parametrized module)."""
    key = parameter_key(module)
    entry = STEPS.get(module)
    if entry is None or entry.key != key:
        entry = ModuleSteps(key, build(module))
        # the steps follow the module's own parameters (identities, versions, addresses); a weight made
        # on access (torch.nn.utils.parametrize, weight_norm's hook) is a new tensor each time, which the
        # cached steps would never see change: such steps are built again at every call
        own = {id(p) for p in module._parameters.values()}
        if all(id(t) in own for step in entry.steps for t in step._present):
            STEPS[module] = entry
    return entry


def _cell_steps(cell: Any) -> list[NativeCellStep]:
    return [NativeCellStep.from_module(cell)]


def cell_step_for(cell: Any) -> NativeCellStep:
    """The cached :class:`NativeCellStep` of an ``LSTMCell`` module, rebuilt if a parameter was replaced."""
    return module_steps(cell, _cell_steps).steps[0]


def repack(module: Any) -> None:
    """Repack now the native weights cached for ``module`` (an ``LSTMCell`` or an ``LSTM``'s ``step()``).

    Needed only after an in-place edit through ``.data``, which version counters do not see; every other
    change (optimizer steps, ``load_state_dict``, ``copy_`` under ``no_grad``, replaced parameters) is
    picked up on the next step by itself.
    """
    if not isinstance(module, torch.nn.Module):
        raise TypeError(f"repack expects an LSTMCell or LSTM module, got {type(module).__name__}")
    entry = STEPS.get(module)
    if entry is not None:
        for step in entry.steps:
            step.refresh(force=True)
