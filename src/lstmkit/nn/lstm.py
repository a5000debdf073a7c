"""``lstmkit.nn.LSTM``: a drop-in superset of ``torch.nn.LSTM``."""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.nn.utils.rnn import PackedSequence, pack_padded_sequence, pad_packed_sequence

from lstmkit.nn._checks import check_constructor, check_input, check_lengths, check_state, received
from lstmkit.nn._params import cell_parameters, init_cell_parameters, pack_layer_norm_keys
from lstmkit.nn._stream import (
    native_stream_applies,
    native_stream_step,
    native_stream_step_plain,
    stream_ready,
)
from lstmkit.nn.sequences import gather_time, repack_like, reverse_index
from lstmkit.ops.dispatch import Variant, is_exporting, resolve_backend, run_recurrence
from lstmkit.ops.lengths import sequence_mask
from lstmkit.ops.masks import bernoulli_mask
from lstmkit.ops.native_projected import InputProjection, gate_inputs, projected_recurrence
from lstmkit.ops.types import LSTMState, RecurrenceInputs, RecurrenceParams, layer_norm_parts
from lstmkit.utils.validation import check_choice


class LSTM(nn.Module):
    """A multi-layer LSTM, drop-in for ``torch.nn.LSTM``, with optional variants.

    For each layer and direction (Hochreiter & Schmidhuber 1997; forget gate of Gers et al. 2000)::

        i_t = σ(W_ii x_t + b_ii + W_hi h_{t-1} + b_hi)
        f_t = σ(W_if x_t + b_if + W_hf h_{t-1} + b_hf)
        g_t = tanh(W_ig x_t + b_ig + W_hg h_{t-1} + b_hg)
        o_t = σ(W_io x_t + b_io + W_ho h_{t-1} + b_ho)
        c_t = f_t ⊙ c_{t-1} + i_t ⊙ g_t
        h_t = o_t ⊙ tanh(c_t)                 # then h_t = W_hr h_t with proj_size > 0

    The variants, each off by default and combinable, are written out in :mod:`lstmkit.ops.reference`
    and ``docs/equations.md``.

    Args:
        input_size: features ``I`` of the input.
        hidden_size: units ``H``.
        num_layers: stacked layers ``L``.
        bias: use ``b_ih`` and ``b_hh``.
        batch_first: input and output are ``(B, T, *)`` instead of ``(T, B, *)``.
        dropout: dropout on the outputs of every layer but the last (training only).
        bidirectional: run a reverse direction too (``D = 2``); outputs are concatenated.
        proj_size: project ``h`` to ``P`` features (Sak et al. 2014); 0 for none.
        device: device of the parameters.
        dtype: dtype of the parameters.
        peephole: diagonal peepholes from the cell state into i, f, o (Gers & Schmidhuber 2000).
        layer_norm: layer normalization of the input and recurrent pre-activations and of ``c_t``
            (Ba et al. 2016).
        recurrent_dropout: probability of dropping units of ``h_{t-1}`` where it enters the gates, one
            mask per sequence (Gal & Ghahramani 2016); training only.
        zoneout: probability of keeping each unit of ``h`` and ``c`` at its previous value
            (Krueger et al. 2017); the expectation at evaluation.
        coupled_gates: forget gate ``f = 1 - i`` (CIFG, Greff et al. 2017); the forget rows of the
            weights are kept, for parameter compatibility, and receive no gradient.
        forget_bias: added to the forget gate's bias at initialization (1.0: Jozefowicz et al. 2015).
        backend: ``"auto"``, ``"torch"``, ``"native"``, ``"fused"`` or ``"reference"``
            (see :mod:`lstmkit.ops.dispatch`).
        check_finite: raise on NaN or infinity in the input.

    Inputs: ``input, hx=None, *, lengths=None, enforce_sorted=False``
        input: ``(T, B, I)``, ``(B, T, I)`` with ``batch_first``, ``(T, I)`` unbatched, or a
            ``PackedSequence``.
        hx: ``(h_0, c_0)`` of shapes ``(D*L, B, R)`` and ``(D*L, B, H)``; zeros if omitted.
        lengths: ``(B,)`` valid lengths of a padded batch (instead of packing): outputs past a length
            are zero and the final state is each sequence's state at its own last step.

    Outputs: ``output, (h_n, c_n)``
        output: ``(T, B, D*R)`` (or as the input is laid out, or packed), with ``R = P or H``.
        h_n, c_n: final states ``(D*L, B, R)`` and ``(D*L, B, H)``.

    Example:
        >>> lstm = LSTM(3, 8, num_layers=2, batch_first=True, layer_norm=True)
        >>> out, (h, c) = lstm(torch.randn(4, 10, 3))
        >>> tuple(out.shape), tuple(h.shape), tuple(c.shape)
        ((4, 10, 8), (2, 4, 8), (2, 4, 8))
    """

    weight_ih_l0: Tensor

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        num_layers: int = 1,
        bias: bool = True,
        batch_first: bool = False,
        dropout: float = 0.0,
        bidirectional: bool = False,
        proj_size: int = 0,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
        *,
        peephole: bool = False,
        layer_norm: bool = False,
        recurrent_dropout: float = 0.0,
        zoneout: float = 0.0,
        coupled_gates: bool = False,
        forget_bias: float = 0.0,
        backend: str = "auto",
        check_finite: bool = False,
    ) -> None:
        super().__init__()
        check_constructor(
            "LSTM",
            input_size,
            hidden_size,
            dropout=dropout,
            recurrent_dropout=recurrent_dropout,
            zoneout=zoneout,
            proj_size=proj_size,
            forget_bias=forget_bias,
        )
        if isinstance(num_layers, bool) or not isinstance(num_layers, int) or num_layers < 1:
            raise ValueError(f"LSTM num_layers must be an integer >= 1, got {num_layers!r}")
        check_choice("backend", backend, ("auto", "torch", "native", "fused", "reference"))
        self.input_size, self.hidden_size, self.num_layers = input_size, hidden_size, num_layers
        self.bias, self.batch_first, self.dropout = bias, batch_first, float(dropout)
        self.bidirectional, self.proj_size = bidirectional, proj_size
        self.peephole, self.layer_norm, self.coupled_gates = peephole, layer_norm, coupled_gates
        self.recurrent_dropout, self.zoneout = float(recurrent_dropout), float(zoneout)
        self.forget_bias, self.backend, self.check_finite = float(forget_bias), backend, check_finite
        self.variant = Variant(peephole, layer_norm, coupled_gates, recurrent_dropout > 0, zoneout > 0)
        factory = {"device": device, "dtype": dtype}
        directions = 2 if bidirectional else 1
        self._cell_names: list[
            tuple[str, tuple[str, ...]]
        ] = []  # (suffix, base names) per layer and direction
        for layer in range(num_layers):
            layer_input = input_size if layer == 0 else directions * self.state_size
            for direction in range(directions):
                params = cell_parameters(
                    layer_input,
                    hidden_size,
                    proj_size=proj_size,
                    bias=bias,
                    peephole=peephole,
                    layer_norm=layer_norm,
                    factory=factory,
                )
                suffix = f"_l{layer}" + ("_reverse" if direction else "")
                for name, param in params.items():
                    self.register_parameter(name + suffix, param)
                self._cell_names.append((suffix, tuple(params)))
        self.reset_parameters()

    @property
    def state_size(self) -> int:
        """``R``: features of ``h`` (``proj_size`` with a projection, else ``hidden_size``)."""
        return self.proj_size if self.proj_size > 0 else self.hidden_size

    @property
    def num_directions(self) -> int:
        return 2 if self.bidirectional else 1

    def reset_parameters(self) -> None:
        """Re-initialize every parameter as ``torch.nn.LSTM`` does (variants: see ``nn._params``)."""
        for index in range(len(self._cell_names)):
            init_cell_parameters(self._cell_at(index), self.hidden_size, self.forget_bias)

    def flatten_parameters(self) -> None:
        """No-op, for code written against ``torch.nn.LSTM``."""

    @property
    def _flat_weights(self) -> list[Tensor]:
        """The standard weights in ``torch._VF.lstm``'s order."""
        names = ("weight_ih", "weight_hh", "bias_ih", "bias_hh", "weight_hr")
        cells = [self._cell_at(index) for index in range(len(self._cell_names))]
        return [cell[name] for cell in cells for name in names if name in cell]

    @property
    def all_weights(self) -> list[list[nn.Parameter]]:
        return [list(self._cell_at(index).values()) for index in range(len(self._cell_names))]

    def _load_from_state_dict(self, state_dict: Any, prefix: str, *args: Any) -> None:
        """Loads lstmkit 0.1's six layer-norm vectors per cell into ``ln_affine`` (see ``nn._params``)."""
        if self.layer_norm:
            pack_layer_norm_keys(state_dict, prefix, [suffix for suffix, _ in self._cell_names])
        super()._load_from_state_dict(state_dict, prefix, *args)

    def _cell_at(self, index: int) -> dict[str, nn.Parameter]:
        suffix, names = self._cell_names[index]
        return {name: getattr(self, name + suffix) for name in names}

    def _cell(self, layer: int, reverse: bool) -> dict[str, nn.Parameter]:
        if not 0 <= layer < self.num_layers or (reverse and not self.bidirectional):
            raise ValueError(
                f"LSTM has {self.num_layers} layer(s) and {self.num_directions} direction(s); "
                f"got layer={layer}, reverse={reverse}"
            )
        return self._cell_at(layer * self.num_directions + int(reverse))

    def recurrence_params(self, layer: int, reverse: bool = False) -> RecurrenceParams:
        """The parameters the time loop of ``layer`` (and direction) reads (layer norm's as views of
        ``ln_affine``)."""
        return self._recurrence_params(self._cell(layer, reverse), True)

    def input_projection(self, x: Tensor, layer: int, reverse: bool = False) -> InputProjection:
        """The input side of the gates of ``layer``: ``x`` ``(T, B, I_layer)`` (in the time order of the
        direction, already reversed for ``reverse=True``), ``W_ih``, ``b_ih + b_hh`` and, with layer
        norm, the gain and bias of ``LN_ih``."""
        return self._input_projection(x, self._cell(layer, reverse), True)

    @staticmethod
    def _recurrence_params(p: dict[str, nn.Parameter], layer_norm: bool) -> RecurrenceParams:
        """``p``'s recurrence parameters; with ``layer_norm=False`` none of the layer norm's."""
        params = RecurrenceParams(p["weight_hh"], p.get("weight_hr"), p.get("weight_peephole"))
        ln_affine = p.get("ln_affine") if layer_norm else None
        return params if ln_affine is None else params.with_layer_norm(layer_norm_parts(ln_affine))

    def _input_projection(self, x: Tensor, p: dict[str, nn.Parameter], layer_norm: bool) -> InputProjection:
        """``p``'s input projection of ``x``; with ``layer_norm=False`` without ``LN_ih``."""
        projection = InputProjection(x, p["weight_ih"], p["bias_ih"] + p["bias_hh"] if self.bias else None)
        ln_affine = p.get("ln_affine") if layer_norm else None
        return projection if ln_affine is None else projection.with_layer_norm(layer_norm_parts(ln_affine))

    def gate_inputs(self, x: Tensor, layer: int, reverse: bool = False) -> Tensor:
        """Input contribution to the gates of all steps, ``xg = W_ih x + b_ih + b_hh`` ``(T, B, 4H)``.

        With layer norm, ``xg = LN(W_ih x) + b_ih + b_hh``. ``x`` is ``(T, B, I_layer)`` in time order
        of the direction (already reversed for ``reverse=True``).
        """
        return gate_inputs(self.input_projection(x, layer, reverse))

    def forward(
        self,
        input: Tensor | PackedSequence,
        hx: LSTMState | None = None,
        *,
        lengths: Tensor | list[int] | None = None,
        enforce_sorted: bool = False,
    ) -> tuple[Tensor | PackedSequence, LSTMState]:
        weight = self.weight_ih_l0
        packed = input if isinstance(input, PackedSequence) else None
        if packed is not None:
            if lengths is not None:
                raise ValueError("LSTM got both a PackedSequence and lengths=; pass one of them")
            data = check_input("LSTM", packed.data, name="input", param=weight, finite=self.check_finite)
            if data is not packed.data:  # converted to the weights' dtype under autocast, as a tensor is
                packed = packed._replace(data=data)
            x, lengths_t = pad_packed_sequence(packed)  # (T, B, I), original batch order
            batched = True
        else:
            x = check_input("LSTM", input, name="input", param=weight, finite=self.check_finite)
            if x.dim() not in (2, 3):
                raise ValueError(
                    f"LSTM expected input of rank 3 {self._layout()} or rank 2 (T, I) unbatched, "
                    f"got shape {tuple(x.shape)}"
                )
            batched = x.dim() == 3
            x = x.unsqueeze(1) if not batched else (x.transpose(0, 1) if self.batch_first else x)  # (T, B, I)
            lengths_t = None
        steps, batch, features = x.shape
        if features != self.input_size:
            raise ValueError(
                f"LSTM expected input of shape {self._layout(features=self.input_size)}, got "
                f"{tuple(input.shape) if isinstance(input, Tensor) else tuple(x.shape)}; "
                f"set input_size={features} or reshape the data"
            )
        if lengths is not None:
            if not batched:
                raise ValueError(
                    "LSTM lengths= needs a batched input of rank 3, got an unbatched rank-2 input"
                )
            lengths_t = check_lengths("LSTM", lengths, batch, steps, enforce_sorted=enforce_sorted)
        h0, c0 = self._initial_state(hx, batch, batched, x)
        backend = resolve_backend(self.backend, self.variant, x.device, x.dtype)
        if backend == "torch":
            out, h_n, c_n = self._run_torch(x, h0, c0, lengths_t, packed)
        elif backend == "reference":
            out, h_n, c_n = self._run_layers(backend, x, h0, c0, lengths_t, packed is None)
        elif torch.compiler.is_compiling():
            out, h_n, c_n = _between_graphs()(self, backend, x, h0, c0, lengths_t, packed is None)
        else:
            out, h_n, c_n = self._run_layers(backend, x, h0, c0, lengths_t, packed is None)
        if packed is not None:
            assert lengths_t is not None
            return repack_like(out, lengths_t, packed), (h_n, c_n)
        if not batched:
            return out.squeeze(1), (h_n.squeeze(1), c_n.squeeze(1))
        return (out.transpose(0, 1) if self.batch_first else out), (h_n, c_n)

    def step(self, input: Tensor, hx: LSTMState | None = None) -> tuple[Tensor, LSTMState]:
        """Advance one time step through all layers: streaming use with carried state.

        Args:
            input: ``(B, I)`` or ``(I,)``.
            hx: state from the previous call, ``(L, B, R)`` and ``(L, B, H)``; zeros if omitted.

        Returns:
            ``(y, (h, c))`` with ``y`` ``(B, R)``, the last layer's output at this step.
        """
        if self.bidirectional:
            raise ValueError(
                "LSTM.step() streams one direction; a bidirectional LSTM needs the whole sequence"
            )
        if not isinstance(input, Tensor) or input.dim() not in (1, 2):
            shape = tuple(input.shape) if isinstance(input, Tensor) else type(input).__name__
            raise ValueError(
                f"LSTM.step expected input of shape (B, {self.input_size}) or ({self.input_size},), "
                f"got {shape}"
            )
        if native_stream_applies(self, input):
            if stream_ready(self, input, hx):  # a batched step the kernel reads as it is: one call
                return native_stream_step_plain(self, input, hx)
            x_b = check_input("LSTM", input, name="input", param=self._weight(), finite=self.check_finite)
            if x_b.shape[-1] != self.input_size:
                raise ValueError(f"LSTM.step expected {self.input_size} input features, got {x_b.shape[-1]}")
            batched = x_b.dim() == 2
            x_b = x_b if batched else x_b.unsqueeze(0)
            state = None if hx is None else self._initial_state(hx, x_b.shape[0], batched, x_b)
            y, (h_n, c_n) = native_stream_step(self, x_b, state)
            return (y, (h_n, c_n)) if batched else (y[0], (h_n[:, 0], c_n[:, 0]))
        x = input.unsqueeze(0)  # (1, B, I) or (1, I)
        if self.batch_first and input.dim() == 2:
            x = x.transpose(0, 1)
        out, state = self.forward(x, hx)
        assert isinstance(out, Tensor)
        return out.squeeze(1 if self.batch_first and input.dim() == 2 else 0), state

    def _layout(self, features: int | None = None) -> str:
        f = "I" if features is None else str(features)
        return (
            f"(B, T, {f}) with batch_first=True"
            if self.batch_first
            else f"(T, B, {f}) with batch_first=False"
        )

    def _weight(self) -> Tensor:
        """``weight_ih_l0``, whose dtype and device inputs must have; read from the dict, as a module
        attribute costs a ``__getattr__`` call (per streaming step)."""
        weight = self._parameters["weight_ih_l0"]
        assert weight is not None
        return weight

    def _initial_state(self, hx: Any, batch: int, batched: bool, x: Tensor) -> LSTMState:
        stacked = self.num_layers * self.num_directions
        if hx is None:
            h0 = x.new_zeros((stacked, batch, self.state_size))
            return h0, x.new_zeros((stacked, batch, self.hidden_size))
        if not isinstance(hx, (tuple, list)) or len(hx) != 2:  # (not `tuple | list`: a union per call)
            raise TypeError(f"LSTM expected hx as a tuple of two tensors (h_0, c_0), got {received(hx)}")
        lead = (stacked, batch) if batched else (stacked,)
        weight = self._weight()
        h0 = check_state("LSTM", hx[0], "h_0", (*lead, self.state_size), weight)
        c0 = check_state("LSTM", hx[1], "c_0", (*lead, self.hidden_size), weight)
        return (h0, c0) if batched else (h0.unsqueeze(1), c0.unsqueeze(1))

    def _run_torch(
        self, x: Tensor, h0: Tensor, c0: Tensor, lengths: Tensor | None, packed: PackedSequence | None
    ) -> tuple[Tensor, Tensor, Tensor]:
        """PyTorch's own kernel (oneDNN / cuDNN), for the plain configuration."""
        args = (
            self._flat_weights,
            self.bias,
            self.num_layers,
            self.dropout,
            self.training,
            self.bidirectional,
        )
        if lengths is None or x.shape[1] == 0:  # (an empty batch has no sequences to pack)
            out, h_n, c_n = torch._VF.lstm(x, (h0, c0), *args, False)
            return out, h_n, c_n
        seq = packed if packed is not None else pack_padded_sequence(x, lengths, enforce_sorted=False)
        order = seq.sorted_indices
        hx = (h0, c0) if order is None else (h0.index_select(1, order), c0.index_select(1, order))
        data, h_n, c_n = torch._VF.lstm(seq.data, seq.batch_sizes, hx, *args)
        if seq.unsorted_indices is not None:
            h_n, c_n = h_n.index_select(1, seq.unsorted_indices), c_n.index_select(1, seq.unsorted_indices)
        out_seq = PackedSequence(data, seq.batch_sizes, seq.sorted_indices, seq.unsorted_indices)
        out, _ = pad_packed_sequence(out_seq, total_length=x.shape[0])
        return out, h_n, c_n

    def _run_layers(
        self,
        backend: str,
        x: Tensor,
        h0: Tensor,
        c0: Tensor,
        lengths: Tensor | None,
        user_padding: bool = True,
    ) -> tuple[Tensor, Tensor, Tensor]:
        """lstmkit's recurrences, layer by layer and direction by direction. ``user_padding``: the steps past
        ``lengths`` are the caller's (a padded tensor), not the zeros ``pad_packed_sequence`` wrote."""
        steps, batch, _ = x.shape
        reversal = reverse_index(steps, batch, lengths, x.device) if self.bidirectional else None
        lengths_on_device = None
        if lengths is not None:
            lengths_on_device = lengths.to(x.device)
            if user_padding and _padding_in(lengths, steps):
                # a NaN or inf in the padding would reach h_n through the masked updates (lerp, y * valid)
                # and the weight gradients through sums over every step (0 * NaN is NaN)
                padding = ~sequence_mask(lengths_on_device, steps).T  # (T, B)
                x = x.masked_fill(padding[..., None], 0.0)
        h_n, c_n = [], []
        layer_input = x
        for layer in range(self.num_layers):
            outputs = []
            for direction in range(self.num_directions):
                index = layer * self.num_directions + direction
                seq = layer_input if reversal is None or not direction else gather_time(layer_input, reversal)
                cell = self._cell_at(index)
                masks = self._masks(steps, batch, seq)
                if backend == "native":  # W_ih x_t inside the loop; layer norm's one packed tensor
                    params = self._recurrence_params(cell, False)
                    projection = self._input_projection(seq, cell, False)
                    state = RecurrenceInputs(seq[:, :, :0], h0[index], c0[index], *masks, lengths_on_device)
                    y, h, c = projected_recurrence(
                        projection, state, params, coupled_gates=self.coupled_gates,
                        ln_affine=cell.get("ln_affine"),
                    )  # fmt: skip
                else:
                    params = self._recurrence_params(cell, True)
                    projection = self._input_projection(seq, cell, True)
                    inputs = RecurrenceInputs(
                        gate_inputs(projection), h0[index], c0[index], *masks, lengths_on_device
                    )
                    y, h, c = run_recurrence(backend, inputs, params, coupled_gates=self.coupled_gates)
                outputs.append(y if reversal is None or not direction else gather_time(y, reversal))
                h_n.append(h)
                c_n.append(c)
            layer_input = outputs[0] if len(outputs) == 1 else torch.cat(outputs, dim=-1)
            if self.dropout and self.training and layer < self.num_layers - 1:
                layer_input = F.dropout(layer_input, self.dropout, training=True)
        return layer_input, torch.stack(h_n), torch.stack(c_n)

    def _masks(
        self, steps: int, batch: int, like: Tensor
    ) -> tuple[Tensor | None, Tensor | None, Tensor | None]:
        """Recurrent dropout mask ``(B, R)`` and zoneout weights ``(T, B, R)``, ``(T, B, H)``."""
        rec, hidden = self.state_size, self.hidden_size
        mask = None
        if self.recurrent_dropout and self.training:
            keep = 1.0 - self.recurrent_dropout
            mask = bernoulli_mask((batch, rec), keep, like).div_(keep)
        zone_h = zone_c = None
        if self.zoneout:
            p = self.zoneout
            if self.training:
                zone_h = bernoulli_mask((steps, batch, rec), p, like)
                zone_c = bernoulli_mask((steps, batch, hidden), p, like)
            else:
                zone_h = like.new_full((1, 1, 1), p).expand(steps, batch, rec)
                zone_c = like.new_full((1, 1, 1), p).expand(steps, batch, hidden)
        return mask, zone_h, zone_c

    def extra_repr(self) -> str:
        s = f"{self.input_size}, {self.hidden_size}"
        defaults: dict[str, Any] = {
            "num_layers": 1, "bias": True, "batch_first": False, "dropout": 0.0, "bidirectional": False,
            "proj_size": 0, "peephole": False, "layer_norm": False, "recurrent_dropout": 0.0, "zoneout": 0.0,
            "coupled_gates": False, "forget_bias": 0.0, "backend": "auto",
        }  # fmt: skip
        extras = [f"{k}={getattr(self, k)!r}" for k, v in defaults.items() if getattr(self, k) != v]
        return ", ".join([s, *extras])

    @classmethod
    def from_torch(cls, module: nn.LSTM, **variants: Any) -> LSTM:
        """Build an lstmkit LSTM with the configuration and weights of a ``torch.nn.LSTM``.

        Variant options (``peephole=True``, ...) may be added; their extra parameters keep their
        initialization, so the result equals the torch module only when no variant changes the math.
        The module's mode (``train``/``eval``) and which parameters require grad are kept too.
        """
        if not isinstance(module, nn.LSTM):
            hint = "; it is already an lstmkit LSTM" if isinstance(module, LSTM) else ""
            raise TypeError(f"LSTM.from_torch expected a torch.nn.LSTM, got {type(module).__name__}{hint}")
        unknown = set(variants) - _FROM_TORCH_TAKEN - _FROM_TORCH_VARIANTS
        if unknown:
            raise TypeError(
                f"LSTM.from_torch got unknown option(s) {sorted(unknown)}; it adds the variants "
                f"{sorted(_FROM_TORCH_VARIANTS)}"
            )
        taken = _FROM_TORCH_TAKEN & set(variants)
        if taken:
            raise ValueError(
                f"LSTM.from_torch takes {sorted(taken)} from the torch module (set them there); it adds only "
                f"the variants {sorted(_FROM_TORCH_VARIANTS)}"
            )
        weight = module.weight_ih_l0
        assert isinstance(weight, Tensor)
        new = cls(
            module.input_size, module.hidden_size, module.num_layers, module.bias, module.batch_first,
            float(module.dropout), module.bidirectional, module.proj_size, weight.device, weight.dtype,
            **variants,
        )  # fmt: skip
        missing, unexpected = new.load_state_dict(module.state_dict(), strict=False)
        standard = {name + suffix for suffix, names in new._cell_names for name in names}
        standard -= {k for k in standard if k.startswith(("weight_peephole", "ln_affine"))}
        if unexpected or standard & set(missing):  # every standard weight came from the torch module
            raise ValueError(
                f"LSTM.from_torch: missing {sorted(standard & set(missing))}, unexpected {unexpected}"
            )
        for name, param in module.named_parameters():  # frozen stays frozen
            new.get_parameter(name).requires_grad_(param.requires_grad)
        return new.train(module.training)


# what from_torch reads from the torch module, and what it may add: forget_bias is an initialization, which
# the torch module's weights overwrite
_FROM_TORCH_TAKEN = frozenset(
    {"input_size", "hidden_size", "num_layers", "bias", "batch_first", "dropout", "bidirectional",
     "proj_size", "device", "dtype", "forget_bias"}
)  # fmt: skip
_FROM_TORCH_VARIANTS = frozenset(
    {"peephole", "layer_norm", "coupled_gates", "recurrent_dropout", "zoneout", "backend", "check_finite"}
)

# LSTM._run_layers under torch.compiler.disable, made once (a list, as in dispatch)
_BETWEEN_GRAPHS: list[Any] = []


def _padding_in(lengths: Tensor, steps: int) -> bool:
    """Whether a batch with these (CPU) lengths has steps past a length; assumed so while tracing or
    exporting, where reading the value would fix the graph to this batch's lengths."""
    if torch.jit.is_tracing() or is_exporting() or torch.compiler.is_compiling():
        return True
    return lengths.numel() > 0 and int(lengths.min()) < steps


def _between_graphs() -> Any:
    """``LSTM._run_layers`` made to run eagerly between torch.compile's graphs.

    The native kernel (raw pointers) and the fused loop (a hand-written autograd function) take one graph
    break here instead of dynamo tracing into them and breaking on every pointer read. Called only while
    compiling, where ``torch._dynamo`` is already imported: wrapping at import time imported it for every
    eager user (2.8 s of a 5.4 s ``import lstmkit.nn`` on a slow machine).
    """
    if not _BETWEEN_GRAPHS:
        _BETWEEN_GRAPHS.append(torch.compiler.disable(LSTM._run_layers))
    return _BETWEEN_GRAPHS[0]
