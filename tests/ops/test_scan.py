"""The scan recurrence (what torch.export records) against the reference loop, option by option."""

from __future__ import annotations

import pytest
import torch

from lstmkit.ops import reference, scan
from lstmkit.ops.types import RecurrenceInputs, RecurrenceParams

T, B, H, P = 6, 3, 4, 2


def _case(option: str) -> tuple[RecurrenceInputs, RecurrenceParams, bool]:
    g = torch.Generator().manual_seed(0)
    r = P if option == "projection" else H
    xg = torch.randn(T, B, 4 * H, generator=g, dtype=torch.float64)
    h0 = torch.randn(B, r, generator=g, dtype=torch.float64)
    c0 = torch.randn(B, H, generator=g, dtype=torch.float64)
    params = RecurrenceParams(torch.randn(4 * H, r, generator=g, dtype=torch.float64))
    inputs = RecurrenceInputs(xg, h0, c0)
    if option == "peephole":
        params = params._replace(peephole=torch.randn(3, H, generator=g, dtype=torch.float64))
    if option == "layer_norm":
        gains = torch.rand(9 * H, generator=g, dtype=torch.float64) + 0.5
        hh, c = gains[4 * H : 8 * H], gains[8 * H :]
        params = params._replace(ln_hh_weight=hh, ln_hh_bias=hh.flip(0), ln_c_weight=c, ln_c_bias=c.flip(0))
    if option == "projection":
        params = params._replace(w_hr=torch.randn(P, H, generator=g, dtype=torch.float64))
    if option == "recurrent_dropout":
        mask = (torch.rand(B, r, generator=g) > 0.3).to(torch.float64) / 0.7
        inputs = inputs._replace(recurrent_mask=mask)
    if option == "zoneout":
        zone = (torch.rand(T, B, H, generator=g) < 0.3).to(torch.float64)
        inputs = inputs._replace(zoneout_h=zone, zoneout_c=zone.flip(0))
    if option == "lengths":
        inputs = inputs._replace(lengths=torch.tensor([T, 1, 4]))
    return inputs, params, option == "coupled_gates"


OPTIONS = [
    "plain",
    "peephole",
    "layer_norm",
    "projection",
    "recurrent_dropout",
    "zoneout",
    "coupled_gates",
    "lengths",
]


@pytest.mark.parametrize("option", OPTIONS)
def test_scan_recurrence_equals_the_reference_loop(option: str) -> None:
    inputs, params, coupled = _case(option)
    got = scan.recurrence(inputs, params, coupled_gates=coupled)
    want = reference.recurrence(inputs, params, coupled_gates=coupled)
    for name, a, b in zip(("y", "h_T", "c_T"), got, want, strict=True):
        assert a.shape == b.shape, name
        torch.testing.assert_close(a, b, atol=1e-12, rtol=0, msg=name)


def test_zoneout_needs_both_weights() -> None:
    inputs, params, _ = _case("zoneout")
    with pytest.raises(ValueError, match="both zoneout_h and zoneout_c"):
        scan.recurrence(inputs._replace(zoneout_c=None), params)


@pytest.mark.skipif(not scan.AVAILABLE, reason="this torch has no scan")
def test_an_empty_sequence_returns_the_initial_state_as_the_reference_does() -> None:
    inputs, params, _ = _case("projection")
    inputs = inputs._replace(xg=inputs.xg[:0])
    y, h, c = scan.recurrence(inputs, params)
    y_ref, h_ref, c_ref = reference.recurrence(inputs, params)
    assert y.shape == y_ref.shape == (0, B, P)
    assert h is h_ref is inputs.h0 and c is c_ref is inputs.c0
