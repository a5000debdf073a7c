"""Record what every LSTM inside a model computes: its gates, cell and hidden state at every step.

The equations recorded are those of :mod:`lstmkit.ops.reference` (Hochreiter & Schmidhuber 1997;
forget gate, Gers et al. 2000), for each layer ``l`` and direction::

    i_t = σ(a_i)      f_t = σ(a_f)      g_t = tanh(a_g)      o_t = σ(a_o)
    c_t = f_t ⊙ c_{t-1} + i_t ⊙ g_t
    h_t = o_t ⊙ tanh(c_t)

Implementation notes:
    Nothing is hooked into the model's fast path. :func:`record` attaches a forward hook to each LSTM
    module only for the duration of one call, keeps the module's input and output, and afterwards re-runs
    every layer and direction with :func:`lstmkit.ops.reference.lstm_step` and the module's own
    parameters (``recurrence_params`` and ``gate_inputs`` of :class:`lstmkit.nn.LSTM`; the weights
    directly for ``torch.nn.LSTM``). Layer ``l`` reads the previous layer's output (both directions
    concatenated). The re-run's last layer is then compared with the module's actual output: a mismatch
    raises instead of returning gates the model did not compute. Recording runs in eval mode (no
    dropout; zoneout at its expected value) and restores the model's mode.

    A Keras-face layer with ``go_backwards=True`` (the backward half of ``Bidirectional``) flips its input in
    time before its LSTM ``rnn`` runs forward over it, so that LSTM's step ``s`` is time ``T - 1 - s``: its
    arrays are flipped back to time order and its direction is reported as ``"reverse"``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn
from torch.nn.utils.rnn import PackedSequence
from torch.utils.hooks import RemovableHandle

from lstmkit.layers.recurrent import Recurrent
from lstmkit.nn import LSTM as KitLSTM
from lstmkit.ops.reference import lstm_step
from lstmkit.ops.types import RecurrenceParams
from lstmkit.utils.validation import check_finite

LSTM_TYPES: tuple[type[nn.Module], ...] = (KitLSTM, nn.LSTM)
OPPOSITE = {"forward": "reverse", "reverse": "forward"}


@dataclass(frozen=True)
class GateRecord:
    """What one LSTM layer and direction computed on a batch, batch-major whatever the model's layout.

    Shapes: ``B`` batch, ``T`` time, ``I`` the layer's input features, ``H`` hidden units, ``R`` the
    recurrent state size (the projection size with ``proj_size``, else ``H``). Reverse-direction arrays
    are indexed by time ``t`` too (their recurrence runs from ``T - 1`` down to 0).

    Attributes:
        module: the LSTM module's name inside the model (``""`` for the model itself).
        call: which call of that module during the forward pass (0 for the first).
        layer: layer index ``l``.
        direction: ``"forward"`` or ``"reverse"``.
        x: the layer's input ``(B, T, I)``.
        i: input gate ``(B, T, H)``.
        f: forget gate ``(B, T, H)``.
        g: candidate cell ``(B, T, H)``.
        o: output gate ``(B, T, H)``.
        c: cell state ``(B, T, H)``.
        h: hidden state ``(B, T, R)``.
    """

    module: str
    call: int
    layer: int
    direction: str
    x: np.ndarray
    i: np.ndarray
    f: np.ndarray
    g: np.ndarray
    o: np.ndarray
    c: np.ndarray
    h: np.ndarray

    @property
    def key(self) -> str:
        """``"<module>/l<layer>/<direction>"``, with ``#<call>`` appended for repeated calls."""
        suffix = f"#{self.call}" if self.call else ""
        return f"{self.module}/l{self.layer}/{self.direction}{suffix}"


@dataclass
class LayerRun:
    """Time-major tensors of one layer and direction from :func:`rerun_lstm`."""

    layer: int
    direction: str
    x: Tensor  # (T, B, I)
    gates: dict[str, Tensor] | None  # name -> (T, B, H) or (T, B, R) for "h"
    delta: Tensor | None  # (B, T, R) zero perturbation added to h_t, a leaf requiring grad


@dataclass
class LSTMRerun:
    """The reference re-run of one LSTM module: output and state in the module's own layout."""

    output: Tensor
    state: tuple[Tensor, Tensor]
    runs: list[LayerRun]


def find_lstms(module: nn.Module) -> list[tuple[str, nn.Module]]:
    """``(name, module)`` of each ``lstmkit.nn.LSTM`` or ``torch.nn.LSTM`` in ``module`` (itself included)."""
    return [(name, m) for name, m in module.named_modules() if isinstance(m, LSTM_TYPES)]


def reads_time_backwards(root: nn.Module, name: str) -> bool:
    """Whether the LSTM ``name`` inside ``root`` is the ``rnn`` of a Keras-face ``go_backwards=True`` layer.

    Such a layer (:class:`lstmkit.layers.recurrent.Recurrent`) flips its input in time before calling its
    LSTM, so the LSTM's step ``s`` is time ``T - 1 - s``.
    """
    if not name:
        return False
    parent = root.get_submodule(name.rpartition(".")[0])
    return isinstance(parent, Recurrent) and parent.go_backwards and parent.rnn is root.get_submodule(name)


def check_input_sizes(lstms: list[tuple[str, nn.Module]]) -> list[RemovableHandle]:
    """Forward pre-hooks that check each ``torch.nn.LSTM``'s input features against its ``input_size``.

    ``lstmkit.nn.LSTM`` checks its input itself; torch's own error names neither the module nor the fix.
    The caller removes the returned handles.
    """

    def hook_for(name: str) -> Callable[..., None]:
        def hook(mod: nn.Module, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
            inp = args[0] if args else kwargs.get("input")
            x = inp.data if isinstance(inp, PackedSequence) else inp
            if isinstance(x, Tensor) and x.dim() in (2, 3) and x.shape[-1] != mod.input_size:
                size, first = mod.input_size, mod.batch_first
                layout = f"(B, T, {size})" if first else f"(T, B, {size})"
                where = f" '{name}'" if name else ""
                raise ValueError(
                    f"torch.nn.LSTM{where} expected input of shape {layout} with batch_first={first}, got "
                    f"{tuple(x.shape)}; set input_size={x.shape[-1]} or reshape the data"
                )

        return hook

    return [
        m.register_forward_pre_hook(hook_for(name), with_kwargs=True)
        for name, m in lstms
        if not isinstance(m, KitLSTM)
    ]


def unwrap(model: Any) -> nn.Module:
    """The ``nn.Module`` behind ``model``: itself, or the ``.module`` of an lstmkit Keras-face model."""
    module = model if isinstance(model, nn.Module) else getattr(model, "module", None)
    if not isinstance(module, nn.Module):
        raise TypeError(
            f"expected an nn.Module or an lstmkit Model with a built .module, got {type(model).__name__}; "
            "build a Sequential model first (fit, predict or build it)"
        )
    return module


def as_input_tensor(x: Tensor | np.ndarray, module: nn.Module, *, name: str = "x") -> Tensor:
    """``x`` as a float tensor with the module's parameter dtype and device, checked for NaN/inf."""
    if isinstance(x, np.ndarray):
        x = torch.from_numpy(np.ascontiguousarray(x))
    if not isinstance(x, Tensor):
        raise TypeError(f"{name} must be a torch.Tensor or numpy array, got {type(x).__name__}")
    if not x.is_floating_point():
        raise TypeError(f"{name} must hold floating-point values, got dtype {x.dtype}")
    if x.numel() == 0:
        raise ValueError(f"{name} must not be empty, got shape {tuple(x.shape)}")
    check_finite(name, x)
    reference = next(module.parameters(), None)
    if reference is not None:
        x = x.to(dtype=reference.dtype, device=reference.device)
    return x


def _params(lstm: Any, layer: int, reverse: bool) -> RecurrenceParams:
    if hasattr(lstm, "recurrence_params"):  # lstmkit.nn.LSTM, with every variant's parameters
        return lstm.recurrence_params(layer, reverse)
    sfx = f"_l{layer}{'_reverse' if reverse else ''}"
    w_hr = getattr(lstm, f"weight_hr{sfx}") if lstm.proj_size > 0 else None
    return RecurrenceParams(w_hh=getattr(lstm, f"weight_hh{sfx}"), w_hr=w_hr)


def _gate_inputs(lstm: Any, x: Tensor, layer: int, reverse: bool) -> Tensor:
    if hasattr(lstm, "gate_inputs"):
        return lstm.gate_inputs(x, layer, reverse)
    sfx = f"_l{layer}{'_reverse' if reverse else ''}"
    xg = x @ getattr(lstm, f"weight_ih{sfx}").t()  # (T, B, 4H)
    if lstm.bias:
        xg = xg + getattr(lstm, f"bias_ih{sfx}") + getattr(lstm, f"bias_hh{sfx}")
    return xg


def rerun_lstm(lstm: Any, x: Tensor, hx: Any, *, perturb: bool = False, record: bool = True) -> LSTMRerun:
    """Re-run an LSTM module with the reference step, layer by layer and direction by direction.

    Args:
        lstm: a ``lstmkit.nn.LSTM`` or ``torch.nn.LSTM`` (in eval mode); both have ``torch.nn.LSTM``'s
            attributes (``num_layers``, ``bidirectional``, ``proj_size``, ...).
        x: its input as it was called: ``(B, T, I)`` if ``batch_first`` else ``(T, B, I)``, or ``(T, I)``.
        hx: its initial ``(h_0 (L*D, B, R), c_0 (L*D, B, H))`` or ``None`` for zeros.
        perturb: add a zero leaf ``δ`` to every ``h_t`` (for ``∂L/∂h_t``).
        record: keep the gates of every step.

    Returns:
        Output and final state in the module's own layout, and the per-layer runs.
    """
    if isinstance(x, PackedSequence):
        raise ValueError("recording and gradient flow need padded tensor input, got a PackedSequence")
    unbatched = x.dim() == 2
    seq = x.unsqueeze(1) if unbatched else (x.transpose(0, 1) if lstm.batch_first else x)  # (T, B, I)
    batch = seq.shape[1]
    directions = 2 if lstm.bidirectional else 1
    hidden = int(lstm.hidden_size)
    proj_size = int(lstm.proj_size)
    state_size = proj_size if proj_size > 0 else hidden
    if hx is not None:
        h0_all, c0_all = hx
        if unbatched:
            h0_all, c0_all = h0_all.unsqueeze(1), c0_all.unsqueeze(1)
    runs: list[LayerRun] = []
    h_n, c_n = [], []
    layer_input = seq
    for layer in range(int(lstm.num_layers)):
        outputs = []
        for d in range(directions):
            if hx is None:
                h0 = seq.new_zeros(batch, state_size)
                c0 = seq.new_zeros(batch, hidden)
            else:
                h0, c0 = h0_all[layer * directions + d], c0_all[layer * directions + d]
            run, out, h, c = _run_direction(
                lstm, layer_input, layer, d == 1, h0, c0, perturb=perturb, record=record
            )
            runs.append(run)
            outputs.append(out)
            h_n.append(h)
            c_n.append(c)
        layer_input = torch.cat(outputs, dim=-1)  # (T, B, D*R)
    output = layer_input
    state = (torch.stack(h_n), torch.stack(c_n))  # (L*D, B, R), (L*D, B, H)
    if unbatched:
        output, state = output.squeeze(1), (state[0].squeeze(1), state[1].squeeze(1))
    elif lstm.batch_first:
        output = output.transpose(0, 1)  # (B, T, D*R)
    return LSTMRerun(output, state, runs)


def _run_direction(
    lstm: Any, x: Tensor, layer: int, reverse: bool, h: Tensor, c: Tensor, *, perturb: bool, record: bool
) -> tuple[LayerRun, Tensor, Tensor, Tensor]:
    """One layer and direction over ``x`` ``(T, B, I)`` from ``(h, c)``.

    Returns:
        The run, its output ``(T, B, R)`` in time order, and the final ``h`` ``(B, R)`` and ``c`` ``(B, H)``.
    """
    steps, batch = x.shape[0], x.shape[1]
    params = _params(lstm, layer, reverse)
    coupled = bool(getattr(lstm, "coupled_gates", False))
    zoneout = float(getattr(lstm, "zoneout", 0.0) or 0.0)
    xg = _gate_inputs(lstm, x, layer, reverse)  # (T, B, 4H)
    if reverse:
        xg = xg.flip(0)  # the reverse direction reads t = T-1 first
    delta = x.new_zeros(batch, steps, h.shape[-1]).requires_grad_(True) if perturb else None
    kept: dict[str, list[Tensor]] = {k: [] for k in "ifgoch"}
    hs = []
    for s in range(steps):
        step = lstm_step(xg[s], h, c, params, coupled_gates=coupled)
        c_new, h_new = step.c, step.h
        if zoneout > 0:  # eval-mode zoneout: the expectation of the random mix
            c_new = torch.lerp(c_new, c, zoneout)
            h_new = torch.lerp(h_new, h, zoneout)
        if delta is not None:
            h_new = h_new + delta[:, steps - 1 - s if reverse else s]
        if record:
            for name, value in zip("ifgo", step[:4], strict=True):
                kept[name].append(value)
            kept["c"].append(c_new)
            kept["h"].append(h_new)
        hs.append(h_new)
        h, c = h_new, c_new
    out = torch.stack(hs)  # (T, B, R)
    gates = {k: torch.stack(v) for k, v in kept.items()} if record else None
    if reverse:
        out = out.flip(0)
        gates = {k: v.flip(0) for k, v in gates.items()} if gates is not None else None
    return LayerRun(layer, "reverse" if reverse else "forward", x, gates, delta), out, h, c


def record(model: Any, x: Tensor | np.ndarray) -> list[GateRecord]:
    """Run ``model`` on ``x`` and return the gates, cell and hidden states of every LSTM layer inside.

    Args:
        model: an ``lstmkit.nn.LSTM`` or ``torch.nn.LSTM``, any ``nn.Module`` containing them, or an
            lstmkit Keras-face model (``Model`` / ``Sequential``; its ``.module`` is run).
        x: float input in the layout the model takes (e.g. ``(B, T, I)`` with ``batch_first=True``).

    Returns:
        One :class:`GateRecord` per LSTM module call, layer and direction, in the order they ran.

    Raises:
        TypeError: ``model`` is not a module, or ``x`` is not a float tensor or array.
        ValueError: ``model`` holds no LSTM, or ``x`` holds NaN/inf or is empty.
        RuntimeError: the re-run does not reproduce the model's output (an unsupported variant).

    Example:
        >>> lstm = nn.LSTM(3, 5, num_layers=2, batch_first=True)
        >>> records = record(lstm, torch.randn(4, 7, 3))
        >>> [(r.layer, r.direction, r.f.shape) for r in records]
        [(0, 'forward', (4, 7, 5)), (1, 'forward', (4, 7, 5))]
    """
    module = unwrap(model)
    lstms = find_lstms(module)
    if not lstms:
        raise ValueError(
            f"record found no LSTM inside {type(module).__name__}; "
            "it records lstmkit.nn.LSTM and torch.nn.LSTM modules"
        )
    xt = as_input_tensor(x, module)
    calls: list[tuple[str, nn.Module, Any, Any, Any]] = []

    def keep(name: str) -> Any:
        def hook(mod: nn.Module, args: tuple[Any, ...], kwargs: dict[str, Any], output: Any) -> None:
            inp = args[0] if args else kwargs["input"]
            hx = args[1] if len(args) > 1 else kwargs.get("hx")
            if isinstance(inp, PackedSequence):
                raise ValueError("record needs padded tensor input; the model passed a PackedSequence")
            if kwargs.get("lengths") is not None:
                raise ValueError("record does not support lengths=; record equal-length sequences")
            calls.append((name, mod, inp, hx, output[0]))

        return hook

    handles = [m.register_forward_hook(keep(name), with_kwargs=True) for name, m in lstms]
    handles += check_input_sizes(lstms)
    backwards = {name for name, _ in lstms if reads_time_backwards(module, name)}
    was_training = module.training
    module.eval()
    try:
        with torch.no_grad():
            module(xt)
            records = _rerun_calls(calls, backwards)
    finally:
        for handle in handles:
            handle.remove()
        module.train(was_training)
    return records


def _rerun_calls(calls: list[tuple[str, nn.Module, Any, Any, Any]], backwards: set[str]) -> list[GateRecord]:
    records: list[GateRecord] = []
    seen: dict[str, int] = {}
    for name, lstm, inp, hx, actual in calls:
        call = seen.get(name, 0)
        seen[name] = call + 1
        rerun = rerun_lstm(lstm, inp, hx)
        tol = 1e-9 if actual.dtype == torch.float64 else 1e-4
        if rerun.output.shape != actual.shape or not torch.allclose(rerun.output, actual, atol=tol, rtol=tol):
            raise RuntimeError(
                f"record could not reproduce the output of LSTM '{name}' ({lstm!r}) with the reference "
                "recurrence; this configuration is not supported by lstmkit.inspect"
            )
        flip = name in backwards  # the LSTM ran over its input flipped in time: step s is time T-1-s
        for run in rerun.runs:
            assert run.gates is not None
            tensors = {"x": run.x, **run.gates}  # (T, B, .) in the order the LSTM read them
            arrays = {k: (v.flip(0) if flip else v).transpose(0, 1).cpu().numpy() for k, v in tensors.items()}
            direction = OPPOSITE[run.direction] if flip else run.direction
            records.append(GateRecord(module=name, call=call, layer=run.layer, direction=direction, **arrays))
    return records
