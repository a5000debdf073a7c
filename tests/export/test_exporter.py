"""ONNX export round trips: every file is run in onnxruntime on fresh inputs (other batch sizes and lengths
than the exporter's own check used) and compared with the PyTorch module it came from."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import onnxruntime as ort
import pytest
import torch
from torch import Tensor, nn

from lstmkit import layers
from lstmkit.classify.models import LSTMClassifier
from lstmkit.export import ExportReport, OnnxCheckError, to_onnx
from lstmkit.models import Sequential
from lstmkit.nn import LSTM, LSTMCell
from lstmkit.ops.dispatch import native_kernel

ATOL = 1e-4  # float32: the exporter's own default; measured differences are 1e-8 to 2e-5
TRAINED_BACKENDS = ["fused", *(["native"] if native_kernel() is not None else [])]


def onnx_outputs(path: Path, feed: dict[str, Tensor]) -> list[np.ndarray]:
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    result: list[np.ndarray] = session.run(None, {k: v.numpy() for k, v in feed.items()})
    return result


def assert_matches(path: Path, module: nn.Module, feed: dict[str, Tensor], *args: Tensor) -> float:
    """Run the file in onnxruntime on ``feed`` and the module on ``args`` (default: the feed's tensors)."""
    with torch.no_grad():
        expected = module(*(args or tuple(feed.values())))
    items = (expected,) if isinstance(expected, Tensor) else expected
    flat = [t for item in items for t in (item if isinstance(item, tuple) else (item,))]
    got = onnx_outputs(path, feed)
    assert len(got) == len(flat)
    worst = 0.0
    for value, want in zip(got, flat, strict=True):
        assert value.shape == tuple(want.shape)
        worst = max(worst, float(np.abs(value - want.numpy()).max()))
    assert worst < ATOL, worst
    return worst


def assert_predicts_alike(path: Path, model: Sequential, steps: tuple[int, ...], features: int) -> None:
    """The file in onnxruntime against the Keras model's ``predict`` on batches of 3 of each length."""
    for length in steps:
        x = np.random.default_rng(length).standard_normal((3, length, features)).astype(np.float32)
        got = onnx_outputs(path, {"input": torch.from_numpy(x)})[0]
        np.testing.assert_allclose(got, model.predict(x, verbose=0), atol=ATOL, rtol=0)


@pytest.fixture(scope="module")
def plain_export(tmp_path_factory: pytest.TempPathFactory) -> tuple[LSTM, ExportReport]:
    torch.manual_seed(0)
    lstm = LSTM(3, 6, num_layers=2, batch_first=True).eval()
    path = tmp_path_factory.mktemp("plain") / "lstm.onnx"
    return lstm, to_onnx(lstm, path, torch.randn(2, 5, 3))


def test_plain_lstm_is_onnx_lstm_operator_with_free_batch_and_steps(plain_export) -> None:
    lstm, report = plain_export
    assert report.exporter == "torchscript" and "LSTM" in report.operators and "Scan" not in report.operators
    assert report.input_names == ("input",) and report.output_names == ("output", "h_n", "c_n")
    assert report.dynamic_axes == {
        "input": {0: "batch", 1: "steps"},
        "output": {0: "batch", 1: "steps"},
        "h_n": {1: "batch"},
        "c_n": {1: "batch"},
    }
    assert report.max_abs_diff is not None and report.max_abs_diff < ATOL
    assert report.checked_shapes == (((2, 5, 3),), ((3, 6, 3),))
    for batch, steps in [(1, 1), (4, 9), (7, 33)]:  # other sizes than the example and the check's
        assert_matches(report.path, lstm, {"input": torch.randn(batch, steps, 3)})


def test_plain_lstm_time_major_with_initial_state(tmp_path: Path) -> None:
    lstm = LSTM(3, 5, num_layers=2, bidirectional=True).eval()  # (T, B, I)
    state = torch.randn(4, 2, 5), torch.randn(4, 2, 5)
    report = to_onnx(lstm, tmp_path / "s.onnx", (torch.randn(6, 2, 3), state))
    assert report.input_names == ("input", "h_0", "c_0") and "LSTM" in report.operators
    assert report.dynamic_axes["input"] == {0: "steps", 1: "batch"} and report.dynamic_axes["h_0"] == {
        1: "batch"
    }
    x, h0, c0 = torch.randn(11, 3, 3), torch.randn(4, 3, 5), torch.randn(4, 3, 5)
    assert_matches(report.path, _Stateful(lstm), {"input": x, "h_0": h0, "c_0": c0})


def test_variant_lstm_with_initial_state_exports_through_torch_export(tmp_path: Path) -> None:
    # torch.export maps each example tensor to one parameter of the graph's forward (no *varargs)
    lstm = LSTM(3, 5, proj_size=2).eval()  # (T, B, I)
    state = torch.randn(1, 2, 2), torch.randn(1, 2, 5)
    report = to_onnx(lstm, tmp_path / "s.onnx", (torch.randn(6, 2, 3), state))
    assert report.exporter == "dynamo" and report.input_names == ("input", "h_0", "c_0")
    assert report.dynamic_axes["h_0"] == {1: "batch"}
    x, h0, c0 = torch.randn(11, 3, 3), torch.randn(1, 3, 2), torch.randn(1, 3, 5)
    assert_matches(report.path, _Stateful(lstm), {"input": x, "h_0": h0, "c_0": c0})


class _Stateful(nn.Module):
    def __init__(self, lstm: LSTM) -> None:
        super().__init__()
        self.lstm = lstm

    def forward(self, x: Tensor, h0: Tensor, c0: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        out, (h, c) = self.lstm(x, (h0, c0))
        assert isinstance(out, Tensor)
        return out, h, c


class _Flat(nn.Module):
    """An LSTM returning ``(output, h_n, c_n)``, as the exported graph does."""

    def __init__(self, lstm: LSTM) -> None:
        super().__init__()
        self.lstm = lstm

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        out, (h, c) = self.lstm(x)
        assert isinstance(out, Tensor)
        return out, h, c


VARIANTS = {
    "peephole": {"peephole": True},
    "layer_norm": {"layer_norm": True},
    "recurrent_dropout": {"recurrent_dropout": 0.3},
    "zoneout": {"zoneout": 0.2},
    "coupled_gates": {"coupled_gates": True},
    "proj_size": {"proj_size": 2},
    "peephole-layernorm-bidirectional-2layers-proj": {
        "peephole": True, "layer_norm": True, "bidirectional": True, "num_layers": 2, "proj_size": 3,
    },
}  # fmt: skip


@pytest.mark.parametrize("options", VARIANTS.values(), ids=VARIANTS.keys())
def test_variants_export_as_scan_with_free_batch_and_steps(tmp_path: Path, options: dict) -> None:
    torch.manual_seed(1)
    lstm = LSTM(3, 5, batch_first=True, backend="fused", **options)
    report = to_onnx(lstm, tmp_path / "v.onnx", torch.randn(2, 4, 3))
    assert report.exporter == "dynamo" and "Scan" in report.operators and "LSTM" not in report.operators
    assert report.dynamic_axes["input"] == {0: "batch", 1: "steps"}
    assert report.dynamic_axes["output"] == {0: "batch", 1: "steps"}
    assert lstm.backend == "fused" and lstm.training  # given back as they were
    lstm.eval()
    for batch, steps in [(1, 1), (5, 12)]:
        assert_matches(report.path, _Flat(lstm), {"input": torch.randn(batch, steps, 3)})


@pytest.mark.parametrize("backend", TRAINED_BACKENDS)
def test_a_model_on_an_untraceable_backend_exports_and_keeps_its_backend(
    tmp_path: Path, backend: str
) -> None:
    lstm = LSTM(2, 4, batch_first=True, backend=backend)
    out = lstm(torch.randn(3, 5, 2))[0]
    assert isinstance(out, Tensor)
    out.sum().backward()  # trained on its own backend
    report = to_onnx(lstm, tmp_path / "n.onnx", torch.randn(2, 5, 2))
    assert lstm.backend == backend and "LSTM" in report.operators
    assert_matches(report.path, _Flat(lstm.eval()), {"input": torch.randn(4, 8, 2)})


def test_lstm_cell_takes_and_returns_the_state(tmp_path: Path) -> None:
    for options in ({}, {"peephole": True, "layer_norm": True, "backend": "fused"}):
        cell = LSTMCell(3, 4, **options)
        report = to_onnx(cell, tmp_path / "cell.onnx")  # made-up example (2, 3) and state
        assert report.input_names == ("input", "h_0", "c_0") and report.output_names == ("h_1", "c_1")
        assert report.dynamic_axes["h_1"] == {0: "batch"}
        feed = {"input": torch.randn(5, 3), "h_0": torch.randn(5, 4), "c_0": torch.randn(5, 4)}
        assert_matches(report.path, _CellFlat(cell), feed)


class _CellFlat(nn.Module):
    def __init__(self, cell: LSTMCell) -> None:
        super().__init__()
        self.cell = cell

    def forward(self, x: Tensor, h: Tensor, c: Tensor) -> tuple[Tensor, Tensor]:
        h_1, c_1 = self.cell(x, (h, c))
        return h_1, c_1


def test_a_network_with_lengths_exports_and_pads_as_pytorch(tmp_path: Path) -> None:
    net = LSTMClassifier(n_channels=3, n_classes=4, hidden_size=5).eval()  # a classify kit network
    report = to_onnx(net, tmp_path / "c.onnx", (torch.randn(3, 7, 3), torch.tensor([7, 4, 2])))
    assert report.input_names == ("input_0", "input_1") and report.dynamic_axes["input_1"] == {0: "batch"}
    x, lengths = torch.randn(4, 10, 3), torch.tensor([1, 10, 3, 6])
    assert_matches(report.path, net, {"input_0": x, "input_1": lengths})


def test_an_unbuilt_keras_model_is_built_before_the_exporter_is_chosen(tmp_path: Path) -> None:
    # no input_shape: the peephole LSTM exists only after a first forward, which must come before the
    # choice of exporter (else: TorchScript, its loop unrolled to the example's 5 steps) and before the
    # modes are saved (else: zoneout in training mode for the reference, the built LSTM left in eval mode)
    torch.manual_seed(0)
    model = Sequential([layers.LSTM(4, peephole=True, zoneout=0.3), layers.Dense(1)])
    report = model.export(tmp_path / "m.onnx", example_input=torch.randn(2, 5, 3))
    assert report.exporter == "dynamo" and "Scan" in report.operators
    assert report.dynamic_axes["input"] == {0: "batch", 1: "steps"}
    assert all(m.training for m in model.module.modules())  # the built LSTM too, as its parents
    assert_predicts_alike(report.path, model, (3, 5, 7), features=3)


def test_a_cnn_lstm_exports_with_free_steps_and_matches_at_odd_and_even_lengths(tmp_path: Path) -> None:
    # Conv1D 'same', a pool 'same' of stride 1 and a valid pool: ONNX Conv/MaxPool/AveragePool with a free
    # time axis; the check's second input is one step longer, so a parity-kept amount would show
    torch.manual_seed(0)
    model = Sequential(
        [
            layers.Conv1D(4, 3, padding="same", activation="relu", input_shape=(None, 2)),
            layers.BatchNormalization(),
            layers.AveragePooling1D(3, strides=1, padding="same"),
            layers.MaxPooling1D(2),
            layers.LSTM(3),
            layers.Dense(1),
        ]
    )
    report = model.export(tmp_path / "m.onnx", example_input=torch.randn(2, 10, 2))
    assert report.exporter == "torchscript" and report.checked_shapes[1] == ((3, 11, 2),)
    assert_predicts_alike(report.path, model, (7, 8, 13), features=2)


def test_same_padding_with_strides_follows_the_steps_in_the_graph(tmp_path: Path) -> None:
    # its padding follows the number of steps: computed in the traced graph, so every length pads as in
    # PyTorch (odd and even lengths pad differently with strides 2)
    torch.manual_seed(0)
    model = Sequential(
        [
            layers.Conv1D(4, 3, strides=2, padding="same", input_shape=(None, 2)),
            layers.MaxPooling1D(2, padding="same"),
            layers.LSTM(3),
        ]
    )
    report = model.export(tmp_path / "m.onnx", example_input=torch.randn(2, 9, 2))
    assert report.dynamic_axes["input"] == {0: "batch", 1: "steps"}
    assert_predicts_alike(report.path, model, (2, 7, 12, 13), features=2)


def test_torch_export_tying_the_steps_is_a_clear_error(tmp_path: Path) -> None:
    # a peephole LSTM takes the dynamo exporter: torch.export fixes the steps of torch's pooling, and keeps
    # a valid convolution's free over a range only
    model = Sequential([layers.MaxPooling1D(2, input_shape=(None, 2)), layers.LSTM(3, peephole=True)])
    with pytest.raises(ValueError, match=r"torch.export fixes the time axis .* dynamic_steps=False"):
        model.export(tmp_path / "m.onnx", example_input=torch.randn(2, 8, 2))
    conv = Sequential([layers.Conv1D(2, 3, input_shape=(None, 2)), layers.LSTM(3, peephole=True)])
    with pytest.raises(ValueError, match=r"free only over a range of lengths.*needs at least its window"):
        conv.export(tmp_path / "c.onnx", example_input=torch.randn(2, 8, 2))
    report = model.export(tmp_path / "m.onnx", example_input=torch.randn(2, 8, 2), dynamic_steps=False)
    assert_matches(report.path, model.module.eval(), {"input": torch.randn(3, 8, 2)})


def test_a_torch_gru_beside_an_lstm_variant_exports_with_fixed_steps(tmp_path: Path) -> None:
    # torch.export fixes nn.GRU's steps, so the time axis stays fixed (a free one is refused, test_errors)
    model = Sequential(
        [
            layers.GRU(4, return_sequences=True, input_shape=(6, 2)),
            layers.LSTM(3, peephole=True),
            layers.Dense(1),
        ]
    )
    report = model.export(tmp_path / "m.onnx")
    assert report.exporter == "dynamo" and report.dynamic_axes["input"] == {0: "batch"}
    assert_matches(report.path, model.module.eval(), {"input": torch.randn(4, 6, 2)})


def test_an_export_with_fixed_steps_leaves_the_next_export_s_steps_free(tmp_path: Path) -> None:
    # torch.compile's cache (scan's body) kept the fixed 6 steps and failed the next export with free steps
    peephole = LSTM(2, 3, batch_first=True, peephole=True).eval()
    to_onnx(peephole, tmp_path / "fixed.onnx", torch.randn(2, 6, 2), dynamic_steps=False, check=False)
    report = to_onnx(peephole, tmp_path / "free.onnx", torch.randn(2, 4, 2))
    assert report.dynamic_axes["input"] == {0: "batch", 1: "steps"}
    assert_matches(report.path, _Flat(peephole), {"input": torch.randn(3, 9, 2)})


class _MaskedScores(nn.Module):
    """Scores per step with -inf after each sequence's end, as before a softmax over steps."""

    def __init__(self) -> None:
        super().__init__()
        self.lstm = LSTM(3, 4, batch_first=True)
        self.head = nn.Linear(4, 1)

    def forward(self, x: Tensor, lengths: Tensor) -> Tensor:
        out = self.lstm(x, lengths=lengths)[0]
        assert isinstance(out, Tensor)
        scores = self.head(out).squeeze(-1)  # (B, T)
        valid = torch.arange(x.shape[1], device=x.device)[None, :] < lengths[:, None]
        return scores.masked_fill(~valid, float("-inf"))


def test_infinities_in_the_same_places_pass_the_check(tmp_path: Path) -> None:
    net = _MaskedScores().eval()
    report = to_onnx(net, tmp_path / "m.onnx", (torch.randn(2, 5, 3), torch.tensor([5, 3])))
    assert report.max_abs_diff is not None and report.max_abs_diff < ATOL
    x, lengths = torch.randn(3, 8, 3), torch.tensor([8, 2, 5])
    got = onnx_outputs(report.path, {"input_0": x, "input_1": lengths})[0]
    with torch.no_grad():
        np.testing.assert_allclose(got, net(x, lengths).numpy(), atol=ATOL, rtol=0)  # -inf == -inf
    assert np.isneginf(got).sum() == 3 + 6  # (steps past 8, 2 and 5 of 8)


def test_exporter_choice_can_be_forced(tmp_path: Path) -> None:
    plain = LSTM(2, 3, batch_first=True).eval()
    report = to_onnx(plain, tmp_path / "d.onnx", torch.randn(2, 4, 2), exporter="dynamo")
    assert report.exporter == "dynamo" and "Scan" in report.operators
    assert_matches(report.path, _Flat(plain), {"input": torch.randn(3, 6, 2)})
    peephole = LSTM(2, 3, batch_first=True, peephole=True).eval()
    with pytest.raises(
        ValueError, match=r"exporter='torchscript' unrolls the time loop of LSTM \(peephole\)"
    ):
        to_onnx(peephole, tmp_path / "t.onnx", torch.randn(2, 4, 2), exporter="torchscript")
    report = to_onnx(
        peephole, tmp_path / "t.onnx", torch.randn(2, 4, 2), exporter="torchscript", dynamic_steps=False
    )
    assert report.dynamic_axes["input"] == {0: "batch"} and "Scan" not in report.operators
    assert_matches(report.path, _Flat(peephole), {"input": torch.randn(5, 4, 2)})


def test_training_mode_exports_the_inference_graph_and_keeps_the_mode(tmp_path: Path) -> None:
    net = nn.Sequential(nn.Dropout(0.5), _Last(LSTM(2, 3, num_layers=2, dropout=0.5, batch_first=True)))
    net.train()
    report = to_onnx(net, tmp_path / "m.onnx", torch.randn(2, 4, 2))
    assert net.training and all(m.training for m in net.modules())
    assert_matches(report.path, net.eval(), {"input": torch.randn(3, 5, 2)})


class _Last(nn.Module):
    def __init__(self, lstm: LSTM) -> None:
        super().__init__()
        self.lstm = lstm

    def forward(self, x: Tensor) -> Tensor:
        out = self.lstm(x)[0]
        assert isinstance(out, Tensor)
        return out[:, -1]


class _Drifting(nn.Module):
    """Scales by a call counter, which the trace records as a constant: the graph cannot match PyTorch."""

    def __init__(self, backend: str) -> None:
        super().__init__()
        self.lstm = LSTM(2, 3, batch_first=True, backend=backend)
        self.calls = 0

    def forward(self, x: Tensor) -> Tensor:
        self.calls += 1
        out = self.lstm(x)[0]
        assert isinstance(out, Tensor)
        return out * self.calls


@pytest.mark.parametrize("backend", TRAINED_BACKENDS)
def test_a_failed_check_writes_nothing_and_restores_the_model(tmp_path: Path, backend: str) -> None:
    net = _Drifting(backend).train()
    (tmp_path / "m.onnx").write_bytes(b"an older file")
    with pytest.raises(OnnxCheckError, match=r"does not match PyTorch: max abs difference .* exceeds atol"):
        to_onnx(net, tmp_path / "m.onnx", torch.randn(2, 4, 2))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.onnx"]  # no temporary file left
    assert (tmp_path / "m.onnx").read_bytes() == b"an older file"
    assert net.lstm.backend == backend and net.training and net.lstm.training


def test_an_exporter_error_restores_the_model_and_writes_nothing(tmp_path: Path, monkeypatch) -> None:
    lstm = LSTM(2, 3, batch_first=True, backend="fused", check_finite=True).train()

    def broken(*args: object, **kwargs: object) -> None:
        assert lstm.backend == "torch" and not lstm.check_finite and not lstm.training  # while exporting
        raise RuntimeError("exporter failed")

    monkeypatch.setattr(torch.onnx, "export", broken)
    with pytest.raises(RuntimeError, match="exporter failed"):
        to_onnx(lstm, tmp_path / "m.onnx", torch.randn(2, 4, 2))
    assert list(tmp_path.iterdir()) == []
    assert lstm.backend == "fused" and lstm.check_finite and lstm.training


class _CountingRuns(nn.Module):
    """Counts its runs in PyTorch, not those the exporter records."""

    def __init__(self) -> None:
        super().__init__()
        self.lstm = LSTM(2, 3, batch_first=True)
        self.runs = 0

    def forward(self, x: Tensor) -> Tensor:
        if not (torch.jit.is_tracing() or torch.compiler.is_compiling()):
            self.runs += 1
        out = self.lstm(x)[0]
        assert isinstance(out, Tensor)
        return out[:, -1]


@pytest.mark.parametrize("exporter", ["torchscript", "dynamo"])
def test_a_built_model_runs_once_on_the_example(tmp_path: Path, exporter: str) -> None:
    # the run that builds lazy layers is the reference too when it built nothing (fixed axes: no run on
    # grown inputs)
    net = _CountingRuns().eval()
    report = to_onnx(
        net,
        tmp_path / "m.onnx",
        torch.randn(2, 4, 2),
        dynamic_batch=False,
        dynamic_steps=False,
        exporter=exporter,
    )
    assert net.runs == 1 and report.max_abs_diff is not None and report.max_abs_diff < ATOL


def test_check_false_skips_onnxruntime(tmp_path: Path) -> None:
    report = to_onnx(LSTM(2, 3), tmp_path / "m.onnx", check=False)
    assert report.max_abs_diff is None and report.checked_shapes == () and report.path.is_file()


def test_no_warnings_from_lstmkit_or_the_chosen_exporter(tmp_path: Path) -> None:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        to_onnx(LSTM(2, 3, batch_first=True), tmp_path / "m.onnx", torch.randn(2, 4, 2))
    assert [str(w.message)[:80] for w in caught] == []


def test_float64_plain_lstm_exports_as_scan_which_onnxruntime_runs(tmp_path: Path) -> None:
    lstm = LSTM(2, 3, batch_first=True, dtype=torch.float64).eval()  # onnxruntime's LSTM is float32 only
    report = to_onnx(lstm, tmp_path / "d.onnx", atol=1e-12)
    assert report.exporter == "dynamo" and report.max_abs_diff is not None and report.max_abs_diff < 1e-12
    x = torch.randn(3, 6, 2, dtype=torch.float64)
    assert_matches(report.path, _Flat(lstm), {"input": x})


def test_the_dynamo_exporter_logs_nothing_below_error_and_logger_levels_come_back(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # torch.onnx and onnxscript log "torchvision is not installed. Skipping torchvision::nms" and
    # "Skipping constant folding for op Split" at WARNING/INFO on every dynamo export
    import logging

    onnx_logger = logging.getLogger("torch.onnx")
    onnx_logger.setLevel(logging.INFO)
    with caplog.at_level(logging.INFO):
        report = to_onnx(LSTM(3, 4, layer_norm=True), tmp_path / "ln.onnx", torch.randn(5, 2, 3))
    assert report.exporter == "dynamo"
    noise = [r.getMessage()[:120] for r in caplog.records if r.name.startswith(("torch.onnx", "onnx"))]
    assert not noise, noise
    assert onnx_logger.level == logging.INFO
