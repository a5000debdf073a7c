"""The native kernel's buffer pool: reuse only what nothing holds any more."""

from __future__ import annotations

import pytest
import torch

from lstmkit.nn import LSTM
from lstmkit.ops import native_pool
from lstmkit.ops.native import native_available
from lstmkit.ops.native_pool import BufferPool

needs_counts = pytest.mark.skipif(not native_pool.COUNTS_USES, reason="this torch has no storage use count")


@needs_counts
def test_a_dropped_buffer_is_reused_and_a_held_one_is_not() -> None:
    pool = BufferPool(min_bytes=0)
    a = pool.empty((4, 8), torch.float32)
    held = pool.empty((32,), torch.float32)
    assert held.data_ptr() != a.data_ptr()
    pointer = a.data_ptr()
    view = a[1:]  # a view keeps the storage busy
    del a
    assert pool.empty((32,), torch.float32).data_ptr() not in (pointer, held.data_ptr())
    del view
    assert pool.empty((2, 16), torch.float32).data_ptr() == pointer


@needs_counts
def test_a_buffer_saved_by_autograd_waits_for_its_backward() -> None:
    pool = BufferPool(min_bytes=0)
    buffer = pool.empty((10,), torch.float64)
    x = torch.randn(10, dtype=torch.float64, requires_grad=True)
    y = (x * buffer.fill_(2.0)).sum()  # mul saves buffer for its backward
    pointer = buffer.data_ptr()
    del buffer
    assert pool.empty((10,), torch.float64).data_ptr() != pointer  # still saved in the graph
    y.backward(retain_graph=True)
    assert pool.empty((10,), torch.float64).data_ptr() != pointer  # the retained graph still holds it
    del y
    assert pool.empty((10,), torch.float64).data_ptr() == pointer


def test_small_requests_and_caps_and_release() -> None:
    pool = BufferPool(min_bytes=1 << 10, per_size=2)
    pool.empty((4,), torch.float32)
    assert pool.cached_bytes() == 0  # below min_bytes: a plain allocation
    kept = [pool.empty((1024,), torch.float32) for _ in range(3)]
    assert pool.cached_bytes() == (2 * 4096 if native_pool.COUNTS_USES else 0)
    pool.release()
    assert pool.cached_bytes() == 0
    assert all(t.shape == (1024,) for t in kept)


@pytest.mark.skipif(not native_available(), reason="lstmkit.ops._native is not built")
@pytest.mark.parametrize("options", [{}, {"layer_norm": True, "proj_size": 3}], ids=["plain", "ln_proj"])
def test_training_and_inference_interleaved_stay_exact(options: dict[str, object]) -> None:
    # buffers reused between calls must never leak one call's values into another's results
    torch.manual_seed(0)
    native = LSTM(3, 5, backend="native", dtype=torch.float64, **options)
    reference = LSTM(3, 5, backend="reference", dtype=torch.float64, **options)
    reference.load_state_dict(native.state_dict())
    xs = [torch.randn(600, 4, 3, dtype=torch.float64) for _ in range(3)]  # states above the pool's 1 MiB
    kept = []
    for x in xs:
        out, (h, c) = native(x)
        with torch.no_grad():
            native(x.flip(0))  # an inference call between the forward and its backward
        out.sum().backward()
        kept.append((h, c))
        want, (h_ref, c_ref) = reference(x)
        torch.testing.assert_close(out, want)
        want.sum().backward()
    for p, q in zip(native.parameters(), reference.parameters(), strict=True):
        torch.testing.assert_close(p.grad, q.grad)
    for (h, c), x in zip(kept, xs, strict=True):  # final states handed out earlier are untouched
        _, (h_ref, c_ref) = reference(x)
        torch.testing.assert_close(h, h_ref)
        torch.testing.assert_close(c, c_ref)
