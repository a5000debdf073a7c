"""The fused recurrence (hand-written backward) against the autograd reference, for every variant."""

from __future__ import annotations

import itertools

import pytest
import torch

from lstmkit.ops.fused import fused_recurrence
from lstmkit.ops.reference import recurrence
from lstmkit.ops.types import RecurrenceInputs, RecurrenceParams

FLAGS = ("peephole", "layer_norm", "projection", "recurrent_dropout", "zoneout", "lengths", "coupled")
SINGLE = [{name} for name in FLAGS]
ALL_COMBINATIONS = [set(c) for r in range(len(FLAGS) + 1) for c in itertools.combinations(FLAGS, r)]


def _case_id(flags: set[str]) -> str:
    return "-".join(sorted(flags)) or "plain"


def make_case(
    flags: set[str], dtype: torch.dtype = torch.float64, steps: int = 6, batch: int = 3, hidden: int = 4
) -> tuple[RecurrenceInputs, RecurrenceParams, bool]:
    """Random inputs and parameters for a variant, leaves requiring grad."""
    proj = 3 if "projection" in flags else 0
    rec = proj or hidden

    def leaf(*shape: int, scale: float = 0.5) -> torch.Tensor:
        return (torch.randn(*shape, dtype=dtype) * scale).requires_grad_()

    ln = "layer_norm" in flags
    params = RecurrenceParams(
        leaf(4 * hidden, rec),
        leaf(rec, hidden) if proj else None,
        leaf(3, hidden) if "peephole" in flags else None,
        leaf(4 * hidden) if ln else None,
        leaf(4 * hidden) if ln else None,
        leaf(hidden) if ln else None,
        leaf(hidden) if ln else None,
    )
    mask = (
        (torch.rand(batch, rec, dtype=dtype) > 0.3).to(dtype) / 0.7 if "recurrent_dropout" in flags else None
    )
    zone = "zoneout" in flags
    zone_h = (torch.rand(steps, batch, rec, dtype=dtype) > 0.5).to(dtype) if zone else None
    zone_c = (torch.rand(steps, batch, hidden, dtype=dtype) > 0.5).to(dtype) if zone else None
    lengths = torch.randint(1, steps + 1, (batch,)) if "lengths" in flags else None
    inputs = RecurrenceInputs(
        leaf(steps, batch, 4 * hidden), leaf(batch, rec), leaf(batch, hidden), mask, zone_h, zone_c, lengths
    )
    return inputs, params, "coupled" in flags


def _leaves(inputs: RecurrenceInputs, params: RecurrenceParams) -> list[torch.Tensor]:
    return [t for t in (*inputs[:3], *params) if t is not None]


@pytest.mark.parametrize("flags", ALL_COMBINATIONS, ids=_case_id)
def test_fused_matches_reference_float64(flags: set[str]) -> None:
    inputs, params, coupled = make_case(flags)
    leaves = _leaves(inputs, params)
    expected = recurrence(inputs, params, coupled_gates=coupled)
    got = fused_recurrence(inputs, params, coupled_gates=coupled)
    weights = [torch.randn_like(t) for t in expected]
    grads_expected = torch.autograd.grad(
        sum((t * w).sum() for t, w in zip(expected, weights, strict=True)), leaves
    )
    grads_got = torch.autograd.grad(sum((t * w).sum() for t, w in zip(got, weights, strict=True)), leaves)
    for e, g in zip(expected, got, strict=True):
        torch.testing.assert_close(g, e, rtol=1e-10, atol=1e-12)
    for e, g in zip(grads_expected, grads_got, strict=True):
        torch.testing.assert_close(g, e, rtol=1e-9, atol=1e-11)


@pytest.mark.parametrize("flags", [set(), *SINGLE, set(FLAGS) - {"coupled"}, set(FLAGS)], ids=_case_id)
def test_fused_gradcheck(flags: set[str]) -> None:
    inputs, params, coupled = make_case(flags, steps=3, batch=2, hidden=2)
    leaves = _leaves(inputs, params)
    n_inputs = sum(t is not None for t in inputs[:3])

    def run(*tensors: torch.Tensor) -> tuple[torch.Tensor, ...]:
        it = iter(tensors)
        xg, h0, c0 = next(it), next(it), next(it)
        p = RecurrenceParams(*(next(it) if t is not None else None for t in params))
        return fused_recurrence(inputs._replace(xg=xg, h0=h0, c0=c0), p, coupled_gates=coupled)

    assert n_inputs == 3
    # fast mode checks random vector-Jacobian products: every parameter's gradient is exercised.
    assert torch.autograd.gradcheck(run, tuple(leaves), eps=1e-6, atol=1e-7, fast_mode=len(flags) > 1)


def test_fused_float32_close_to_float64() -> None:
    inputs, params, coupled = make_case(
        {"peephole", "layer_norm", "projection"}, steps=20, batch=5, hidden=16
    )
    y64, _, _ = fused_recurrence(inputs, params, coupled_gates=coupled)
    as32 = [t.detach().float() if t is not None else None for t in (*inputs, *params)]
    y32, _, _ = fused_recurrence(
        RecurrenceInputs(*as32[:7]), RecurrenceParams(*as32[7:]), coupled_gates=coupled
    )
    torch.testing.assert_close(y32.double(), y64.detach(), rtol=1e-5, atol=1e-5)


def test_empty_sequence_returns_initial_state_and_its_gradient() -> None:
    inputs, params, _ = make_case(set(), steps=0)
    y, h, c = fused_recurrence(inputs, params)
    assert y.shape == (0, 3, 4)
    torch.testing.assert_close(h, inputs.h0)
    (h.sum() + 2 * c.sum()).backward()
    assert inputs.h0.grad is not None and inputs.c0.grad is not None
    torch.testing.assert_close(inputs.c0.grad, torch.full_like(inputs.c0, 2.0))


@pytest.mark.parametrize("flags", [set(), *SINGLE, set(FLAGS)], ids=_case_id)
def test_inference_reuses_scratch_and_matches_reference(flags: set[str]) -> None:
    inputs, params, coupled = make_case(flags)
    with torch.no_grad():
        expected = recurrence(inputs, params, coupled_gates=coupled)
        got = fused_recurrence(inputs, params, coupled_gates=coupled)
    for e, g in zip(expected, got, strict=True):
        torch.testing.assert_close(g, e, rtol=1e-10, atol=1e-12)


def test_without_grad_mode_the_eager_loop_keeps_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    from lstmkit.ops import fused

    seen: list[bool] = []
    forward = fused.EAGER.forward

    def spy(*args: object, **kwargs: object) -> object:
        seen.append(bool(args[3]))
        return forward(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(fused.EAGER, "forward", spy)
    w_hh = torch.randn(8, 2, requires_grad=True)
    inputs = RecurrenceInputs(torch.randn(3, 2, 8), torch.zeros(2, 2), torch.zeros(2, 2))
    with torch.no_grad():
        y, _, _ = fused.fused_recurrence(inputs, RecurrenceParams(w_hh))
    assert seen == [False] and not y.requires_grad


def test_meta_tensors_run_without_asking_autocast_about_meta() -> None:
    # torch.is_autocast_enabled("meta") raises: shape propagation on the meta device must not ask it
    inputs, params, coupled = make_case({"peephole"})
    meta_inputs = RecurrenceInputs(*(None if t is None else t.detach().to("meta") for t in inputs))
    meta_params = RecurrenceParams(*(None if p is None else p.detach().to("meta") for p in params))
    with torch.no_grad():
        y, h, c = fused_recurrence(meta_inputs, meta_params, coupled_gates=coupled)
    assert y.is_meta and y.shape == (6, 3, 4) and h.shape == c.shape == (3, 4)
