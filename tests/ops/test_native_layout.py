"""The native packer (csrc/bindings.cpp ``pack``) against the layout written out in torch operations."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import Tensor

from lstmkit.ops import native_layout as lay
from lstmkit.ops.native import native_available, native_module

pytestmark = pytest.mark.skipif(not native_available(), reason="the native kernel is not built")


def panels(mat: Tensor, width: int) -> Tensor:
    """The panel layout of csrc/gemm.h: column panels of ``width``, each row-major, the last narrower."""
    n = mat.shape[1]
    return torch.cat([mat[:, j : j + width].reshape(-1) for j in range(0, n, width)])


def gate_padded(w: Tensor, hp: int) -> Tensor:
    """``(4H, C)`` as ``(4Hp, C)``: gate ``q`` at rows ``q·Hp``, zero rows between."""
    four_h, cols = w.shape
    return F.pad(w.reshape(4, four_h // 4, cols), (0, 0, 0, hp - four_h // 4)).reshape(4 * hp, cols)


@pytest.mark.parametrize("hidden,n_in,rsize", [(1, 1, 1), (7, 3, 7), (50, 1, 50), (16, 9, 8), (33, 2, 20)])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_packed_weights_match_the_layout(hidden: int, n_in: int, rsize: int, dtype: torch.dtype) -> None:
    torch.manual_seed(hidden)
    lanes = int(native_module().lanes(torch.empty(0, dtype=dtype).element_size()))
    hp, rp, ip = lay.round_up(hidden, lanes), lay.round_up(rsize, lanes), lay.round_up(n_in + 1, lanes)
    width = 2 * lanes  # narrower than most matrices here, so the last panel is often partial
    w_hh, w_ih = torch.randn(4 * hidden, rsize, dtype=dtype), torch.randn(4 * hidden, n_in, dtype=dtype)
    bias, w_hr = torch.randn(4 * hidden, dtype=dtype), torch.randn(rsize, hidden, dtype=dtype)

    stacked = torch.cat((w_ih, bias.unsqueeze(1), w_hh), dim=1)  # (4H, I + 1 + R)
    expected = panels(gate_padded(stacked, hp).t(), width)
    padded = lay.gate_columns(hidden, hp, lanes, dense=False)
    assert torch.equal(lay.pack_w_hh_t(w_hh, padded, width, w_ih, bias), expected)
    assert torch.equal(lay.pack_w_hh_t(w_hh, padded, width), panels(gate_padded(w_hh, hp).t(), width))
    dense = lay.gate_columns(hidden, hp, lanes, dense=True)  # gates side by side, 4H in whole vectors
    gv = lay.round_up(4 * hidden, lanes)
    assert torch.equal(
        lay.pack_w_hh_t(w_hh, dense, width, w_ih, bias),
        panels(F.pad(stacked.t(), (0, gv - 4 * hidden)), width),
    )
    both = torch.cat((F.pad(w_hh, (0, rp - rsize)), F.pad(w_ih, (0, ip - n_in))), dim=1)
    assert torch.equal(lay.pack_w_hh(w_hh, rp, width, w_ih, ip), panels(both, width))
    w_ih_rows = F.pad(w_ih, (0, ip - n_in, 0, gv - 4 * hidden))  # dense rows, zero past 4H and I
    assert torch.equal(lay.pack_w_ih_rows(w_ih, gv, ip, width), panels(w_ih_rows, width))
    assert torch.equal(lay.pack_w_hr_t(w_hr, rp, width), panels(F.pad(w_hr.t(), (0, rp - rsize)), width))
    assert torch.equal(lay.pack_w_hr(w_hr, hp, width), panels(F.pad(w_hr, (0, hp - hidden)), width))
    # a transposed (non-contiguous) source is read through its strides
    assert torch.equal(
        lay.pack_w_hh_t(w_hh.t().contiguous().t(), padded, width), lay.pack_w_hh_t(w_hh, padded, width)
    )


def test_vectors_share_one_buffer_and_sum_where_grouped() -> None:
    hidden, hp = 5, 16
    a, b, c = torch.randn(4 * hidden), torch.randn(4 * hidden), torch.randn(3, hidden)
    peep, absent, summed, zeros = lay.pack_vectors(
        [c, None, (a, None, b), None], [3, 0, 4, 1], hp, torch.float32
    )
    assert torch.equal(peep, F.pad(c, (0, hp - hidden)))
    assert absent.numel() == 0
    assert torch.equal(summed, F.pad((a + b).view(4, hidden), (0, hp - hidden)))
    assert torch.equal(zeros, torch.zeros(1, hp))
    assert peep.untyped_storage().data_ptr() == summed.untyped_storage().data_ptr()


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_gather_sums_adds_the_threads_rows_into_one_output_each(dtype: torch.dtype) -> None:
    src = torch.arange(3 * 10, dtype=dtype).view(3, 10)  # three threads' rows of 10
    rows = torch.empty(2, 3, dtype=dtype)  # two groups of 3 at offsets 1 and 5
    flat = torch.empty(4, dtype=dtype)  # one run of 4 at offset 6
    specs = [(rows.data_ptr(), 1, 2, 4, 3), (flat.data_ptr(), 6, 1, 0, 4)]
    native_module().gather_sums(dtype == torch.float64, src.data_ptr(), 3, 10, specs)
    total = src.sum(0)
    assert torch.equal(rows, torch.stack([total[1:4], total[5:8]]))
    assert torch.equal(flat, total[6:10])


def test_gather_sums_refuses_to_read_past_a_threads_row() -> None:
    src, dst = torch.zeros(2, 8), torch.full((4,), 7.0)
    with pytest.raises(ValueError, match="outside a thread's row"):
        past = (dst.data_ptr(), 1, 2, 4, 4)  # the second group ends at 1 + 4 + 4 > 8
        native_module().gather_sums(False, src.data_ptr(), 2, 8, [past])
    with pytest.raises(ValueError, match="threads >= 1"):
        native_module().gather_sums(False, src.data_ptr(), 0, 8, [])
    assert torch.equal(dst, torch.full((4,), 7.0))


def test_vector_gradients_refuse_a_vector_of_another_size() -> None:
    # the gather writes rows x width values into each gradient: a vector of another size never reaches it
    from lstmkit.ops.native import NativeKernel
    from lstmkit.ops.types import RecurrenceParams

    hidden, hp = 5, 16
    peephole = torch.zeros(2, hidden)  # a peephole has 3 rows
    params = RecurrenceParams(torch.zeros(4 * hidden, hidden), None, peephole)
    with pytest.raises(ValueError, match=r"shape \(2, 5\): expected 3 x 5"):
        NativeKernel._vector_grads(torch.zeros(1, 25 * hp), hp, hidden, params, None)


def test_a_block_outside_the_matrix_is_an_error_not_a_write() -> None:
    out = torch.zeros(4 * 4)
    src = torch.ones(3, 3)
    with pytest.raises(ValueError, match="outside the packed matrix"):
        native_module().pack(False, out.data_ptr(), 4, 4, 4, [(src.data_ptr(), 3, 1, 2, 2, 3, 3, 1, 0, 0, 0)])
    with pytest.raises(ValueError, match="width"):
        native_module().pack(False, out.data_ptr(), 4, 4, 5, [])
    assert torch.equal(out, torch.zeros(16))


def test_a_source_of_another_dtype_or_too_short_is_refused_before_it_is_read() -> None:
    src = torch.ones(2, 3)
    fits = lay.Block(src, 0, 0, 2, 3, 3, 1)
    assert torch.equal(lay.pack((2, 3), 3, [fits], torch.float32), torch.ones(6))
    with pytest.raises(TypeError, match="float64"):
        lay.pack((2, 3), 3, [fits], torch.float64)
    with pytest.raises(ValueError, match="reads element 8 of a source with 6 "):
        lay.pack((3, 3), 3, [lay.Block(src, 0, 0, 3, 3, 3, 1)], torch.float32)
    view = src[1]  # starts at element 3 of its storage
    with pytest.raises(ValueError, match="with 3 from its start"):
        lay.pack((1, 4), 4, [lay.Block(view, 0, 0, 1, 4, 0, 1)], torch.float32)
    with pytest.raises(ValueError, match="strides >= 0"):
        lay.pack((1, 3), 3, [lay.Block(src, 0, 0, 1, 3, 0, -1)], torch.float32)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_padded_input_reads_a_strided_input_without_a_copy_first(dtype: torch.dtype) -> None:
    from lstmkit.ops.native import NativeKernel

    lanes = int(native_module().lanes(torch.empty(0, dtype=dtype).element_size()))
    batch_first = torch.randn(5, 7, 6, dtype=dtype)
    x = batch_first.transpose(0, 1)[:, :, 1:4]  # (T, B, I) = (7, 5, 3), no dimension contiguous but I
    out = NativeKernel._pad_input(x, lanes)
    width = lay.round_up(3 + 1, lanes)
    expected = torch.cat([x, torch.ones(7, 5, 1, dtype=dtype), torch.zeros(7, 5, width - 4, dtype=dtype)], -1)
    assert torch.equal(out, expected)


def test_pack_vectors_refuses_a_vector_of_another_dtype_or_size() -> None:
    with pytest.raises(
        TypeError, match=r"pack_vectors: expected a CPU torch\.float32 vector, got cpu torch\.float64"
    ):
        lay.pack_vectors([torch.zeros(8, dtype=torch.float64)], [4], 16, torch.float32)
    with pytest.raises(ValueError, match=r"pack_vectors: \(9,\) is not 4 rows of at most 16"):
        lay.pack_vectors([torch.zeros(9)], [4], 16, torch.float32)
    with pytest.raises(ValueError, match=r"pack_vectors: \(68,\) is not 4 rows of at most 16"):
        lay.pack_vectors([torch.zeros(68)], [4], 16, torch.float32)  # 17 a row: past the padded width


@pytest.mark.parametrize("source", ["plain", "negated view"])
def test_pad_last_into_a_reused_buffer_pads_with_zeros(source: str) -> None:
    x = torch.rand(3, 4, 5) + 1.0
    if source == "negated view":  # its values are read with their sign
        x = torch.complex(torch.zeros_like(x), -x).conj().imag
        assert x.is_neg()
    garbage = torch.full((3, 4, 8), float("nan"))  # a pooled buffer keeps the previous call's values

    out = lay.pad_last(x, 8, torch.float32, lambda *shape: garbage.view(shape))

    assert out.data_ptr() == garbage.data_ptr()
    torch.testing.assert_close(out, F.pad(x.resolve_neg(), (0, 3)), rtol=0, atol=0)
