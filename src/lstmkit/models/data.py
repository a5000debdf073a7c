"""Turn what ``fit``/``evaluate``/``predict`` receive into batches of tensors.

Accepted: NumPy arrays, tensors, pandas objects, nested lists, a map-style ``torch.utils.data.Dataset``
yielding ``x``, ``(x, y)`` or ``(x, y, sample_weight)``, or a ``DataLoader`` (used as it is).
In data-parallel training each global batch is split across ranks (see :class:`Batch`).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import Tensor
from torch.utils.data import DataLoader, Dataset, default_collate

from lstmkit.utils.validation import check_finite, check_positive_int, check_probability


@dataclass
class Batch:
    """One rank's share of a global batch; ``global_size`` is the whole batch's sample count."""

    x: Tensor
    y: Tensor | None
    weight: Tensor | None
    global_size: int


def to_tensor(name: str, value: Any) -> Tensor:
    """Convert array-like data to a tensor: floats to float32, integers to int64, bool to float32.

    Raises:
        TypeError: not array-like.
        ValueError: empty, or NaN/inf in floating data.
    """
    if isinstance(value, Tensor):
        tensor = value.detach()
    else:
        if hasattr(value, "to_numpy"):  # pandas Series/DataFrame
            value = value.to_numpy()
        try:
            array = np.asarray(value)
        except (TypeError, ValueError) as err:
            raise TypeError(f"{name} must be array-like, got {type(value).__name__}") from err
        if array.dtype == object:
            raise TypeError(
                f"{name} must hold numbers, got an array of Python objects of shape {array.shape}"
            )
        if array.dtype.kind not in "biuf":  # text, dates, complex: torch's own error names none of it
            raise TypeError(
                f"{name} must hold real numbers (integers, floats or bools), got dtype {array.dtype}; "
                f"encode text labels as class ids first"
            )
        if not array.flags.writeable:  # e.g. a pandas view; torch needs writable memory
            array = array.copy()
        tensor = torch.from_numpy(np.ascontiguousarray(array))
    if tensor.dim() == 0:
        raise ValueError(f"{name} must have a batch dimension, got a scalar")
    if tensor.shape[0] == 0:
        raise ValueError(f"{name} is empty (shape {tuple(tensor.shape)}); need at least one sample")
    if tensor.dtype == torch.bool:
        tensor = tensor.float()
    elif tensor.is_floating_point():
        tensor = tensor.float()
        check_finite(name, tensor)
    elif tensor.is_complex():
        raise TypeError(f"{name} must be real-valued, got dtype {tensor.dtype}")
    else:
        tensor = tensor.long()
    return tensor


class ArraySource:
    """In-memory ``x``, ``y``, ``sample_weight`` tensors, batched by index."""

    def __init__(self, x: Tensor, y: Tensor | None, weight: Tensor | None) -> None:
        if y is not None and y.shape[0] != x.shape[0]:
            raise ValueError(
                f"x and y must have the same number of samples, got x with {x.shape[0]} and y with "
                f"{y.shape[0]}"
            )
        if weight is not None and weight.shape == (x.shape[0], 1):  # a column, as Keras takes it
            weight = weight.reshape(-1)
        if weight is not None and weight.shape != (x.shape[0],):
            raise ValueError(
                f"sample_weight must have shape ({x.shape[0]},) or ({x.shape[0]}, 1), one weight per sample, "
                f"got {tuple(weight.shape)}"
            )
        self.x, self.y, self.weight = x, y, weight

    def __len__(self) -> int:
        return int(self.x.shape[0])

    def take(self, index: Tensor) -> tuple[Tensor, Tensor | None, Tensor | None]:
        pick = lambda t: None if t is None else t[index]  # noqa: E731
        return self.x[index], pick(self.y), pick(self.weight)

    def split(self, fraction: float) -> tuple[ArraySource, ArraySource]:
        """The first ``floor(n * (1 - fraction))`` samples for training and the rest for validation, as
        Keras 3 splits them."""
        cut = math.floor(len(self) * (1.0 - fraction))
        if cut < 1 or cut >= len(self):
            raise ValueError(
                f"validation_split={fraction} leaves {len(self) - cut} of {len(self)} samples for "
                f"validation; need at least one sample on each side"
            )
        head, tail = torch.arange(cut), torch.arange(cut, len(self))
        return ArraySource(*self.take(head)), ArraySource(*self.take(tail))


class DatasetSource(ArraySource):
    """A map-style ``Dataset``; items are collated per batch with ``default_collate``."""

    def __init__(self, dataset: Dataset[Any]) -> None:
        self.dataset = dataset
        self.size = len(dataset)  # type: ignore[arg-type]
        if self.size == 0:
            raise ValueError("the Dataset is empty; need at least one sample")

    def __len__(self) -> int:
        return self.size

    def take(self, index: Tensor) -> tuple[Tensor, Tensor | None, Tensor | None]:
        if index.numel() == 0:  # an empty share in distributed training: the right shapes, no samples
            x, y, w = self.take(torch.zeros(1, dtype=torch.long))
            return x[:0], None if y is None else y[:0], None if w is None else w[:0]
        return batch_parts(default_collate([self.dataset[int(i)] for i in index]), "Dataset")

    def split(self, fraction: float) -> tuple[ArraySource, ArraySource]:
        raise ValueError("validation_split is not supported for a Dataset; pass validation_data instead")


def make_source(x: Any, y: Any = None, sample_weight: Any = None) -> ArraySource | DataLoader[Any]:
    """Wrap user data; ``y`` and ``sample_weight`` must be ``None`` for a Dataset or DataLoader."""
    if isinstance(x, DataLoader | Dataset):
        if y is not None or sample_weight is not None:
            raise ValueError(
                f"when x is a {type(x).__name__}, y and sample_weight must be None (they come from it)"
            )
        return x if isinstance(x, DataLoader) else DatasetSource(x)
    if x is None:
        raise ValueError("x is required")
    if isinstance(x, Mapping):
        raise TypeError(
            f"x must be one array (lstmkit models take one input tensor), got a dict with keys {list(x)}; "
            f"pass the array itself"
        )
    if isinstance(x, Iterator):
        raise TypeError(
            f"x must be an array, a Dataset or a DataLoader, got a {type(x).__name__}; wrap a generator in a "
            f"torch.utils.data.IterableDataset and pass DataLoader(dataset, batch_size=None)"
        )
    x_t = to_tensor("x", x)
    y_t = None if y is None else to_tensor("y", y)
    w_t = None if sample_weight is None else to_tensor("sample_weight", sample_weight).float()
    return ArraySource(x_t, y_t, w_t)


def sample_of(source: ArraySource | DataLoader[Any]) -> Tensor:
    """A few inputs of ``source`` (to build lazy layers from)."""
    if isinstance(source, DataLoader):
        first = next(iter(source))
        return first if isinstance(first, Tensor) else first[0]
    if isinstance(source, DatasetSource):
        return source.take(torch.arange(min(2, len(source))))[0]
    return source.x[:2]


def validation_sources(
    source: ArraySource | DataLoader[Any], split: float, data: Any
) -> tuple[ArraySource | DataLoader[Any], ArraySource | DataLoader[Any] | None]:
    """``(training source, validation source or None)`` from ``fit``'s ``validation_split`` and
    ``validation_data``."""
    if data is not None:
        if isinstance(data, DataLoader | Dataset):
            return source, make_source(data)
        if not isinstance(data, tuple | list) or len(data) not in (2, 3):
            raise ValueError(
                "validation_data must be (x_val, y_val), (x_val, y_val, sample_weight) or a Dataset"
            )
        return source, make_source(*data)
    split = check_probability("validation_split", split)
    if split == 0.0:
        return source, None
    if not isinstance(source, ArraySource):
        raise ValueError("validation_split needs array inputs; pass validation_data for a DataLoader")
    return source.split(split)


def one_batch(source: ArraySource | DataLoader[Any], what: str, instead: str) -> ArraySource:
    """The source of a ``*_on_batch`` call: arrays (or a Dataset) that make one batch."""
    if not isinstance(source, ArraySource):
        raise TypeError(
            f"{what} takes the arrays of one batch, got a DataLoader; use {instead}() for a loader"
        )
    return source


def require_targets(source: ArraySource | DataLoader[Any], what: str) -> None:
    """``ValueError`` for arrays without ``y`` (a Dataset's or DataLoader's batches are checked as they
    come)."""
    if isinstance(source, ArraySource) and not isinstance(source, DatasetSource) and source.y is None:
        raise ValueError(f"{what} needs targets: pass y (or a Dataset/DataLoader that yields (x, y))")


def require_splittable(source: ArraySource | DataLoader[Any] | None, name: str) -> None:
    """``ValueError`` for a DataLoader in distributed training, which splits each batch across ranks
    itself (arrays and map-style Datasets are split)."""
    if isinstance(source, DataLoader):
        raise ValueError(
            f"fit(distributed=True) splits each batch across ranks itself, so {name} must be arrays or a "
            f"map-style Dataset, got a DataLoader; pass its dataset instead"
        )


def iterate(
    source: ArraySource | DataLoader[Any],
    batch_size: int,
    *,
    shuffle: bool,
    rank: int = 0,
    world: int = 1,
    generator: torch.Generator | None = None,
) -> Iterator[Batch]:
    """Yield this rank's share of each global batch of ``batch_size`` samples.

    The permutation is drawn from ``generator`` (torch's global generator when ``None``). ``fit`` passes a
    generator seeded alike on every rank, so every rank draws the same permutation even when the ranks'
    global generators have drifted apart (dropout masks drawn for shares of different sizes).
    """
    if isinstance(source, DataLoader):
        if world > 1:
            raise ValueError("distributed training needs arrays or a map-style Dataset, not a DataLoader")
        for item in source:
            x, y, w = batch_parts(item, "DataLoader")
            yield Batch(x, y, w, int(x.shape[0]))
        return
    n = len(source)
    order = torch.randperm(n, generator=generator) if shuffle else torch.arange(n)
    for start in range(0, n, batch_size):
        index = order[start : start + batch_size]
        share = index.tensor_split(world)[rank] if world > 1 else index
        x, y, w = source.take(share)
        yield Batch(x, y, w, int(index.numel()))


def num_batches(source: ArraySource | DataLoader[Any], batch_size: int) -> int | None:
    """Batches per epoch; ``None`` for a DataLoader over an ``IterableDataset`` without a length (Keras's
    ``steps=None``: the epoch ends when the data does)."""
    if isinstance(source, DataLoader):
        try:
            return len(source)
        except TypeError:  # an IterableDataset without __len__
            return None
    return -(-len(source) // batch_size)


def check_steps_per_epoch(steps_per_epoch: Any, available: int | None) -> int | None:
    """``fit``'s ``steps_per_epoch``: ``None`` or a positive int, no more than the ``available`` batches of a
    source with a length.

    Raises:
        TypeError: not an int.
        ValueError: below 1, or more batches than the data has.
    """
    if steps_per_epoch is None:
        return None
    steps = check_positive_int("steps_per_epoch", steps_per_epoch)
    if available is not None and steps > available:
        raise ValueError(
            f"steps_per_epoch={steps} asks for more batches than the data has: {available} batches per pass; "
            f"pass steps_per_epoch <= {available} (or None for one pass per epoch)"
        )
    return steps


class EpochFeed:
    """The batches of each epoch of ``fit``, as Keras 3's epoch iterator gives them.

    Without ``steps_per_epoch`` every epoch is one whole pass over the data. With it, every epoch is that many
    batches and the passes continue across epochs: the next epoch goes on where the last one stopped, and a
    pass that ends starts the next one (reshuffled). A loader without a length (over an ``IterableDataset``)
    is one iterator for the whole run; when it runs out, a warning says so and training stops after the
    epoch in progress (Keras's "Your input ran out of data; interrupting training").

    Args:
        source: the training data.
        batch_size: samples per global batch (a DataLoader batches itself).
        steps_per_epoch: batches per epoch, or ``None`` for one pass.
        shuffle: reshuffle every pass.
        rank, world: this rank's share of each global batch (see :func:`iterate`).
        generator: makes each shuffled pass's generator when the pass starts (``Model._shuffle_generator``).
    """

    def __init__(
        self,
        source: ArraySource | DataLoader[Any],
        batch_size: int,
        steps_per_epoch: int | None,
        *,
        shuffle: bool,
        rank: int = 0,
        world: int = 1,
        generator: Callable[[], torch.Generator] | None = None,
    ) -> None:
        self.source, self.batch_size, self.steps_per_epoch = source, batch_size, steps_per_epoch
        self.shuffle, self.rank, self.world, self.generator = shuffle, rank, world, generator
        self.sized = num_batches(source, batch_size) is not None
        self.batches: Iterator[Batch] | None = None
        self.ahead: Batch | None = None  # the batch exhausted() read ahead
        self.ran_out = False
        self.seen = 0

    def _new_pass(self) -> Iterator[Batch]:
        generator = self.generator() if self.shuffle and self.generator is not None else None
        return iterate(
            self.source,
            self.batch_size,
            shuffle=self.shuffle,
            rank=self.rank,
            world=self.world,
            generator=generator,
        )

    def _next(self) -> Batch | None:
        if self.ahead is not None:
            ahead, self.ahead = self.ahead, None
            return ahead
        if self.ran_out:
            return None
        if self.batches is None:
            self.batches = self._new_pass()
        batch = next(self.batches, None)
        if batch is None and self.sized:  # the pass ended: the next one
            self.batches = self._new_pass()
            batch = next(self.batches, None)
        if batch is None:
            self.ran_out = True
            warnings.warn(
                f"the training data ran out after {self.seen} batches; interrupting training. With "
                f"steps_per_epoch={self.steps_per_epoch} the data must give steps_per_epoch * epochs "
                f"batches: make the IterableDataset repeat, or lower steps_per_epoch or epochs",
                UserWarning,
                stacklevel=2,
            )
            return None
        self.seen += 1
        return batch

    def epoch(self) -> Iterator[Batch]:
        """This epoch's batches."""
        if self.steps_per_epoch is None:
            yield from self._new_pass()
            return
        for _ in range(self.steps_per_epoch):
            batch = self._next()
            if batch is None:
                return
            yield batch

    def exhausted(self) -> bool:
        """Whether the data has run out (a loader without a length, with ``steps_per_epoch``): reads one
        batch ahead, which the next epoch then starts with."""
        if self.steps_per_epoch is None or self.sized:
            return False
        if self.ahead is None:
            self.ahead = self._next()
        return self.ahead is None


def batch_parts(item: Any, source: str) -> tuple[Tensor, Tensor | None, Tensor | None]:
    """``(x, y, sample_weight)`` of a collated batch from a Dataset or DataLoader (``x``, ``(x, y)`` or
    ``(x, y, w)``), floating parts as float32 and checked for NaN and infinity as arrays are up front
    (one reduction per part and batch)."""
    parts = [item] if isinstance(item, Tensor) else item
    if not isinstance(parts, list | tuple) or not 1 <= len(parts) <= 3:
        got = type(item).__name__
        raise ValueError(f"a {source} must yield x, (x, y) or (x, y, sample_weight), got {got}")
    out: list[Tensor | None] = [None, None, None]
    for k, (name, part) in enumerate(zip(("x", "y", "sample_weight"), parts, strict=False)):
        tensor = torch.as_tensor(part)
        if tensor.is_floating_point():
            tensor = tensor.float()
            check_finite(f"{name} (a batch from the {source})", tensor)
        out[k] = tensor
    x, y, w = out
    assert x is not None
    return x, y, w
