"""``lstmkit export MODEL_PATH OUT``: a saved Keras-face model to a checked ONNX file."""

from __future__ import annotations

import errno
from pathlib import Path

import numpy as np
import onnxruntime as ort
import pytest
import torch
from click.testing import CliRunner

from lstmkit.cli import cli
from lstmkit.export import OnnxCheckError
from lstmkit.layers import LSTM, Dense
from lstmkit.models import Model, Sequential, load_model


def test_export_writes_a_file_that_predicts_as_the_saved_model(tmp_path: Path) -> None:
    Sequential([LSTM(4, input_shape=(6, 1)), Dense(1, activation="sigmoid")]).save(tmp_path / "m.lstmkit")
    result = CliRunner().invoke(cli, ["export", str(tmp_path / "m.lstmkit"), str(tmp_path / "m.onnx")])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0] == f"wrote {tmp_path / 'm.onnx'} (opset 20, torchscript exporter, ONNX LSTM operator)"
    assert lines[1] == "free axes: input {0: 'batch'}; output {0: 'batch'}"
    assert lines[2].startswith("onnxruntime vs PyTorch: max abs difference ")
    assert lines[2].endswith("on inputs (2, 6, 1) and (3, 6, 1)")
    x = np.random.default_rng(0).normal(size=(5, 6, 1)).astype(np.float32)
    session = ort.InferenceSession(str(tmp_path / "m.onnx"), providers=["CPUExecutionProvider"])
    expected = load_model(tmp_path / "m.lstmkit").predict(x)
    np.testing.assert_allclose(session.run(None, {"input": x})[0], expected, atol=1e-5, rtol=0)


def test_export_errors_are_one_line(tmp_path: Path) -> None:
    Model(torch.nn.Linear(2, 1)).save(tmp_path / "custom.lstmkit")
    result = CliRunner().invoke(cli, ["export", str(tmp_path / "custom.lstmkit"), str(tmp_path / "m.onnx")])
    assert result.exit_code == 2 and result.output.startswith("lstmkit: error: ")
    assert len(result.output.strip().splitlines()) == 1
    saved = tmp_path / "m.lstmkit"
    Sequential([LSTM(4, input_shape=(6, 1))]).save(saved)
    result = CliRunner().invoke(cli, ["export", str(saved), str(tmp_path / "missing" / "m.onnx")])
    assert result.exit_code == 2
    assert result.output.strip() == (
        f"lstmkit: error: to_onnx cannot write '{tmp_path / 'missing' / 'm.onnx'}': the folder "
        f"'{tmp_path / 'missing'}' does not exist; create it first"
    )
    assert sorted(p.name for p in tmp_path.iterdir()) == ["custom.lstmkit", "m.lstmkit"]


def test_a_failed_check_exits_1_and_writes_nothing(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from lstmkit.export import exporter

    def mismatch(*args: object) -> float:
        raise OnnxCheckError("the exported LayerStack does not match PyTorch: max abs difference 0.5")

    monkeypatch.setattr(exporter, "compare", mismatch)
    Sequential([LSTM(4, input_shape=(6, 1))]).save(tmp_path / "m.lstmkit")
    result = CliRunner().invoke(cli, ["export", str(tmp_path / "m.lstmkit"), str(tmp_path / "m.onnx")])
    assert result.exit_code == 1
    assert result.output.strip() == (
        "lstmkit: export failed its check: "
        "the exported LayerStack does not match PyTorch: max abs difference 0.5"
    )
    assert not (tmp_path / "m.onnx").exists()


def test_a_file_that_cannot_be_written_is_one_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from lstmkit.export import exporter

    def refused(path: Path, data: bytes) -> None:  # as writing into /sys
        raise PermissionError(errno.EACCES, "Permission denied", str(path))

    monkeypatch.setattr(exporter, "atomic_write_bytes", refused)
    Sequential([LSTM(4, input_shape=(6, 1))]).save(tmp_path / "m.lstmkit")
    out = tmp_path / "m.onnx"
    result = CliRunner().invoke(cli, ["export", str(tmp_path / "m.lstmkit"), str(out), "--no-check"])
    assert result.exit_code == 2
    assert result.output == f"lstmkit: error: Permission denied: '{out}'\n"
