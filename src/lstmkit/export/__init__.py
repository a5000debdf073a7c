"""Deploying lstmkit models: ONNX export, checked in onnxruntime against PyTorch.

``lstmkit.export`` sits above ``lstmkit.nn`` and below the Keras face, whose ``Model.export(path,
format="onnx")`` calls :func:`to_onnx`. The ONNX packages are imported only when an export runs
(``pip install "lstmkit[onnx]"``). See ``docs/onnx.md``.
"""

from lstmkit.export.backends import eval_mode, traceable
from lstmkit.export.check import ExportReport, OnnxCheckError
from lstmkit.export.exporter import EXPORTERS, to_onnx

__all__ = ["EXPORTERS", "ExportReport", "OnnxCheckError", "eval_mode", "to_onnx", "traceable"]
