"""Random 0/1 masks for recurrent dropout and zoneout, drawn fast where the native kernel is built.

Zoneout needs a fresh mask per step, element and state, ``T * B * (R + H)`` draws per call; torch's
``bernoulli_`` on CPU draws them one by one from its Mersenne Twister (about 1.4 ms for the origin text's
model, more than the whole native forward). With the native kernel the mask is a counter-based hash of
one seed drawn from torch's default generator, so ``torch.manual_seed`` still fixes every mask.
"""

from __future__ import annotations

import torch
from torch import Tensor

from lstmkit.ops.dispatch import NATIVE_DTYPES
from lstmkit.ops.native import native_available, native_module
from lstmkit.ops.native_pool import POOL

_SEED_BOUND = 2**62


def bernoulli_mask(shape: tuple[int, ...], p: float, like: Tensor) -> Tensor:
    """A tensor of ``shape`` with the dtype and device of ``like``, each element 1 with probability ``p``.

    Args:
        shape: the mask's shape.
        p: probability of a 1, in ``[0, 1]``.
        like: gives the dtype and device.

    Example:
        >>> _ = torch.manual_seed(0)
        >>> a = bernoulli_mask((1000,), 0.25, torch.empty(0))
        >>> _ = torch.manual_seed(0)
        >>> bool((a == bernoulli_mask((1000,), 0.25, torch.empty(0))).all()), 0.2 < float(a.mean()) < 0.3
        (True, True)
    """
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"bernoulli_mask: p must be in [0, 1], got {p}")
    if native_available() and like.device.type == "cpu" and like.dtype in NATIVE_DTYPES:
        # from the kernel's buffer pool: a zoneout mask is T·B·H values a call, whose fresh pages would
        # fault on first touch every call (C1: ~0.1 ms a mask)
        out = POOL.empty(shape, like.dtype)
        seed = int(torch.randint(0, _SEED_BOUND, (), dtype=torch.int64).item())
        native_module().bernoulli(out.dtype == torch.float64, out.data_ptr(), out.numel(), p, seed)
        return out
    return like.new_empty(shape).bernoulli_(p)
