"""Shared test settings: fixed seeds, few threads, a path to the shared data."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import torch

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"


@pytest.fixture(autouse=True)
def _seeded() -> None:
    torch.manual_seed(0)


@pytest.fixture(autouse=True)
def _one_thread() -> Iterator[None]:
    """Test shapes are tiny and run fastest on one thread; tests of threading set their own count."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture
def shared_data() -> Path:
    """The read-only data folder beside the checkout (``../shared/data``)."""
    if not SHARED_DATA.is_dir():
        pytest.fail(f"shared data folder missing at {SHARED_DATA}; tests need ../shared/data beside the repo")
    return SHARED_DATA


@pytest.fixture(
    params=[
        pytest.param((-1, ValueError, "got -1"), id="negative"),
        pytest.param((2**63, ValueError, f"got {2**63}"), id="too-large"),
        pytest.param((True, TypeError, "got bool True"), id="bool"),
    ]
)
def bad_seed(request: pytest.FixtureRequest) -> tuple[object, type[Exception], str]:
    """``(seed, error, message)``: a seed every ``seed=`` argument refuses (``check_seed``), the error it
    raises and the message, which names the range."""
    seed, error, got = request.param
    return seed, error, f"seed must be an integer in [0, 2**63 - 1], {got}"
