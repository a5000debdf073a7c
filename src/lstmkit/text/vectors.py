"""Pretrained word vectors in the common text format (GloVe; word2vec with its ``count dim`` header line)."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from lstmkit.text.vocabulary import Vocabulary

logger = logging.getLogger(__name__)


def load_vectors(
    path: str | Path, vocabulary: Vocabulary, *, seed: int = 0, scale: float = 0.1
) -> tuple[np.ndarray, int]:
    """Build an embedding matrix for ``vocabulary`` from a text vector file.

    Each line is ``token v_1 ... v_E`` (space separated). A first line of exactly two integers is the
    word2vec header ``count dim`` and is skipped. Tokens of the vocabulary that the file lacks get small
    random vectors (uniform in ``[-scale, scale]``); the padding row is zero.

    Args:
        path: the vector file (UTF-8).
        vocabulary: the model's vocabulary.
        seed: seed for the random rows.
        scale: half-width of the random rows' uniform distribution.

    Returns:
        ``(matrix, found)``: float32 ``(V, E)`` and how many vocabulary tokens the file covered.

    Raises:
        FileNotFoundError: no such file.
        ValueError: an empty file, a line whose vector length differs from the first, or a value of a
            vocabulary token's vector that is not a finite number (naming the line).

    Example:
        >>> import tempfile, os
        >>> with tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False) as f:
        ...     _ = f.write("2 3\\ngood 1 2 3\\nbad -1 -2 -3\\n")
        >>> matrix, found = load_vectors(f.name, Vocabulary(["good", "meh"])); os.unlink(f.name)
        >>> matrix.shape, found, matrix[2].tolist()
        ((4, 3), 1, [1.0, 2.0, 3.0])
    """
    source = Path(path)
    if not source.is_file():
        raise FileNotFoundError(f"no word-vector file at '{source}'")
    wanted = {token: i for i, token in enumerate(vocabulary.tokens)}
    rows: dict[int, np.ndarray] = {}
    dim: int | None = None
    with source.open(encoding="utf-8", errors="replace") as handle:
        for number, line in enumerate(handle, start=1):
            parts = line.rstrip("\n").rstrip().split(" ")
            if number == 1 and len(parts) == 2 and all(p.isdigit() for p in parts):
                continue  # word2vec header: count dim
            if len(parts) < 2:
                continue
            if dim is None:
                dim = len(parts) - 1
            if len(parts) - 1 != dim:
                raise ValueError(
                    f"'{source}' line {number}: vector of length {len(parts) - 1}, the first vector has "
                    f"{dim}; expected 'token v_1 ... v_{dim}'"
                )
            index = wanted.get(parts[0])
            if index is None or index == vocabulary.pad_id:
                continue
            try:
                with np.errstate(over="ignore"):  # a value beyond float32 becomes inf, refused below
                    vector = np.array(parts[1:], dtype=np.float32)
            except ValueError as err:
                raise ValueError(f"'{source}' line {number}: a vector value is not a number ({err})") from err
            if not np.isfinite(vector).all():
                bad = parts[1 + int(np.flatnonzero(~np.isfinite(vector))[0])]
                raise ValueError(
                    f"'{source}' line {number}: the vector of {parts[0]!r} holds {bad!r}; expected finite "
                    f"numbers (float32)"
                )
            rows[index] = vector
    if dim is None:
        raise ValueError(f"'{source}' holds no vectors; expected lines 'token v_1 ... v_E'")
    rng = np.random.default_rng(seed)
    matrix = rng.uniform(-scale, scale, size=(len(vocabulary), dim)).astype(np.float32)
    matrix[vocabulary.pad_id] = 0.0
    for index, vector in rows.items():
        matrix[index] = vector
    found = len(rows)
    logger.info("word vectors: %d of %d vocabulary tokens found in %s", found, len(vocabulary) - 2, source)
    return matrix, found
