"""Reproducibility."""

from __future__ import annotations

import random

import numpy as np
import torch

from lstmkit.utils.validation import check_bool, check_seed


def set_seed(seed: int, *, deterministic: bool = False) -> None:
    """Seed Python, NumPy and torch (CPU and CUDA) so that a CPU run repeats exactly.

    Args:
        seed: the seed, an integer in ``[0, 2**63 - 1]``.
        deterministic: also ask torch for deterministic algorithms (slower on CUDA).

    Raises:
        TypeError: ``seed`` is not an integer (``None``, a float, a string, a bool), or ``deterministic``
            is not a bool.
        ValueError: ``seed`` is negative or above ``2**63 - 1``.

    Example:
        >>> set_seed(0); a = torch.rand(2)
        >>> set_seed(0); bool(torch.equal(a, torch.rand(2)))
        True
    """
    seed = check_seed("seed", seed)
    deterministic = check_bool("deterministic", deterministic)
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
    if deterministic:
        torch.use_deterministic_algorithms(True)
