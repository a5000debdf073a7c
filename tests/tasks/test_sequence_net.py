"""SequenceNet: its constructor and forward refuse bad input with what was expected and what came."""

from __future__ import annotations

import math

import pytest
import torch

from lstmkit.tasks.models import SequenceNet

TOKENS = r"SequenceNet with vocab_size=10 expected integer tokens of shape \(B, T\)"
FEATURES = r"SequenceNet expected float input of shape \(B, T, 2\)"


def _token_net() -> SequenceNet:
    torch.manual_seed(0)
    return SequenceNet("lstm", 0, 4, 10, readout="all", vocab_size=10)


@pytest.mark.parametrize(
    ("x", "error", "message"),
    [
        pytest.param(
            torch.tensor([[0, 10]]),
            ValueError,
            rf"{TOKENS} in \[0, 10\), got token ids from 0 to 10",
            id="too-large",
        ),
        pytest.param(
            torch.tensor([[-1, 3]]),
            ValueError,
            rf"{TOKENS} in \[0, 10\), got token ids from -1 to 3",
            id="negative",
        ),
        pytest.param(torch.zeros(2, 3), TypeError, rf"{TOKENS}, got a torch.float32 tensor", id="float"),
        pytest.param(
            torch.zeros(2, 0, dtype=torch.long),
            ValueError,
            rf"{TOKENS} with T >= 1, got shape \(2, 0\)",
            id="no-step",
        ),
        pytest.param(
            torch.zeros(2, 3, 1, dtype=torch.long),
            ValueError,
            rf"{TOKENS} with T >= 1, got shape \(2, 3, 1\)",
            id="3d",
        ),
    ],
)
def test_a_token_net_refuses_tokens_it_cannot_embed(
    x: torch.Tensor, error: type[Exception], message: str
) -> None:
    with pytest.raises(error, match=message):
        _token_net()(x)


def test_a_token_net_takes_any_integer_dtype_and_the_edge_tokens() -> None:
    net = _token_net()
    x = torch.tensor([[0, 9, 3], [9, 0, 1]])
    expected = net(x)
    assert expected.shape == (2, 3, 10)
    torch.testing.assert_close(net(x.to(torch.int32)), expected, rtol=0, atol=0)
    empty = torch.zeros(0, 3, dtype=torch.long)  # an empty batch has no token to check
    assert net(empty).shape == (0, 3, 10)


@pytest.mark.parametrize("cell", ["lstm", "gru", "rnn"])
@pytest.mark.parametrize(
    ("x", "error", "message"),
    [
        pytest.param(
            torch.zeros(2, 0, 2), ValueError, rf"{FEATURES} with T >= 1, got shape \(2, 0, 2\)", id="no-step"
        ),
        pytest.param(
            torch.zeros(2, 3, 5), ValueError, rf"{FEATURES} with T >= 1, got shape \(2, 3, 5\)", id="features"
        ),
        pytest.param(
            torch.zeros(2, 3, 2, dtype=torch.long),
            TypeError,
            rf"{FEATURES}, got a torch.int64 tensor",
            id="int",
        ),
    ],
)
def test_a_feature_net_refuses_input_of_the_wrong_shape_or_dtype(
    cell: str, x: torch.Tensor, error: type[Exception], message: str
) -> None:
    with pytest.raises(error, match=message):
        SequenceNet(cell, 2, 4, 1)(x)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("options", "error", "message"),
    [
        pytest.param({"vocab_size": 0}, ValueError, "vocab_size must be >= 1, got 0", id="vocab-zero"),
        pytest.param(
            {"vocab_size": 2.0}, TypeError, "vocab_size must be an integer, got float 2.0", id="vocab-float"
        ),
        pytest.param(
            {"forget_bias": math.nan},
            ValueError,
            "forget_bias must be a finite number, got nan",
            id="bias-nan",
        ),
        pytest.param(
            {"forget_bias": math.inf},
            ValueError,
            "forget_bias must be a finite number, got inf",
            id="bias-inf",
        ),
        pytest.param(
            {"forget_bias": "1"}, TypeError, "forget_bias must be a number, got str '1'", id="bias-str"
        ),
    ],
)
def test_the_constructor_names_a_bad_vocab_size_or_forget_bias(
    options: dict[str, object], error: type[Exception], message: str
) -> None:
    with pytest.raises(error, match=f"^{message}$"):
        SequenceNet("lstm", 2, 4, 1, **options)  # type: ignore[arg-type]
