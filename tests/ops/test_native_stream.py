"""Streaming steps of the native kernel against torch.nn.LSTMCell and the reference step."""

from __future__ import annotations

import warnings

import pytest
import torch
import torch.nn.functional as F

from lstmkit.ops.native import native_available
from lstmkit.ops.reference import LAYER_NORM_EPS, lstm_step
from lstmkit.ops.types import RecurrenceParams

pytestmark = pytest.mark.skipif(not native_available(), reason="lstmkit.ops._native is not built")

if native_available():
    from lstmkit.ops.native_cache import native_cell_step
    from lstmkit.ops.native_stream import NativeCellStep, NativeStream

DTYPES = pytest.mark.parametrize("dtype", [torch.float64, torch.float32], ids=["float64", "float32"])


def tolerance(dtype: torch.dtype) -> dict[str, float]:
    return {"rtol": 1e-10, "atol": 1e-12} if dtype == torch.float64 else {"rtol": 1e-5, "atol": 1e-6}


@DTYPES
@pytest.mark.parametrize("batch", [1, 3])
def test_step_matches_torch_lstm_cell(dtype: torch.dtype, batch: int) -> None:
    cell = torch.nn.LSTMCell(8, 50, dtype=dtype)
    step = NativeCellStep.from_module(cell)
    x = torch.randn(batch, 8, dtype=dtype)
    state = (torch.randn(batch, 50, dtype=dtype), torch.randn(batch, 50, dtype=dtype))
    h, c = step(x, state)
    with torch.no_grad():
        h_ref, c_ref = cell(x, state)
    torch.testing.assert_close(h, h_ref, **tolerance(dtype))
    torch.testing.assert_close(c, c_ref, **tolerance(dtype))


@DTYPES
@pytest.mark.parametrize("variant", ["peephole", "layer_norm", "coupled", "projection", "all"])
def test_step_variants_match_reference_step(dtype: torch.dtype, variant: str) -> None:
    hidden, inputs, batch = 19, 5, 3
    every = variant == "all"
    proj = variant == "projection" or every
    rsize = 7 if proj else hidden
    ln = variant == "layer_norm" or every

    def rand(*shape: int) -> torch.Tensor:
        return torch.randn(*shape, dtype=dtype) * 0.3

    tensors = {
        "weight_ih": rand(4 * hidden, inputs),
        "weight_hh": rand(4 * hidden, rsize),
        "bias_ih": rand(4 * hidden),
        "bias_hh": rand(4 * hidden),
        "weight_hr": rand(rsize, hidden) if proj else None,
        "weight_peephole": rand(3, hidden) if variant == "peephole" or every else None,
        "ln_weight_ih": 1 + rand(4 * hidden) if ln else None,
        "ln_bias_ih": rand(4 * hidden) if ln else None,
        "ln_weight_hh": 1 + rand(4 * hidden) if ln else None,
        "ln_bias_hh": rand(4 * hidden) if ln else None,
        "ln_weight_c": 1 + rand(hidden) if ln else None,
        "ln_bias_c": rand(hidden) if ln else None,
    }
    coupled = variant == "coupled" or every
    step = NativeCellStep(**tensors, coupled_gates=coupled)
    x, h, c = rand(batch, inputs), rand(batch, rsize), rand(batch, hidden)
    got_h, got_c = step(x, (h, c))

    t = tensors
    xg = x @ t["weight_ih"].t()
    if ln:
        xg = F.layer_norm(xg, (4 * hidden,), t["ln_weight_ih"], t["ln_bias_ih"], LAYER_NORM_EPS)
    xg = xg + t["bias_ih"] + t["bias_hh"]
    params = RecurrenceParams(
        t["weight_hh"], t["weight_hr"], t["weight_peephole"],
        t["ln_weight_hh"], t["ln_bias_hh"], t["ln_weight_c"], t["ln_bias_c"],
    )  # fmt: skip
    expected = lstm_step(xg, h, c, params, coupled_gates=coupled)
    torch.testing.assert_close(got_h, expected.h, **tolerance(dtype))
    torch.testing.assert_close(got_c, expected.c, **tolerance(dtype))


def test_stream_equals_a_whole_sequence_through_torch_lstm() -> None:
    lstm = torch.nn.LSTM(8, 128, dtype=torch.float64)
    cell = torch.nn.LSTMCell(8, 128, dtype=torch.float64)
    cell.load_state_dict({k[:-3]: v for k, v in lstm.state_dict().items()})
    stream = NativeStream(NativeCellStep.from_module(cell), batch=2)
    x = torch.randn(12, 2, 8, dtype=torch.float64)
    outputs = torch.stack([stream.step(x[t]) for t in range(12)])
    with torch.no_grad():
        expected, (_, c_n) = lstm(x)
    torch.testing.assert_close(outputs, expected, rtol=1e-10, atol=1e-12)
    torch.testing.assert_close(stream.state[1], c_n[0], rtol=1e-10, atol=1e-12)
    stream.reset()
    assert float(stream.state[0].abs().sum()) == 0.0


def test_weights_changed_in_place_are_repacked() -> None:
    cell = torch.nn.LSTMCell(4, 9)
    step = NativeCellStep.from_module(cell)
    x = torch.randn(2, 4)
    before, _ = step(x)
    with torch.no_grad():
        cell.weight_ih.mul_(2.0)
        expected, _ = cell(x)
    after, _ = step(x)
    torch.testing.assert_close(after, expected, rtol=1e-5, atol=1e-6)
    assert not torch.allclose(before, after)


def test_an_edit_through_data_is_picked_up_after_repack() -> None:
    # .data edits bypass the version counter that refresh() reads: repack() is the documented remedy
    from lstmkit.nn import LSTM, LSTMCell
    from lstmkit.ops.native_cache import repack

    torch.manual_seed(3)
    cell, lstm = LSTMCell(4, 6, backend="native").eval(), LSTM(4, 6, num_layers=2, backend="native").eval()
    x = torch.randn(2, 4)
    with torch.no_grad():
        cell(x)
        lstm.step(x)
        cell.weight_ih.data.copy_(torch.randn(24, 4))  # (the recurrent weights meet a zero state here)
        lstm.weight_ih_l1.data.copy_(torch.randn(24, 6))
        repack(cell)
        repack(lstm)
        h_cell, _ = cell(x)
        y, _ = lstm.step(x)
        h_ref, _ = torch._VF.lstm_cell(x, (x.new_zeros(2, 6),) * 2, cell.weight_ih, cell.weight_hh,
                                       cell.bias_ih, cell.bias_hh)  # fmt: skip
        out, _ = lstm.forward(x.unsqueeze(0), None)
    torch.testing.assert_close(h_cell, h_ref)
    torch.testing.assert_close(y, out[0])
    with pytest.raises(TypeError, match="repack expects an LSTMCell or LSTM module, got int"):
        repack(5)


def test_bad_input_is_rejected() -> None:
    step = NativeCellStep.from_module(torch.nn.LSTMCell(4, 9))
    with pytest.raises(ValueError, match=r"x must be a torch.float32 tensor of shape \(B, 4\), got"):
        step(torch.randn(2, 5))
    with pytest.raises(ValueError, match=r"h must be a torch.float32 tensor of shape \(2, 9\)"):
        step(torch.randn(2, 4), (torch.zeros(3, 9), torch.zeros(2, 9)))
    with pytest.raises(ValueError, match=r"weight_hh must be a torch.float32 tensor of shape \(36, 9\)"):
        NativeCellStep(torch.zeros(36, 4), torch.zeros(36, 8))
    with pytest.raises(
        ValueError, match=r"of shape \(36, 9\), got torch.float64 \(36, 9\)"
    ):  # names the dtype
        NativeCellStep(torch.zeros(36, 4), torch.zeros(36, 9, dtype=torch.float64))
    with pytest.raises(TypeError, match="state must be a tuple \\(h, c\\) or None, got Tensor"):
        step(torch.randn(2, 4), torch.zeros(2, 9))
    with pytest.raises(ValueError, match="layer norm needs all of"):
        NativeCellStep(torch.zeros(36, 4), torch.zeros(36, 9), ln_weight_ih=torch.ones(36))
    with pytest.raises(TypeError, match="float32/float64 on CPU"):
        NativeCellStep(torch.zeros(36, 4, dtype=torch.float16), torch.zeros(36, 9, dtype=torch.float16))
    with pytest.raises(TypeError, match="expected an LSTMCell or LSTM module, got dict"):
        native_cell_step({"weight_ih": torch.zeros(36, 4)}, torch.randn(2, 4))
    from lstmkit.ops.native import native_module

    with pytest.raises(ValueError, match="dims: expected 20 integers"):  # the compiled plan checks its sizes
        native_module().step_plan(False, [1] * 5, [0] * 33, [0] * 7)
    with pytest.raises(ValueError, match="expected 33 and 7 values"):
        native_module().step_plan(False, [1, 1, 9, 9, 16, 16, *[0] * 9, 1, 0, 0, 0, 0], [0] * 30, [0] * 7)


def test_native_cell_step_runs_an_lstmkit_cell_with_variants() -> None:
    from lstmkit.nn import LSTMCell

    cell = LSTMCell(6, 11, peephole=True, layer_norm=True, coupled_gates=True, dtype=torch.float64)
    x = torch.randn(2, 6, dtype=torch.float64)
    state = (torch.randn(2, 11, dtype=torch.float64), torch.randn(2, 11, dtype=torch.float64))
    with torch.no_grad():
        expected = cell(x, state)
    got = native_cell_step(cell, x, state)
    torch.testing.assert_close(got[0], expected[0], rtol=1e-10, atol=1e-12)
    torch.testing.assert_close(got[1], expected[1], rtol=1e-10, atol=1e-12)
    assert native_cell_step(cell, x, state)[0].shape == (2, 11)


def test_modules_that_streamed_can_be_copied_and_pickled() -> None:
    # the packed weights live outside the modules: deepcopy and pickle see only the modules' own state
    import copy
    import pickle

    from lstmkit.nn import LSTM, LSTMCell

    cell, lstm = LSTMCell(4, 6).eval(), LSTM(4, 6, num_layers=2).eval()
    x = torch.randn(2, 4)
    with torch.no_grad():
        h_cell, _ = cell(x, (torch.zeros(2, 6), torch.zeros(2, 6)))
        y, _ = lstm.step(x)
        for module in (cell, lstm):
            assert not any("native" in name for name in vars(module))
        cell_copy, lstm_copy = copy.deepcopy(cell), pickle.loads(pickle.dumps(lstm))
        torch.testing.assert_close(cell_copy(x, (torch.zeros(2, 6), torch.zeros(2, 6)))[0], h_cell)
        torch.testing.assert_close(lstm_copy.step(x)[0], y)


def test_native_cell_step_sees_a_replaced_parameter_of_a_torch_cell() -> None:
    cell = torch.nn.LSTMCell(4, 9)
    x = torch.randn(2, 4)
    native_cell_step(cell, x)
    cell.weight_hh = torch.nn.Parameter(torch.randn(36, 9))
    state = (torch.randn(2, 9), torch.randn(2, 9))
    with torch.no_grad():
        expected = cell(x, state)
    torch.testing.assert_close(native_cell_step(cell, x, state), expected, rtol=1e-5, atol=1e-6)


def test_weights_made_under_inference_mode_step_and_follow_in_place_changes() -> None:
    # inference tensors have no version counter: the step repacks them every time instead
    from lstmkit.nn import LSTM, LSTMCell

    with torch.inference_mode():
        theirs, ours = torch.nn.LSTMCell(4, 6), LSTMCell(4, 6)
        ours.load_state_dict(theirs.state_dict())
        x, state = torch.randn(2, 4), (torch.randn(2, 6), torch.randn(2, 6))
        torch.testing.assert_close(ours(x, state), theirs(x, state))
        ours.weight_hh.mul_(2.0)
        theirs.weight_hh.mul_(2.0)
        torch.testing.assert_close(ours(x, state), theirs(x, state))
        lstm = LSTM(4, 6)
        y, _ = lstm.step(x)
        torch.testing.assert_close(y, lstm(x.unsqueeze(0))[0][0])


def negated(t: torch.Tensor) -> torch.Tensor:
    """A contiguous view equal to ``t`` with the negative bit set: its memory holds ``-t``."""
    view = torch._neg_view(t.neg())
    assert view.is_neg() and view.is_contiguous()
    return view


def test_a_step_checks_its_operands_against_the_packed_sizes_after_a_data_swap() -> None:
    # the module still says hidden 8: the caller's checks pass, the step's own sizes changed
    cell = torch.nn.LSTMCell(4, 8)
    step = NativeCellStep.from_module(cell)
    x, h, c = torch.randn(2, 4), torch.zeros(2, 8), torch.zeros(2, 8)
    step.step_checked(x, h, c)
    cell.weight_ih.data = torch.randn(64, 4)
    cell.weight_hh.data = torch.randn(64, 16)
    cell.bias_ih.data, cell.bias_hh.data = torch.randn(64), torch.randn(64)
    with pytest.raises(ValueError, match=r"h must be a CPU torch.float32 tensor of shape \(2, 16\), the si"):
        step.step_checked(x, h, c)
    assert step.try_step(x, (h, c)) is None  # the fast path refuses it too, leaving the caller's checks
    cell.weight_ih.data = torch.randn(64, 6)
    with pytest.raises(ValueError, match=r"x must be .* shape \(2, 6\), .*\(I=6, H=16, R=16\), got a cpu"):
        step.step_checked(x, torch.zeros(2, 16), torch.zeros(2, 16))
    cell.double()
    with pytest.raises(ValueError, match=r"x must be a CPU torch.float64 tensor .* torch.float32 tensor"):
        step.step_checked(torch.randn(2, 6), torch.zeros(2, 16), torch.zeros(2, 16))


def test_negated_views_are_not_read_as_they_are() -> None:
    torch.manual_seed(0)
    cell = torch.nn.LSTMCell(4, 6, dtype=torch.float64)
    step = NativeCellStep.from_module(cell)
    x, h, c = (torch.randn(3, n, dtype=torch.float64) for n in (4, 6, 6))
    expected = step(x, (h, c))
    assert not step.accepts(negated(x), h, c) and step.accepts(x, h, c)
    for got in (step(negated(x), (negated(h), negated(c))), step.step_checked(negated(x), h, negated(c))):
        torch.testing.assert_close(got, expected, rtol=0, atol=0)
    with torch.no_grad():  # weights with the bit are packed with their sign
        negated_weights = NativeCellStep(
            negated(cell.weight_ih), negated(cell.weight_hh), negated(cell.bias_ih), cell.bias_hh
        )
    torch.testing.assert_close(negated_weights(x, (h, c)), expected, rtol=0, atol=0)


def test_weights_that_become_inference_tensors_later_are_repacked_every_step() -> None:
    from lstmkit.nn import LSTMCell

    torch.manual_seed(0)
    cell, other = LSTMCell(4, 6, backend="native"), LSTMCell(4, 6, backend="reference")
    x, state = torch.randn(3, 4, dtype=torch.float64), (torch.randn(3, 6, dtype=torch.float64),) * 2
    with torch.no_grad():
        cell(x.float(), (state[0].float(), state[1].float()))  # packed while its weights are tracked
    with torch.inference_mode():
        cell.double()  # the parameters are inference tensors now: no version counter
        other.double()
        cell(x, state)
        cell.load_state_dict(other.state_dict())  # an in-place copy no version counter records
        torch.testing.assert_close(cell(x, state), other(x, state), rtol=1e-12, atol=1e-12)
        cell.weight_hh.mul_(2.0)
        other.weight_hh.mul_(2.0)
        torch.testing.assert_close(cell(x, state), other(x, state), rtol=1e-12, atol=1e-12)


class _Twice(torch.nn.Module):
    def forward(self, w: torch.Tensor) -> torch.Tensor:
        return 2 * w


@pytest.mark.parametrize("kind", ["cell", "lstm", "weight_norm"])
def test_weights_computed_on_access_are_read_at_every_call(kind: str) -> None:
    from torch.nn.utils import parametrize

    from lstmkit.nn import LSTM, LSTMCell

    torch.manual_seed(0)
    module: torch.nn.Module = LSTM(4, 6, backend="native").eval() if kind == "lstm" else LSTMCell(4, 6)
    name = "weight_hh_l0" if kind == "lstm" else "weight_hh"
    if kind == "weight_norm":  # the old hook-based one: weight_hh is a plain attribute set before forward
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FutureWarning)
            torch.nn.utils.weight_norm(module, name)
        original = module.weight_hh_g
    else:
        parametrize.register_parametrization(module, name, _Twice())
        original = getattr(module.parametrizations, name).original
    x, state = torch.randn(3, 4), (torch.randn(3, 6), torch.randn(3, 6))

    def step() -> torch.Tensor:
        if kind == "lstm":
            return module.step(x, (state[0][None], state[1][None]))[0]  # type: ignore[operator]
        return module(x, state)[0]

    with torch.no_grad():
        step()
        original.mul_(3.0)  # e.g. an optimizer step on the underlying parameter
        got = step()
        module.backend = "reference"
        expected = step()
    torch.testing.assert_close(got, expected, rtol=1e-5, atol=1e-6)


def test_a_step_in_flight_keeps_its_packing_through_a_repack() -> None:
    # another thread may repack between a step's checks and its run: the packing it holds stays whole
    cell = torch.nn.LSTMCell(4, 9)
    step = NativeCellStep.from_module(cell)
    x, h, c = torch.randn(2, 4), torch.randn(2, 9), torch.randn(2, 9)
    packing = step.refresh()
    before = packing.step(x, h, c)
    with torch.no_grad():
        cell.weight_hh.mul_(2.0)
    assert step.refresh() is not packing  # repacked: new buffers and plans
    torch.testing.assert_close(packing.step(x, h, c), before, rtol=0, atol=0)
    assert not torch.equal(step(x, (h, c))[0], before[0])


def test_two_threads_stepping_while_the_weights_change() -> None:
    import threading

    from lstmkit.nn import LSTMCell

    cell = LSTMCell(16, 64, backend="native")
    x, state = torch.randn(1, 16), (torch.zeros(1, 64), torch.zeros(1, 64))
    outputs: list[torch.Tensor] = []

    def reader() -> None:
        with torch.no_grad():
            outputs.extend(cell(x, state)[0] for _ in range(2000))

    def writer() -> None:
        with torch.no_grad():
            for _ in range(2000):
                cell.weight_hh.add_(0.0)  # a new version: the next step repacks
                cell(x, state)

    threads = [threading.Thread(target=reader), threading.Thread(target=writer)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    with torch.no_grad():
        expected = cell(x, state)[0]
    assert all(torch.equal(out, expected) for out in outputs)


def test_a_zero_input_size_names_weight_ih() -> None:
    with pytest.raises(
        ValueError, match=r"weight_ih must have shape \(4H, I\) with H, I >= 1, got \(36, 0\)"
    ):
        NativeCellStep(torch.zeros(36, 0), torch.zeros(36, 9))
    with pytest.raises(ValueError, match=r"weight_hr must have shape \(R, 9\) with R >= 1, got \(0, 9\)"):
        NativeCellStep(torch.zeros(36, 4), torch.zeros(36, 0), weight_hr=torch.zeros(0, 9))


def test_a_stream_whose_cell_changed_dtype_says_to_reset() -> None:
    cell = torch.nn.LSTMCell(4, 9)
    stream = NativeStream(NativeCellStep.from_module(cell), batch=2)
    stream.step(torch.randn(2, 4))
    cell.double()
    x = torch.randn(2, 4, dtype=torch.float64)
    with pytest.raises(ValueError, match=r"NativeStream state is torch.float32 .* call reset\(\)"):
        stream.step(x)
    stream.reset()
    assert stream.step(x).dtype == torch.float64
    with pytest.raises(
        ValueError, match=r"NativeStream runs 2 streams: expected x of shape \(2, 4\), got \(3,"
    ):
        stream.step(torch.randn(3, 4, dtype=torch.float64))


def test_a_stream_checks_its_step_and_batch() -> None:
    from lstmkit.nn import LSTMCell

    step = NativeCellStep.from_module(LSTMCell(4, 8, backend="native"))
    with pytest.raises(TypeError, match=r"NativeStream batch must be an integer, got str '2'"):
        NativeStream(step, batch="2")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"NativeStream batch must be >= 1, got 0"):
        NativeStream(step, batch=0)
    with pytest.raises(TypeError, match=r"NativeStream expects a NativeCellStep, got LSTMCell; wrap"):
        NativeStream(torch.nn.LSTMCell(4, 8))  # type: ignore[arg-type]
