from __future__ import annotations

import pytest
import torch

from lstmkit.text.models import TextLSTMClassifier


@pytest.mark.parametrize("pooling", ["max", "mean", "last"])
@pytest.mark.parametrize("bidirectional", [True, False], ids=["bidirectional", "unidirectional"])
def test_padding_does_not_change_the_prediction(pooling: str, bidirectional: bool) -> None:
    torch.manual_seed(0)
    model = TextLSTMClassifier(
        20, 3, embedding_dim=5, hidden_size=4, bidirectional=bidirectional, pooling=pooling
    ).eval()
    alone = model(torch.tensor([[3, 4, 5]]), torch.tensor([3]))
    batch = torch.tensor([[3, 4, 5, 0, 0], [6, 7, 8, 9, 10]])
    together = model(batch, torch.tensor([3, 5]))
    torch.testing.assert_close(together[:1], alone, rtol=1e-5, atol=1e-6)


def test_padding_embedding_gets_no_gradient() -> None:
    model = TextLSTMClassifier(10, 2, embedding_dim=4, hidden_size=3, num_layers=2)
    model(torch.tensor([[2, 3, 0], [4, 5, 6]]), torch.tensor([2, 3])).sum().backward()
    assert model.embedding.weight.grad is not None
    assert torch.all(model.embedding.weight.grad[0] == 0)


def test_unknown_pooling() -> None:
    with pytest.raises(ValueError, match="unknown pooling 'attention'"):
        TextLSTMClassifier(10, 2, pooling="attention")
