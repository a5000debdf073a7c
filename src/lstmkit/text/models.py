"""The BiLSTM text classifier: embedding, a (bi)LSTM read through lengths, masked pooling, a linear layer.

Shape legend: ``B`` batch, ``T`` tokens, ``E`` embedding size, ``H`` hidden units, ``D`` directions,
``K`` classes.
"""

from __future__ import annotations

from torch import Tensor, nn

from lstmkit.nn import LSTM
from lstmkit.nn.sequences import last_layer_state
from lstmkit.ops.lengths import sequence_mask
from lstmkit.utils.validation import check_choice

POOLINGS = ("max", "mean", "last")


class TextLSTMClassifier(nn.Module):
    """Sentence classifier: ``Embedding(mask_zero)`` -> (bi)LSTM -> pooling over real tokens -> softmax.

        e_t = E[w_t]                                   (token id 0 is padding)
        h_t = [LSTM_fwd(e_1..e_t) ; LSTM_bwd(e_t..e_n)]   for t = 1..n (n = the text's length)
        s   = max_t h_t   (or mean_t h_t, or [h_n^fwd ; h_1^bwd] for "last")
        p(y | w) = softmax(W Dropout(s) + b)

    Max pooling over BiLSTM states follows Conneau et al. 2017 (InferSent), which found it the strongest
    of these sentence encoders.

    Args:
        vocab_size: number of token ids ``V`` (including padding and OOV).
        n_classes: classes ``K``.
        embedding_dim: ``E``. Default 100.
        hidden_size: ``H`` per direction. Default 100.
        num_layers: stacked LSTM layers. Default 1.
        bidirectional: Default True.
        dropout: dropout on embeddings, between layers, and before the output layer. Default 0.5.
        pooling: ``"max"``, ``"mean"`` or ``"last"``. Default ``"max"``.

    Implementation notes:
        Masking is done with lengths (``lstmkit.nn.LSTM(..., lengths=)``): padded positions never enter
        the recurrence, and pooling ignores them. This is what Keras' ``Embedding(mask_zero=True)``
        does through masks.

    Example:
        >>> import torch
        >>> model = TextLSTMClassifier(vocab_size=10, n_classes=2, embedding_dim=4, hidden_size=3)
        >>> model(torch.tensor([[4, 5, 6], [7, 0, 0]]), torch.tensor([3, 1])).shape
        torch.Size([2, 2])
    """

    def __init__(
        self,
        vocab_size: int,
        n_classes: int,
        embedding_dim: int = 100,
        hidden_size: int = 100,
        num_layers: int = 1,
        bidirectional: bool = True,
        dropout: float = 0.5,
        pooling: str = "max",
    ) -> None:
        super().__init__()
        self.pooling = check_choice("pooling", pooling, POOLINGS)
        self.embedding = nn.Embedding(vocab_size, embedding_dim, padding_idx=0)
        self.lstm = LSTM(
            embedding_dim,
            hidden_size,
            num_layers=num_layers,
            batch_first=True,
            bidirectional=bidirectional,
            dropout=dropout if num_layers > 1 else 0.0,
        )
        self.dropout = nn.Dropout(dropout)
        self.head = nn.Linear(hidden_size * (2 if bidirectional else 1), n_classes)

    def forward(self, tokens: Tensor, lengths: Tensor) -> Tensor:
        """Logits ``(B, K)`` for padded token ids ``(B, T)`` and ``lengths`` ``(B,)``."""
        steps = tokens.shape[1]
        e = self.dropout(self.embedding(tokens))  # (B, T, E)
        out, (h_n, _) = self.lstm(e, lengths=lengths)  # out: (B, T, D * H), zero past each length
        if self.pooling == "last":
            s = last_layer_state(h_n, 2 if self.lstm.bidirectional else 1)  # (B, D * H)
        else:
            valid = sequence_mask(lengths, steps).unsqueeze(-1)  # (B, T, 1)
            if self.pooling == "max":
                s = out.masked_fill(~valid, float("-inf")).max(dim=1).values
            else:
                s = (out * valid).sum(dim=1) / lengths[:, None].to(out.dtype)
        return self.head(self.dropout(s))
