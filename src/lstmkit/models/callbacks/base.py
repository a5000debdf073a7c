"""Callback protocol, the callback list, and History (every ``fit`` returns one)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from lstmkit.models.model import Model

Logs = dict[str, float]


class Callback:
    """Hooks called by ``fit``; ``self.model`` is the :class:`~lstmkit.models.Model` being trained.

    Set ``self.model.stop_training = True`` to end training after the current epoch. ``self.params`` holds
    the ``fit`` call's ``verbose``, ``epochs`` and ``steps`` (per epoch), set before ``on_train_begin``.
    In data-parallel training every rank runs the callbacks with the same (reduced) logs; callbacks that
    write files do so on rank 0 only (``self.model.is_chief``).
    """

    model: Model
    params: dict[str, Any]

    def set_model(self, model: Model) -> None:
        self.model = model

    def set_params(self, params: dict[str, Any]) -> None:
        self.params = params

    def on_train_begin(self, logs: Logs | None = None) -> None: ...

    def on_train_end(self, logs: Logs | None = None) -> None: ...

    def on_epoch_begin(self, epoch: int, logs: Logs | None = None) -> None: ...

    def on_epoch_end(self, epoch: int, logs: Logs | None = None) -> None: ...

    def on_train_batch_begin(self, batch: int, logs: Logs | None = None) -> None: ...

    def on_train_batch_end(self, batch: int, logs: Logs | None = None) -> None: ...


class CallbackList(Callback):
    """Calls every callback in order."""

    def __init__(self, callbacks: Iterable[Callback], model: Model) -> None:
        self.callbacks = list(callbacks)
        for callback in self.callbacks:
            if not isinstance(callback, Callback):
                raise TypeError(f"callbacks must be Callback instances, got {type(callback).__name__}")
            callback.set_model(model)

    def set_params(self, params: dict[str, Any]) -> None:
        self.params = params
        for c in self.callbacks:
            c.set_params(params)

    def on_train_begin(self, logs: Logs | None = None) -> None:
        for c in self.callbacks:
            c.on_train_begin(logs)

    def on_train_end(self, logs: Logs | None = None) -> None:
        for c in self.callbacks:
            c.on_train_end(logs)

    def on_epoch_begin(self, epoch: int, logs: Logs | None = None) -> None:
        for c in self.callbacks:
            c.on_epoch_begin(epoch, logs)

    def on_epoch_end(self, epoch: int, logs: Logs | None = None) -> None:
        for c in self.callbacks:
            c.on_epoch_end(epoch, logs)

    def on_train_batch_begin(self, batch: int, logs: Logs | None = None) -> None:
        for c in self.callbacks:
            c.on_train_batch_begin(batch, logs)

    def on_train_batch_end(self, batch: int, logs: Logs | None = None) -> None:
        for c in self.callbacks:
            c.on_train_batch_end(batch, logs)


class History(Callback):
    """Per-epoch logs: ``history.history["loss"]`` is the list of training losses, one per epoch;
    ``history.params`` is the ``fit`` call's ``{"verbose", "epochs", "steps"}``, as Keras.

    Example:
        >>> h = History(); h.on_train_begin()
        >>> h.on_epoch_end(0, {"loss": 0.5}); h.on_epoch_end(1, {"loss": 0.25})
        >>> h.history, h.epoch
        ({'loss': [0.5, 0.25]}, [0, 1])
    """

    def __init__(self) -> None:
        self.history: dict[str, list[float]] = {}
        self.epoch: list[int] = []
        self.params: dict[str, Any] = {}

    def on_train_begin(self, logs: Logs | None = None) -> None:
        self.history, self.epoch = {}, []

    def on_epoch_end(self, epoch: int, logs: Logs | None = None) -> None:
        self.epoch.append(epoch)
        for key, value in (logs or {}).items():
            self.history.setdefault(key, []).append(float(value))

    def plot(self, keys: Iterable[str] | None = None, path: str | None = None) -> Figure:
        """Draw learning curves (each metric with its ``val_`` twin in one panel) with matplotlib.

        Args:
            keys: metrics to draw (default: every logged metric without the ``val_`` prefix).
            path: if given, save the figure there (PNG, PDF, ... by extension).

        Returns:
            The ``matplotlib.figure.Figure`` (created without pyplot, so no GUI backend is touched).
        """
        from matplotlib.figure import Figure

        from lstmkit.utils.figures import save_figure

        names = list(keys) if keys is not None else [k for k in self.history if not k.startswith("val_")]
        if not names:
            raise ValueError("History is empty: nothing to plot; call fit() first")
        unknown = [k for k in names if k not in self.history]
        if unknown:
            raise ValueError(f"History has no metric {unknown[0]!r}; logged: {', '.join(self.history)}")
        figure = Figure(figsize=(5 * len(names), 3.5), layout="constrained")
        axes = figure.subplots(1, len(names), squeeze=False)[0]
        for ax, name in zip(axes, names, strict=True):
            epochs = [e + 1 for e in self.epoch]
            ax.plot(epochs, self.history[name], marker="o", label=name)
            if f"val_{name}" in self.history:
                ax.plot(epochs, self.history[f"val_{name}"], marker="o", label=f"val_{name}")
            ax.set_xlabel("epoch")
            ax.set_title(name)
            ax.legend()
        if path is not None:
            save_figure(figure, path)
        return figure


def monitor_value(logs: Logs | None, monitor: str, owner: str) -> float | None:
    """Read ``monitor`` from the logs; ``None`` (and the caller warns) when it is absent."""
    if logs is None or monitor not in logs:
        return None
    return float(logs[monitor])


def resolve_mode(mode: str, monitor: str, owner: str) -> str:
    """``'auto'`` means max for the metrics that grow as the model improves (accuracy-like ones, auc,
    precision, recall, and ``cosine_similarity``, +1 when aligned, as Keras's metrics' direction), else min.

    Example:
        >>> resolve_mode("auto", "val_cosine_similarity", "EarlyStopping")
        'max'
    """
    if mode not in ("auto", "min", "max"):
        raise ValueError(f"{owner} mode must be 'auto', 'min' or 'max', got {mode!r}")
    if mode != "auto":
        return mode
    maximized = ("acc", "auc", "precision", "recall", "cosine_similarity")
    return "max" if any(key in monitor for key in maximized) else "min"


def to_logs(values: dict[str, Any]) -> Logs:
    return {k: float(v) for k, v in values.items()}


def check_callbacks(callbacks: Any) -> list[Callback]:
    """``fit``'s callbacks as a list; a clear error for a single callback or anything else."""
    if callbacks is None:
        return []
    if isinstance(callbacks, Callback):
        raise TypeError(
            f"callbacks must be a list of callbacks, got one {type(callbacks).__name__}; "
            f"pass callbacks=[{type(callbacks).__name__}(...)]"
        )
    if not isinstance(callbacks, Iterable) or isinstance(callbacks, str | bytes):
        raise TypeError(f"callbacks must be a list of lstmkit.models.callbacks instances, got {callbacks!r}")
    listed = list(callbacks)  # (a generator is read once, here)
    if not all(isinstance(c, Callback) for c in listed):
        raise TypeError(f"callbacks must be a list of lstmkit.models.callbacks instances, got {listed!r}")
    return listed
