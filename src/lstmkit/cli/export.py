"""``lstmkit export MODEL_PATH OUT``: a Keras-face model file (``model.save``) to an ONNX file, checked."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from lstmkit.cli.predict import load_model_file


@click.command()
@click.argument("model_path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.argument("out", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--opset", type=int, default=None, help="ONNX opset version (default: PyTorch's).")
@click.option("--no-check", is_flag=True, help="Skip running the file in onnxruntime against PyTorch.")
def export(model_path: Path, out: Path, opset: int | None, no_check: bool) -> None:
    """Export the model saved at MODEL_PATH (Sequential.save) to the ONNX file OUT.

    The graph takes `input` (batch, *input_shape) with a free batch axis and, unless the model's
    input_shape fixes it, a free time axis, and returns `output`; the file is written only after
    onnxruntime reproduced PyTorch's outputs (see docs/onnx.md).
    """
    from lstmkit.export import OnnxCheckError
    from lstmkit.models import load_model

    model = load_model_file(load_model, model_path)
    try:
        report = model.export(out, opset=opset, check=not no_check)
    except ImportError as err:
        click.echo(f"lstmkit: error: {err}", err=True)
        sys.exit(2)
    except RuntimeError as err:  # OnnxCheckError, or torch's exporter refusing the model
        what = "its check" if isinstance(err, OnnxCheckError) else "in the exporter"
        first_line = str(err).splitlines()[0] if str(err) else type(err).__name__
        click.echo(f"lstmkit: export failed {what}: {first_line}", err=True)
        sys.exit(1)
    recurrence = "ONNX LSTM operator" if "LSTM" in report.operators else "ONNX Scan over time"
    click.echo(f"wrote {report.path} (opset {report.opset}, {report.exporter} exporter, {recurrence})")
    axes = "; ".join(f"{name} {axes}" for name, axes in report.dynamic_axes.items()) or "none"
    click.echo(f"free axes: {axes}")
    if report.max_abs_diff is not None:
        shapes = " and ".join(str(run[0]) for run in report.checked_shapes)
        click.echo(f"onnxruntime vs PyTorch: max abs difference {report.max_abs_diff:.1e} on inputs {shapes}")
