"""Prediction intervals: quantile outputs trained with the pinball loss, or Monte Carlo dropout.

Quantile regression (Koenker & Bassett 1978) trains one output per quantile level ``q`` with

    L_q(y, ŷ_q) = max(q (y - ŷ_q), (q - 1)(y - ŷ_q))

whose minimiser is the ``q``-quantile of ``y`` given the inputs. MC dropout (Gal & Ghahramani 2016,
arXiv:1506.02142v6) keeps dropout active at prediction time and reads quantiles off the sample.

Example:
    >>> y = torch.tensor([[1.0]]); pred = torch.tensor([[[0.0, 1.0, 2.0]]])
    >>> round(float(pinball_loss(pred, y, (0.1, 0.5, 0.9))), 4)  # 0.1 + 0 + 0.1, summed over levels
    0.2
"""

from __future__ import annotations

import numbers
from collections.abc import Sequence

import numpy as np
import torch
from torch import nn


def check_quantiles(quantiles: Sequence[float] | None) -> tuple[float, ...]:
    """Validate quantile levels: sorted, unique, strictly inside (0, 1), containing 0.5 (the point forecast).

    Raises:
        TypeError: ``quantiles`` is a single number or a string, not a sequence, or a level is not a real
            number (a string, a bool, ``None``).
        ValueError: a level outside (0, 1) (NaN included), duplicates, or no median.
    """
    if quantiles is None:
        return ()
    if isinstance(quantiles, str) or not isinstance(quantiles, Sequence | np.ndarray):
        raise TypeError(
            f"quantiles must be a sequence of levels such as (0.1, 0.5, 0.9), "
            f"got {type(quantiles).__name__} {quantiles!r}"
        )
    for q in quantiles:
        if isinstance(q, bool) or not isinstance(q, numbers.Real):
            raise TypeError(
                f"quantiles must be numbers such as (0.1, 0.5, 0.9), got {type(q).__name__} {q!r} in "
                f"{quantiles!r}"
            )
    levels = tuple(float(q) for q in quantiles)
    if any(not 0.0 < q < 1.0 for q in levels):
        raise ValueError(f"quantiles must lie strictly between 0 and 1, got {list(levels)}")
    if len(set(levels)) != len(levels):
        raise ValueError(f"quantiles must be unique, got {list(levels)}")
    if 0.5 not in levels:
        raise ValueError(f"quantiles must include 0.5 (the point forecast), got {list(levels)}")
    return tuple(sorted(levels))


def pinball_loss(pred: torch.Tensor, target: torch.Tensor, quantiles: Sequence[float]) -> torch.Tensor:
    """Pinball loss summed over quantile levels, averaged over samples and steps.

    Args:
        pred: ``(S, H, Q)`` predicted quantiles.
        target: ``(S, H)`` actual values.
        quantiles: the ``Q`` levels, in the order of ``pred``'s last axis.

    Returns:
        A scalar tensor.
    """
    q = torch.as_tensor(quantiles, dtype=pred.dtype, device=pred.device)  # (Q,)
    error = target.unsqueeze(-1) - pred  # (S, H, Q)
    return torch.maximum(q * error, (q - 1.0) * error).mean() * len(quantiles)


def sort_quantiles(values: np.ndarray) -> np.ndarray:
    """Sort along the last axis so that quantile forecasts never cross (Chernozhukov et al. 2010)."""
    return np.sort(values, axis=-1)


def mc_dropout_quantiles(
    module: nn.Module,
    x: torch.Tensor,
    quantiles: Sequence[float],
    *,
    samples: int = 50,
    seed: int | None = None,
) -> np.ndarray:
    """Quantiles of ``samples`` stochastic forward passes with dropout left on.

    Args:
        module: a network with dropout, mapping ``(S, T, I)`` to ``(S, H)``.
        x: ``(S, T, I)`` inputs.
        quantiles: levels to return.
        samples: number of stochastic passes.
        seed: seeds the dropout masks, so the same inputs give the same quantiles; the global random
            state is restored afterwards. ``None`` draws from the global random state.

    Returns:
        ``(S, H, Q)`` array.

    Raises:
        ValueError: every pass gave the same output (the module has no active dropout).
    """
    was_training = module.training
    module.train()
    devices = [x.device] if x.device.type == "cuda" else []
    try:
        with torch.no_grad(), torch.random.fork_rng(devices=devices, enabled=seed is not None):
            if seed is not None:
                torch.manual_seed(seed)
            draws = torch.stack([module(x) for _ in range(samples)])  # (samples, S, H)
    finally:
        module.train(was_training)
    if samples > 1 and bool(torch.all(draws == draws[0])):
        raise ValueError(
            "MC dropout intervals need a model with dropout > 0; every pass gave the same output"
        )
    levels = torch.as_tensor(quantiles, dtype=draws.dtype)
    return torch.quantile(draws, levels, dim=0).permute(1, 2, 0).cpu().numpy()  # (S, H, Q)
