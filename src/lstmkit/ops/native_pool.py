"""Large buffers of the native kernel, reused from call to call once nothing holds them any more.

A training step of the native kernel writes tens of megabytes of saved state at C2 (gates, states, layer
norm statistics) and as much again in the backward. Fresh allocations of that size come from ``mmap``
and every page of them faults on first touch, which costs as much as the arithmetic; reusing the same
buffers does not. Mid-size buffers (64 KiB to 1 MiB: the padded input, the states and the layer-norm
statistics at C1) fault as well, as the C library hands their pages back between steps; so the pool takes
everything from 64 KiB up (C1 with layer norm: 0-15% less per training step in paired one-thread runs).
A buffer is handed out again only when no tensor but the pool's own shares its storage
(the autograd graph that saved it has run its backward and been freed, every view is gone), so a graph
kept with ``retain_graph=True``, or a state the caller still holds, is never overwritten.

:func:`release` frees the cached buffers. Without the storage use count this relies on (a private torch
API, checked at import: ``COUNTS_USES``), every request is a plain ``torch.empty``.

Example:
    >>> import torch
    >>> pool = BufferPool(min_bytes=0)
    >>> a = pool.empty((4, 8), torch.float32)
    >>> pointer = a.data_ptr()
    >>> del a
    >>> pool.empty((6, 5), torch.float32).data_ptr() == pointer or not COUNTS_USES  # 30 <= 32 elements
    True
"""

from __future__ import annotations

import bisect
import math
import threading

import torch
from torch import Tensor

_storage_use_count = getattr(torch._C, "_storage_Use_Count", None)
COUNTS_USES = _storage_use_count is not None
"""Whether this torch exposes the storage use count the pool needs to tell a free buffer."""


def _unused(buffer: Tensor) -> bool:
    """True when only ``buffer`` itself holds its storage (the count includes the query's own wrapper)."""
    assert _storage_use_count is not None
    return bool(_storage_use_count(buffer.untyped_storage()._cdata) <= 2)


class BufferPool:
    """Flat buffers by dtype, each request served as a view of the first elements of a free one.

    A free buffer serves any request from half its size up to its size (best fit), so batches whose
    sequence length changes from call to call reuse the same few buffers instead of each length adding
    its own. The pool holds at most ``max_bytes``: past that, free buffers are dropped oldest first, and a
    request that still does not fit is a plain allocation.

    Args:
        min_bytes: smaller requests are plain allocations (the allocator serves those well).
        max_bytes: the most the pool keeps, in use or free.
    """

    def __init__(self, min_bytes: int = 1 << 16, max_bytes: int = 1 << 30) -> None:
        self.min_bytes = min_bytes
        self.max_bytes = max_bytes
        # (numel, age, dtype, buffer), kept sorted by size: the first free one that fits is the best fit
        self._entries: list[tuple[int, int, torch.dtype, Tensor]] = []
        self._age = 0
        self._lock = threading.Lock()

    def empty(self, shape: tuple[int, ...], dtype: torch.dtype) -> Tensor:
        """An uninitialized CPU tensor of ``shape``, from a free cached buffer where there is one."""
        numel = math.prod(shape)
        nbytes = numel * dtype.itemsize
        if not COUNTS_USES or nbytes < self.min_bytes:
            return torch.empty(shape, dtype=dtype)
        with self._lock:
            for size, _, kind, buffer in self._entries:
                if size > 2 * numel:
                    break
                if size >= numel and kind == dtype and _unused(buffer):
                    return buffer[:numel].view(shape)
            self._make_room(nbytes)
            with torch.inference_mode(False):  # a buffer must be savable for a later backward
                buffer = torch.empty(numel, dtype=dtype)
            if self._held() + nbytes <= self.max_bytes:
                self._age += 1
                bisect.insort(self._entries, (numel, self._age, dtype, buffer), key=lambda e: e[:2])
            return buffer.view(shape)

    def _held(self) -> int:
        return sum(size * kind.itemsize for size, _, kind, _ in self._entries)

    def _make_room(self, nbytes: int) -> None:
        """Drop free buffers, oldest first, until ``nbytes`` more would fit (or none is free)."""
        held, dropped = self._held(), set()
        for size, age, kind, buffer in sorted(self._entries, key=lambda e: e[1]):
            if held + nbytes <= self.max_bytes:
                break
            if _unused(buffer):
                held -= size * kind.itemsize
                dropped.add(age)
        self._entries = [e for e in self._entries if e[1] not in dropped]

    def cached_bytes(self) -> int:
        """Bytes held by the pool, in use or free."""
        with self._lock:
            return self._held()

    def release(self) -> None:
        """Drop every cached buffer (those still in use stay alive with their users)."""
        with self._lock:
            self._entries.clear()


POOL = BufferPool()
"""The pool the native kernel allocates its large internal buffers from."""


def release() -> None:
    """Free the native kernel's cached buffers (for example after training, before a long inference)."""
    POOL.release()
