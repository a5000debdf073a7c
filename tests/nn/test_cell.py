"""lstmkit.nn.LSTMCell: a drop-in for torch.nn.LSTMCell, and its variants."""

from __future__ import annotations

import pytest
import torch

from lstmkit.nn import LSTM, LSTMCell
from lstmkit.ops.native import native_available


@pytest.mark.parametrize("backend", ["torch", "fused", "reference"])
@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("dtype", [torch.float64, torch.float32], ids=["float64", "float32"])
def test_matches_torch_cell(backend: str, bias: bool, dtype: torch.dtype) -> None:
    tol = {"rtol": 1e-10, "atol": 1e-12} if dtype == torch.float64 else {"rtol": 1e-5, "atol": 1e-6}
    theirs = torch.nn.LSTMCell(3, 5, bias=bias, dtype=dtype)
    ours = LSTMCell(3, 5, bias=bias, dtype=dtype, backend=backend)
    ours.load_state_dict(theirs.state_dict())
    x = torch.randn(4, 3, dtype=dtype, requires_grad=True)
    hx = (torch.randn(4, 5, dtype=dtype), torch.randn(4, 5, dtype=dtype))
    h_t, c_t = theirs(x, hx)
    h_o, c_o = ours(x, hx)
    torch.testing.assert_close(h_o, h_t, **tol)
    torch.testing.assert_close(c_o, c_t, **tol)
    leaves_t, leaves_o = [x, *theirs.parameters()], [x, *ours.parameters()]
    g_t = torch.autograd.grad(h_t.sum() + 2 * c_t.sum(), leaves_t)
    g_o = torch.autograd.grad(h_o.sum() + 2 * c_o.sum(), leaves_o)
    for got, expected in zip(g_o, g_t, strict=True):
        torch.testing.assert_close(got, expected, **tol)
    unbatched = ours(x[0].detach(), (hx[0][0], hx[1][0]))
    torch.testing.assert_close(unbatched[0], h_o[0].detach(), **tol)


@pytest.mark.parametrize("options", [{"peephole": True}, {"layer_norm": True}, {"coupled_gates": True}])
def test_cell_variant_equals_one_step_of_the_layer(options: dict[str, bool]) -> None:
    cell = LSTMCell(3, 4, dtype=torch.float64, **options)
    layer = LSTM(3, 4, dtype=torch.float64, **options)
    layer.load_state_dict({f"{k}_l0": v for k, v in cell.state_dict().items()})
    x = torch.randn(2, 3, dtype=torch.float64)
    h, c = cell(x)
    _, (h_l, c_l) = layer(x.unsqueeze(0))
    torch.testing.assert_close(h, h_l[0])
    torch.testing.assert_close(c, c_l[0])
    torch.autograd.gradcheck(lambda inp: cell(inp)[0], (x.requires_grad_(),))


def test_cell_bad_input() -> None:
    cell = LSTMCell(3, 4)
    with pytest.raises(ValueError, match=r"expected input of shape \(B, 3\) or \(3,\), got \(2, 5\)"):
        cell(torch.randn(2, 5))
    with pytest.raises(ValueError, match=r"expected h of shape \(2, 4\), got \(2, 3\)"):
        cell(torch.randn(2, 3), (torch.zeros(2, 3), torch.zeros(2, 4)))


@pytest.mark.parametrize("options", [{}, {"peephole": True, "layer_norm": True}, {"coupled_gates": True}])
def test_native_streaming_step_matches_the_reference_step(options: dict[str, bool]) -> None:
    from lstmkit.ops.dispatch import native_kernel

    if native_kernel() is None:
        pytest.skip("the native kernel is not built")
    native = LSTMCell(3, 7, dtype=torch.float64, backend="native", **options)
    ref = LSTMCell(3, 7, dtype=torch.float64, backend="reference", **options)
    ref.load_state_dict(native.state_dict())
    state_n = state_r = None
    for _ in range(4):
        x = torch.randn(2, 3, dtype=torch.float64)
        with torch.inference_mode():
            state_n = native(x, state_n)
        state_r = ref(x, state_r)
        torch.testing.assert_close(state_n[0], state_r[0].detach(), rtol=1e-10, atol=1e-12)
        torch.testing.assert_close(state_n[1], state_r[1].detach(), rtol=1e-10, atol=1e-12)
    with torch.no_grad():  # a weight update is seen by the next native step
        native.weight_hh.mul_(0.5)
        ref.weight_hh.mul_(0.5)
        x = torch.randn(2, 3, dtype=torch.float64)
        torch.testing.assert_close(native(x, state_n)[0], ref(x, state_r)[0], rtol=1e-10, atol=1e-12)


def test_native_streaming_step_after_a_parameter_is_replaced_or_converted() -> None:
    # the packed weights are cached per module: a replaced parameter or a dtype conversion must be seen
    from lstmkit.ops.dispatch import native_kernel

    if native_kernel() is None:
        pytest.skip("the native kernel is not built")
    torch.manual_seed(0)
    cell = LSTMCell(3, 5, backend="native").eval()
    x, state = torch.randn(2, 3), (torch.randn(2, 5), torch.randn(2, 5))
    with torch.no_grad():
        cell(x, state)
        cell.weight_ih = torch.nn.Parameter(torch.randn(20, 3))
        expected = torch._VF.lstm_cell(x, state, cell.weight_ih, cell.weight_hh, cell.bias_ih, cell.bias_hh)
        torch.testing.assert_close(cell(x, state), expected)
        cell.double()
        with pytest.raises(TypeError, match=r"expected input of dtype torch\.float64"):
            cell(x, state)  # float32 tensors are not read as float64 ones
        state64 = (state[0].double(), state[1].double())
        expected = torch._VF.lstm_cell(
            x.double(), state64, cell.weight_ih, cell.weight_hh, cell.bias_ih, cell.bias_hh
        )
        torch.testing.assert_close(cell(x.double(), state64), expected)


def test_native_streaming_step_takes_strided_and_subclassed_tensors() -> None:
    # what the one-call path does not read as it is (a transposed state, a Parameter as input, an
    # unbatched step) goes through the general path and gives the same numbers
    from lstmkit.ops.dispatch import native_kernel

    if native_kernel() is None:
        pytest.skip("the native kernel is not built")
    torch.manual_seed(1)
    cell = LSTMCell(3, 5, backend="native", dtype=torch.float64).eval()
    ref = LSTMCell(3, 5, backend="reference", dtype=torch.float64).eval()
    ref.load_state_dict(cell.state_dict())
    x = torch.randn(2, 3, dtype=torch.float64)
    h_t, c = torch.randn(5, 2, dtype=torch.float64).t(), torch.randn(2, 5, dtype=torch.float64)
    with torch.no_grad():
        for args in [(x, (h_t, c)), (torch.nn.Parameter(x), (h_t.contiguous(), c)), (x[0], (h_t[0], c[0]))]:
            got, want = cell(*args), ref(*args)
            torch.testing.assert_close(got[0], want[0], rtol=1e-10, atol=1e-12)
            torch.testing.assert_close(got[1], want[1], rtol=1e-10, atol=1e-12)


def test_cell_state_dict_of_lstmkit_0_1_with_six_layer_norm_vectors_loads() -> None:
    torch.manual_seed(4)
    source = LSTMCell(3, 5, layer_norm=True)
    with torch.no_grad():
        source.ln_affine.add_(0.1 * torch.randn_like(source.ln_affine))
    gains, biases = source.ln_affine.detach()
    old = {k: v for k, v in source.state_dict().items() if k != "ln_affine"}
    for part, (a, b) in zip(("ih", "hh", "c"), [(0, 20), (20, 40), (40, 45)], strict=True):
        old[f"ln_weight_{part}"], old[f"ln_bias_{part}"] = gains[a:b].clone(), biases[a:b].clone()
    target = LSTMCell(3, 5, layer_norm=True)
    target.load_state_dict(old)
    assert torch.equal(target.ln_affine, source.ln_affine)
    x = torch.randn(2, 3)
    torch.testing.assert_close(target(x)[0], source(x)[0], rtol=0, atol=0)


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_half_precision_cell_steps_without_grad_as_torch_does(dtype: torch.dtype) -> None:
    cell, theirs = LSTMCell(4, 6, dtype=dtype), torch.nn.LSTMCell(4, 6, dtype=dtype)
    theirs.load_state_dict(cell.state_dict())
    x, state = (
        torch.randn(2, 4, dtype=dtype),
        (torch.randn(2, 6, dtype=dtype), torch.randn(2, 6, dtype=dtype)),
    )
    with torch.no_grad():
        torch.testing.assert_close(cell(x, state), theirs(x, state), rtol=1e-2, atol=1e-2)  # half rounding
        stepped = LSTMCell(4, 6)
        stepped(x.float(), tuple(s.float() for s in state))  # a float32 native step, then half precision
        stepped.to(dtype)
        assert stepped(x, state)[0].dtype == dtype


def test_a_traced_cell_replays_what_the_module_computes() -> None:
    import warnings

    cell = LSTMCell(3, 5)
    x, state = torch.randn(2, 3), (torch.randn(2, 5), torch.randn(2, 5))
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")  # TracerWarning, and torch.jit.trace's deprecation
        traced = torch.jit.trace(cell, (x, state))
        other = torch.randn(2, 3)
        torch.testing.assert_close(traced(other, state), cell(other, state))


@pytest.mark.parametrize("kind", ["lstm", "cell"])
def test_streaming_with_layer_norm_follows_a_dtype_change_and_a_data_swap(kind: str) -> None:
    from lstmkit.nn import LSTM, LSTMCell
    from lstmkit.ops.native_cache import repack

    torch.manual_seed(0)
    module: torch.nn.Module = (
        LSTM(5, 7, layer_norm=True) if kind == "lstm" else LSTMCell(5, 7, layer_norm=True)
    )
    ln_affine = module.ln_affine_l0 if kind == "lstm" else module.ln_affine
    x = torch.randn(2, 5)

    def streamed_minus_graph() -> float:
        dtype = ln_affine.dtype
        with torch.no_grad():  # the native streaming step (cached packed weights)
            got = module.step(x.to(dtype))[0] if kind == "lstm" else module(x.to(dtype))[0]
        expected = module(x.to(dtype)[None])[0][0] if kind == "lstm" else module(x.to(dtype))[0]
        return float((got - expected).detach().abs().max())

    assert streamed_minus_graph() < 1e-6
    module.double()  # new storage for every parameter, the same Parameter objects
    with torch.no_grad():
        ln_affine.mul_(3)
    assert streamed_minus_graph() < 1e-12
    module.float()
    assert streamed_minus_graph() < 1e-6
    ln_affine.data = ln_affine.data * 0.5  # a swap the version counter does not see; repack is the remedy
    repack(module)
    assert streamed_minus_graph() < 1e-6


NATIVE = pytest.mark.skipif(not native_available(), reason="lstmkit.ops._native is not built")


@NATIVE
def test_native_cell_refuses_weights_resized_behind_the_module() -> None:
    # a .data swap changes the weights' sizes, not input_size/hidden_size: the step checks its own sizes
    cell = LSTMCell(4, 8, backend="native")
    x, hx = torch.randn(2, 4), (torch.zeros(2, 8), torch.zeros(2, 8))
    with torch.no_grad():
        cell(x, hx)
        cell.weight_ih.data = torch.randn(32, 6)
        with pytest.raises(ValueError, match=r"x must be a CPU torch.float32 tensor of shape \(2, 6\)"):
            cell(x, hx)
        cell.weight_ih.data = torch.randn(4 * 64, 4)
        cell.weight_hh.data = torch.randn(4 * 64, 64)
        cell.bias_ih.data, cell.bias_hh.data = torch.randn(4 * 64), torch.randn(4 * 64)
        with pytest.raises(ValueError, match=r"h must be a CPU torch.float32 tensor of shape \(2, 64\)"):
            cell(x, hx)
        with pytest.raises(ValueError, match=r"h must be .* shape \(2, 64\)"):
            cell(x)  # the zero state has the module's hidden_size too


@NATIVE
def test_native_cell_reads_a_negated_view_with_its_sign() -> None:
    torch.manual_seed(0)
    cell = LSTMCell(1, 3, backend="native")
    x = torch.randn(1, 1, dtype=torch.complex64).conj().imag  # contiguous, with the negative bit
    assert x.is_neg() and x.is_contiguous()
    hx = (torch.randn(1, 3), torch.randn(1, 3))
    with torch.no_grad():
        got = [cell(x, hx)[0], cell(x[0], (hx[0][0], hx[1][0]))[0]]  # the one-call path, the general one
        cell.backend = "reference"
        expected = cell(x.resolve_neg(), hx)[0]
    torch.testing.assert_close(got[0], expected)
    torch.testing.assert_close(got[1], expected[0])
