"""Bad input to ``to_onnx``: each error names what was expected and what was received, and nothing is
written (the folder stays empty)."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest
import torch
from torch import nn

from lstmkit import layers
from lstmkit.export import to_onnx
from lstmkit.models import Sequential
from lstmkit.nn import LSTM, LSTMCell


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    yield tmp_path
    assert list(tmp_path.iterdir()) == []  # nothing written, no temporary file left


def test_wrong_types_and_values_of_arguments(folder: Path) -> None:
    lstm = LSTM(3, 4, batch_first=True)
    x = torch.randn(2, 5, 3)
    with pytest.raises(TypeError, match=r"to_onnx expected a torch\.nn\.Module, got str"):
        to_onnx("model.pt", folder / "m.onnx")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"expected path as a str or os\.PathLike, got int"):
        to_onnx(lstm, 3)  # type: ignore[arg-type]
    with pytest.raises(
        ValueError, match=r"unknown exporter 'jit'; expected one of 'auto', 'dynamo', 'torchscript'"
    ):
        to_onnx(lstm, folder / "m.onnx", x, exporter="jit")
    with pytest.raises(ValueError, match=r"expected opset as an integer >= 9 or None, got 8"):
        to_onnx(lstm, folder / "m.onnx", x, opset=8)  # (opsets 7 and 8 lack ConstantOfShape)
    with pytest.raises(ValueError, match=r"expected atol as a finite number >= 0, got -1"):
        to_onnx(lstm, folder / "m.onnx", x, atol=-1)
    with pytest.raises(TypeError, match=r"to_onnx dynamic_steps must be True or False, got str 'yes'"):
        to_onnx(lstm, folder / "m.onnx", x, dynamic_steps="yes")  # type: ignore[arg-type]
    with pytest.raises(
        ValueError, match=r"expected 1 distinct input_names \(one per tensor\), got \['a', 'b'\]"
    ):
        to_onnx(lstm, folder / "m.onnx", x, input_names=["a", "b"])
    with pytest.raises(ValueError, match=r"expected 3 distinct output_names \(one per tensor\), got \['y'\]"):
        to_onnx(lstm, folder / "m.onnx", x, output_names=["y"])
    with pytest.raises(ValueError, match=r"needs output names other than the input names"):
        to_onnx(lstm, folder / "m.onnx", x, output_names=["input", "h", "c"])


def test_opsets_the_exporter_cannot_write(folder: Path) -> None:
    x = torch.randn(2, 5, 3)
    peephole = LSTM(3, 4, batch_first=True, peephole=True)
    with pytest.raises(
        ValueError,
        match=r"got opset=17, but the dynamo exporter \(which 'auto' takes for this model\) writes opset 18 "
        r"or newer",
    ):
        to_onnx(peephole, folder / "m.onnx", x, opset=17)
    with pytest.raises(ValueError, match=r"got opset=21, but the torchscript exporter writes opsets 9 to 20"):
        to_onnx(LSTM(3, 4, batch_first=True), folder / "m.onnx", x, opset=21, exporter="torchscript")
    import onnx

    newest = onnx.defs.onnx_opset_version()
    with pytest.raises(
        ValueError,
        match=rf"got opset=99, but the installed onnx {re.escape(onnx.__version__)} knows opsets up to "
        rf"{newest}; pass {newest} or less",
    ):
        to_onnx(peephole, folder / "m.onnx", x, opset=99)  # refused before the exporter runs


def test_an_opset_the_converter_cannot_reach_is_refused_after_export(
    folder: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import onnx

    # an onnx that claims opset 99: torch.onnx falls back to opset 18 where it cannot convert, and the
    # file would not be what was asked
    monkeypatch.setattr(onnx.defs, "onnx_opset_version", lambda: 99)
    peephole = LSTM(3, 4, batch_first=True, peephole=True)
    with pytest.raises(ValueError, match=r"asked the dynamo exporter for opset 99 and it wrote opset 18"):
        to_onnx(peephole, folder / "m.onnx", torch.randn(2, 5, 3), opset=99)


def test_paths(folder: Path) -> None:
    lstm = LSTM(3, 4)
    missing = folder / "missing" / "m.onnx"
    message = f"cannot write '{missing}': the folder '{missing.parent}' does not exist; create it first"
    with pytest.raises(FileNotFoundError, match=re.escape(message)):
        to_onnx(lstm, missing)
    with pytest.raises(
        ValueError, match=r"expected a file path, got the folder .*; add a file name like model.onnx"
    ):
        to_onnx(lstm, folder)


def test_examples_the_model_cannot_take(folder: Path) -> None:
    lstm = LSTM(3, 4, batch_first=True)
    with pytest.raises(
        ValueError,
        match=re.escape(
            "to_onnx could not run the LSTM on example_input: LSTM expected input of shape "
            "(B, T, 3) with batch_first=True, got (2, 5, 8); set input_size=8 or reshape the data"
        ),
    ):
        to_onnx(lstm, folder / "m.onnx", torch.randn(2, 5, 8))
    with pytest.raises(
        ValueError, match=r"expected a batched LSTM example of shape \(B, T, I\) .*, got \(5, 3\)"
    ):
        to_onnx(lstm, folder / "m.onnx", torch.randn(5, 3))
    with pytest.raises(
        TypeError, match=r"example_input for an LSTM as input, \(input,\) or \(input, \(h_0, c_0\)\)"
    ):
        to_onnx(lstm, folder / "m.onnx", (torch.randn(2, 5, 3), torch.randn(1, 2, 4)))
    with pytest.raises(TypeError, match=r"example_input for an LSTMCell as input or \(input, \(h_0, c_0\)\)"):
        to_onnx(LSTMCell(3, 4), folder / "m.onnx", [torch.randn(2, 3)] * 3)
    with pytest.raises(
        TypeError,
        match=r"as a tensor or a tuple of tensors .* got a list of \(a list of \(float, float, float\)\)",
    ):
        to_onnx(nn.Linear(3, 1), folder / "m.onnx", [[1.0, 2.0, 3.0]])


def test_a_module_without_an_example_needs_one(folder: Path) -> None:
    with pytest.raises(ValueError, match=r"needs example_input for a Linear: one batch of inputs"):
        to_onnx(nn.Linear(3, 1), folder / "m.onnx")


def test_non_finite_example(folder: Path) -> None:
    x = torch.randn(2, 5, 3)
    x[1, 2, 0] = float("nan")
    with pytest.raises(
        ValueError, match=r"example_input 'input' contains 1 NaN or infinite value\(s\), the first at"
    ):
        to_onnx(LSTM(3, 4, batch_first=True), folder / "m.onnx", x)


@pytest.mark.parametrize(
    ("shape", "fixed"),
    [((0, 5, 3), {"dynamic_batch": False}), ((2, 0, 3), {"dynamic_steps": False})],
    ids=["no-samples", "no-steps"],
)
def test_an_empty_example_is_refused(folder: Path, shape: tuple[int, ...], fixed: dict[str, bool]) -> None:
    # with check=True onnxruntime aborted the process on it; without, the graph's batch was fixed at 0
    with pytest.raises(
        ValueError,
        match=re.escape(
            f"to_onnx example_input 'input' of shape {shape} is empty; give at least one sample and one step"
        ),
    ):
        to_onnx(LSTM(3, 4, batch_first=True), folder / "m.onnx", torch.randn(shape), check=False, **fixed)


def test_a_dynamic_axis_needs_two_in_the_example(folder: Path) -> None:
    lstm = LSTM(3, 4, batch_first=True)
    with pytest.raises(
        ValueError,
        match=r"'input' of shape \(1, 5, 3\) has 1 on axis 0 \(batch\), which dynamic_batch=True leaves free",
    ):
        to_onnx(lstm, folder / "m.onnx", torch.randn(1, 5, 3))
    with pytest.raises(ValueError, match=r"has 1 on axis 1 \(steps\), .* or pass dynamic_steps=False"):
        to_onnx(lstm, folder / "m.onnx", torch.randn(2, 1, 3))


class _FixedSteps(nn.Module):
    """Takes exactly 5 steps, as a Keras model built with input_shape=(5, I)."""

    def __init__(self) -> None:
        super().__init__()
        self.lstm = LSTM(3, 4, batch_first=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.shape[1] != 5:
            raise ValueError(f"expected 5 steps, got {x.shape[1]}")
        return self.lstm(x)[1][0]


def test_dynamic_steps_on_a_model_of_fixed_length(folder: Path) -> None:
    with pytest.raises(
        ValueError,
        match=r"inputs of other sizes \(input \(3, 6, 3\)\), which dynamic_batch=True and dynamic_steps=True "
        r"promises .* pass dynamic_steps=False .*: expected 5 steps, got 6",
    ):
        to_onnx(_FixedSteps(), folder / "m.onnx", torch.randn(2, 5, 3))


def test_stateful_modules_are_refused(folder: Path) -> None:
    net = nn.Sequential(nn.Linear(2, 2))
    net.stateful = True  # type: ignore[assignment]  # as Keras's recurrent layers say it
    with pytest.raises(ValueError, match=r"cannot export 'Sequential' \(Sequential\) with stateful=True"):
        to_onnx(net, folder / "m.onnx", torch.randn(2, 2))


@pytest.mark.parametrize(
    "mask_layer",
    [
        lambda: layers.Masking(0.0, input_shape=(None, 2), name="pad"),
        lambda: layers.Embedding(10, 2, mask_zero=True, input_shape=(None,), name="pad"),
    ],
    ids=["masking", "embedding-mask-zero"],
)
def test_layers_that_mask_by_value_are_refused_by_to_onnx_itself(folder: Path, mask_layer) -> None:
    model = Sequential([mask_layer(), layers.LSTM(3), layers.Dense(1)])
    kind = type(model.module.layers[0]).__name__
    message = rf"to_onnx cannot export 'pad' \({kind}\): its mask turns into sequence lengths that depend on"
    with pytest.raises(ValueError, match=message):
        to_onnx(model.module, folder / "m.onnx", model.example_input_array)
    with pytest.raises(ValueError, match=message):
        model.export(folder / "m.onnx")


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16], ids=["float16", "bfloat16"])
def test_half_precision_is_refused_before_onnxruntime_sees_it(folder: Path, dtype: torch.dtype) -> None:
    # float16 crashes onnxruntime's session, bfloat16 has no kernels there: refused even with check=False
    fix = r"call model\.float\(\) and pass a float32 example_input"
    with pytest.raises(
        ValueError,
        match=rf"exports float32 and float64 models, got parameter 'weight_ih_l0' of dtype {dtype}: .*{fix}",
    ):
        to_onnx(LSTM(3, 4, batch_first=True, dtype=dtype), folder / "m.onnx", check=False)
    with pytest.raises(ValueError, match=rf"got example_input 'input' of dtype {dtype}: .*{fix}"):
        to_onnx(
            LSTM(3, 4, batch_first=True), folder / "m.onnx", torch.randn(2, 5, 3, dtype=dtype), check=False
        )


def test_torchscript_refuses_a_float64_lstm_operator(folder: Path) -> None:
    # onnxruntime: "LSTM operator does not support double yet"; refused even with check=False
    with pytest.raises(
        ValueError,
        match=r"exporter='torchscript' writes LSTM as ONNX's LSTM operator, which onnxruntime computes in "
        r"float32 only, and its weights are torch\.float64; use exporter='dynamo' or 'auto'",
    ):
        lstm = LSTM(3, 4, batch_first=True, dtype=torch.float64)
        to_onnx(lstm, folder / "m.onnx", exporter="torchscript", check=False)


class _TorchGRU(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.gru = nn.GRU(3, 4, batch_first=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.gru(x)[0]


def test_torch_recurrent_modules_cannot_keep_free_steps_under_the_dynamo_exporter(folder: Path) -> None:
    mixed = Sequential([layers.GRU(4, return_sequences=True), layers.LSTM(3, peephole=True), layers.Dense(1)])
    with pytest.raises(
        ValueError,
        match=r"the dynamo exporter \(which 'auto' takes for this model\) cannot leave the time axis free "
        r"for torch's own recurrent module\(s\) layers\.0\.rnn \(GRU\): torch\.export fixes their number "
        r"of steps to the example's; pass dynamic_steps=False",
    ):
        mixed.export(folder / "m.onnx", example_input=torch.randn(2, 5, 3), check=False)
    with pytest.raises(
        ValueError, match=r"module\(s\) gru \(GRU\): .*; pass exporter='auto' \(the torchscript"
    ):
        to_onnx(_TorchGRU(), folder / "m.onnx", torch.randn(2, 5, 3), exporter="dynamo", check=False)


def test_torchscript_cannot_export_layer_norm(folder: Path) -> None:
    with pytest.raises(ValueError, match=r"exporter='torchscript' cannot export LSTMCell \(layer_norm\)"):
        to_onnx(LSTMCell(3, 4, layer_norm=True), folder / "m.onnx", exporter="torchscript")


@pytest.mark.parametrize(
    ("package", "options", "needed_by"),
    [
        ("onnx", {}, "to_onnx"),
        ("onnxruntime", {}, "check=True"),
        ("onnxscript", {"exporter": "dynamo", "check": False}, "exporter='dynamo'"),
    ],
)
def test_missing_packages_name_the_extra(
    folder: Path, monkeypatch, package: str, options: dict, needed_by: str
) -> None:
    monkeypatch.setitem(sys.modules, package, None)  # import fails as if not installed
    install = re.escape('pip install "lstmkit[onnx]"')
    message = f"{needed_by}.* needs the package '{package}', which is not installed; .*: {install}$"
    with pytest.raises(ImportError, match=message):
        to_onnx(LSTM(3, 4), folder / "m.onnx", **options)


class _ValueTest(nn.Module):
    """Branches on the values of its input, as Embedding's range check of token ids does."""

    def __init__(self) -> None:
        super().__init__()
        self.lstm = LSTM(3, 4, batch_first=True, peephole=True)  # a variant: the dynamo exporter

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if int(x.abs().max()) > 1000:
            raise ValueError("out of range")
        return self.lstm(x)[1][0]


def test_a_value_test_in_the_model_is_named_under_torch_export(folder: Path) -> None:
    with pytest.raises(
        RuntimeError, match=r"torch.export cannot record _ValueTest: it tests the values of a tensor"
    ):
        to_onnx(_ValueTest(), folder / "m.onnx", torch.randn(2, 4, 3))
