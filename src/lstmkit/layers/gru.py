"""The Keras-face GRU layer (torch's and Keras's ``reset_after=True`` formulation coincide)."""

from __future__ import annotations

from typing import Any

from torch import nn

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

    Implementation notes:
        Parameter count as Keras: ``3 * (H * (I + H) + 2 * H)`` (two bias vectors, as ``reset_after``).

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
                f"GRU supports activation='tanh' and recurrent_activation='sigmoid' only, got "
                f"activation={activation!r}, recurrent_activation={recurrent_activation!r}"
            )
        if self.recurrent_dropout > 0:
            raise ValueError(f"GRU supports recurrent_dropout=0 only, got {recurrent_dropout}; use LSTM")

    def make_rnn(self, input_size: int) -> nn.Module:
        rnn = nn.GRU(input_size, self.units, bias=self.use_bias, batch_first=True)
        keras_init_(rnn, gates=3)
        return rnn


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
