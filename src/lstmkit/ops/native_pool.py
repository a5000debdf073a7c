"""Large buffers of the native kernel, reused from call to call once nothing holds them any more.

A training step of the native kernel writes tens of megabytes of saved state at C2 (gates, states, layer
norm statistics) and as much again in the backward. Fresh allocations of that size come from ``mmap``
and every page of them faults on first touch, which costs as much as the arithmetic; reusing the same
buffers does not. A buffer is handed out again only when no tensor but the pool's own shares its storage
(the autograd graph that saved it has run its backward and been freed, every view is gone), so a graph
kept with ``retain_graph=True``, or a state the caller still holds, is never overwritten.

:func:`release` frees the cached buffers. Without the two counters this relies on (private torch APIs,
checked at import), every request is a plain ``torch.empty``.

Example:
    >>> import torch
    >>> pool = BufferPool(min_bytes=0)
    >>> a = pool.empty((4, 8), torch.float32)
    >>> pointer = a.data_ptr()
    >>> del a
    >>> pool.empty((8, 4), torch.float32).data_ptr() == pointer or not COUNTS_USES
    True
"""

from __future__ import annotations

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
    """Buffers by ``(dtype, element count)``, each handed out as a view of the requested shape.

    Args:
        min_bytes: smaller requests are plain allocations (the allocator serves those well).
        per_size: at most this many buffers are kept for one ``(dtype, element count)``.
    """

    def __init__(self, min_bytes: int = 1 << 20, per_size: int = 8) -> None:
        self.min_bytes = min_bytes
        self.per_size = per_size
        self._buffers: dict[tuple[torch.dtype, int], list[Tensor]] = {}
        self._lock = threading.Lock()

    def empty(self, shape: tuple[int, ...], dtype: torch.dtype) -> Tensor:
        """An uninitialized CPU tensor of ``shape``, from a free cached buffer where there is one."""
        numel = math.prod(shape)
        if not COUNTS_USES or numel * dtype.itemsize < self.min_bytes:
            return torch.empty(shape, dtype=dtype)
        key = (dtype, numel)
        with self._lock:
            bucket = self._buffers.setdefault(key, [])
            for buffer in bucket:
                if _unused(buffer):
                    return buffer.view(shape)
            with torch.inference_mode(False):  # a buffer must be savable for a later backward
                buffer = torch.empty(numel, dtype=dtype)
            if len(bucket) < self.per_size:
                bucket.append(buffer)
            return buffer.view(shape)

    def cached_bytes(self) -> int:
        """Bytes held by the pool, in use or free."""
        with self._lock:
            return sum(b.numel() * b.element_size() for bucket in self._buffers.values() for b in bucket)

    def release(self) -> None:
        """Drop every cached buffer (those still in use stay alive with their users)."""
        with self._lock:
            self._buffers.clear()


POOL = BufferPool()
"""The pool the native kernel allocates its large internal buffers from."""


def release() -> None:
    """Free the native kernel's cached buffers (for example after training, before a long inference)."""
    POOL.release()
