"""lstmkit.nn.LSTM: a drop-in for torch.nn.LSTM on every backend, and its variants."""

from __future__ import annotations

import itertools

import pytest
import torch
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from lstmkit.nn import LSTM, LSTMCell
from lstmkit.ops.native import native_available

BACKENDS = ("fused", "reference", "torch")
SHAPES = list(itertools.product([1, 2], [False, True], [False, True], [0, 3], [True, False]))
VARIANTS = {
    "peephole": {"peephole": True},
    "layer_norm": {"layer_norm": True},
    "recurrent_dropout": {"recurrent_dropout": 0.3},
    "zoneout": {"zoneout": 0.2},
    "coupled": {"coupled_gates": True},
    "all": {
        "peephole": True,
        "layer_norm": True,
        "recurrent_dropout": 0.3,
        "zoneout": 0.2,
        "coupled_gates": True,
    },
}


def _shape_id(case: tuple[int, bool, bool, int, bool]) -> str:
    layers, bi, bf, proj, bias = case
    direction, layout = "bi" if bi else "uni", "bf" if bf else "tf"
    return f"{layers}layers-{direction}-{layout}-proj{proj}-{'bias' if bias else 'nobias'}"


def _pair(
    case: tuple[int, bool, bool, int, bool], backend: str, dtype: torch.dtype
) -> tuple[torch.nn.LSTM, LSTM]:
    layers, bi, bf, proj, bias = case
    kw = {"num_layers": layers, "bias": bias, "batch_first": bf, "bidirectional": bi, "proj_size": proj}
    theirs = torch.nn.LSTM(4, 5, dtype=dtype, **kw)
    ours = LSTM(4, 5, dtype=dtype, backend=backend, **kw)
    ours.load_state_dict(theirs.state_dict())
    return theirs, ours


def _grads(loss: torch.Tensor, tensors: list[torch.Tensor]) -> tuple[torch.Tensor, ...]:
    return torch.autograd.grad(loss, tensors, retain_graph=True)  # the packing of x is shared


# float64 proves the math on every shape; float32 checks tolerance on the extremes of the grid.
F32_SHAPES = ((1, False, False, 0, True), (2, True, True, 3, False), (2, True, False, 0, True))
CASES = [(case, torch.float64) for case in SHAPES] + [(case, torch.float32) for case in F32_SHAPES]
CASE_IDS = [f"{_shape_id(case)}-{str(dtype).removeprefix('torch.')}" for case, dtype in CASES]


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize(("case", "dtype"), CASES, ids=CASE_IDS)
def test_matches_torch_lstm(
    case: tuple[int, bool, bool, int, bool], dtype: torch.dtype, backend: str
) -> None:
    tol = {"rtol": 1e-10, "atol": 1e-12} if dtype == torch.float64 else {"rtol": 1e-5, "atol": 1e-6}
    theirs, ours = _pair(case, backend, dtype)
    bf = case[2]
    x = torch.randn((3, 7, 4) if bf else (7, 3, 4), dtype=dtype, requires_grad=True)
    d = theirs.num_layers * (2 if theirs.bidirectional else 1)
    h0 = torch.randn(d, 3, theirs.proj_size or 5, dtype=dtype, requires_grad=True)
    c0 = torch.randn(d, 3, 5, dtype=dtype, requires_grad=True)
    lengths = torch.tensor([7, 3, 5])
    for packed in (False, True):
        inp_t = pack_padded_sequence(x, lengths, batch_first=bf, enforce_sorted=False) if packed else x
        out_t, (h_t, c_t) = theirs(inp_t, (h0, c0))
        out_o, (h_o, c_o) = ours(inp_t, (h0, c0))
        if packed:
            assert isinstance(out_o, type(out_t))
            torch.testing.assert_close(out_o.batch_sizes, out_t.batch_sizes)
            out_t, out_o = out_t.data, out_o.data
        for got, expected in ((out_o, out_t), (h_o, h_t), (c_o, c_t)):
            torch.testing.assert_close(got, expected, **tol)
        weights = [torch.randn_like(t) for t in (out_t, h_t, c_t)]
        leaves_t = [x, h0, c0, *theirs.parameters()]
        leaves_o = [x, h0, c0, *ours.parameters()]
        loss_t = sum((t * w).sum() for t, w in zip((out_t, h_t, c_t), weights, strict=True))
        loss_o = sum((t * w).sum() for t, w in zip((out_o, h_o, c_o), weights, strict=True))
        for got, expected in zip(_grads(loss_o, leaves_o), _grads(loss_t, leaves_t), strict=True):
            torch.testing.assert_close(got, expected, **tol)


@pytest.mark.parametrize("backend", BACKENDS)
def test_padded_with_lengths_matches_packed_torch(backend: str) -> None:
    theirs, ours = _pair((2, True, True, 0, True), backend, torch.float64)
    x = torch.randn(4, 6, 4, dtype=torch.float64)
    lengths = torch.tensor([2, 6, 1, 4])
    packed_out, (h_t, c_t) = theirs(pack_padded_sequence(x, lengths, batch_first=True, enforce_sorted=False))
    expected, _ = pad_packed_sequence(packed_out, batch_first=True, total_length=6)
    out, (h, c) = ours(x, lengths=lengths)
    torch.testing.assert_close(out, expected, rtol=1e-10, atol=1e-12)
    torch.testing.assert_close(h, h_t, rtol=1e-10, atol=1e-12)
    torch.testing.assert_close(c, c_t, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("backend", ["fused", "reference"])
@pytest.mark.parametrize("variant", list(VARIANTS), ids=list(VARIANTS))
def test_each_sequence_of_a_padded_batch_gives_what_it_gives_alone(variant: str, backend: str) -> None:
    options = {k: v for k, v in VARIANTS[variant].items() if k not in ("recurrent_dropout", "zoneout")}
    lstm = LSTM(
        3, 4, num_layers=2, bidirectional=True, proj_size=2, dtype=torch.float64, backend=backend, **options
    )
    lstm.eval()
    x = torch.randn(5, 3, 3, dtype=torch.float64)
    lengths = torch.tensor([5, 2, 4])
    out, (h, c) = lstm(x, lengths=lengths)
    for b, n in enumerate(lengths.tolist()):
        alone, (h_b, c_b) = lstm(x[:n, b : b + 1])
        torch.testing.assert_close(out[:n, b : b + 1], alone, rtol=1e-10, atol=1e-12)
        assert bool((out[n:, b] == 0).all())
        torch.testing.assert_close(h[:, b : b + 1], h_b, rtol=1e-10, atol=1e-12)
        torch.testing.assert_close(c[:, b : b + 1], c_b, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("variant", list(VARIANTS), ids=list(VARIANTS))
def test_fused_variant_matches_reference_on_a_stacked_bidirectional_projected_lstm(variant: str) -> None:
    kw = {"num_layers": 2, "bidirectional": True, "proj_size": 3, "batch_first": True, "dtype": torch.float64}
    fused = LSTM(4, 5, backend="fused", **kw, **VARIANTS[variant])
    ref = LSTM(4, 5, backend="reference", **kw, **VARIANTS[variant])
    ref.load_state_dict(fused.state_dict())
    x = torch.randn(3, 6, 4, dtype=torch.float64)
    lengths = torch.tensor([6, 2, 5])
    torch.manual_seed(1)
    out_f, (h_f, c_f) = fused(x, lengths=lengths)
    torch.manual_seed(1)
    out_r, (h_r, c_r) = ref(x, lengths=lengths)
    for got, expected in ((out_f, out_r), (h_f, h_r), (c_f, c_r)):
        torch.testing.assert_close(got, expected, rtol=1e-10, atol=1e-12)
    grads_f = _grads(out_f.sum() + h_f.pow(2).sum(), list(fused.parameters()))
    grads_r = _grads(out_r.sum() + h_r.pow(2).sum(), list(ref.parameters()))
    for got, expected in zip(grads_f, grads_r, strict=True):
        torch.testing.assert_close(got, expected, rtol=1e-9, atol=1e-11)


@pytest.mark.parametrize("variant", list(VARIANTS), ids=list(VARIANTS))
def test_gradcheck_through_the_module(variant: str) -> None:
    lstm = LSTM(
        2, 2, bidirectional=True, proj_size=1, dtype=torch.float64, backend="fused", **VARIANTS[variant]
    )
    x = torch.randn(3, 2, 2, dtype=torch.float64, requires_grad=True)
    lengths = torch.tensor([3, 2])

    def run(inp: torch.Tensor) -> torch.Tensor:
        torch.manual_seed(0)  # the same dropout and zoneout masks on every call
        out, _ = lstm(inp, lengths=lengths)
        assert isinstance(out, torch.Tensor)
        return out

    assert torch.autograd.gradcheck(run, (x,), eps=1e-6, atol=1e-7)


@pytest.mark.parametrize("option", ["recurrent_dropout", "zoneout"])
def test_stochastic_variants_are_seeded_and_inactive_in_eval(option: str) -> None:
    lstm = LSTM(3, 6, batch_first=True, **{option: 0.5})
    x = torch.randn(2, 8, 3)
    torch.manual_seed(7)
    a, _ = lstm(x)
    torch.manual_seed(7)
    b, _ = lstm(x)
    torch.manual_seed(8)
    c, _ = lstm(x)
    torch.testing.assert_close(a, b, rtol=0, atol=0)
    assert not torch.allclose(a, c)
    lstm.eval()
    e1, _ = lstm(x)
    e2, _ = lstm(x)
    torch.testing.assert_close(e1, e2, rtol=0, atol=0)


def test_recurrent_dropout_in_eval_equals_the_plain_lstm() -> None:
    plain = LSTM(3, 6)
    dropped = LSTM(3, 6, recurrent_dropout=0.5).eval()
    dropped.load_state_dict(plain.state_dict())
    x = torch.randn(5, 2, 3)
    torch.testing.assert_close(dropped(x)[0], plain(x)[0])


def test_zoneout_in_eval_uses_the_expectation() -> None:
    lstm = LSTM(2, 3, zoneout=0.25, dtype=torch.float64).eval()
    ref = LSTM(2, 3, dtype=torch.float64, backend="reference")
    ref.load_state_dict(lstm.state_dict())
    x = torch.randn(4, 1, 2, dtype=torch.float64)
    out, _ = lstm(x)
    h = c = torch.zeros(1, 1, 3, dtype=torch.float64)
    for t in range(4):  # h_t = 0.25 h_{t-1} + 0.75 h̃_t, the same for c
        _, (h_new, c_new) = ref(x[t : t + 1], (h, c))
        h, c = 0.25 * h + 0.75 * h_new, 0.25 * c + 0.75 * c_new
        torch.testing.assert_close(out[t], h[0])


@pytest.mark.parametrize("options", [{}, {"layer_norm": True, "proj_size": 2}])
def test_zoneout_in_eval_trains_the_same_on_native_and_fused(options: dict[str, object]) -> None:
    # in evaluation the native kernel reads one row of constant zoneout weights (z = p) for every step
    from lstmkit.ops.dispatch import native_kernel

    if native_kernel() is None:
        pytest.skip("the native kernel is not built")
    torch.manual_seed(4)
    native = LSTM(3, 5, zoneout=0.3, dtype=torch.float64, backend="native", **options).eval()  # type: ignore[arg-type]
    fused = LSTM(3, 5, zoneout=0.3, dtype=torch.float64, backend="fused", **options).eval()  # type: ignore[arg-type]
    fused.load_state_dict(native.state_dict())
    x = torch.randn(6, 4, 3, dtype=torch.float64)
    lengths = torch.tensor([6, 3, 5, 1])
    results = []
    for lstm in (native, fused):
        out, (h, c) = lstm(x, lengths=lengths)
        loss = out.square().sum() + h.sum() + c.sum()
        results.append((out, h, c, *torch.autograd.grad(loss, list(lstm.parameters()))))
    for a, b in zip(*results, strict=True):
        torch.testing.assert_close(a, b, rtol=1e-9, atol=1e-11)


def test_forget_bias_and_coupled_gates_parameters() -> None:
    lstm = LSTM(3, 4, forget_bias=1.0)
    torch.manual_seed(0)
    plain = LSTM(3, 4)
    assert bool((lstm.bias_ih_l0[4:8] > 0.4).all())
    assert plain.bias_ih_l0.shape == lstm.bias_ih_l0.shape
    with pytest.raises(ValueError, match=r"forget_bias=1\.0 needs a bias"):
        LSTM(3, 4, bias=False, forget_bias=1.0)
    coupled = LSTM(3, 4, coupled_gates=True)
    out, _ = coupled(torch.randn(5, 2, 3))
    out.sum().backward()
    assert coupled.weight_hh_l0.grad is not None
    assert bool((coupled.weight_hh_l0.grad[4:8] == 0).all()), "the forget rows are unused with coupled gates"


@pytest.mark.parametrize("value", [float("nan"), float("inf"), float("-inf")], ids=str)
def test_forget_bias_must_be_finite(value: float) -> None:
    with pytest.raises(ValueError, match=f"^LSTM forget_bias must be a finite number, got {value}$"):
        LSTM(3, 4, forget_bias=value)
    with pytest.raises(ValueError, match=f"^LSTMCell forget_bias must be a finite number, got {value}$"):
        LSTMCell(3, 4, forget_bias=value)


def test_forget_bias_without_biases_goes_to_the_input_norms_bias() -> None:
    lstm = LSTM(3, 4, bias=False, layer_norm=True, forget_bias=1.0)
    expected = torch.zeros(36)
    expected[4:8] = 1.0  # LN_ih's bias is ln_affine[1, :4H]; its forget gate rows are H..2H
    assert torch.equal(lstm.ln_affine_l0[1], expected) and torch.equal(lstm.ln_affine_l0[0], torch.ones(36))


def as_lstmkit_0_1(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """A state dict in lstmkit 0.1's layout: six layer-norm vectors per cell instead of ``ln_affine``."""
    out = {}
    for key, value in state.items():
        if "ln_affine" not in key:
            out[key] = value
            continue
        hidden = value.shape[1] // 9
        for part, (a, b) in zip(
            ("ih", "hh", "c"),
            [(0, 4 * hidden), (4 * hidden, 8 * hidden), (8 * hidden, 9 * hidden)],
            strict=True,
        ):
            out[key.replace("ln_affine", f"ln_weight_{part}")] = value[0, a:b].clone()
            out[key.replace("ln_affine", f"ln_bias_{part}")] = value[1, a:b].clone()
    return out


def test_state_dict_of_lstmkit_0_1_with_six_layer_norm_vectors_loads() -> None:
    torch.manual_seed(3)
    source = LSTM(3, 4, num_layers=2, bidirectional=True, layer_norm=True, peephole=True)
    with torch.no_grad():
        for name, param in source.named_parameters():
            if "ln_affine" in name:
                param.add_(0.1 * torch.randn_like(param))
    old = as_lstmkit_0_1(source.state_dict())
    assert "ln_bias_c_l1_reverse" in old and not any("ln_affine" in k for k in old)
    target = LSTM(3, 4, num_layers=2, bidirectional=True, layer_norm=True, peephole=True)
    target.load_state_dict(old)
    for name, tensor in source.state_dict().items():
        assert torch.equal(target.state_dict()[name], tensor), name
    x = torch.randn(5, 2, 3)
    torch.testing.assert_close(target(x)[0], source(x)[0], rtol=0, atol=0)
    # a cell with only some of the old vectors is not guessed at: strict loading names what is off
    del old["ln_weight_c_l0"]
    with pytest.raises(
        RuntimeError, match=r"(?s)Missing key\(s\).*ln_affine_l0.*Unexpected key\(s\).*ln_bias_c_l0"
    ):
        LSTM(3, 4, num_layers=2, bidirectional=True, layer_norm=True, peephole=True).load_state_dict(old)


def test_parameter_names_extend_torchs() -> None:
    lstm = LSTM(3, 4, bidirectional=True, proj_size=2, peephole=True, layer_norm=True)
    names = [n for n, _ in lstm.named_parameters()]
    torch_names = [n for n, _ in torch.nn.LSTM(3, 4, bidirectional=True, proj_size=2).named_parameters()]
    assert [n for n in names if n in torch_names] == torch_names
    assert {"weight_peephole_l0", "ln_affine_l0", "ln_affine_l0_reverse"} <= set(names)
    assert lstm.ln_affine_l0.shape == (2, 36)
    strict = LSTM(3, 4, bidirectional=True, proj_size=2)
    strict.load_state_dict(torch.nn.LSTM(3, 4, bidirectional=True, proj_size=2).state_dict())


def test_from_torch_with_variants_keeps_their_initialization() -> None:
    theirs = torch.nn.LSTM(3, 4, num_layers=2, bidirectional=True)
    ours = LSTM.from_torch(theirs, layer_norm=True, peephole=True)
    for name, tensor in theirs.state_dict().items():
        assert torch.equal(ours.state_dict()[name], tensor), name
    assert torch.equal(ours.ln_affine_l1_reverse[0], torch.ones(36))
    assert torch.equal(ours.ln_affine_l1_reverse[1], torch.zeros(36))
    assert ours.weight_peephole_l0.abs().max() <= 0.5  # U(-1/sqrt(H), 1/sqrt(H))
    # with zero peepholes the layer-norm-free model is torch's exactly
    plain = LSTM.from_torch(theirs, peephole=True)
    with torch.no_grad():
        for name, param in plain.named_parameters():
            if "peephole" in name:
                param.zero_()
    x = torch.randn(5, 2, 3)
    torch.testing.assert_close(plain(x)[0], theirs(x)[0], rtol=1e-5, atol=1e-6)


def test_from_torch_names_the_variants_for_an_unknown_option() -> None:
    with pytest.raises(
        TypeError, match=r"unknown option\(s\) \['peepole'\]; it adds the variants .*'peephole'"
    ):
        LSTM.from_torch(torch.nn.LSTM(3, 4), peepole=True)


def test_from_torch_copies_configuration_and_weights() -> None:
    theirs = torch.nn.LSTM(3, 4, num_layers=2, batch_first=True)
    ours = LSTM.from_torch(theirs)
    x = torch.randn(2, 5, 3)
    torch.testing.assert_close(ours(x)[0], theirs(x)[0])
    with pytest.raises(TypeError, match=r"expected a torch\.nn\.LSTM"):
        LSTM.from_torch(torch.nn.GRU(3, 4))  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"got LSTM; it is already an lstmkit LSTM"):
        LSTM.from_torch(ours)  # type: ignore[arg-type]
    # what the torch module fixes is refused, not a clash of arguments; forget_bias would be overwritten
    for taken in ({"batch_first": False}, {"forget_bias": 1.0}):
        with pytest.raises(ValueError, match=f"takes \\['{next(iter(taken))}'\\] from the torch module"):
            LSTM.from_torch(theirs, **taken)


@pytest.mark.parametrize("backend", ["fused", "torch"])
def test_unbatched_input_and_step_streaming(backend: str) -> None:
    lstm = LSTM(3, 4, num_layers=2, backend=backend)
    x = torch.randn(6, 3)
    out, (h, c) = lstm(x)
    assert out.shape == (6, 4) and h.shape == (2, 4) and c.shape == (2, 4)
    state = None
    for t in range(6):
        y, state = lstm.step(x[t : t + 1], state)
    assert state is not None
    torch.testing.assert_close(y[0], out[-1], rtol=1e-5, atol=1e-6)


def test_auto_matches_torch_lstm_on_the_backend_it_picks() -> None:
    torch.manual_seed(0)
    reference = torch.nn.LSTM(3, 5, batch_first=True)
    ours = LSTM.from_torch(reference)
    x = torch.randn(4, 6, 3)
    for got, want in zip(ours(x)[0:1], reference(x)[0:1], strict=True):
        torch.testing.assert_close(got, want, rtol=1e-5, atol=1e-6)
    half = LSTM(3, 5).to(torch.bfloat16)  # not a native type: torch's kernel runs it
    assert half(torch.randn(6, 2, 3, dtype=torch.bfloat16))[0].dtype == torch.bfloat16


# --- bad input --------------------------------------------------------------------------------------


def test_wrong_rank_and_feature_size() -> None:
    lstm = LSTM(8, 4, batch_first=True)
    with pytest.raises(ValueError, match=r"expected input of rank 3 \(B, T, I\) with batch_first=True"):
        lstm(torch.randn(2, 3, 4, 8))
    with pytest.raises(
        ValueError, match=r"expected input of shape \(B, T, 8\).*got \(32, 100, 1\); set input_size=1"
    ):
        lstm(torch.randn(32, 100, 1))


def test_wrong_dtype_type_and_device() -> None:
    lstm = LSTM(2, 3)
    with pytest.raises(TypeError, match=r"dtype torch\.float32 .* got torch\.float64"):
        lstm(torch.randn(4, 1, 2, dtype=torch.float64))
    with pytest.raises(TypeError, match=r"expected input to be a torch\.Tensor, got list"):
        lstm([[1.0, 2.0]])  # type: ignore[arg-type]


def test_mismatched_state_shapes() -> None:
    lstm = LSTM(2, 3, num_layers=2)
    x = torch.randn(4, 5, 2)
    with pytest.raises(ValueError, match=r"expected h_0 of shape \(2, 5, 3\), got \(1, 5, 3\)"):
        lstm(x, (torch.zeros(1, 5, 3), torch.zeros(2, 5, 3)))
    with pytest.raises(ValueError, match=r"expected c_0 of shape \(2, 5, 3\), got \(2, 4, 3\)"):
        lstm(x, (torch.zeros(2, 5, 3), torch.zeros(2, 4, 3)))
    with pytest.raises(TypeError, match=r"expected hx as a tuple of two tensors \(h_0, c_0\), got Tensor"):
        lstm(x, torch.zeros(2, 5, 3))  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"tuple of two tensors \(h_0, c_0\), got a tuple of 1"):
        lstm(x, (torch.zeros(2, 5, 3),))  # type: ignore[arg-type]


def test_lengths_out_of_range_or_unsorted() -> None:
    lstm = LSTM(2, 3)
    x = torch.randn(4, 3, 2)
    with pytest.raises(ValueError, match=r"every length in \[1, 4\].*max 5"):
        lstm(x, lengths=[5, 2, 1])
    with pytest.raises(ValueError, match=r"every length in \[1, 4\].*min 0"):
        lstm(x, lengths=[0, 2, 1])
    with pytest.raises(ValueError, match="expected 3 lengths"):
        lstm(x, lengths=[4, 2])
    with pytest.raises(
        ValueError, match=r"sorted in decreasing order with enforce_sorted=True, got \[2, 4, 1\]"
    ):
        lstm(x, lengths=[2, 4, 1], enforce_sorted=True)
    with pytest.raises(TypeError, match="1-D integer tensor"):
        lstm(x, lengths=torch.tensor([2.0, 4.0, 1.0]))


def test_nan_input_with_check_finite() -> None:
    x = torch.randn(4, 2, 3)
    x[2, 1, 0] = float("nan")
    with pytest.raises(
        ValueError, match=r"LSTM input contains 1 NaN or infinite value\(s\), the first at index \(2, 1, 0\)"
    ):
        LSTM(3, 4, check_finite=True)(x)
    out, _ = LSTM(3, 4)(x)  # off by default, as in torch
    assert bool(torch.isnan(out).any())


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"hidden_size": 0}, ValueError, "hidden_size must be >= 1, got 0"),
        ({"hidden_size": 2.5}, TypeError, "hidden_size must be an integer"),
        ({"dropout": 1.5}, ValueError, r"dropout must be in \[0, 1\], got 1.5"),
        ({"recurrent_dropout": 1.0}, ValueError, r"recurrent_dropout must be in \[0, 1\), got 1.0"),
        ({"zoneout": -0.1}, ValueError, r"zoneout must be in \[0, 1\)"),
        ({"proj_size": 4}, ValueError, "proj_size must be smaller than hidden_size=4, got 4"),
        ({"backend": "cudnn"}, ValueError, "unknown backend 'cudnn'; expected one of"),
        ({"num_layers": 0}, ValueError, "num_layers must be an integer >= 1, got 0"),
    ],
)
def test_constructor_rejects_bad_arguments(kwargs: dict[str, object], error: type, message: str) -> None:
    base: dict[str, object] = {"input_size": 3, "hidden_size": 4}
    with pytest.raises(error, match=message):
        LSTM(**{**base, **kwargs})  # type: ignore[arg-type]


def test_torch_backend_refuses_variants() -> None:
    with pytest.raises(ValueError, match="backend='torch' runs only the plain LSTM"):
        LSTM(2, 3, peephole=True, backend="torch")(torch.randn(3, 1, 2))


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
@pytest.mark.parametrize("backend", ["fused", "torch"])
def test_cuda_matches_cpu(backend: str) -> None:
    cpu = LSTM(3, 8, num_layers=2, bidirectional=True, backend=backend, dtype=torch.float64)
    gpu = LSTM(3, 8, num_layers=2, bidirectional=True, backend=backend, dtype=torch.float64, device="cuda")
    gpu.load_state_dict(cpu.state_dict())
    x = torch.randn(6, 4, 3, dtype=torch.float64)
    torch.testing.assert_close(gpu(x.cuda())[0].cpu(), cpu(x)[0])


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_cuda_variants_match_reference() -> None:
    fused = LSTM(3, 8, layer_norm=True, peephole=True, device="cuda", dtype=torch.float64, backend="fused")
    ref = LSTM(3, 8, layer_norm=True, peephole=True, device="cuda", dtype=torch.float64, backend="reference")
    ref.load_state_dict(fused.state_dict())
    x = torch.randn(6, 4, 3, dtype=torch.float64, device="cuda")
    torch.testing.assert_close(fused(x)[0], ref(x)[0])


@pytest.mark.parametrize("backend", ["auto", "fused", "native", "reference", "torch"])
def test_empty_batch_runs_forward_and_backward(backend: str) -> None:
    from lstmkit.ops.dispatch import native_kernel

    if backend == "native" and native_kernel() is None:
        pytest.skip("the native kernel is not built")
    lstm = LSTM(1, 4, batch_first=True, backend=backend)
    x = torch.zeros(0, 5, 1, requires_grad=True)
    out, (h, c) = lstm(x)
    assert out.shape == (0, 5, 4) and h.shape == (1, 0, 4) and c.shape == (1, 0, 4)
    (out.sum() + h.sum()).backward()
    assert lstm.weight_hh_l0.grad is not None
    assert bool((lstm.weight_hh_l0.grad == 0).all())


@pytest.mark.parametrize("options", [{}, {"proj_size": 2, "peephole": True}, {"layer_norm": True}])
def test_native_streaming_steps_match_the_whole_sequence(options: dict[str, object]) -> None:
    from lstmkit.ops.dispatch import native_kernel

    if native_kernel() is None:
        pytest.skip("the native kernel is not built")
    lstm = LSTM(3, 5, num_layers=2, dtype=torch.float64, backend="native", **options).eval()  # type: ignore[arg-type]
    x = torch.randn(6, 2, 3, dtype=torch.float64)
    with torch.inference_mode():
        out, (h, c) = lstm(x)
        state = None
        for t in range(6):
            y, state = lstm.step(x[t], state)
            torch.testing.assert_close(y, out[t], rtol=1e-10, atol=1e-12)
        assert state is not None
        torch.testing.assert_close(state[0], h, rtol=1e-10, atol=1e-12)
        torch.testing.assert_close(state[1], c, rtol=1e-10, atol=1e-12)
        y1, _ = lstm.step(x[0, 0])  # unbatched
        torch.testing.assert_close(y1, lstm.step(x[0, :1])[0][0])


def test_native_step_from_zeros_for_changing_batch_sizes_and_dtypes() -> None:
    # a step without a state reads a cached zero buffer: it must grow with the batch, follow the dtype
    # and never be written
    from lstmkit.ops.dispatch import native_kernel
    from lstmkit.ops.native_cache import STEPS

    if native_kernel() is None:
        pytest.skip("the native kernel is not built")
    lstm = LSTM(3, 5, num_layers=2, proj_size=2, backend="native").eval()
    with torch.inference_mode():
        for batch, dtype in [(3, torch.float32), (7, torch.float32), (2, torch.float32), (4, torch.float64)]:
            lstm.to(dtype)
            x = torch.randn(batch, 3, dtype=dtype)
            y, (h, c) = lstm.step(x)
            out, (h_ref, c_ref) = lstm(x.unsqueeze(0))
            torch.testing.assert_close(y, out[0])
            torch.testing.assert_close(h, h_ref)
            torch.testing.assert_close(c, c_ref)
            zeros = STEPS[lstm].zeros
            assert zeros is not None and zeros.dtype == dtype and not zeros.any()


def test_native_step_with_a_state_takes_strided_tensors_and_follows_the_dtype() -> None:
    # the one-call path reads contiguous tensors of the weights' dtype as they are; strided ones go
    # through step()'s conversions, and a module converted to float64 is not fed float32 buffers
    from lstmkit.ops.dispatch import native_kernel

    if native_kernel() is None:
        pytest.skip("the native kernel is not built")
    torch.manual_seed(2)
    lstm = LSTM(3, 5, num_layers=2, proj_size=2, backend="native").eval()
    x = torch.randn(4, 3)
    h = torch.randn(2, 2, 4).transpose(1, 2)  # (L, B, R) = (2, 4, 2), not contiguous
    c = torch.randn(2, 4, 5)
    with torch.inference_mode():
        out, (h_ref, c_ref) = lstm(x.unsqueeze(0), (h, c))
        for x_in, state in [(x, (h, c)), (x, (h.contiguous(), c)), (x.t().contiguous().t(), (h, c))]:
            y, (h_n, c_n) = lstm.step(x_in, state)
            torch.testing.assert_close(y, out[0])
            torch.testing.assert_close(h_n, h_ref)
            torch.testing.assert_close(c_n, c_ref)
        lstm.double()
        with pytest.raises(TypeError, match=r"expected input of dtype torch\.float64"):
            lstm.step(x, (h.contiguous(), c))
        state64 = (h.double(), c.double())
        y, _ = lstm.step(x.double(), state64)
        torch.testing.assert_close(y, lstm(x.double().unsqueeze(0), state64)[0][0])


def test_second_derivatives_on_reference_equal_torchs_and_the_hand_written_backwards_refuse_them() -> None:
    x = torch.randn(4, 2, 3, dtype=torch.float64)

    def penalized_grad(backend: str) -> torch.Tensor:
        torch.manual_seed(1)
        lstm = LSTM(3, 5, backend=backend, dtype=torch.float64)
        xr = x.clone().requires_grad_(True)
        out, _ = lstm(xr)
        (g,) = torch.autograd.grad(out.sum(), xr, create_graph=True)  # an input-gradient penalty
        (out.pow(2).mean() + g.pow(2).sum()).backward()
        return lstm.weight_hh_l0.grad

    torch.testing.assert_close(penalized_grad("reference"), penalized_grad("torch"))
    for backend in ("fused", "native", "auto"):
        with pytest.raises(RuntimeError, match=r"second derivatives .* need backend='reference'"):
            penalized_grad(backend)


@pytest.mark.parametrize("options", [{}, {"peephole": True}, {"layer_norm": True}])
def test_backends_run_under_cpu_autocast_and_agree(options: dict[str, object]) -> None:
    x = torch.randn(5, 2, 4)
    outputs = {}
    for backend in ("fused", "native", "reference"):
        torch.manual_seed(0)
        lstm = LSTM(4, 6, backend=backend, **options)
        with torch.autocast("cpu", dtype=torch.bfloat16):
            y, _ = lstm(x)
        y.float().sum().backward()
        outputs[backend] = y.float()
        assert all(p.grad is not None and bool(torch.isfinite(p.grad).all()) for p in lstm.parameters())
    for backend in ("fused", "native"):  # bfloat16 input projections: agreement to bfloat16's precision
        torch.testing.assert_close(outputs[backend], outputs["reference"], rtol=0, atol=3e-2)


def test_from_torch_keeps_the_mode_and_frozen_parameters() -> None:
    theirs = torch.nn.LSTM(3, 4, num_layers=2, dropout=0.5).eval()
    theirs.weight_hh_l1.requires_grad_(False)
    ours = LSTM.from_torch(theirs)
    assert not ours.training and not ours.weight_hh_l1.requires_grad and ours.weight_hh_l0.requires_grad
    x = torch.randn(5, 2, 3)
    torch.testing.assert_close(ours(x)[0], ours(x)[0], rtol=0, atol=0)  # no dropout at evaluation


def test_torch_backend_takes_an_empty_batch_with_lengths() -> None:
    out, (h, c) = LSTM(4, 6, backend="torch")(torch.randn(3, 0, 4), lengths=torch.zeros(0, dtype=torch.long))
    assert out.shape == (3, 0, 6) and h.shape == (1, 0, 6) and c.shape == (1, 0, 6)


@pytest.mark.parametrize("options", [{}, {"layer_norm": True, "peephole": True}])
def test_a_traced_lstm_replays_what_the_module_computes(options: dict[str, object]) -> None:
    # a trace records torch operations: 'auto' takes torch's kernel or the reference loop there
    import warnings

    torch.manual_seed(0)
    lstm = LSTM(3, 5, **options).eval()  # type: ignore[arg-type]
    x = torch.randn(4, 2, 3)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # TracerWarning, and torch.jit.trace's deprecation
        with torch.no_grad():
            traced = torch.jit.trace(lstm, (x,))
        other = torch.randn(4, 2, 3)
        torch.testing.assert_close(traced(other)[0], lstm(other)[0], rtol=1e-5, atol=1e-6)
        for backend in ("native", "fused"):
            with pytest.raises(ValueError, match=f"backend='{backend}' cannot run under torch.jit.trace"):
                torch.jit.trace(LSTM(3, 5, backend=backend, **options), (x,))  # type: ignore[arg-type]


@pytest.mark.parametrize("backend", ["auto", "native", "fused", "reference"])
def test_a_bfloat16_input_under_autocast_is_taken_as_torch_takes_it(backend: str) -> None:
    # a Linear under CPU autocast outputs bfloat16; the recurrence runs in the weights' dtype
    torch.manual_seed(0)
    project, lstm = torch.nn.Linear(3, 4), LSTM(4, 6, backend=backend)
    x = torch.randn(5, 2, 3)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        u = project(x)
        assert u.dtype == torch.bfloat16
        y, _ = lstm(u, (torch.zeros(1, 2, 6, dtype=torch.bfloat16), torch.zeros(1, 2, 6)))
    # (the fused and reference loops project the input with F.linear, which autocast runs in bfloat16)
    torch.testing.assert_close(y, lstm(u.float())[0], rtol=0, atol=5e-3)
    y.sum().backward()
    assert project.weight.grad is not None and bool(project.weight.grad.isfinite().all())
    with pytest.raises(TypeError, match=r"expected input of dtype torch\.float32"):  # outside autocast
        lstm(u.detach())


VARIANT = {"peephole": True, "bidirectional": True}


@pytest.mark.parametrize(
    ("backend", "options"),
    [(b, {}) for b in ("fused", "reference", "native", "torch")]
    + [(b, VARIANT) for b in ("fused", "reference", "native")],
)
def test_nan_or_inf_in_the_padding_never_reaches_states_outputs_or_gradients(
    backend: str, options: dict[str, object]
) -> None:
    torch.manual_seed(0)
    lstm = LSTM(3, 4, backend=backend, **options)  # type: ignore[arg-type]
    clean = torch.randn(5, 2, 3)
    lengths = torch.tensor([5, 2])
    for poison in (float("nan"), float("inf")):
        x = clean.clone().requires_grad_()
        dirty = x.detach().clone()
        dirty[2:, 1] = poison  # past the second sequence's length
        x_dirty = dirty.requires_grad_()
        out, (h, c) = lstm(x_dirty, lengths=lengths)
        expected, (h_e, c_e) = lstm(x, lengths=lengths)
        torch.testing.assert_close(out, expected, rtol=0, atol=0)
        torch.testing.assert_close((h, c), (h_e, c_e), rtol=0, atol=0)
        (out.sum() + h.sum()).backward()
        assert x_dirty.grad is not None and bool(x_dirty.grad.isfinite().all())
        assert bool(x_dirty.grad[2:, 1].eq(0).all())  # the padding does not touch the loss
        assert all(bool(p.grad.isfinite().all()) for p in lstm.parameters() if p.grad is not None)
        lstm.zero_grad()


@pytest.mark.parametrize("backend", ["auto", "native", "fused", "reference"])
def test_a_packed_sequence_under_autocast_is_taken_as_a_padded_tensor_is(backend: str) -> None:
    torch.manual_seed(0)
    lstm = LSTM(4, 6, backend=backend)
    x = torch.randn(5, 2, 4, dtype=torch.bfloat16)
    lengths = torch.tensor([5, 3])
    with torch.autocast("cpu", dtype=torch.bfloat16):
        padded, _ = lstm(x, lengths=lengths)
        packed, _ = lstm(pack_padded_sequence(x, lengths))
    assert padded.dtype == packed.data.dtype == torch.float32  # the weights' dtype, as a tensor input
    unpacked, _ = pad_packed_sequence(packed, total_length=5)
    torch.testing.assert_close(unpacked, padded, rtol=0, atol=0)


NATIVE = pytest.mark.skipif(not native_available(), reason="lstmkit.ops._native is not built")


@NATIVE
@pytest.mark.parametrize("change", ["dtype", "hidden"])
def test_native_step_refuses_a_layer_changed_behind_the_module(change: str) -> None:
    lstm = LSTM(4, 8, num_layers=2, backend="native").eval()
    x = torch.randn(64, 4)
    with torch.no_grad():
        _, hx = lstm.step(x)
        if change == "dtype":  # layer 1 float64 by .data swaps, layer 0 float32
            for name, param in lstm.named_parameters():
                if name.endswith("_l1"):
                    param.data = param.data.double()
            match = r"layer 1 are torch.float64 with \(I, H, R\) = \(8, 8, 8\), expected torch.float32 with"
        else:
            lstm.weight_ih_l1.data, lstm.weight_hh_l1.data = torch.randn(4 * 32, 8), torch.randn(4 * 32, 32)
            lstm.bias_ih_l1.data, lstm.bias_hh_l1.data = torch.randn(4 * 32), torch.randn(4 * 32)
            match = r"layer 1 are torch.float32 with \(I, H, R\) = \(8, 32, 32\), expected .* \(8, 8, 8\)"
        for state in (hx, None, (hx[0].transpose(0, 1).contiguous().transpose(0, 1), hx[1])):
            with pytest.raises(ValueError, match=match):
                lstm.step(x, state)


@NATIVE
def test_native_step_and_forward_read_negated_views_with_their_sign() -> None:
    import copy

    torch.manual_seed(0)
    native = LSTM(4, 6, backend="native").eval()
    reference = copy.deepcopy(native)
    reference.backend = "reference"
    x = torch.randn(5, 3, 4, dtype=torch.complex64).conj().imag  # strided, with the negative bit
    h0 = torch._neg_view(-torch.randn(1, 3, 6))  # contiguous, with the negative bit
    c0 = torch.randn(1, 3, 6)
    with torch.no_grad():
        pairs = [
            (native(x, (h0, c0))[0], reference(x.resolve_neg(), (h0.resolve_neg(), c0))[0]),
            (native.step(x[0], (h0, c0))[0], reference.step(x[0].resolve_neg(), (h0.resolve_neg(), c0))[0]),
            (native.step(torch._neg_view(-x[0].contiguous()))[0], reference.step(x[0].resolve_neg())[0]),
        ]
    for got, expected in pairs:
        torch.testing.assert_close(got, expected)


def test_lengths_without_values_or_of_a_complex_dtype_are_clear_errors() -> None:
    lstm = LSTM(2, 3)
    x = torch.randn(4, 3, 2)
    with pytest.raises(ValueError, match=r"expected lengths with values .* got a tensor on the meta device"):
        lstm(x, lengths=torch.tensor([4, 2, 1], device="meta"))
    with pytest.raises(
        TypeError, match=r"lengths as a 1-D integer tensor of shape \(3,\), got dtype torch.c"
    ):
        lstm(x, lengths=torch.tensor([4, 2, 1], dtype=torch.complex64))


@pytest.mark.parametrize("options", [{"peephole": True}, {"backend": "fused"}], ids=["peephole", "fused"])
def test_a_meta_module_runs_the_fused_loop_for_shapes(options: dict[str, object]) -> None:
    lstm = LSTM(4, 6, device="meta", **options)  # type: ignore[arg-type]
    y, (h, c) = lstm(torch.randn(5, 3, 4, device="meta"))
    assert y.shape == (5, 3, 6) and h.shape == c.shape == (1, 3, 6) and y.is_meta


@pytest.mark.parametrize("backend", ["reference", "fused", "torch"])
def test_an_empty_batch_with_lengths_returns_empty_outputs(backend: str) -> None:
    lstm = LSTM(3, 4, backend=backend)
    out, (h, c) = lstm(torch.randn(5, 0, 3), lengths=torch.zeros(0, dtype=torch.int64))
    assert out.shape == (5, 0, 4) and h.shape == c.shape == (1, 0, 4)
