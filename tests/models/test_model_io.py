"""``Model.export``: Keras 3's ``model.export(path, format="onnx")`` on lstmkit's Keras face."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnxruntime as ort
import pytest
import torch

from lstmkit.layers import LSTM, Dense, Embedding, Masking
from lstmkit.models import Model, Sequential
from lstmkit.utils import set_seed


def onnx_predict(path: Path, x: np.ndarray) -> np.ndarray:
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    (y,) = session.run(None, {"input": x})
    return np.asarray(y)


def test_origin_model_trained_then_exported_predicts_as_pytorch(tmp_path: Path) -> None:
    set_seed(0)
    model = Sequential([LSTM(50, input_shape=(100, 1)), Dense(1, activation="sigmoid")])
    model.compile(loss="binary_crossentropy", optimizer="adam")
    x = np.random.default_rng(0).normal(size=(16, 100, 1)).astype(np.float32)
    model.fit(x, (x[:, -1] > 0).astype(np.float32), epochs=1, batch_size=8, verbose=0)
    backend, mode = model.layers[0].rnn.backend, model.training
    report = model.export(tmp_path / "origin.onnx")
    assert report.exporter == "torchscript" and "LSTM" in report.operators
    # input_shape=(100, 1) fixes the steps, as Keras's signature does; the batch is free
    assert report.dynamic_axes == {"input": {0: "batch"}, "output": {0: "batch"}}
    assert report.max_abs_diff is not None and report.max_abs_diff < 1e-5
    assert model.layers[0].rnn.backend == backend and model.training == mode  # export puts both back
    x_test = np.random.default_rng(1).normal(size=(5, 100, 1)).astype(np.float32)
    np.testing.assert_allclose(onnx_predict(report.path, x_test), model.predict(x_test), atol=1e-5, rtol=0)


def test_free_steps_and_variants_export_as_scan(tmp_path: Path) -> None:
    model = Sequential(
        [LSTM(4, input_shape=(None, 3), peephole=True, return_sequences=True), LSTM(3), Dense(2)]
    )
    report = model.export(tmp_path / "m.onnx")
    assert report.exporter == "dynamo" and "Scan" in report.operators
    assert report.dynamic_axes["input"] == {0: "batch", 1: "steps"}
    x = np.random.default_rng(2).normal(size=(3, 11, 3)).astype(np.float32)
    np.testing.assert_allclose(onnx_predict(report.path, x), model.predict(x), atol=1e-5, rtol=0)


def test_token_ids_export_with_free_steps(tmp_path: Path) -> None:
    model = Sequential([Embedding(20, 4), LSTM(5), Dense(1)])
    model.build((None, 6))
    report = model.export(tmp_path / "ids.onnx")
    assert report.dynamic_axes["input"] == {0: "batch", 1: "steps"}
    ids = np.random.default_rng(3).integers(0, 20, size=(4, 9))
    np.testing.assert_allclose(onnx_predict(report.path, ids), model.predict(ids), atol=1e-5, rtol=0)


def test_token_ids_into_a_variant_lstm_export_as_scan(tmp_path: Path) -> None:
    # Embedding's range check of the ids is a test of values, which torch.export (the dynamo exporter a
    # variant takes) cannot record; while exporting it is left to ONNX's Gather
    model = Sequential([Embedding(20, 4), LSTM(5, layer_norm=True), Dense(1)])
    model.build((None, 6))
    report = model.export(tmp_path / "ids_ln.onnx")
    assert report.exporter == "dynamo" and "Scan" in report.operators
    ids = np.random.default_rng(4).integers(0, 20, size=(3, 8))
    np.testing.assert_allclose(onnx_predict(report.path, ids), model.predict(ids), atol=1e-5, rtol=0)
    with pytest.raises(ValueError, match=r"expected ids in \[0, 19\]"):  # eager: checked as before
        model.predict(np.full((1, 6), 20))


def test_example_input_array_follows_the_input_shape() -> None:
    model = Sequential([LSTM(3, input_shape=(7, 2))])
    example = model.example_input_array
    assert example is not None and example.shape == (2, 7, 2) and example.dtype == torch.float32
    assert Sequential([LSTM(3)]).example_input_array is None  # not built: unknown


def test_export_errors_name_what_was_expected(tmp_path: Path) -> None:
    model = Sequential([LSTM(3, input_shape=(None, 2))])
    with pytest.raises(ValueError, match=r"supports format='onnx', got 'tf_saved_model'"):
        model.export(tmp_path / "m", format="tf_saved_model")
    with pytest.raises(ValueError, match=r"model 'unbuilt' is not built yet, .* pass example_input="):
        Sequential([LSTM(3)], name="unbuilt").export(tmp_path / "m.onnx")
    masked = Sequential([Masking(0.0, input_shape=(4, 2)), LSTM(3)])
    with pytest.raises(ValueError, match=r"cannot export 'masking.*' \(Masking\): its mask turns"):
        masked.export(tmp_path / "m.onnx")
    stateful = Sequential([LSTM(3, stateful=True, input_shape=(4, 2))])
    with pytest.raises(ValueError, match=r"with stateful=True: it carries its state"):
        stateful.export(tmp_path / "m.onnx")
    wrong = (
        r"could not run the LayerStack on example_input: "
        r"layer '.*' \(LSTM\) expected input of shape \(B, \?, 2\)"
    )
    with pytest.raises(ValueError, match=wrong):
        model.export(tmp_path / "m.onnx", example_input=np.zeros((2, 4, 5), np.float32))
    assert list(tmp_path.iterdir()) == []


def test_model_around_a_module_exports_its_network(tmp_path: Path) -> None:
    net = torch.nn.Sequential(torch.nn.Linear(3, 2), torch.nn.Tanh())
    model = Model(net)
    report = model.export(tmp_path / "n.onnx", example_input=np.ones((2, 3), np.float32))
    assert report.dynamic_axes["input"] == {0: "batch"}
    x = np.random.default_rng(4).normal(size=(5, 3)).astype(np.float32)
    np.testing.assert_allclose(
        onnx_predict(report.path, x), net(torch.from_numpy(x)).detach().numpy(), atol=1e-6
    )


def test_model_around_a_module_exports_with_the_shape_it_was_called_on(tmp_path: Path) -> None:
    class Net(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.lstm = torch.nn.LSTM(3, 4, batch_first=True)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.lstm(x)[0][:, -1]

    model = Model(Net(), name="net")
    with pytest.raises(
        ValueError, match=r"model 'net' wraps a Net that has not been called yet, .* example_input="
    ):
        model.export(tmp_path / "n.onnx")
    model(torch.zeros(3, 6, 3))  # records the input shape, as fit does
    report = model.export(tmp_path / "n.onnx")
    assert report.checked_shapes[0] == ((2, 6, 3),)
    x = np.random.default_rng(5).normal(size=(4, 9, 3)).astype(np.float32)
    np.testing.assert_allclose(onnx_predict(report.path, x), model.predict(x), atol=1e-5, rtol=0)
