"""The model side of forecasting: a small protocol and a trainer for any ``torch.nn.Module``.

The forecasting machinery (windowing, scaling, backtests) talks to a model only through
:class:`WindowRegressor`: ``fit(X, y)`` on ``X`` of shape ``(S, T, I)`` and ``y`` of shape ``(S, H)``,
and ``predict(X)`` returning ``(S, H)`` or, with quantile outputs, ``(S, H, Q)``. :class:`ModuleRegressor`
implements it for any network mapping ``(S, T, I)`` to ``(S, H * Q)`` (exactly that 2-D shape: a 3-D
output is refused, see :meth:`ModuleRegressor._forward`): an lstmkit ``Sequential`` (its ``.module``), or a
plain PyTorch module.

Training minimises the mean squared error (point forecasts) or the pinball loss (quantiles) with Adam,
gradient-norm clipping, and early stopping on the chronologically last ``validation_fraction`` of the
windows (never a random split: that would let the model peek at later data).
"""

from __future__ import annotations

import copy
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
import torch
from torch import nn

from lstmkit.forecast.intervals import mc_dropout_quantiles, pinball_loss, sort_quantiles
from lstmkit.models.optimizers import torch_adam
from lstmkit.utils.validation import check_finite, check_positive_int, check_probability, check_seed

logger = logging.getLogger(__name__)

# called after every epoch with (epoch, epochs, train_loss, val_loss or None)
EpochCallback = Callable[[int, int, float, float | None], None]


def check_epoch_callback(on_epoch: Any) -> EpochCallback | None:
    """Return ``on_epoch`` if it is ``None`` or callable, else raise ``TypeError`` (before any training).

    Example:
        >>> check_epoch_callback(3)
        Traceback (most recent call last):
        ...
        TypeError: on_epoch must be a callable (epoch, epochs, train_loss, val_loss) or None, got int 3
    """
    if on_epoch is not None and not callable(on_epoch):
        raise TypeError(
            "on_epoch must be a callable (epoch, epochs, train_loss, val_loss) or None, "
            f"got {type(on_epoch).__name__} {on_epoch!r}"
        )
    return on_epoch


class WindowRegressor(Protocol):
    """What the forecasting kit needs from a model."""

    def fit(self, x: np.ndarray, y: np.ndarray) -> None:
        """Train on ``x`` ``(S, T, I)`` and targets ``y`` ``(S, H)``."""
        ...

    def predict(self, x: np.ndarray) -> np.ndarray:
        """Return ``(S, H)`` point forecasts or ``(S, H, Q)`` quantiles."""
        ...


@dataclass(frozen=True)
class TrainConfig:
    """Training settings.

    Attributes:
        epochs: maximum passes over the training windows.
        batch_size: windows per step.
        learning_rate: Adam step size.
        validation_fraction: last share of windows held out for early stopping (0 disables it).
        patience: epochs without validation improvement before stopping; the best weights are restored.
        clip_norm: gradient-norm clipping threshold.
        seed: seeds the shuffling of windows (and the MC dropout masks at prediction); an integer in
            ``[0, 2**63 - 1]``.
        device: ``'cpu'``, ``'cuda'``, ``'cuda:N'`` or ``'mps'`` (a ``torch.device`` is stored as its
            string); checked at once to exist on this machine (:func:`available_devices`), so a config
            naming an accelerator cannot be built where there is none, even if it is never used to train.

    Raises:
        TypeError, ValueError: a setting of the wrong type or out of range, named with what was expected.
    """

    epochs: int = 20
    batch_size: int = 64
    learning_rate: float = 1e-3
    validation_fraction: float = 0.1
    patience: int = 5
    clip_norm: float = 1.0
    seed: int = 0
    device: str | torch.device = "cpu"

    def __post_init__(self) -> None:
        check_positive_int("epochs", self.epochs)
        check_positive_int("batch_size", self.batch_size)
        check_positive_int("patience", self.patience)
        check_seed("seed", self.seed)
        check_probability("validation_fraction", self.validation_fraction)
        for name in ("learning_rate", "clip_norm"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise TypeError(f"{name} must be a positive number, got {type(value).__name__} {value!r}")
            if not value > 0 or not np.isfinite(value):
                raise ValueError(f"{name} must be a positive number, got {value}")
        if isinstance(self.device, torch.device):
            object.__setattr__(self, "device", str(self.device))  # frozen: the one normalisation
        if not isinstance(self.device, str):
            raise TypeError(
                f"device must be a string such as 'cpu' or 'cuda:0', or a torch.device, got "
                f"{type(self.device).__name__} {self.device!r}"
            )
        problem = device_problem(self.device)
        if problem is not None:
            raise ValueError(f"device {self.device!r} {problem}")


def available_devices() -> list[str]:
    """The devices this machine can train on: ``cpu``, then ``cuda`` and ``cuda:N``, ``mps`` where present."""
    count = torch.cuda.device_count() if torch.cuda.is_available() else 0
    cuda = ["cuda", *(f"cuda:{index}" for index in range(count))] if count else []
    return ["cpu", *cuda, *(["mps"] if torch.backends.mps.is_available() else [])]


def device_problem(device: str) -> str | None:
    """Why ``device`` cannot train on this machine (a phrase to follow the device), or ``None`` if it can.

    Example:
        >>> device_problem("cpu") is None
        True
        >>> device_problem("gpu")  # doctest: +ELLIPSIS
        'is not a device this machine can train on; expected one of cpu...'
    """
    accepted = available_devices()
    if device in accepted:
        return None
    return f"is not a device this machine can train on; expected one of {', '.join(accepted)}"


class ModuleRegressor:
    """Train and apply a network mapping ``(S, T, I)`` windows to ``(S, H * Q)`` outputs.

    Args:
        module: the network; it is trained in place.
        horizon: steps predicted, ``H``.
        quantiles: quantile levels ``Q`` (empty for point forecasts with the MSE loss).
        config: training settings.
        on_epoch: optional callback after each epoch.
    """

    def __init__(
        self,
        module: nn.Module,
        horizon: int,
        quantiles: tuple[float, ...] = (),
        config: TrainConfig | None = None,
        on_epoch: EpochCallback | None = None,
    ) -> None:
        if not isinstance(module, nn.Module):
            raise TypeError(f"ModuleRegressor expected a torch.nn.Module, got {type(module).__name__}")
        self.module = module
        self.horizon = check_positive_int("horizon", horizon)
        self.quantiles = quantiles
        self.config = config or TrainConfig()
        self.on_epoch = check_epoch_callback(on_epoch)
        self.history: list[tuple[float, float | None]] = []

    @property
    def outputs(self) -> int:
        """Network outputs: ``H * Q`` (or ``H``)."""
        return self.horizon * max(len(self.quantiles), 1)

    def _loss(self, out: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        if self.quantiles:
            return pinball_loss(out.view(len(out), self.horizon, len(self.quantiles)), y, self.quantiles)
        return torch.mean((out - y) ** 2)

    def _forward(self, x: torch.Tensor) -> torch.Tensor:
        """The network's ``(B, H * Q)`` outputs for ``x`` ``(B, T, I)``; any other shape is refused.

        Only the documented 2-D layout is taken: a 3-D output cannot be told apart from a per-step one
        (an LSTM's sequence ``(B, T, units)`` has the size of ``(B, H, Q)`` whenever ``T = H`` and
        ``units = Q``), and reshaping it would train a per-step readout as if it were a forecast.
        """
        out = self.module(x)
        if isinstance(out, tuple):
            out = out[0]
        if out.ndim != 2 or len(out) != len(x):
            raise ValueError(
                f"the model returned outputs of shape {tuple(out.shape)} for {len(x)} window(s), expected "
                f"(windows, horizon x quantiles) = ({len(x)}, {self.outputs}); an output per input step "
                "(such as an LSTM's full sequence (B, lookback, units)) is not a forecast: read out the last "
                "step with Dense(horizon * len(quantiles)), or flatten an output laid out as "
                "(B, horizon, quantiles)"
            )
        if out.shape[1] != self.outputs:
            raise ValueError(
                f"the model produced {out.shape[1]} outputs per window, expected horizon x quantiles = "
                f"{self.outputs}; "
                "make its last layer Dense(horizon * len(quantiles))"
            )
        return out

    def fit(self, x: np.ndarray, y: np.ndarray) -> None:
        """Train on windows ``x`` ``(S, T, I)`` and targets ``y`` ``(S, H)``."""
        check_finite("training windows", x)
        check_finite("training targets", y)
        if x.ndim != 3 or y.shape != (len(x), self.horizon):
            raise ValueError(f"expected x (S, T, I) and y (S, {self.horizon}), got {x.shape} and {y.shape}")
        cfg = self.config
        device = torch.device(cfg.device)
        self.module.to(device)
        xt = torch.as_tensor(x, dtype=torch.float32, device=device)
        yt = torch.as_tensor(y, dtype=torch.float32, device=device)
        n_val = int(len(x) * cfg.validation_fraction) if len(x) >= 20 else 0
        x_train, y_train, x_val, y_val = (
            xt[: len(x) - n_val],
            yt[: len(x) - n_val],
            xt[len(x) - n_val :],
            yt[len(x) - n_val :],
        )
        with torch.no_grad():
            self._forward(x_train[:1])  # builds lazily-shaped layers and checks the output width
        optimizer = torch_adam(self.module, lr=cfg.learning_rate)
        generator = torch.Generator().manual_seed(cfg.seed)
        best, best_state, waited = float("inf"), None, 0
        for epoch in range(cfg.epochs):
            self.module.train()
            order = torch.randperm(len(x_train), generator=generator).to(device)
            total = 0.0
            for start in range(0, len(order), cfg.batch_size):
                batch = order[start : start + cfg.batch_size]
                optimizer.zero_grad()
                loss = self._loss(self._forward(x_train[batch]), y_train[batch])
                loss.backward()
                nn.utils.clip_grad_norm_(self.module.parameters(), cfg.clip_norm)
                optimizer.step()
                total += loss.item() * len(batch)
            train_loss = total / len(x_train)
            val_loss = self._evaluate(x_val, y_val) if n_val else None
            self.history.append((train_loss, val_loss))
            if self.on_epoch is not None:
                self.on_epoch(epoch + 1, cfg.epochs, train_loss, val_loss)
            if not np.isfinite(train_loss):
                raise ValueError(
                    f"training diverged at epoch {epoch + 1} (loss {train_loss}); lower learning_rate"
                )
            if val_loss is None:
                continue
            if val_loss < best - 1e-9:
                best, best_state, waited = val_loss, copy.deepcopy(self.module.state_dict()), 0
            else:
                waited += 1
                if waited >= cfg.patience:
                    logger.info("early stopping at epoch %d (best validation loss %.5g)", epoch + 1, best)
                    break
        if best_state is not None:
            self.module.load_state_dict(best_state)

    def _evaluate(self, x: torch.Tensor, y: torch.Tensor) -> float:
        self.module.eval()
        with torch.no_grad():
            return float(self._loss(self._forward(x), y))

    def predict(self, x: np.ndarray) -> np.ndarray:
        """``(S, H)`` point forecasts, or ``(S, H, Q)`` sorted quantiles."""
        self.module.eval()
        device = next(self.module.parameters()).device
        with torch.no_grad():
            xt = torch.as_tensor(x, dtype=torch.float32, device=device)
            out = torch.cat([self._forward(xt[s : s + 1024]) for s in range(0, len(xt), 1024)]).cpu().numpy()
        if self.quantiles:
            return sort_quantiles(out.reshape(len(x), self.horizon, len(self.quantiles)))
        return out.reshape(len(x), self.horizon)

    def predict_mc_dropout(
        self, x: np.ndarray, quantiles: tuple[float, ...], samples: int = 50
    ) -> np.ndarray:
        """``(S, H, Q)`` quantiles from MC dropout (point model only), dropout seeded by ``config.seed``."""
        device = next(self.module.parameters()).device
        xt = torch.as_tensor(x, dtype=torch.float32, device=device)
        return mc_dropout_quantiles(
            lambda_module(self._forward, self.module), xt, quantiles, samples=samples, seed=self.config.seed
        )


class _Wrapped(nn.Module):
    def __init__(self, forward: Callable[[torch.Tensor], torch.Tensor], inner: nn.Module) -> None:
        super().__init__()
        self.inner = inner
        self._fn = forward

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self._fn(x)


def lambda_module(forward: Callable[[torch.Tensor], torch.Tensor], inner: nn.Module) -> nn.Module:
    """A module running ``forward`` whose submodules (for train/eval and dropout) are ``inner``'s."""
    return _Wrapped(forward, inner)
