"""Keras-style recurrent layers: LSTM, GRU and SimpleRNN over a batch-first recurrence.

All three share :class:`Recurrent`, which turns a mask into sequence lengths, handles ``go_backwards``,
``stateful`` and input dropout, and returns the last output, the whole sequence and/or the final states.

Masks: a boolean ``(B, T)`` mask of valid steps (from ``Embedding(mask_zero=True)`` or ``Masking``) is turned
into lengths; the valid steps of each row are moved to the front in their order (so pre-padding and
post-padding both work) and the recurrence runs on the packed sequence. Masked steps are skipped, as in
Keras: the state is carried over them. With ``return_sequences=True`` the output at a masked step is zero.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from lstmkit.layers.base import Layer, Shape
from lstmkit.ops.lengths import sequence_mask
from lstmkit.utils.validation import check_positive_int, check_probability

State = tuple[Tensor, ...]


def compact_by_mask(x: Tensor, mask: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    """Move each row's valid steps to the front, keeping their order.

    Args:
        x: ``(B, T, I)``.
        mask: ``(B, T)`` boolean, True at valid steps.

    Returns:
        ``(x_compact (B, T, I), order (B, T), lengths (B,))`` where ``x_compact[b, k] = x[b, order[b, k]]``.
    """
    order = torch.argsort((~mask).to(torch.int8), dim=1, stable=True)  # (B, T)
    x_compact = torch.gather(x, 1, order.unsqueeze(-1).expand_as(x))
    return x_compact, order, mask.sum(dim=1)


class Recurrent(Layer):
    """Shared machinery of the recurrent layers; subclasses create ``self.rnn`` in ``build``.

    ``self.rnn`` is a batch-first recurrent module with the ``torch.nn.LSTM``/``GRU``/``RNN`` calling
    convention: ``rnn(x_or_packed, hx) -> (output, h_n)`` or ``(output, (h_n, c_n))``.
    """

    supports_masking = True
    state_count = 1  # number of state tensors (LSTM: 2)

    def __init__(
        self,
        units: int,
        *,
        use_bias: bool,
        dropout: float,
        recurrent_dropout: float,
        return_sequences: bool,
        return_state: bool,
        go_backwards: bool,
        stateful: bool,
        input_shape: tuple[int, ...] | None,
        name: str | None,
    ) -> None:
        super().__init__(input_shape=input_shape, name=name)
        cls = type(self).__name__
        self.units = check_positive_int(f"{cls} units", units)
        self.use_bias = bool(use_bias)
        self.dropout = check_probability(f"{cls} dropout", dropout)
        self.recurrent_dropout = check_probability(f"{cls} recurrent_dropout", recurrent_dropout)
        self.return_sequences = bool(return_sequences)
        self.return_state = bool(return_state)
        self.go_backwards = bool(go_backwards)
        self.stateful = bool(stateful)
        self.states: State | None = None
        self.rnn: nn.Module | None = None

    # -- subclass interface -------------------------------------------------------------------------------
    def make_rnn(self, input_size: int) -> nn.Module:
        raise NotImplementedError

    @property
    def output_size(self) -> int:
        return self.units

    # -- layer --------------------------------------------------------------------------------------------
    def build(self, input_shape: Shape) -> None:
        if len(input_shape) != 3 or input_shape[-1] is None:
            raise ValueError(
                f"{type(self).__name__} '{self.name}' expects input of shape (B, T, I) with known I, got "
                f"{input_shape}; for a univariate series use shape (B, T, 1)"
            )
        self.rnn = self.make_rnn(int(input_shape[-1]))

    def reset_states(self) -> None:
        """Forget the state carried between batches (``stateful=True``)."""
        self.states = None

    def compute_mask(self, x: Tensor, mask: Tensor | None) -> Tensor | None:
        if mask is None or not self.return_sequences:
            return None
        return mask.flip(1) if self.go_backwards else mask

    def call(self, x: Tensor, mask: Tensor | None = None, initial_state: Any = None) -> Any:
        """Keras's call, ``layer(x, mask=None, initial_state=None)``.

        ``initial_state`` is the state the sequence starts from, as Keras takes it: ``[h, c]`` for an LSTM
        (``h`` of the output size, ``c`` of ``units``), ``[h]`` or ``h`` for GRU and SimpleRNN, each
        ``(B, ...)``; gradients flow into it (an encoder's final state handed to a decoder). It takes the
        place of a stateful layer's carried state for this call.

        Raises:
            TypeError: ``initial_state`` is not a tensor or a list of them.
            ValueError: the wrong number of states, or a state of the wrong shape (both named).
        """
        assert self.rnn is not None
        batch, steps, _ = x.shape
        if self.go_backwards:
            x = x.flip(1)
            mask = None if mask is None else mask.flip(1)
        if self.training and self.dropout > 0:
            keep = torch.full((batch, 1, x.shape[-1]), 1.0 - self.dropout, device=x.device, dtype=x.dtype)
            x = x * torch.bernoulli(keep) / (1.0 - self.dropout)  # one mask for all steps, as Keras
        given = initial_state is not None
        hx = self._given_state(initial_state, batch, x) if given else self._initial_state(batch, x)
        if mask is None:
            output, state = self._run(x, hx)
            # the final hidden state is the last output; reading it rather than output[:, -1] spares the
            # backward a (B, T, H) gradient of zeros that the recurrence would then read step by step
            last = state[0][-1]
        else:
            if mask.shape != (batch, steps):
                raise ValueError(
                    f"{self.name} expected a mask of shape {(batch, steps)}, got {tuple(mask.shape)}"
                )
            output, state, last = self._run_masked(x, mask.to(torch.bool), hx)
        if self.stateful:
            self.states = tuple(s.detach() for s in state)
        result = output if self.return_sequences else last
        if self.return_state:
            return (result, *(s[0] for s in state))
        return result

    # -- helpers ------------------------------------------------------------------------------------------
    def _given_state(self, start: Any, batch: int, x: Tensor) -> State:
        """``initial_state`` checked against the layer and the batch, as the recurrence takes it (1, B, .)."""
        cls = type(self).__name__
        states = [start] if isinstance(start, Tensor) else start
        if not isinstance(states, list | tuple) or not all(isinstance(s, Tensor) for s in states):
            raise TypeError(
                f"{cls} '{self.name}' initial_state must be a tensor or a list of tensors, got "
                f"{type(start).__name__}"
            )
        sizes = [self.output_size, self.units][: self.state_count]
        if len(states) != len(sizes):
            names = "[h, c]" if self.state_count == 2 else "[h]"
            raise ValueError(
                f"{cls} '{self.name}' initial_state must be {names}, got {len(states)} tensor(s)"
            )
        for state, size in zip(states, sizes, strict=True):
            if tuple(state.shape) != (batch, size):
                expected = [(batch, n) for n in sizes]
                raise ValueError(
                    f"{cls} '{self.name}' initial_state expected tensors of shape {expected}, got "
                    f"{[tuple(s.shape) for s in states]}"
                )
        return tuple(state.to(device=x.device, dtype=x.dtype).unsqueeze(0) for state in states)

    def _initial_state(self, batch: int, x: Tensor) -> State | None:
        if not self.stateful or self.states is None:
            return None
        if self.states[0].shape[1] != batch:
            raise ValueError(
                f"stateful {type(self).__name__} '{self.name}' holds state for batch size "
                f"{self.states[0].shape[1]}, got a batch of {batch}; use a batch size that divides the data "
                f"or call reset_states()"
            )
        return tuple(s.to(x.device) for s in self.states)

    def _call_rnn(self, inputs: Any, hx: State | None) -> tuple[Any, State]:
        assert self.rnn is not None
        if hx is not None and self.state_count == 1:
            output, h = self.rnn(inputs, hx[0])
        else:
            output, h = self.rnn(inputs, hx)
        return output, (h,) if isinstance(h, Tensor) else tuple(h)

    def _run(self, x: Tensor, hx: State | None) -> tuple[Tensor, State]:
        return self._call_rnn(x, hx)

    def _run_masked(self, x: Tensor, mask: Tensor, hx: State | None) -> tuple[Tensor, State, Tensor]:
        batch, steps, _ = x.shape
        if batch == 0:  # nothing to pack (an empty share in distributed training): the plain run's shapes
            output, state = self._run(x, hx)
            return output, state, state[0][-1]
        x_compact, order, lengths = compact_by_mask(x, mask)
        packed = pack_padded_sequence(
            x_compact, lengths.clamp(min=1).cpu(), batch_first=True, enforce_sorted=False
        )
        packed_out, state = self._call_rnn(packed, hx)
        out_compact, _ = pad_packed_sequence(packed_out, batch_first=True, total_length=steps)  # (B, T, H)
        empty = lengths == 0
        if bool(empty.any()):  # fully padded rows: no step ran, state stays the initial one
            out_compact = out_compact.masked_fill(empty.view(-1, 1, 1), 0.0)
            initial = hx or tuple(torch.zeros_like(s) for s in state)
            state = tuple(
                torch.where(empty.view(1, -1, 1), h0, s) for h0, s in zip(initial, state, strict=True)
            )
        last = out_compact[torch.arange(batch, device=x.device), (lengths - 1).clamp(min=0)]
        valid = sequence_mask(lengths.to(x.device), steps)  # (B, T)
        out_compact = out_compact * valid.unsqueeze(-1).to(out_compact.dtype)
        output = torch.zeros_like(out_compact).scatter(
            1, order.unsqueeze(-1).expand_as(out_compact), out_compact
        )
        return output, state, last

    # -- weights in Keras's layout ------------------------------------------------------------------------
    def keras_weights(self) -> dict[str, Tensor]:
        """``kernel (I, G*H)``, ``recurrent_kernel (H, G*H)`` and, with ``use_bias``, ``bias (G*H,)`` for
        ``G`` gates: torch's weights transposed, its two biases summed (``bias_hh`` is held at zero)."""
        p = self.rnn_parameter
        weights = {"kernel": p("weight_ih_l0").T, "recurrent_kernel": p("weight_hh_l0").T}
        if self.use_bias:
            weights["bias"] = p("bias_ih_l0") + p("bias_hh_l0")
        return weights

    def load_keras_weights(self, weights: list[Tensor]) -> None:
        p = self.rnn_parameter
        p("weight_ih_l0").copy_(weights[0].T)
        p("weight_hh_l0").copy_(weights[1].T)
        if self.use_bias:
            p("bias_ih_l0").copy_(weights[2])
            p("bias_hh_l0").zero_()

    def rnn_parameter(self, name: str) -> nn.Parameter:
        """The torch parameter ``name`` of the built recurrence, e.g. ``"weight_ih_l0"``."""
        assert self.rnn is not None
        return self.rnn.get_parameter(name)

    def get_config(self) -> dict[str, Any]:
        return {
            **super().get_config(),
            "units": self.units,
            "use_bias": self.use_bias,
            "dropout": self.dropout,
            "recurrent_dropout": self.recurrent_dropout,
            "return_sequences": self.return_sequences,
            "return_state": self.return_state,
            "go_backwards": self.go_backwards,
            "stateful": self.stateful,
        }


def keras_init_(rnn: nn.Module, gates: int) -> None:
    """Keras's initializers: glorot_uniform input kernel, orthogonal recurrent kernel, zero biases."""
    for name, param in rnn.named_parameters():
        if name.startswith("weight_ih"):
            nn.init.xavier_uniform_(param)
        elif name.startswith("weight_hh"):
            for chunk in param.data.chunk(gates, dim=0):
                nn.init.orthogonal_(chunk)
        elif name.startswith("bias"):
            nn.init.zeros_(param)


def freeze_zero_(param: Tensor) -> None:
    """Hold a parameter at zero and out of training (a torch bias that Keras does not have)."""
    with torch.no_grad():
        param.zero_()
    param.requires_grad_(False)
