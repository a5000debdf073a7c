"""Fixtures for the classification tests: small subsets of the UCR/UEA files in ../shared/data/tsc."""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import torch


def write_ts_subset(source: Path, target: Path, n: int, seed: int = 0) -> Path:
    """Copy the header of ``source`` and ``n`` randomly chosen cases (stratification not needed here)."""
    lines = source.read_text().splitlines()
    start = next(i for i, line in enumerate(lines) if line.strip().lower() == "@data") + 1
    cases = [line for line in lines[start:] if line.strip()]
    random.Random(seed).shuffle(cases)
    target.write_text("\n".join([*lines[:start], *cases[:n]]) + "\n")
    return target


@pytest.fixture
def ts_subset(shared_data: Path, tmp_path: Path) -> Callable[[str, str, int], Path]:
    """``ts_subset("GunPoint", "TRAIN", 20)`` -> path of a .ts file with 20 cases of that split."""

    def make(name: str, split: str, n: int) -> Path:
        source = shared_data / "tsc" / f"{name}_{split}.ts"
        return write_ts_subset(source, tmp_path / f"{name}_{split}_{n}.ts", n)

    return make


@pytest.fixture(autouse=True)
def _one_thread() -> Iterator[None]:
    """Tiny models run fastest on one thread, and the CI machine's cores are shared."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
