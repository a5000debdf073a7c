"""The Keras-face GRU layer (torch's and Keras's ``reset_after=True`` formulation coincide)."""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn

from lstmkit.layers.recurrent import Recurrent, freeze_zero_, keras_init_


class GRU(Recurrent):
    """Gated Recurrent Unit (Cho et al. 2014, arXiv:1406.1078v3), Keras's default ``reset_after=True`` form.

    Per step::

        r_t = sigmoid(W_r x_t + b_ir + U_r h_{t-1} + b_hr)
        z_t = sigmoid(W_z x_t + b_iz + U_z h_{t-1} + b_hz)
        n_t = tanh(W_n x_t + b_in + r_t * (U_n h_{t-1} + b_hn))
        h_t = (1 - z_t) * n_t + z_t * h_{t-1}

    Args:
        units: hidden units ``H``.
        activation: must be ``"tanh"``; recurrent_activation: must be ``"sigmoid"``.
        use_bias, dropout, return_sequences, return_state, go_backwards, stateful, input_shape, name:
            as for :class:`lstmkit.layers.LSTM`.
        recurrent_dropout: must be 0 (torch's GRU kernel has no recurrent dropout).
        reset_after: must be ``True`` (default), Keras's form that torch's GRU computes; accepted so that
            Keras code and configs that name it run unchanged.

    Raises:
        ValueError: an activation other than tanh/sigmoid, ``recurrent_dropout > 0`` or
            ``reset_after=False``.

    Implementation notes:
        Parameter count as Keras: ``3 * (H * (I + H) + 2 * H)`` (two bias vectors, as ``reset_after``).
        ``get_weights`` gives Keras's ``kernel (I, 3H)``, ``recurrent_kernel (H, 3H)`` and ``bias (2, 3H)``
        (row 0 input, row 1 recurrent) with Keras's gate blocks z, r, h; torch's rows are r, z, n.

    Example:
        >>> import torch
        >>> layer = GRU(50, input_shape=(100, 1))
        >>> layer(torch.zeros(1, 100, 1)).shape, layer.count_params()
        (torch.Size([1, 50]), 7950)
    """

    def __init__(
        self,
        units: int,
        activation: str = "tanh",
        recurrent_activation: str = "sigmoid",
        use_bias: bool = True,
        dropout: float = 0.0,
        recurrent_dropout: float = 0.0,
        return_sequences: bool = False,
        return_state: bool = False,
        go_backwards: bool = False,
        stateful: bool = False,
        *,
        reset_after: bool = True,
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
        if reset_after is not True:
            raise ValueError(
                "GRU supports Keras's reset_after=True form only (torch's GRU); "
                f"got reset_after={reset_after!r}"
            )
        if activation != "tanh" or recurrent_activation != "sigmoid":
            raise ValueError(
                f"GRU supports activation='tanh' and recurrent_activation='sigmoid' only, got "
                f"activation={activation!r}, recurrent_activation={recurrent_activation!r}"
            )
        if self.recurrent_dropout > 0:
            raise ValueError(f"GRU supports recurrent_dropout=0 only, got {recurrent_dropout}; use LSTM")

    def make_rnn(self, input_size: int) -> nn.Module:
        rnn = nn.GRU(input_size, self.units, bias=self.use_bias, batch_first=True)
        keras_init_(rnn, gates=3)
        return rnn

    def keras_weights(self) -> dict[str, Tensor]:
        p = self.rnn_parameter
        weights = {
            "kernel": swap_reset_update(p("weight_ih_l0")).T,  # (I, 3H)
            "recurrent_kernel": swap_reset_update(p("weight_hh_l0")).T,  # (H, 3H)
        }
        if self.use_bias:
            biases = [swap_reset_update(p("bias_ih_l0")), swap_reset_update(p("bias_hh_l0"))]
            weights["bias"] = torch.stack(biases)  # (2, 3H)
        return weights

    def load_keras_weights(self, weights: list[Tensor]) -> None:
        p = self.rnn_parameter
        p("weight_ih_l0").copy_(swap_reset_update(weights[0].T))
        p("weight_hh_l0").copy_(swap_reset_update(weights[1].T))
        if self.use_bias:
            p("bias_ih_l0").copy_(swap_reset_update(weights[2][0]))
            p("bias_hh_l0").copy_(swap_reset_update(weights[2][1]))

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "reset_after": True}  # as Keras writes it


def swap_reset_update(w: Tensor) -> Tensor:
    """Swap the first two gate blocks along dim 0: torch's r, z, n <-> Keras's z, r, h (its own inverse)."""
    first, second, candidate = w.chunk(3, dim=0)
    return torch.cat([second, first, candidate])


class SimpleRNN(Recurrent):
    """A fully connected recurrent layer: ``h_t = activation(W x_t + U h_{t-1} + b)`` (Elman 1990).

    Args:
        units: hidden units ``H``.
        activation: ``"tanh"`` (default) or ``"relu"``.
        use_bias, dropout, return_sequences, return_state, go_backwards, stateful, input_shape, name:
            as for :class:`lstmkit.layers.LSTM`.
        recurrent_dropout: must be 0.

    Implementation notes:
        One bias vector as Keras (torch's ``bias_hh`` is held at zero): ``H * (I + H) + H`` parameters.

    Example:
        >>> import torch
        >>> layer = SimpleRNN(4, input_shape=(3, 2))
        >>> layer(torch.zeros(1, 3, 2)).shape, layer.count_params()
        (torch.Size([1, 4]), 28)
    """

    def __init__(
        self,
        units: int,
        activation: str = "tanh",
        use_bias: bool = True,
        dropout: float = 0.0,
        recurrent_dropout: float = 0.0,
        return_sequences: bool = False,
        return_state: bool = False,
        go_backwards: bool = False,
        stateful: bool = False,
        *,
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
        if activation not in ("tanh", "relu"):
            raise ValueError(f"SimpleRNN supports activation='tanh' or 'relu', got {activation!r}")
        if self.recurrent_dropout > 0:
            raise ValueError(f"SimpleRNN supports recurrent_dropout=0 only, got {recurrent_dropout}")
        self.activation_name = activation

    def make_rnn(self, input_size: int) -> nn.Module:
        rnn = nn.RNN(
            input_size, self.units, nonlinearity=self.activation_name, bias=self.use_bias, batch_first=True
        )
        keras_init_(rnn, gates=1)
        if self.use_bias:
            freeze_zero_(rnn.get_parameter("bias_hh_l0"))
        return rnn

    def keras_excluded_parameters(self) -> list[str]:
        return ["rnn.bias_hh_l0"] if self.use_bias else []

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "activation": self.activation_name}
