"""Pretrained word vectors in the common text format (GloVe; word2vec with its ``count dim`` header line)."""

from __future__ import annotations

import logging
import re
import warnings
from pathlib import Path

import numpy as np

from lstmkit.text.vocabulary import Vocabulary

logger = logging.getLogger(__name__)

_FIELD_SEPARATOR = re.compile("[ \t]")


def _is_number(field: str) -> bool:
    try:
        float(field)
    except ValueError:
        return False
    return True


def load_vectors(
    path: str | Path, vocabulary: Vocabulary, *, seed: int = 0, scale: float = 0.1
) -> tuple[np.ndarray, int]:
    """Build an embedding matrix for ``vocabulary`` from a text vector file.

    Each line is ``token v_1 ... v_E`` (separated by spaces or tabs). A first line of exactly two integers
    is the word2vec header ``count dim`` and sets ``E``; without it, the first vector sets ``E``. The last
    ``E`` fields of a line are its vector and the fields before them its token, so tokens that contain
    spaces (GloVe 840B's ``. . .``) are read whole; a line whose extra fields are all numbers is a vector of
    another length, an error. Tokens of the vocabulary that the file lacks get small random vectors
    (uniform in ``[-scale, scale]``); the padding row is zero. A token given twice keeps its first vector
    (with a warning), and lines that are not UTF-8 are skipped with a warning that counts them.

    Args:
        path: the vector file (UTF-8).
        vocabulary: the model's vocabulary.
        seed: seed for the random rows.
        scale: half-width of the random rows' uniform distribution.

    Returns:
        ``(matrix, found)``: float32 ``(V, E)`` and how many vocabulary tokens the file covered.

    Raises:
        FileNotFoundError: no such file.
        ValueError: an empty file, a line with fewer than ``E`` values after its token (a token alone
            included) or with more than ``E`` numbers, or a value of a vocabulary token's vector that is
            not a finite number (naming the line).

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
    dim_from = "the first vector has"
    lines_read = duplicates = 0
    undecodable: list[int] = []
    with source.open("rb") as handle:
        for number, raw in enumerate(handle, start=1):
            try:
                line = raw.decode("utf-8")
            except UnicodeDecodeError:
                undecodable.append(number)
                continue
            if number == 1:
                line = line.removeprefix("\ufeff")  # a byte order mark is not part of the first token
            if not line.strip():
                continue
            parts = _FIELD_SEPARATOR.split(line.rstrip())
            if number == 1 and len(parts) == 2 and all(p.isdigit() for p in parts):
                dim, dim_from = int(parts[1]), "the word2vec header on line 1 says"  # count dim
                if dim < 1:
                    raise ValueError(
                        f"'{source}' line 1: the word2vec header 'count dim' gives dim {dim}; expected "
                        f"a vector length of at least 1"
                    )
                continue
            if dim is None:
                dim = len(parts) - 1
                dim_from = f"the first vector (line {number}) has"
            lines_read += 1
            # fields before the last dim that are all numbers are a longer vector, not a token with spaces
            if len(parts) - 1 < dim or (len(parts) - 1 > dim and all(map(_is_number, parts[1:-dim]))):
                raise ValueError(
                    f"'{source}' line {number}: vector of length {len(parts) - 1}, {dim_from} {dim}; "
                    f"expected 'token v_1 ... v_{dim}'"
                )
            token, values = " ".join(parts[:-dim]), parts[-dim:]
            index = wanted.get(token)
            if index is None or index == vocabulary.pad_id:
                continue
            if index in rows:  # the first vector of a token is kept, as gensim does
                duplicates += 1
                continue
            try:
                with np.errstate(over="ignore"):  # a value beyond float32 becomes inf, refused below
                    vector = np.array(values, dtype=np.float32)
            except ValueError as err:
                raise ValueError(f"'{source}' line {number}: a vector value is not a number ({err})") from err
            if not np.isfinite(vector).all():
                bad = values[int(np.flatnonzero(~np.isfinite(vector))[0])]
                raise ValueError(
                    f"'{source}' line {number}: the vector of {token!r} holds {bad!r}; expected finite "
                    f"numbers (float32)"
                )
            rows[index] = vector
    if undecodable:
        warnings.warn(
            f"'{source}': {len(undecodable)} line(s) are not UTF-8 (first: line {undecodable[0]}) and were "
            f"skipped, so their tokens get random vectors; re-encode the file as UTF-8",
            UserWarning,
            stacklevel=2,
        )
    if duplicates:
        warnings.warn(
            f"'{source}': {duplicates} vocabulary token(s) have more than one vector; the first of each "
            f"was kept",
            UserWarning,
            stacklevel=2,
        )
    if dim is None or lines_read == 0:
        raise ValueError(f"'{source}' holds no vectors; expected lines 'token v_1 ... v_E'")
    rng = np.random.default_rng(seed)
    matrix = rng.uniform(-scale, scale, size=(len(vocabulary), dim)).astype(np.float32)
    matrix[vocabulary.pad_id] = 0.0
    for index, vector in rows.items():
        matrix[index] = vector
    found = len(rows)
    logger.info("word vectors: %d of %d vocabulary tokens found in %s", found, len(vocabulary) - 2, source)
    return matrix, found
