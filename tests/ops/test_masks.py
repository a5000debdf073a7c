"""Bernoulli masks for recurrent dropout and zoneout (lstmkit.ops.masks)."""

from __future__ import annotations

import math

import pytest
import torch

from lstmkit.ops import native
from lstmkit.ops.masks import bernoulli_mask


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("p", [0.05, 0.1, 0.5, 0.9])
def test_frequency_matches_p(dtype: torch.dtype, p: float) -> None:
    torch.manual_seed(1)
    n = 400_000
    mask = bernoulli_mask((n,), p, torch.empty(0, dtype=dtype))
    assert mask.dtype == dtype and set(mask.unique().tolist()) <= {0.0, 1.0}
    # four standard deviations of a binomial proportion
    assert abs(float(mask.mean()) - p) < 4 * math.sqrt(p * (1 - p) / n)


def test_neighbouring_elements_are_independent() -> None:
    torch.manual_seed(2)
    p, n = 0.3, 400_000
    mask = bernoulli_mask((n,), p, torch.empty(0))
    both = float((mask[1:] * mask[:-1]).mean())  # P(m_i = m_{i+1} = 1) = p^2 for independent draws
    assert abs(both - p * p) < 4 * math.sqrt(p * p * (1 - p * p) / n)
    rows = mask.view(-1, 64)  # and along a stride, as (T, B, H) masks are read
    assert abs(float((rows[1:] * rows[:-1]).mean()) - p * p) < 0.01


def test_seeded_by_torch_and_fresh_on_every_call() -> None:
    like = torch.empty(0)
    torch.manual_seed(3)
    a, b = bernoulli_mask((7, 5, 9), 0.5, like), bernoulli_mask((7, 5, 9), 0.5, like)
    torch.manual_seed(3)
    assert torch.equal(a, bernoulli_mask((7, 5, 9), 0.5, like))
    assert not torch.equal(a, b)


@pytest.mark.parametrize("p, value", [(0.0, 0.0), (1.0, 1.0)])
def test_extremes(p: float, value: float) -> None:
    assert torch.equal(bernoulli_mask((1000,), p, torch.empty(0)), torch.full((1000,), value))


def test_empty_and_other_dtypes() -> None:
    assert bernoulli_mask((0, 3), 0.5, torch.empty(0)).shape == (0, 3)
    half = bernoulli_mask((100,), 0.5, torch.empty(0, dtype=torch.bfloat16))  # torch's own generator
    assert half.dtype == torch.bfloat16 and set(half.unique().tolist()) <= {0.0, 1.0}


@pytest.mark.parametrize("p", [-0.1, 1.5, float("nan")])
def test_rejects_p_outside_unit_interval(p: float) -> None:
    with pytest.raises(ValueError, match=r"p must be in \[0, 1\]"):
        bernoulli_mask((3,), p, torch.empty(0))


@pytest.mark.skipif(not native.native_available(), reason="native kernel not built")
def test_same_mask_on_every_instruction_set() -> None:
    module = native.native_module()
    masks = []
    for isa in module.isas():
        previous = module.set_isa(isa)
        try:
            torch.manual_seed(4)
            masks.append(bernoulli_mask((3001,), 0.37, torch.empty(0)))
        finally:
            module.set_isa(previous)
    assert all(torch.equal(masks[0], m) for m in masks[1:])
