"""``lstmkit.nn.LSTMCell``: one step, drop-in for ``torch.nn.LSTMCell``, with optional variants."""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn

from lstmkit.nn._checks import check_constructor, check_input, check_state, received
from lstmkit.nn._params import cell_parameters, init_cell_parameters, pack_layer_norm_keys
from lstmkit.ops.dispatch import NATIVE_DTYPES, Variant, recording, select_step_backend, traced
from lstmkit.ops.native_cache import cell_step_for
from lstmkit.ops.native_projected import InputProjection, gate_inputs
from lstmkit.ops.native_stream import NativeCellStep
from lstmkit.ops.reference import lstm_step
from lstmkit.ops.types import LayerNormParts, LSTMState, RecurrenceParams, layer_norm_parts
from lstmkit.utils.validation import check_choice


class LSTMCell(nn.Module):
    """One LSTM step, drop-in for ``torch.nn.LSTMCell`` (same arguments, parameter names, outputs).

    The equations are those of :class:`lstmkit.nn.LSTM` for a single step; the variants mean the same.

    Args:
        input_size: features ``I``.
        hidden_size: units ``H``.
        bias: use ``bias_ih`` and ``bias_hh``.
        device: device of the parameters.
        dtype: dtype of the parameters.
        peephole: diagonal peepholes into i, f, o (Gers & Schmidhuber 2000).
        layer_norm: layer normalization of both pre-activations and of ``c`` (Ba et al. 2016).
        coupled_gates: ``f = 1 - i`` (CIFG).
        forget_bias: added to the forget gate's bias at initialization.
        backend: ``"auto"``, ``"torch"`` (plain only), ``"fused"`` or ``"reference"``; one step has no
            time loop, so the last two compute the same thing.
        check_finite: raise on NaN or infinity in the input.

    Inputs: ``input (B, I) or (I,)``, ``hx = (h (B, H), c (B, H))`` or ``None`` for zeros.
    Outputs: ``(h', c')``, each ``(B, H)`` (or ``(H,)`` unbatched).

    Example:
        >>> cell = LSTMCell(3, 5, peephole=True)
        >>> h, c = cell(torch.randn(2, 3))
        >>> tuple(h.shape)
        (2, 5)
    """

    weight_ih: Tensor
    weight_hh: Tensor
    bias_ih: Tensor | None
    bias_hh: Tensor | None

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        bias: bool = True,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
        *,
        peephole: bool = False,
        layer_norm: bool = False,
        coupled_gates: bool = False,
        forget_bias: float = 0.0,
        backend: str = "auto",
        check_finite: bool = False,
    ) -> None:
        super().__init__()
        check_constructor("LSTMCell", input_size, hidden_size, forget_bias=forget_bias)
        check_choice("backend", backend, ("auto", "torch", "native", "fused", "reference"))
        self.input_size, self.hidden_size, self.bias = input_size, hidden_size, bias
        self.peephole, self.layer_norm, self.coupled_gates = peephole, layer_norm, coupled_gates
        self.forget_bias, self.backend, self.check_finite = float(forget_bias), backend, check_finite
        self.variant = Variant(peephole, layer_norm, coupled_gates)
        params = cell_parameters(
            input_size,
            hidden_size,
            bias=bias,
            peephole=peephole,
            layer_norm=layer_norm,
            factory={"device": device, "dtype": dtype},
        )
        for name, param in params.items():
            self.register_parameter(name, param)
        if not bias:  # as torch.nn.LSTMCell does
            self.register_parameter("bias_ih", None)
            self.register_parameter("bias_hh", None)
        self._names = tuple(params)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        init_cell_parameters({n: getattr(self, n) for n in self._names}, self.hidden_size, self.forget_bias)

    def forward(self, input: Tensor, hx: LSTMState | None = None) -> LSTMState:
        if hx is not None and not self.check_finite and not torch.is_grad_enabled():
            # streaming inference: a batched step whose tensors the kernel reads as they are skips the
            # checks and conversions below, which answer everything else (a C4 step: 235k -> 190k
            # instructions by callgrind, the kernel ~114k of them)
            native = self._native_step()
            out = None if native is None else native.try_step(input, hx)
            if out is not None:
                return out
        x = check_input("LSTMCell", input, name="input", param=self.weight_ih, finite=self.check_finite)
        if x.dim() not in (1, 2) or x.shape[-1] != self.input_size:
            raise ValueError(
                f"LSTMCell expected input of shape (B, {self.input_size}) or ({self.input_size},), "
                f"got {tuple(x.shape)}"
            )
        batched = x.dim() == 2
        x = x if batched else x.unsqueeze(0)
        h, c = self._state(hx, x.shape[0], batched, x)
        grad = torch.is_grad_enabled()
        backend = select_step_backend(self.backend, self.variant, x.device, grad, recording())
        if backend == "torch":
            h_new, c_new = torch._VF.lstm_cell(
                x, (h, c), self.weight_ih, self.weight_hh, self.bias_ih, self.bias_hh
            )
        elif (
            backend == "native"
            and not grad
            and x.dtype in NATIVE_DTYPES
            and not torch.compiler.is_compiling()
        ):
            h_new, c_new = cell_step_for(self).step_checked(x, h, c)  # checks the packed sizes
        else:
            step = lstm_step(self._gate_inputs(x), h, c, self._params(), coupled_gates=self.coupled_gates)
            h_new, c_new = step.h, step.c
        return (h_new, c_new) if batched else (h_new.squeeze(0), c_new.squeeze(0))

    def _native_step(self) -> NativeCellStep | None:
        weight = self._parameters["weight_ih"]  # (the dict: a module attribute costs a __getattr__)
        assert weight is not None
        if weight.dtype not in NATIVE_DTYPES or torch.compiler.is_compiling():
            return None  # e.g. a half-precision cell, or torch.compile tracing: the general path below
        if select_step_backend(self.backend, self.variant, weight.device, False, traced()) != "native":
            return None
        return cell_step_for(self)

    def _gate_inputs(self, x: Tensor) -> Tensor:
        bias = self.bias_ih + self.bias_hh if self.bias_ih is not None and self.bias_hh is not None else None
        projection = InputProjection(x, self.weight_ih, bias)
        ln = self._layer_norm_parts()
        return gate_inputs(projection if ln is None else projection.with_layer_norm(ln))

    def _params(self) -> RecurrenceParams:
        params = RecurrenceParams(self.weight_hh, None, self._parameters.get("weight_peephole"))
        ln = self._layer_norm_parts()
        return params if ln is None else params.with_layer_norm(ln)

    def _layer_norm_parts(self) -> LayerNormParts | None:
        ln_affine = self._parameters.get("ln_affine")
        return None if ln_affine is None else layer_norm_parts(ln_affine)

    def _load_from_state_dict(self, state_dict: Any, prefix: str, *args: Any) -> None:
        """Loads lstmkit 0.1's six layer-norm vectors into ``ln_affine`` (see ``nn._params``)."""
        if self.layer_norm:
            pack_layer_norm_keys(state_dict, prefix, [""])
        super()._load_from_state_dict(state_dict, prefix, *args)

    def _state(self, hx: Any, batch: int, batched: bool, x: Tensor) -> LSTMState:
        if hx is None:
            zeros = x.new_zeros((batch, self.hidden_size))
            return zeros, zeros
        if not isinstance(hx, (tuple, list)) or len(hx) != 2:  # (not `tuple | list`: a union per call)
            raise TypeError(f"LSTMCell expected hx as a tuple of two tensors (h, c), got {received(hx)}")
        shape = (batch, self.hidden_size) if batched else (self.hidden_size,)
        h = check_state("LSTMCell", hx[0], "h", shape, self.weight_ih)
        c = check_state("LSTMCell", hx[1], "c", shape, self.weight_ih)
        return (h, c) if batched else (h.unsqueeze(0), c.unsqueeze(0))

    def extra_repr(self) -> str:
        extras = [f"{k}=True" for k in ("peephole", "layer_norm", "coupled_gates") if getattr(self, k)]
        return ", ".join(
            [f"{self.input_size}, {self.hidden_size}", *(["bias=False"] if not self.bias else []), *extras]
        )
