"""The Keras-face LSTM layer."""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn

from lstmkit.layers.recurrent import Recurrent, freeze_zero_, keras_init_
from lstmkit.nn import LSTM as FusedLSTM
from lstmkit.utils.validation import check_positive_int, check_probability


class LSTM(Recurrent):
    """Long Short-Term Memory layer (Hochreiter & Schmidhuber 1997; forget gate Gers et al. 2000), Keras API.

    Per step, with gate order i, f, g, o as in PyTorch::

        i_t = sigmoid(W_i x_t + U_i h_{t-1} + b_i)
        f_t = sigmoid(W_f x_t + U_f h_{t-1} + b_f)
        g_t = tanh(W_g x_t + U_g h_{t-1} + b_g)
        o_t = sigmoid(W_o x_t + U_o h_{t-1} + b_o)
        c_t = f_t * c_{t-1} + i_t * g_t
        h_t = o_t * tanh(c_t)

    Args:
        units: hidden units ``H``.
        activation: must be ``"tanh"`` (the fused recurrence supports only it).
        recurrent_activation: must be ``"sigmoid"``.
        use_bias: learn the bias ``b`` (one bias vector, as Keras; torch's second bias is held at zero).
        unit_forget_bias: initialize ``b_f`` to 1 (Jozefowicz et al. 2015).
        dropout: dropout on the inputs, one mask per sequence (as Keras).
        recurrent_dropout: dropout on ``h_{t-1}``, one mask per sequence (Gal & Ghahramani 2016); unlike
            Keras, it keeps the fused recurrence.
        return_sequences: return ``(B, T, H)`` instead of the last output ``(B, H)``.
        return_state: also return the final ``h`` and ``c``, each ``(B, H)``.
        go_backwards: run over the time axis reversed (output stays in processing order).
        stateful: carry the final state into the next batch; :meth:`reset_states` forgets it.
        peephole: lstmkit variant: peephole connections from the cell (Gers & Schmidhuber 2000).
        layer_norm: lstmkit variant: layer-normalized gates and cell (Ba et al. 2016).
        zoneout: lstmkit variant: probability of keeping each unit's previous state (Krueger et al. 2017).
        projection: lstmkit variant: project ``h`` to this many features ``P`` (Sak et al. 2014); the
            output then has ``P`` features.
        input_shape: ``(T, I)`` of one sample.
        name: layer name.

    Shapes:
        ``(B, T, I) -> (B, H)`` or ``(B, T, H)`` (``P`` instead of ``H`` with a projection).

    Implementation notes:
        Runs on :class:`lstmkit.nn.LSTM` (``batch_first=True``). Weights are initialized as Keras does
        (glorot_uniform, orthogonal, zeros), so a model trains like its Keras counterpart; parameter
        counts match Keras: ``4 * (H * (I + H) + H)`` (variants add their own parameters).
        ``get_weights`` gives Keras's ``kernel (I, 4H)``, ``recurrent_kernel (H, 4H)`` (``(P, 4H)`` with a
        projection) and ``bias (4H,)``, gate columns i, f, c, o (torch's i, f, g, o), then the variants'
        weights, which Keras lacks, in lstmkit's layout and this order: ``weight_hr (P, H)``,
        ``weight_peephole (3, H)`` (rows i, f, o), ``ln_affine (2, 9H)`` (see ``lstmkit.nn._params``).

    Example:
        >>> layer = LSTM(50, input_shape=(100, 1))
        >>> layer(torch.zeros(2, 100, 1)).shape, layer.count_params()
        (torch.Size([2, 50]), 10400)
    """

    state_count = 2

    def __init__(
        self,
        units: int,
        activation: str = "tanh",
        recurrent_activation: str = "sigmoid",
        use_bias: bool = True,
        unit_forget_bias: bool = True,
        dropout: float = 0.0,
        recurrent_dropout: float = 0.0,
        return_sequences: bool = False,
        return_state: bool = False,
        go_backwards: bool = False,
        stateful: bool = False,
        *,
        peephole: bool = False,
        layer_norm: bool = False,
        zoneout: float = 0.0,
        projection: int | None = None,
        input_shape: tuple[int, ...] | None = None,
        name: str | None = None,
    ) -> None:
        super().__init__(
            units,
            use_bias=use_bias,
            dropout=dropout,
            recurrent_dropout=recurrent_dropout,
            return_sequences=return_sequences,
            return_state=return_state,
            go_backwards=go_backwards,
            stateful=stateful,
            input_shape=input_shape,
            name=name,
        )
        if activation != "tanh" or recurrent_activation != "sigmoid":
            raise ValueError(
                f"LSTM supports activation='tanh' and recurrent_activation='sigmoid' only (the fused "
                f"recurrence), got activation={activation!r}, recurrent_activation={recurrent_activation!r}"
            )
        self.unit_forget_bias = bool(unit_forget_bias)
        self.peephole, self.layer_norm = bool(peephole), bool(layer_norm)
        self.zoneout = check_probability("LSTM zoneout", zoneout)
        self.projection = None if projection is None else check_positive_int("LSTM projection", projection)

    @property
    def output_size(self) -> int:
        return self.projection or self.units

    def make_rnn(self, input_size: int) -> nn.Module:
        rnn = FusedLSTM(
            input_size,
            self.units,
            bias=self.use_bias,
            batch_first=True,
            proj_size=self.projection or 0,
            peephole=self.peephole,
            layer_norm=self.layer_norm,
            recurrent_dropout=self.recurrent_dropout,
            zoneout=self.zoneout,
        )
        keras_init_(rnn, gates=4)
        if self.use_bias:
            freeze_zero_(rnn.get_parameter("bias_hh_l0"))
            if self.unit_forget_bias:
                with torch.no_grad():
                    rnn.get_parameter("bias_ih_l0")[self.units : 2 * self.units] = 1.0
        return rnn

    def keras_excluded_parameters(self) -> list[str]:
        return ["rnn.bias_hh_l0"] if self.use_bias else []

    def keras_weights(self) -> dict[str, Tensor]:
        weights = super().keras_weights()
        for name in self._variant_weights():
            weights[name] = self.rnn_parameter(f"{name}_l0")
        return weights

    def load_keras_weights(self, weights: list[Tensor]) -> None:
        variants = self._variant_weights()
        keras_count = len(weights) - len(variants)
        super().load_keras_weights(weights[:keras_count])
        for name, value in zip(variants, weights[keras_count:], strict=True):
            self.rnn_parameter(f"{name}_l0").copy_(value)

    def _variant_weights(self) -> list[str]:
        """The variants' weights (no Keras counterpart), in the order ``get_weights`` appends them."""
        present = {
            "weight_hr": self.projection is not None,
            "weight_peephole": self.peephole,
            "ln_affine": self.layer_norm,
        }
        return [name for name, on in present.items() if on]

    def get_config(self) -> dict[str, Any]:
        return {
            **super().get_config(),
            "unit_forget_bias": self.unit_forget_bias,
            "peephole": self.peephole,
            "layer_norm": self.layer_norm,
            "zoneout": self.zoneout,
            "projection": self.projection,
        }
