"""The check's comparison: onnxruntime's outputs against PyTorch's, NaN and infinities included."""

from __future__ import annotations

import math

import numpy as np
import onnx
import pytest
import torch
from onnx import TensorProto, helper

from lstmkit.export import OnnxCheckError
from lstmkit.export.check import compare

INF, NAN = math.inf, math.nan


def _identity() -> bytes:
    """An ONNX graph that returns its float32 input: onnxruntime's output is the input itself."""
    value = helper.make_tensor_value_info
    graph = helper.make_graph(
        [helper.make_node("Identity", ["input"], ["output"])],
        "identity",
        [value("input", TensorProto.FLOAT, [2, 2])],
        [value("output", TensorProto.FLOAT, [2, 2])],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8  # (one every supported onnxruntime reads)
    onnx.checker.check_model(model)
    return model.SerializeToString()


def _compare(got: list[list[float]], expected: list[list[float]]) -> float:
    """Feed ``got`` through the identity graph and compare it with ``expected`` as PyTorch's output."""
    runs = [((torch.tensor(got),), [torch.tensor(expected)])]
    return compare(_identity(), runs, ("input",), ("output",), atol=1e-4, what="Module")


def test_the_same_infinities_and_nans_on_both_sides_are_no_difference() -> None:
    assert _compare([[-INF, 1.0], [INF, NAN]], [[-INF, 1.00001], [INF, NAN]]) == pytest.approx(1e-5, rel=0.1)


@pytest.mark.parametrize(
    ("expected", "first"),
    [
        ([[INF, 1.0], [INF, NAN]], r"\(0, 0\): onnxruntime -inf, PyTorch inf"),
        ([[-INF, 1.0], [INF, 0.0]], r"\(1, 1\): onnxruntime nan, PyTorch 0"),
        ([[-INF, 1.0], [NAN, NAN]], r"\(1, 0\): onnxruntime inf, PyTorch nan"),
    ],
    ids=["other-sign", "nan-against-finite", "inf-against-nan"],
)
def test_other_non_finite_values_fail_and_say_so(expected: list[list[float]], first: str) -> None:
    with pytest.raises(
        OnnxCheckError,
        match=r"the NaN and infinite values of output 'output' for inputs input \(2, 2\) differ from "
        r"PyTorch's at 1 position\(s\), the first at " + first,
    ):
        _compare([[-INF, 1.0], [INF, NAN]], expected)


def test_a_finite_difference_beside_equal_infinities_still_fails() -> None:
    with pytest.raises(OnnxCheckError, match=r"max abs difference 0.5 on output 'output' .* exceeds atol"):
        _compare([[-INF, 1.0], [2.0, 3.0]], [[-INF, 1.5], [2.0, 3.0]])
    assert np.isfinite(_compare([[1.0, 2.0], [3.0, 4.0]], [[1.0, 2.0], [3.0, 4.0]]))
