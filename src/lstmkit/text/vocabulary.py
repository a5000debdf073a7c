"""Vocabulary (token <-> id with padding and out-of-vocabulary ids) and encoding to padded batches."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

PAD = "<pad>"
OOV = "<unk>"


class Vocabulary:
    """Token ids: ``0`` is padding, ``1`` is out-of-vocabulary, then tokens by frequency.

    Args:
        tokens: the regular tokens in id order (ids ``2, 3, ...``).

    Example:
        >>> vocab = Vocabulary.build([["a", "b", "a"], ["a", "c"]], min_freq=2)
        >>> vocab.tokens, vocab.encode(["a", "zzz"])
        (['<pad>', '<unk>', 'a'], [2, 1])
    """

    pad_id = 0
    oov_id = 1

    def __init__(self, tokens: Sequence[str]) -> None:
        if PAD in tokens or OOV in tokens:
            raise ValueError(f"tokens must not contain the special tokens {PAD!r} or {OOV!r}")
        self.tokens: list[str] = [PAD, OOV, *tokens]
        self._ids = {token: i for i, token in enumerate(self.tokens)}
        if len(self._ids) != len(self.tokens):
            raise ValueError("tokens must be distinct")

    @classmethod
    def build(
        cls, tokenized: Iterable[Sequence[str]], *, min_freq: int = 1, max_size: int | None = None
    ) -> Vocabulary:
        """Collect the tokens of a training corpus.

        Args:
            tokenized: token lists.
            min_freq: keep tokens seen at least this often. Default 1.
            max_size: keep at most this many regular tokens (most frequent first; ties alphabetical),
                not counting padding and OOV. Default no limit.

        Raises:
            ValueError: ``min_freq < 1``, ``max_size < 1``, or no token survives.
        """
        if min_freq < 1:
            raise ValueError(f"min_freq must be >= 1, got {min_freq}")
        if max_size is not None and max_size < 1:
            raise ValueError(f"max_size must be None or >= 1, got {max_size}")
        counts = Counter(token for tokens in tokenized for token in tokens)
        kept = sorted((t for t, n in counts.items() if n >= min_freq), key=lambda t: (-counts[t], t))
        if not kept:
            raise ValueError(
                f"no token occurs at least min_freq={min_freq} times in the {sum(counts.values())} training "
                f"tokens; lower min_freq or give more text"
            )
        return cls(kept[:max_size] if max_size is not None else kept)

    def __len__(self) -> int:
        return len(self.tokens)

    def encode(self, tokens: Sequence[str]) -> list[int]:
        """Ids of tokens; unknown tokens map to the OOV id."""
        return [self._ids.get(token, self.oov_id) for token in tokens]

    def decode(self, ids: Iterable[int]) -> list[str]:
        """Tokens of ids (padding included)."""
        return [self.tokens[int(i)] for i in ids]

    def oov_rate(self, tokenized: Iterable[Sequence[str]]) -> float:
        """Fraction of tokens that are out of vocabulary."""
        total = unknown = 0
        for tokens in tokenized:
            total += len(tokens)
            unknown += sum(1 for t in tokens if t not in self._ids)
        return unknown / total if total else 0.0

    def to_config(self) -> dict[str, Any]:
        """JSON-serializable form (the regular tokens in id order)."""
        return {"tokens": self.tokens[2:]}

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> Vocabulary:
        """Rebuild from :meth:`to_config`."""
        return cls(config["tokens"])


def pad_batch(ids: Sequence[Sequence[int]], max_length: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Stack id lists into a padded ``(N, T)`` int64 batch and ``(N,)`` lengths.

    Args:
        ids: one id list per text, each non-empty.
        max_length: keep at most this many ids per text (an explicit cap; ``None`` keeps all).

    Raises:
        ValueError: an empty id list (name its index), or ``max_length < 1``.

    Example:
        >>> batch, lengths = pad_batch([[5, 6, 7], [8]])
        >>> batch.tolist(), lengths.tolist()
        ([[5, 6, 7], [8, 0, 0]], [3, 1])
    """
    if max_length is not None and max_length < 1:
        raise ValueError(f"max_length must be None or >= 1, got {max_length}")
    if len(ids) == 0:
        raise ValueError("no texts to encode; expected at least one")
    for index, row in enumerate(ids):
        if len(row) == 0:
            raise ValueError(f"text {index} has no tokens; expected at least one token per text")
    lengths = np.array([min(len(r), max_length or len(r)) for r in ids], dtype=np.int64)
    batch = np.full((len(ids), int(lengths.max())), Vocabulary.pad_id, dtype=np.int64)
    for index, (row, n) in enumerate(zip(ids, lengths, strict=True)):
        batch[index, :n] = row[:n]
    return batch, lengths
