"""set_seed: repeats a run, and refuses what is not a seed."""

from __future__ import annotations

import random

import numpy as np
import pytest
import torch

from lstmkit.utils import set_seed


def test_the_same_seed_repeats_every_generator() -> None:
    draws = []
    for _ in range(2):
        set_seed(2**63 - 1)  # the largest seed: NumPy takes it modulo 2**32
        draws.append((torch.rand(2).tolist(), np.random.rand(2).tolist(), random.random()))
    assert draws[0] == draws[1]


@pytest.mark.parametrize(
    ("seed", "error", "received"),
    [
        ("abc", TypeError, "str 'abc'"),
        (None, TypeError, "NoneType None"),
        (1.5, TypeError, "float 1.5"),
        (True, TypeError, "bool True"),
        (-1, ValueError, "-1"),
        (2**64, ValueError, "18446744073709551616"),
    ],
    ids=["str", "none", "float", "bool", "negative", "2**64"],
)
def test_what_is_not_a_seed_is_refused(seed: object, error: type[Exception], received: str) -> None:
    state = torch.get_rng_state()
    with pytest.raises(error, match=rf"^seed must be an integer in \[0, 2\*\*63 - 1\], got {received}$"):
        set_seed(seed)  # type: ignore[arg-type]
    assert torch.equal(torch.get_rng_state(), state)  # nothing seeded


def test_deterministic_must_be_a_bool() -> None:
    with pytest.raises(TypeError, match=r"deterministic must be True or False, got str 'yes'"):
        set_seed(0, deterministic="yes")  # type: ignore[arg-type]
