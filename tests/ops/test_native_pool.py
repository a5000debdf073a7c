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


def test_small_requests_and_release() -> None:
    pool = BufferPool(min_bytes=1 << 10)
    pool.empty((4,), torch.float32)
    assert pool.cached_bytes() == 0  # below min_bytes: a plain allocation
    kept = [pool.empty((1024,), torch.float32) for _ in range(3)]
    assert pool.cached_bytes() == (3 * 4096 if native_pool.COUNTS_USES else 0)
    pool.release()
    assert pool.cached_bytes() == 0
    assert all(t.shape == (1024,) for t in kept)


@needs_counts
def test_changing_lengths_reuse_one_buffer_best_fit() -> None:
    pool = BufferPool(min_bytes=0)
    for steps in (100, 90, 97, 60, 100, 51):  # a new sequence length each call, none over the first
        buffer = pool.empty((steps, 8), torch.float32)
        assert buffer.shape == (steps, 8)
        del buffer
    assert pool.cached_bytes() == 100 * 8 * 4
    small = pool.empty((40, 8), torch.float32)  # under half of the free buffer: a buffer of its own
    assert pool.cached_bytes() == 140 * 8 * 4
    del small
    assert pool.empty((45, 8), torch.float32).numel() == 360  # best fit: the 320-element buffer is too
    assert pool.cached_bytes() == (140 + 45) * 8 * 4  # small, the 800-element one more than twice as big


@needs_counts
def test_the_cap_drops_free_buffers_oldest_first_and_never_busy_ones() -> None:
    pool = BufferPool(min_bytes=0, max_bytes=4 * 1000)
    busy = pool.empty((400,), torch.float32)
    free = pool.empty((500,), torch.float32)
    del free
    assert pool.cached_bytes() == 3600
    bigger = pool.empty((550,), torch.float32)  # does not fit: the free 500 goes, the busy 400 stays
    assert pool.cached_bytes() == 4 * (400 + 550)
    huge = pool.empty((2000,), torch.float32)  # over the cap even when empty: a plain allocation
    assert pool.cached_bytes() == 4 * (400 + 550) and huge.numel() == 2000
    assert busy.numel() == 400 and bigger.numel() == 550


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
