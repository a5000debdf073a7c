"""Seeded generators for the classic long-time-lag tasks.

Each generator is a pure function of its arguments: the same ``seed`` gives the same arrays. A seed is an
integer in ``[0, 2**63 - 1]``; ``None`` (fresh entropy) is refused.
Shapes use the library's legend: ``N`` examples, ``T`` time steps.

- Adding problem (Hochreiter & Schmidhuber 1997, experiment 4, in the two-channel form of Le et al.
  2015 and Arjovsky et al. 2016): channel 0 holds values uniform in ``[0, 1]``, channel 1 a 0/1 marker
  with exactly two ones, one in each half of the sequence; the target is the sum of the two marked values.
  Predicting the constant 1 scores ``Var(u1 + u2) = 1/6 ≈ 0.167`` MSE.
- Copy memory (Arjovsky et al. 2016, arXiv:1511.06464v4): 10 symbols from ``1..8``, ``T - 1`` blanks
  (``0``), a delimiter (``9``) and 10 more blanks; the target is blanks for ``T + 10`` steps, then the
  10 symbols. Predicting blanks and then a uniform guess scores ``10 log 8 / (T + 20)`` cross-entropy.
- Temporal order (Hochreiter & Schmidhuber 1997, experiment 6): a sequence of distractor symbols
  ``a, b, c, d`` framed by ``B`` and ``E`` holds two (or three) relevant symbols, each ``X`` or ``Y``, at
  random positions in fixed windows; the class is their order (``XX, XY, YX, YY``, or 8 classes for three).

Implementation notes:
    The paper's temporal-order sequences have length 100 to 110; here the length is fixed at ``length``
    and the windows scale with it (``[0.1T, 0.2T]`` and ``[0.5T, 0.6T]`` for two symbols; ``[0.1T, 0.2T]``,
    ``[0.33T, 0.43T]`` and ``[0.66T, 0.76T]`` for three), which matches the paper at ``T = 100``.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np

from lstmkit.utils.validation import check_positive_int, check_seed

ADDING_BASELINE_MSE = 1.0 / 6.0
COPY_SYMBOLS = 8
COPY_LENGTH = 10
COPY_BLANK = 0
COPY_DELIMITER = COPY_SYMBOLS + 1
TEMPORAL_ORDER_SYMBOLS = ("E", "B", "a", "b", "c", "d", "X", "Y")
ADDING_MIN_LENGTH = 2  # one marker in each half
COPY_MIN_LENGTH = 1
TEMPORAL_ORDER_MIN_LENGTH = 20


class TaskData(NamedTuple):
    """Inputs and targets of one generated task.

    Attributes:
        x: inputs, ``(N, T, 2)`` float32 for adding, ``(N, T + 20)`` int64 tokens for copy memory,
            ``(N, T, 8)`` float32 one-hot for temporal order.
        y: targets, ``(N, 1)`` float32 for adding, ``(N, T + 20)`` int64 tokens for copy memory,
            ``(N,)`` int64 classes for temporal order.
    """

    x: np.ndarray
    y: np.ndarray


def adding_problem(n: int, length: int, *, seed: int = 0) -> TaskData:
    """Generate ``n`` sequences of the adding problem.

    Args:
        n: number of sequences ``N``.
        length: sequence length ``T`` (at least 2).
        seed: random seed, an integer in ``[0, 2**63 - 1]``.

    Returns:
        ``x`` ``(N, T, 2)`` (values, markers) and ``y`` ``(N, 1)`` the sum of the two marked values.

    Raises:
        TypeError: ``n``, ``length`` or ``seed`` is not an integer.
        ValueError: ``n < 1``, ``length < 2`` or ``seed`` out of range.

    Example:
        >>> data = adding_problem(4, 10, seed=0)
        >>> data.x.shape, data.y.shape
        ((4, 10, 2), (4, 1))
        >>> bool((data.x[:, :, 1].sum(axis=1) == 2).all())
        True
    """
    check_positive_int("n", n)
    check_positive_int("length", length, minimum=ADDING_MIN_LENGTH)
    rng = np.random.default_rng(check_seed("seed", seed))
    values = rng.uniform(0.0, 1.0, size=(n, length))
    half = length // 2
    first = rng.integers(0, half, size=n)  # one marker in each half
    second = rng.integers(half, length, size=n)
    markers = np.zeros((n, length))
    rows = np.arange(n)
    markers[rows, first] = 1.0
    markers[rows, second] = 1.0
    x = np.stack([values, markers], axis=-1).astype(np.float32)  # (N, T, 2)
    y = (values[rows, first] + values[rows, second]).astype(np.float32)[:, None]  # (N, 1)
    return TaskData(x, y)


def copy_memory(n: int, length: int, *, seed: int = 0) -> TaskData:
    """Generate ``n`` sequences of the copy-memory task with ``length`` blanks to bridge.

    Args:
        n: number of sequences ``N``.
        length: the lag ``T`` (at least 1); sequences have ``T + 20`` steps.
        seed: random seed, an integer in ``[0, 2**63 - 1]``.

    Returns:
        ``x`` and ``y``, both ``(N, T + 20)`` int64 tokens in ``0..9`` (0 blank, 1-8 symbols, 9 delimiter).

    Raises:
        TypeError: ``n``, ``length`` or ``seed`` is not an integer.
        ValueError: ``n < 1``, ``length < 1`` or ``seed`` out of range.

    Example:
        >>> data = copy_memory(2, 5, seed=0)
        >>> data.x.shape, int(data.x[0, 14])
        ((2, 25), 9)
        >>> bool((data.y[:, -10:] == data.x[:, :10]).all())
        True
    """
    check_positive_int("n", n)
    check_positive_int("length", length, minimum=COPY_MIN_LENGTH)
    rng = np.random.default_rng(check_seed("seed", seed))
    total = length + 2 * COPY_LENGTH
    symbols = rng.integers(1, COPY_SYMBOLS + 1, size=(n, COPY_LENGTH))
    x = np.full((n, total), COPY_BLANK, dtype=np.int64)
    x[:, :COPY_LENGTH] = symbols
    x[:, COPY_LENGTH + length - 1] = COPY_DELIMITER
    y = np.full((n, total), COPY_BLANK, dtype=np.int64)
    y[:, -COPY_LENGTH:] = symbols
    return TaskData(x, y)


def copy_memory_baseline(length: int) -> float:
    """Cross-entropy of the memoryless strategy on copy memory: ``10 log 8 / (T + 20)``."""
    check_positive_int("length", length)
    return COPY_LENGTH * math.log(COPY_SYMBOLS) / (length + 2 * COPY_LENGTH)


def temporal_order(n: int, length: int = 100, *, markers: int = 2, seed: int = 0) -> TaskData:
    """Generate ``n`` sequences of the temporal-order task.

    Args:
        n: number of sequences ``N``.
        length: sequence length ``T`` (at least 20); 100 matches the paper.
        markers: number of relevant symbols, 2 (4 classes) or 3 (8 classes).
        seed: random seed, an integer in ``[0, 2**63 - 1]``.

    Returns:
        ``x`` ``(N, T, 8)`` one-hot over ``E, B, a, b, c, d, X, Y`` and ``y`` ``(N,)`` the class: the
        relevant symbols read as binary digits with ``X = 0``, ``Y = 1``, the first one most significant.

    Raises:
        TypeError: ``n``, ``length``, ``markers`` or ``seed`` is not an integer.
        ValueError: ``n < 1``, ``length < 20``, ``markers`` not 2 or 3, or ``seed`` out of range.

    Example:
        >>> data = temporal_order(3, 100, seed=0)
        >>> data.x.shape, data.y.shape
        ((3, 100, 8), (3,))
        >>> bool((data.x.sum(axis=2) == 1).all())
        True
    """
    check_positive_int("n", n)
    check_positive_int("length", length, minimum=TEMPORAL_ORDER_MIN_LENGTH)
    if isinstance(markers, bool) or not isinstance(markers, int | np.integer):
        raise TypeError(f"markers must be the integer 2 or 3, got {type(markers).__name__} {markers!r}")
    if markers not in (2, 3):
        raise ValueError(f"markers must be 2 or 3, got {markers!r}")
    markers = int(markers)
    rng = np.random.default_rng(check_seed("seed", seed))
    windows = [(0.1, 0.2), (0.5, 0.6)] if markers == 2 else [(0.1, 0.2), (0.33, 0.43), (0.66, 0.76)]
    tokens = rng.integers(2, 6, size=(n, length))  # distractors a..d
    tokens[:, 0] = 1  # B
    tokens[:, -1] = 0  # E
    bits = rng.integers(0, 2, size=(n, markers))
    rows = np.arange(n)
    for k, (low, high) in enumerate(windows):
        position = rng.integers(round(low * length), round(high * length) + 1, size=n)
        tokens[rows, position] = 6 + bits[:, k]  # X = 6, Y = 7
    x = np.eye(len(TEMPORAL_ORDER_SYMBOLS), dtype=np.float32)[tokens]  # (N, T, 8)
    y = (bits * (2 ** np.arange(markers - 1, -1, -1))).sum(axis=1).astype(np.int64)
    return TaskData(x, y)
