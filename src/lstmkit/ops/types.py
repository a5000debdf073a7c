"""Types shared by every implementation of the LSTM recurrence.

Shape legend used library-wide: ``B`` batch, ``T`` time, ``I`` input features, ``H`` hidden units,
``P`` projection size, ``R`` recurrent state size (``P`` with a projection, else ``H``), ``D`` directions,
``L`` layers.
"""

from __future__ import annotations

from typing import NamedTuple, Protocol

from torch import Tensor

LSTMState = tuple[Tensor, Tensor]
"""``(h, c)``: hidden state ``(..., R)`` and cell state ``(..., H)``."""


class RecurrenceParams(NamedTuple):
    """The parameters the time loop reads, for one layer and one direction.

    Attributes:
        w_hh: recurrent weights ``(4H, R)``, gate rows in PyTorch's order i, f, g, o.
        w_hr: projection weights ``(R, H)`` (``R = P``), or ``None`` without a projection.
        peephole: diagonal peephole weights ``(3, H)`` for i, f, o, or ``None``.
        ln_hh_weight: layer-norm gain ``(4H,)`` on the recurrent pre-activation, or ``None``.
        ln_hh_bias: layer-norm bias ``(4H,)`` on the recurrent pre-activation, or ``None``.
        ln_c_weight: layer-norm gain ``(H,)`` on the cell state before the output tanh, or ``None``.
        ln_c_bias: layer-norm bias ``(H,)`` on the cell state before the output tanh, or ``None``.
    """

    w_hh: Tensor
    w_hr: Tensor | None = None
    peephole: Tensor | None = None
    ln_hh_weight: Tensor | None = None
    ln_hh_bias: Tensor | None = None
    ln_c_weight: Tensor | None = None
    ln_c_bias: Tensor | None = None

    @property
    def layer_norm(self) -> bool:
        return self.ln_hh_weight is not None

    def with_layer_norm(self, ln: LayerNormParts) -> RecurrenceParams:
        """These parameters with the recurrent and cell norms of ``ln``."""
        return self._replace(
            ln_hh_weight=ln.hh_weight, ln_hh_bias=ln.hh_bias, ln_c_weight=ln.c_weight, ln_c_bias=ln.c_bias
        )


class LayerNormParts(NamedTuple):
    """The six vectors of a layer-normed cell, views of its one packed ``ln_affine`` ``(2, 9H)``.

    Row 0 of ``ln_affine`` holds the gains, row 1 the biases, each as ``[LN_ih (4H) | LN_hh (4H) | LN_c
    (H)]``: one parameter instead of six, as each tensor costs an optimizer step its own per-tensor
    work (see :func:`layer_norm_parts`).
    """

    ih_weight: Tensor
    ih_bias: Tensor
    hh_weight: Tensor
    hh_bias: Tensor
    c_weight: Tensor
    c_bias: Tensor


def layer_norm_parts(ln_affine: Tensor) -> LayerNormParts:
    """Views of the gains and biases of ``LN_ih``, ``LN_hh`` and ``LN_c`` in a packed ``(2, 9H)``
    parameter (:class:`LayerNormParts`); they share its memory and its gradient."""
    if ln_affine.dim() != 2 or ln_affine.shape[0] != 2 or ln_affine.shape[1] % 9:
        raise ValueError(f"ln_affine must have shape (2, 9H), got {tuple(ln_affine.shape)}")
    hidden = ln_affine.shape[1] // 9
    ih, hh, c = ln_affine.split((4 * hidden, 4 * hidden, hidden), dim=1)
    return LayerNormParts(ih[0], ih[1], hh[0], hh[1], c[0], c[1])


class RecurrenceInputs(NamedTuple):
    """Run-time inputs of the time loop other than the parameters.

    Attributes:
        xg: input contribution to the gate pre-activations ``(T, B, 4H)``: ``W_ih x_t`` (layer-normed
            when layer norm is on) plus both biases, computed for all steps before the loop.
        h0: initial hidden state ``(B, R)``.
        c0: initial cell state ``(B, H)``.
        recurrent_mask: dropout mask on ``h_{t-1}`` where it enters the gates ``(B, R)``, already scaled
            by ``1 / (1 - p)``; one mask for the whole sequence (Gal & Ghahramani 2016). ``None`` for none.
        zoneout_h: weight of the previous hidden state ``(T, B, R)`` in ``[0, 1]``: a 0/1 mask when
            training, the probability (an expanded constant) at evaluation. ``None`` for none.
        zoneout_c: the same for the cell state ``(T, B, H)``.
        lengths: valid length of each sequence ``(B,)`` int64; steps at or past it keep the state
            unchanged and output zeros. ``None`` when every sequence has length ``T``.
    """

    xg: Tensor
    h0: Tensor
    c0: Tensor
    recurrent_mask: Tensor | None = None
    zoneout_h: Tensor | None = None
    zoneout_c: Tensor | None = None
    lengths: Tensor | None = None


class RecurrenceGrads(NamedTuple):
    """Gradients a kernel's backward returns; ``None`` where the input or parameter is absent."""

    xg: Tensor
    h0: Tensor
    c0: Tensor
    params: RecurrenceParams


class RecurrenceKernel(Protocol):
    """A time loop for :class:`lstmkit.ops.fused.Recurrence`: its forward and backward through time.

    The autograd function owns the graph; a kernel only fills buffers. ``forward`` returns the outputs
    and a tuple of tensors for its own ``backward`` (the autograd function saves them untouched).
    Masks, ``lengths`` and ``coupled_gates`` mean what :mod:`lstmkit.ops.reference` says they mean.
    """

    name: str

    def supports(self, inputs: RecurrenceInputs, params: RecurrenceParams) -> str | None:
        """``None`` if this kernel can run the inputs, else the reason it cannot (device, dtype, ...)."""
        ...

    def forward(
        self,
        inputs: RecurrenceInputs,
        params: RecurrenceParams,
        coupled_gates: bool,
        needs_grad: bool,
    ) -> tuple[Tensor, Tensor, Tensor, tuple[Tensor, ...]]:
        """Return ``(y (T, B, R), h_T (B, R), c_T (B, H), saved)``."""
        ...

    def backward(
        self,
        saved: tuple[Tensor, ...],
        inputs: RecurrenceInputs,
        params: RecurrenceParams,
        coupled_gates: bool,
        dy: Tensor,
        dh_T: Tensor,
        dc_T: Tensor,
        checked: bool = False,
    ) -> RecurrenceGrads:
        """Gradients of the loss given ``dy (T, B, R)``, ``dh_T (B, R)`` and ``dc_T (B, H)``.

        ``checked``: ``saved``, ``inputs`` and ``params`` are the very tensors :meth:`forward` checked and
        saved (an autograd node's, which autograd guards against in-place changes); a kernel may then skip
        checking them again."""
        ...
