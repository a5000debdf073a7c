"""The small recurrent networks the memory benchmark compares: one recurrent layer and a linear readout.

The LSTM is :class:`lstmkit.nn.LSTM`; the comparisons are ``torch.nn.GRU`` (Cho et al. 2014) and the
Elman ``torch.nn.RNN`` with ``tanh``. All three take the same hidden size and default initialization,
so they differ only in their recurrence.
"""

from __future__ import annotations

import os
from typing import Any, Literal

import torch
from torch import Tensor, nn

from lstmkit.nn import LSTM
from lstmkit.utils.serialization import load_bundle, save_bundle
from lstmkit.utils.validation import check_choice, check_positive_int, check_real, is_integer_dtype

CellKind = Literal["lstm", "gru", "rnn"]
Readout = Literal["last", "all"]
CELL_KINDS: tuple[str, ...] = ("lstm", "gru", "rnn")
MEMORY_NET_KIND = "memory_task_net"


class SequenceNet(nn.Module):
    """A recurrent layer (LSTM, GRU or RNN) followed by a linear readout.

    ``x`` is ``(B, T, I)`` float, or ``(B, T)`` integer tokens in ``[0, vocab_size)`` when ``vocab_size`` is
    set (then one-hot encoded to ``I = vocab_size``), with ``T >= 1``. With ``readout="last"`` the output is
    ``(B, O)`` from the last step, with ``readout="all"`` it is ``(B, T, O)``.

    Args:
        cell: ``"lstm"``, ``"gru"`` or ``"rnn"``.
        input_size: features per step ``I`` (ignored when ``vocab_size`` is set).
        hidden_size: hidden units ``H``.
        output_size: outputs per readout ``O``.
        readout: ``"last"`` or ``"all"``.
        vocab_size: number of token ids (at least 1) when the input is tokens, else ``None``.
        forget_bias: a finite number added to the LSTM's forget-gate bias at initialization (Gers et al.
            2000; Jozefowicz et al. 2015; Keras' ``unit_forget_bias``); LSTM only.

    Raises:
        TypeError: an argument of the wrong type; in ``forward``, float input to a token network or
            integer input to a feature network.
        ValueError: an argument out of range; in ``forward``, an input of the wrong shape, with no time
            step, or with a token outside ``[0, vocab_size)``.

    Example:
        >>> import torch
        >>> net = SequenceNet("gru", 2, 8, 1)
        >>> net(torch.zeros(3, 5, 2)).shape  # (B, O)
        torch.Size([3, 1])
    """

    def __init__(
        self,
        cell: CellKind,
        input_size: int,
        hidden_size: int,
        output_size: int,
        *,
        readout: Readout = "last",
        vocab_size: int | None = None,
        forget_bias: float = 0.0,
    ) -> None:
        super().__init__()
        check_choice("cell", cell, CELL_KINDS)
        check_choice("readout", readout, ("last", "all"))
        check_positive_int("hidden_size", hidden_size)
        check_positive_int("output_size", output_size)
        forget_bias = check_real("forget_bias", forget_bias)
        if vocab_size is not None:
            vocab_size = check_positive_int("vocab_size", vocab_size)
        self.cell = cell
        self.readout = readout
        self.vocab_size = vocab_size
        features = vocab_size if vocab_size is not None else check_positive_int("input_size", input_size)
        self.input_size = features
        self.hidden_size = hidden_size
        self.rnn: nn.Module
        if forget_bias and cell != "lstm":
            raise ValueError(
                f"forget_bias applies to the LSTM only, got forget_bias={forget_bias} for {cell!r}"
            )
        if cell == "lstm":
            self.rnn = LSTM(features, hidden_size, batch_first=True, forget_bias=forget_bias)
        elif cell == "gru":
            self.rnn = nn.GRU(features, hidden_size, batch_first=True)
        else:
            self.rnn = nn.RNN(features, hidden_size, batch_first=True, nonlinearity="tanh")
        self.head = nn.Linear(hidden_size, output_size)

    def _check_features(self, x: Any) -> None:
        """Raise unless ``x`` is a float ``(B, T, I)`` tensor with ``T >= 1``."""
        expected = f"SequenceNet expected float input of shape (B, T, {self.input_size})"
        if not isinstance(x, Tensor):
            raise TypeError(f"{expected}, got {type(x).__name__}")
        if not x.is_floating_point():
            raise TypeError(
                f"{expected}, got a {x.dtype} tensor; convert it with .float(), or build the network "
                f"with vocab_size for token ids"
            )
        if x.dim() != 3 or x.shape[1] == 0 or x.shape[2] != self.input_size:
            raise ValueError(f"{expected} with T >= 1, got shape {tuple(x.shape)}")

    @staticmethod
    def lstm_class_name() -> str:
        """Qualified name of the LSTM class used (recorded with benchmark results)."""
        return f"{LSTM.__module__}.{LSTM.__qualname__}"

    def forward(self, x: Tensor) -> Tensor:
        vocab_size = self.vocab_size
        if vocab_size is not None:
            x = nn.functional.one_hot(_check_tokens(x, vocab_size), vocab_size).to(self.head.weight.dtype)
        else:
            self._check_features(x)
        y, state = self.rnn(x)  # (B, T, H)
        if self.readout == "last":  # the final state is y[:, -1], without a (B, T, H) gradient of zeros
            h_n = state[0] if isinstance(state, tuple) else state  # (1, B, H)
            return self.head(h_n[-1])  # (B, O)
        return self.head(y)  # (B, T, O)


def _check_tokens(x: Any, vocab_size: int) -> Tensor:
    """``x`` as int64 ``(B, T)`` if it holds integer tokens in ``[0, vocab_size)``, ``T >= 1``; else raise."""
    expected = f"SequenceNet with vocab_size={vocab_size} expected integer tokens of shape (B, T)"
    if not isinstance(x, Tensor):
        raise TypeError(f"{expected}, got {type(x).__name__}")
    if not is_integer_dtype(x.dtype):
        raise TypeError(f"{expected}, got a {x.dtype} tensor; pass token ids as an integer tensor")
    if x.dim() != 2 or x.shape[1] == 0:
        raise ValueError(f"{expected} with T >= 1, got shape {tuple(x.shape)}")
    if x.numel():
        low, high = (int(v) for v in torch.aminmax(x))  # one pass over the batch
        if low < 0 or high >= vocab_size:
            raise ValueError(f"{expected} in [0, {vocab_size}), got token ids from {low} to {high}")
    return x.long()  # (B, T)


def count_parameters(module: nn.Module) -> int:
    """Number of trainable parameters."""
    return sum(p.numel() for p in module.parameters() if p.requires_grad)


__all__ = ["CELL_KINDS", "CellKind", "SequenceNet", "count_parameters", "load_memory_net", "save_memory_net"]


def load_memory_net(path: str | os.PathLike[str]) -> SequenceNet:
    """Load a network saved by ``lstmkit bench memory --out`` (bundle kind ``"memory_task_net"``).

    Raises:
        ValueError: the file is not an lstmkit bundle of that kind.
    """
    tensors, config = load_bundle(path)
    if config.get("kind") != MEMORY_NET_KIND:
        raise ValueError(f"'{path}' holds kind {config.get('kind')!r}, expected {MEMORY_NET_KIND!r}")
    try:
        net = SequenceNet(
            config["cell"],
            config["input_size"] or 0,
            config["hidden_size"],
            config["output_size"],
            readout=config["readout"],
            vocab_size=config["vocab_size"],
        )
        net.load_state_dict(tensors)
    except (KeyError, RuntimeError) as err:  # a config lstmkit did not write, or weights that do not fit
        raise ValueError(
            f"'{path}' is a damaged {MEMORY_NET_KIND} file: {type(err).__name__}: {err}"
        ) from err
    return net.eval()


def save_memory_net(path: str | os.PathLike[str], net: SequenceNet, **extra: Any) -> None:
    """Save ``net`` as a bundle of kind ``"memory_task_net"``; ``extra`` goes into its config."""
    config = {
        "kind": MEMORY_NET_KIND,
        "cell": net.cell,
        "input_size": None if net.vocab_size else net.input_size,
        "hidden_size": net.hidden_size,
        "output_size": net.head.out_features,
        "readout": net.readout,
        "vocab_size": net.vocab_size,
        **extra,
    }
    save_bundle(path, net.state_dict(), config)
